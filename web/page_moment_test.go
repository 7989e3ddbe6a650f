package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/store"
)

// TestPostmortemPageIsReadAtOneMoment: the postmortem page shows its items and their status
// history as they were at one moment, while an item's status moves back and forth: each item's
// status is where its last status change took it. The page read the postmortem, then the
// history, each at the moment it ran, and a change committed between the two showed a change
// into done beside an item still open, or the reverse.
func TestPostmortemPageIsReadAtOneMoment(t *testing.T) {
	pgtest.ForEach(t, func(t *testing.T, db pgtest.Backend) {
		e := buildEnvOn(t, db.Database(t), t.TempDir(), testConfig, nil, t.Cleanup)
		if r := e.post([]byte(sampleJSON), nil); r.status != http.StatusAccepted {
			t.Fatalf("intake: %d %s", r.status, r.body)
		}
		// The loops run for a while, or until a page disagrees with itself.
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		var wg sync.WaitGroup
		wg.Go(func() { // moves AI-1 between done and open, over and over
			for n := 0; ctx.Err() == nil; n++ {
				status := ft.StatusDone
				if n%2 == 1 {
					status = ft.StatusOpen
				}
				err := e.store.Write(ctx, func(tx *store.Tx) error {
					_, err := store.SetItemStatus(ctx, tx, "PM-2026-042", "AI-1", status, "api", "", e.clock.Now())
					return err
				})
				if err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
			}
		})
		var failure error
		for reads := 0; ctx.Err() == nil && failure == nil; reads++ {
			r := e.get("/postmortems/PM-2026-042?format=json")
			if r.status != http.StatusOK {
				failure = fmt.Errorf("read %d: %d %s", reads, r.status, r.body)
				break
			}
			var page postmortemResponse
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				last := ft.StatusOpen
				if n := len(it.History); n > 0 {
					last = it.History[n-1].To
				}
				if it.Status != last {
					failure = fmt.Errorf("read %d: %s is %s, its last change took it to %s (%d changes)",
						reads, it.ID, it.Status, last, len(it.History))
				}
			}
		}
		cancel()
		wg.Wait()
		if failure != nil {
			t.Fatal(failure)
		}
	})
}
