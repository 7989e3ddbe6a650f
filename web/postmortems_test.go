package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

type listBody struct {
	Postmortems []ft.PostmortemView `json:"postmortems"`
	NextCursor  *string             `json:"next_cursor"`
}

func (e *env) list(t *testing.T, query string) (listBody, response) {
	t.Helper()
	r := e.get("/v1/postmortems?" + query)
	var lb listBody
	if r.status == http.StatusOK {
		if err := json.Unmarshal(r.body, &lb); err != nil {
			t.Fatalf("list body %q: %v", r.body, err)
		}
		if lb.Postmortems == nil {
			t.Fatalf("postmortems missing or null: %s", r.body)
		}
	}
	return lb, r
}

func ids(pms []ft.PostmortemView) []string {
	var out []string
	for _, pm := range pms {
		out = append(out, pm.ID)
	}
	return out
}

func TestListPaging(t *testing.T) {
	e := newEnv(t, testConfig)
	if lb, r := e.list(t, ""); r.status != 200 || len(lb.Postmortems) != 0 || lb.NextCursor != nil {
		t.Fatalf("empty list: %d %s", r.status, r.body)
	}
	// Seven postmortems signed off a day apart; PM-6 is the newest. Odd ones are team search,
	// PM-3 has no action items (completed).
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i := range 7 {
		m := sample(t)
		m["id"] = fmt.Sprintf("PM-%d", i)
		m["signed_off_at"] = base.AddDate(0, 0, i).Format(time.RFC3339)
		if i%2 == 1 {
			m["team"] = "search"
		}
		if i == 3 {
			m["action_items"] = []any{}
		}
		if r := e.post(encode(t, m), nil); r.status != http.StatusAccepted {
			t.Fatalf("intake %d: %d %s", i, r.status, r.body)
		}
	}

	var got []string
	cursor := ""
	pages := 0
	for {
		q := "limit=3"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		lb, r := e.list(t, q)
		if r.status != http.StatusOK {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		pages++
		got = append(got, ids(lb.Postmortems)...)
		if lb.NextCursor == nil {
			if strings.Contains(string(r.body), "next_cursor") {
				t.Errorf("next_cursor present on the last page: %s", r.body)
			}
			break
		}
		if *lb.NextCursor == "" || len(lb.Postmortems) != 3 {
			t.Fatalf("page %d: %d postmortems, cursor %q", pages, len(lb.Postmortems), *lb.NextCursor)
		}
		cursor = *lb.NextCursor
	}
	if want := "PM-6 PM-5 PM-4 PM-3 PM-2 PM-1 PM-0"; strings.Join(got, " ") != want || pages != 3 {
		t.Errorf("pages %d, order %v, want %s", pages, got, want)
	}

	lb, _ := e.list(t, "")
	if len(lb.Postmortems) != 7 || lb.NextCursor != nil {
		t.Errorf("default limit: %d postmortems, cursor %v", len(lb.Postmortems), lb.NextCursor)
	}
	if len(lb.Postmortems[0].Items) != 3 {
		t.Errorf("list items: %+v", lb.Postmortems[0])
	}

	filters := []struct{ query, want string }{
		{"team=search", "PM-5 PM-3 PM-1"},
		{"team=payments&limit=2", "PM-6 PM-4"},
		{"state=completed", "PM-3"},
		{"state=tracking&team=search", "PM-5 PM-1"},
		{"state=reopened", ""},
		{"severity=SEV1&limit=1", "PM-6"},
		{"severity=SEV9", ""},
		{"limit=500", "PM-6 PM-5 PM-4 PM-3 PM-2 PM-1 PM-0"},
		{"limit=100000", "PM-6 PM-5 PM-4 PM-3 PM-2 PM-1 PM-0"},
		{"limit=", "PM-6 PM-5 PM-4 PM-3 PM-2 PM-1 PM-0"},
	}
	for _, f := range filters {
		lb, r := e.list(t, f.query)
		if r.status != http.StatusOK {
			t.Errorf("%s: %d %s", f.query, r.status, r.body)
			continue
		}
		if got := strings.Join(ids(lb.Postmortems), " "); got != f.want {
			t.Errorf("%s: %q, want %q", f.query, got, f.want)
		}
	}
	// The filter holds across pages.
	lb, _ = e.list(t, "team=search&limit=2")
	lb2, _ := e.list(t, "team=search&limit=2&cursor="+url.QueryEscape(*lb.NextCursor))
	if got := strings.Join(append(ids(lb.Postmortems), ids(lb2.Postmortems)...), " "); got != "PM-5 PM-3 PM-1" || lb2.NextCursor != nil {
		t.Errorf("filtered pages: %q", got)
	}
}

func TestListBadRequests(t *testing.T) {
	e := newEnv(t, testConfig)
	for _, q := range []string{
		"limit=0", "limit=-1", "limit=abc", "limit=1.5", "limit=99999999999999999999",
		"cursor=not-a-cursor", "cursor=" + url.QueryEscape("!!!"), "cursor=" + strings.Repeat("A", 600),
		"cursor=" + url.QueryEscape("MjAyNi0xMS0wMQ"), // base64 of something that is not a cursor
		"state=open", "state=TRACKING",
	} {
		_, r := e.list(t, q)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400: %s", q, r.status, r.body)
			continue
		}
		r.errorBody(t)
	}
}
