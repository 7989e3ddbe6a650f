package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// listServer serves GET /v1/postmortems over ids with offset cursors; shift moves every next
// page's start (-1: pages overlap, +1: one postmortem is skipped between pages).
func listServer(t *testing.T, ids []string, shift int) Target {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/postmortems" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		to := min(from+limit, len(ids))
		page := listPage{Postmortems: []listPostmortem{}}
		for _, id := range ids[from:to] {
			page.Postmortems = append(page.Postmortems, listPostmortem{ID: id})
		}
		if to < len(ids) {
			page.NextCursor = strconv.Itoa(to + shift)
		}
		_ = json.NewEncoder(w).Encode(page)
	}))
	t.Cleanup(srv.Close)
	return Target{URL: srv.URL, Token: "tok"}
}

func TestFullWalk(t *testing.T) {
	ids := make([]string, 1234)
	for i := range ids {
		ids[i] = fmt.Sprintf("PM-%d", i)
	}
	tests := []struct {
		name                    string
		shift                   int
		expected                []string
		ok                      bool
		seen, repeated, missing int
	}{
		{"every postmortem once", 0, ids, true, 1234, 0, 0},
		{"overlapping pages", -1, ids, false, 1234, 2, 0},
		{"skipping cursor", +1, ids, false, 1232, 0, 2},
		{"an expected postmortem that is not listed", 0, append([]string{"PM-gone"}, ids...), false, 1234, 0, 1},
	}
	for _, tt := range tests {
		r, check, err := FullWalk(context.Background(), listServer(t, ids, tt.shift), tt.expected)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if check.OK() != tt.ok || check.Seen != tt.seen || len(check.Repeated) != tt.repeated || len(check.Missing) != tt.missing {
			t.Errorf("%s: %s (ok %v), want seen %d, repeated %d, missing %d", tt.name, check, check.OK(), tt.seen, tt.repeated, tt.missing)
		}
		if check.Pages != 3 || r.Accepted != 3 {
			t.Errorf("%s: %d pages, %d answers, want 3", tt.name, check.Pages, r.Accepted)
		}
	}
}

// A list whose next_cursor never moves on is an error, not an endless walk.
func TestWalkStopsOnARepeatedCursor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"postmortems":[{"id":"PM-1"}],"next_cursor":"same"}`)
	}))
	defer srv.Close()
	_, _, err := FullWalk(context.Background(), Target{URL: srv.URL}, nil)
	if err == nil {
		t.Fatal("a repeating cursor was walked without an error")
	}
}

// Every ticket's events are one second apart, in order, each a change of status, and tickets
// end in different statuses.
func TestTicketEvents(t *testing.T) {
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ends := map[string]bool{}
	for i := range 8 {
		prevAt := base
		var last string
		for round := range int64(6) {
			prev, status, at := ticketEvent(i, round, base)
			if !at.After(prevAt) || at.Sub(prevAt) != time.Second {
				t.Errorf("ticket %d round %d at %s after %s: want one second later", i, round, at, prevAt)
			}
			if round == 0 && prev != "open" || round > 0 && string(prev) != last {
				t.Errorf("ticket %d round %d: prev %s, want %s", i, round, prev, last)
			}
			if status == prev {
				t.Errorf("ticket %d round %d: %s to itself", i, round, status)
			}
			prevAt, last = at, string(status)
		}
		ends[last] = true
	}
	if len(ends) < 3 {
		t.Errorf("tickets end in %v, want at least three statuses", ends)
	}
}

func TestRoundTracker(t *testing.T) {
	r := newRoundTracker(3)
	r.record(0, 2, true)
	r.record(0, 1, true) // answers arrive out of order
	r.record(0, 1, false)
	r.record(1, 3, false)
	r.record(1, 2, true)
	tests := []struct {
		i       int
		ok, bad int64
	}{{0, 2, 1}, {1, 2, 3}, {2, -1, -1}}
	for _, tt := range tests {
		if ok, bad := r.get(tt.i); ok != tt.ok || bad != tt.bad {
			t.Errorf("ticket %d: ok %d bad %d, want %d %d", tt.i, ok, bad, tt.ok, tt.bad)
		}
	}
}

// A target with replicas spreads its clients over every process: client i sends to the
// (i mod n)th, and each process gets requests.
func TestClientsSpreadOverReplicas(t *testing.T) {
	var hits [3]atomic.Int64
	var urls []string
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	tgt := Target{URL: urls[0], Replicas: urls[1:]}
	// Timed, not counted: every client sends at least once, so each process gets its clients'
	// requests however the machine schedules them.
	r, err := run(context.Background(), tgt, spec{name: "spread", clients: 6, duration: 100 * time.Millisecond,
		request: func(int, int64) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, tgt.url("/healthz"), nil)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Accepted < 6 || len(r.Errors) > 0 {
		t.Fatalf("accepted %d, errors %s", r.Accepted, r.ErrorText())
	}
	for i := range hits {
		if hits[i].Load() == 0 {
			t.Errorf("process %d got no request (hits %d, %d, %d)", i, hits[0].Load(), hits[1].Load(), hits[2].Load())
		}
	}
}
