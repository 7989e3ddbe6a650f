package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/followthrough/followthrough/internal/pgtest"
)

// TestCursorWalksSeeEachPostmortemOnce: following next_cursor through the API, and the next
// links of the status page, in pages of 2, sees each postmortem once, in the order of the
// walk's first page, while revisions posted between pages move sign-offs: one already seen
// moves behind the cursor, one not yet seen moves ahead of it.
func TestCursorWalksSeeEachPostmortemOnce(t *testing.T) {
	pgtest.ForEach(t, func(t *testing.T, db pgtest.Backend) {
		e := buildEnvOn(t, db.Database(t), t.TempDir(), testConfig, nil, t.Cleanup)
		base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
		signOff := func(id string, day int) {
			t.Helper()
			m := sample(t)
			m["id"] = id
			m["signed_off_at"] = base.AddDate(0, 0, day).Format(time.RFC3339)
			if r := e.post(encode(t, m), nil); r.status != http.StatusAccepted && r.status != http.StatusOK {
				t.Fatalf("intake %s: %d %s", id, r.status, r.body)
			}
		}
		var want []string // newest sign-off first
		for i := range 6 {
			id := fmt.Sprintf("PM-%d", i)
			signOff(id, i)
			want = append([]string{id}, want...)
		}
		moves := func(round int) {
			switch round {
			case 1: // PM-5 and PM-4 seen
				signOff("PM-5", -10)
				signOff("PM-1", 20)
			case 2: // PM-3 and PM-2 seen too
				signOff("PM-3", -11)
				signOff("PM-0", 21)
			}
		}
		apiWalk := func() []string {
			var seen []string
			cursor := ""
			for round := 1; round < 10; round++ {
				q := "limit=2"
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				lb, r := e.list(t, q)
				if r.status != http.StatusOK {
					t.Fatalf("%s: %d %s", q, r.status, r.body)
				}
				seen = append(seen, ids(lb.Postmortems)...)
				if lb.NextCursor == nil {
					break
				}
				moves(round)
				cursor = *lb.NextCursor
			}
			return seen
		}
		if seen := apiWalk(); !slices.Equal(seen, want) {
			t.Errorf("the API's pages gave %v, want %v", seen, want)
		}
		// The sign-offs as the moves left them, then the same moves again from there.
		want = []string{"PM-0", "PM-1", "PM-4", "PM-2", "PM-5", "PM-3"}
		if lb, _ := e.list(t, "limit=10"); !slices.Equal(ids(lb.Postmortems), want) {
			t.Fatalf("after the walk the list is %v, want %v", ids(lb.Postmortems), want)
		}
		for i := range 6 {
			signOff(fmt.Sprintf("PM-%d", i), i)
		}
		want = []string{"PM-5", "PM-4", "PM-3", "PM-2", "PM-1", "PM-0"}
		if seen := e.walkPages("/?limit=2", 10, func(read int, _ string) { moves(read) }); !slices.Equal(seen, want) {
			t.Errorf("the status page's next links gave %v, want %v", seen, want)
		}
	})
}
