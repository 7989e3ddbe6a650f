package jira

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

func searchPath(mode jirafake.Mode) string {
	if mode == jirafake.Cloud {
		return "/rest/api/3/search/jql"
	}
	return "/rest/api/2/search"
}

func TestFindByMarkerAfterLostResponse(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, func(o *jirafake.Options) { o.SearchLag = 30 * time.Second })
		ctx := context.Background()
		// Another postmortem's ticket and another item of the same postmortem.
		for _, nt := range []ft.NewTicket{newTicket("PM-2", "AI-1", ""), newTicket("PM-1", "AI-2", "")} {
			if _, err := e.tr.Create(ctx, nt); err != nil {
				t.Fatal(err)
			}
		}
		e.fake.LoseNextResponse(http.MethodPost, "/rest/api/2/issue")
		nt := newTicket("PM-1", "AI-1", "")
		_, err := e.tr.Create(ctx, nt)
		if retry, _ := ft.Retryable(err); err == nil || !retry {
			t.Fatalf("lost response: err = %v, want a retryable error", err)
		}
		if n := len(e.fake.Issues("PAY")); n != 3 {
			t.Fatalf("%d issues, want 3 (the lost one was created)", n)
		}
		// Search lags: not found yet, and no error.
		_, found, err := e.tr.FindByMarker(ctx, nt.Target, nt.Marker)
		if err != nil || found {
			t.Fatalf("during the lag: found=%v err=%v", found, err)
		}
		e.clock.Advance(31 * time.Second)
		tk, found, err := e.tr.FindByMarker(ctx, nt.Target, nt.Marker)
		if err != nil || !found {
			t.Fatalf("after the lag: found=%v err=%v", found, err)
		}
		if tk.Ref.Key != "PAY-3" || tk.Marker != nt.Marker || tk.Status != ft.StatusOpen {
			t.Errorf("found %+v", tk)
		}
		_, found, err = e.tr.FindByMarker(ctx, nt.Target, ft.Marker("PM-1", "AI-7"))
		if err != nil || found {
			t.Errorf("unknown marker: found=%v err=%v", found, err)
		}
		for _, c := range e.fake.Requests() {
			if c.Path == searchPath(mode) && !strings.Contains(c.Query, "labels+%3D+%22pm-pm-1%22") {
				t.Errorf("search query %s", c.Query)
			}
		}
	})
}

func TestFindByMarkerRefusesBadMarker(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, nil)
	_, _, err := e.tr.FindByMarker(context.Background(), ft.Target{Kind: ft.Jira, Project: "PAY"}, "nonsense")
	if retry, _ := ft.Retryable(err); err == nil || retry {
		t.Errorf("err = %v", err)
	}
}

func TestListChangedPaging(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, func(o *jirafake.Options) { o.PageSize = 3 })
		ctx := context.Background()
		var keys []string
		for i := range 7 {
			tk, err := e.tr.Create(ctx, newTicket("PM-1", fmt.Sprintf("AI-%d", i), ""))
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, tk.Ref.Key)
			e.clock.Advance(5 * time.Minute)
		}
		// An issue followthrough did not create is never listed.
		if _, err := e.tr.Create(ctx, ft.NewTicket{Target: ft.Target{Project: "OPS"}, Title: "other project", PostmortemID: "PM-1"}); err != nil {
			t.Fatal(err)
		}
		all, err := e.tr.ListChanged(ctx, ft.ChangeQuery{Target: ft.Target{Kind: ft.Jira, Project: "PAY"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 7 || all[0].Ref.Key != keys[6] || all[6].Ref.Key != keys[0] {
			t.Fatalf("listed %d: %v", len(all), refs(all))
		}
		if n := e.fake.Calls(http.MethodGet, searchPath(mode)); n != 3 {
			t.Errorf("%d search pages, want 3", n)
		}
		// Changed since the 5th ticket: 3 tickets, and the window in the user's zone
		// (America/Los_Angeles) still finds them.
		e.fake.ResetCalls()
		since := all[2].UpdatedAt
		got, err := e.tr.ListChanged(ctx, ft.ChangeQuery{Target: ft.Target{Kind: ft.Jira, Project: "PAY"}, Since: since})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0].Ref.Key != keys[6] || got[2].Ref.Key != keys[4] {
			t.Errorf("since %v: %v", since, refs(got))
		}
		for _, c := range e.fake.Requests() {
			if c.Path == searchPath(mode) {
				want := "updated+%3E%3D+%222026%2F11%2F23+01%3A48%22" // 09:50 UTC less 2 minutes, in Los Angeles
				if !strings.Contains(c.Query, want) || !strings.Contains(c.Query, "ORDER+BY+updated+DESC") {
					t.Errorf("query %s lacks %s", c.Query, want)
				}
			}
		}
		// A person changes an old ticket: it comes first.
		e.clock.Advance(time.Minute)
		if err := e.fake.Transition(keys[1], "In Progress", ""); err != nil {
			t.Fatal(err)
		}
		got, err = e.tr.ListChanged(ctx, ft.ChangeQuery{Target: ft.Target{Kind: ft.Jira, Project: "PAY"}, Since: since})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 || got[0].Ref.Key != keys[1] || got[0].Status != ft.StatusInProgress {
			t.Errorf("after a change: %v", refs(got))
		}
	})
}

func refs(ts []ft.Ticket) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Ref.Key+"@"+t.UpdatedAt.UTC().Format(time.TimeOnly))
	}
	return out
}

func TestListChangedStopsAtOlder(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, func(o *jirafake.Options) { o.PageSize = 2 })
	ctx := context.Background()
	for i := range 6 {
		if _, err := e.tr.Create(ctx, newTicket("PM-1", fmt.Sprintf("AI-%d", i), "")); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
	}
	e.fake.ResetCalls()
	// Within the 2-minute overlap nothing older is fetched past the first page.
	got, err := e.tr.ListChanged(ctx, ft.ChangeQuery{Target: ft.Target{Project: "PAY"}, Since: e.clock.Now().Add(-90 * time.Minute)})
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", refs(got), err)
	}
	if n := e.fake.Calls(http.MethodGet, "/rest/api/3/search/jql"); n != 1 {
		t.Errorf("%d pages read", n)
	}
}

func TestFindByMarkerPrefersTheNewestTicket(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		ctx := context.Background()
		owner, _ := ownerFor(mode)
		nt := newTicket("PM-1", "AI-1", owner)
		if _, err := e.tr.Create(ctx, nt); err != nil { // an old ticket of the item (it moved away and back)
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
		newer, err := e.tr.Create(ctx, nt)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := e.tr.FindByMarker(ctx, nt.Target, nt.Marker)
		if err != nil || !ok || got.Ref.Key != newer.Ref.Key {
			t.Fatalf("found %+v, %v, %v; want the newest, %s", got.Ref, ok, err, newer.Ref.Key)
		}
	})
}
