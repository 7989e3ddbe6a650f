package test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/followthrough/followthrough/connectors/githubfake"
)

// The test in this file checks stalls end to end with the real binary and second-long
// intervals: items stall (overdue at once, inactive after seconds), the postmortem reopens with
// one comment and the `stalled` label per stalled ticket, its own ticket is reopened, notify
// receivers hear of it; finishing the items completes it; a restart repeats nothing.

func TestStallsReopenAndCompleteEndToEnd(t *testing.T) {
	forEachBackend(t, testStallsReopenAndCompleteEndToEnd)
}

func testStallsReopenAndCompleteEndToEnd(t *testing.T, b backend) {
	recv := newNotifyReceiver(t)
	e := newTrackerEnv(t, envOptions{backend: b,
		stall:  []string{"scan_every: 1s", "overdue_grace: 1s", "inactive_after: { P2: 3s }"},
		notify: recv, notifyEvents: "postmortem.reopened, postmortem.resumed, postmortem.completed",
	})
	gh := e.gh
	own, err := gh.CreateIssue("acme/pm", githubfake.NewIssue{Title: "PM-S postmortem", User: "carol-gh"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.CloseIssue("acme/pm", own.Number, "completed", "carol-gh"); err != nil {
		t.Fatal(err)
	}
	s := e.start()

	signed := time.Now().UTC().Format(time.RFC3339)
	doc := fmt.Sprintf(`{"id":"PM-S","title":"Stalls","status":"finalized","signed_off_by":["carol@acme.com"],
		"signed_off_at":%q,"tracker":{"kind":"github","repo":"acme/pm","number":%d},"action_items":[
		{"id":"AI-1","title":"Long overdue","owner":"bob@acme.com","priority":"P1","due":"2020-01-01"},
		{"id":"AI-2","title":"Goes quiet","owner":"alice@acme.com","priority":"P2"}]}`, signed, own.Number)
	if code, body := s.do(http.MethodPost, "/v1/postmortems", testToken, []byte(doc)); code != http.StatusAccepted {
		t.Fatalf("intake = %d: %s", code, body)
	}

	type item struct {
		ID            string
		Stalled       bool
		StalledReason *string `json:"stalled_reason"`
		Ticket        *struct{ Key string }
	}
	type view struct {
		State         string
		ReopenedCount int `json:"reopened_count"`
		Items         []item
	}
	get := func() view {
		var v view
		s.getJSON("/v1/postmortems/PM-S", testToken, &v)
		return v
	}
	issue := e.ghIssue
	botComments := func(is githubfake.Issue) int {
		n := 0
		for _, c := range is.Comments {
			if c.User == githubfake.DefaultLogin {
				n++
			}
		}
		return n
	}
	hasStalled := func(is githubfake.Issue) bool { return slices.Contains(is.Labels, "stalled") }

	var v view
	eventually(t, 20*time.Second, "AI-1 overdue and AI-2 inactive, each with one comment and the label", func() bool {
		v = get()
		if len(v.Items) != 2 || v.Items[0].Ticket == nil || v.Items[1].Ticket == nil {
			return false
		}
		for _, it := range v.Items {
			is := issue(it.Ticket.Key)
			if !it.Stalled || botComments(is) != 1 || !hasStalled(is) {
				return false
			}
		}
		return true
	})
	if v.State != "reopened" || v.ReopenedCount != 1 || *v.Items[0].StalledReason != "overdue" || *v.Items[1].StalledReason != "inactive" {
		t.Fatalf("reopened: %+v", v)
	}
	eventually(t, 10*time.Second, "own ticket reopened with a comment, postmortem.reopened sent", func() bool {
		is, _ := gh.Issue("acme/pm", own.Number)
		return is.State == "open" && botComments(is) == 1 && len(recv.types()) == 1
	})

	// A restart, and a few scans: nothing is repeated.
	s.stop()
	s = e.start()
	// Three scans and an idle outbox: anything a scan would repeat has been done by then.
	eventually(t, 10*time.Second, "three stall scans after the restart", func() bool {
		return s.metric("followthrough_stall_scans_total") >= 3
	})
	s.waitIdle(10 * time.Second)
	for _, it := range get().Items {
		if is := issue(it.Ticket.Key); botComments(is) != 1 {
			t.Errorf("%s has %d comments after a restart; want 1", it.ID, botComments(is))
		}
	}
	if is, _ := gh.Issue("acme/pm", own.Number); botComments(is) != 1 || len(recv.types()) != 1 {
		t.Errorf("after a restart: own ticket %d comments, events %v", botComments(is), recv.types())
	}

	// Both items done through the API: completed, labels off, own ticket closed with a summary.
	for _, id := range []string{"AI-1", "AI-2"} {
		if code, body := s.do(http.MethodPatch, "/v1/postmortems/PM-S/items/"+id, testToken, []byte(`{"status":"done"}`)); code != http.StatusOK {
			t.Fatalf("PATCH %s = %d: %s", id, code, body)
		}
	}
	eventually(t, 20*time.Second, "completed, labels off, own ticket closed with a summary", func() bool {
		v = get()
		if v.State != "completed" {
			return false
		}
		for _, it := range v.Items {
			if is := issue(it.Ticket.Key); hasStalled(is) || is.State != "closed" {
				return false
			}
		}
		is, _ := gh.Issue("acme/pm", own.Number)
		return is.State == "closed" && botComments(is) == 2
	})
	eventually(t, 10*time.Second, "postmortem.completed sent", func() bool {
		got := recv.types()
		return len(got) == 2 && got[1] == "postmortem.completed"
	})
}
