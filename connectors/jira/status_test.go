package jira

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

func withWorkflow(w jirafake.Workflow) func(*jirafake.Options) {
	return func(o *jirafake.Options) { o.Workflow = &w }
}

func TestSetStatusDefaultWorkflow(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		ctx := context.Background()
		tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
		if err != nil {
			t.Fatal(err)
		}
		key := tk.Ref.Key
		steps := []struct {
			to                 ft.Status
			status, resolution string
		}{
			{ft.StatusInProgress, "In Progress", ""},
			{ft.StatusDone, "Done", "Done"},
			{ft.StatusOpen, "To Do", ""},
			{ft.StatusWontDo, "Won't Do", "Won't Do"},
			{ft.StatusDone, "Done", "Done"},
		}
		for _, s := range steps {
			before := e.fake.Calls(http.MethodPost, "/rest/api/2/issue/"+key+"/transitions")
			calls := len(e.fake.Requests())
			got, err := e.tr.SetStatus(ctx, key, s.to)
			if err != nil {
				t.Fatalf("to %s: %v", s.to, err)
			}
			is, _ := e.fake.Issue(key)
			if got.Status != s.to || is.Status != s.status || is.Resolution != s.resolution {
				t.Errorf("to %s: ticket %s, issue %s/%s", s.to, got.Status, is.Status, is.Resolution)
			}
			if n := e.fake.Calls(http.MethodPost, "/rest/api/2/issue/"+key+"/transitions") - before; n != 1 {
				t.Errorf("to %s: %d transitions, want 1 (direct)", s.to, n)
			}
			// The issue and its transitions in one read (expand=transitions), the transition,
			// and a read of the result for Jira's updated time.
			made := e.fake.Requests()[calls:]
			if len(made) != 3 || made[0].Method != http.MethodGet || made[0].Path != "/rest/api/2/issue/"+key ||
				!strings.Contains(made[0].Query, "expand=transitions") || made[1].Method != http.MethodPost {
				t.Errorf("to %s: calls %+v, want GET issue?expand=transitions, POST transitions, GET issue", s.to, made)
			}
		}
		if n := e.fake.Calls(http.MethodGet, "/rest/api/2/issue/"+key+"/transitions"); n != 0 {
			t.Errorf("%d reads of the transitions on their own for direct steps, want none", n)
		}
		// Already there: no transition at all.
		before := len(e.fake.Requests())
		if _, err := e.tr.SetStatus(ctx, key, ft.StatusDone); err != nil {
			t.Fatal(err)
		}
		if n := len(e.fake.Requests()) - before; n != 1 {
			t.Errorf("%d calls for a status already set, want 1 (the read)", n)
		}
	})
}

func TestSetStatusTwoStepWorkflow(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, withWorkflow(jirafake.TwoStepWorkflow()))
		ctx := context.Background()
		tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
		if err != nil {
			t.Fatal(err)
		}
		key := tk.Ref.Key
		post := "/rest/api/2/issue/" + key + "/transitions"

		// To Do → In Progress → Done, with resolution Done on the Resolve screen.
		got, err := e.tr.SetStatus(ctx, key, ft.StatusDone)
		if err != nil {
			t.Fatal(err)
		}
		is, _ := e.fake.Issue(key)
		if got.Status != ft.StatusDone || is.Status != "Done" || is.Resolution != "Done" {
			t.Errorf("done: %s, %s/%s", got.Status, is.Status, is.Resolution)
		}
		if n := e.fake.Calls(http.MethodPost, post); n != 2 {
			t.Errorf("done took %d transitions, want 2", n)
		}

		// Done → To Do (Reopen).
		if got, err = e.tr.SetStatus(ctx, key, ft.StatusOpen); err != nil || got.Status != ft.StatusOpen {
			t.Fatalf("open: %v %v", got.Status, err)
		}
		if n := e.fake.Calls(http.MethodPost, post); n != 3 {
			t.Errorf("reopen took %d transitions, want 1", n-2)
		}

		// No Won't Do status: To Do → In Progress → Done with a won't-do resolution.
		got, err = e.tr.SetStatus(ctx, key, ft.StatusWontDo)
		if err != nil {
			t.Fatal(err)
		}
		is, _ = e.fake.Issue(key)
		if got.Status != ft.StatusWontDo || is.Status != "Done" || is.Resolution != "Won't Do" {
			t.Errorf("wont_do: %s, %s/%s", got.Status, is.Status, is.Resolution)
		}

		// From Done (won't do) to done: Reopen, Start Progress, Resolve.
		got, err = e.tr.SetStatus(ctx, key, ft.StatusDone)
		if err != nil {
			t.Fatal(err)
		}
		is, _ = e.fake.Issue(key)
		if got.Status != ft.StatusDone || is.Resolution != "Done" {
			t.Errorf("done again: %s, %s/%s", got.Status, is.Status, is.Resolution)
		}
	})
}

func TestSetStatusResolutionScreen(t *testing.T) {
	// A direct workflow whose Done transition asks for a resolution, and no Won't Do status.
	wf := jirafake.Workflow{
		Statuses: []jirafake.Status{
			{Name: "Open", Category: jirafake.CategoryNew},
			{Name: "Working", Category: jirafake.CategoryIndeterminate},
			{Name: "Closed", Category: jirafake.CategoryDone},
		},
		Transitions: []jirafake.Transition{
			{ID: "1", Name: "Reopen", To: "Open"},
			{ID: "2", Name: "Work", To: "Working"},
			{ID: "3", Name: "Close", To: "Closed", ResolutionScreen: true},
		},
	}
	e := newEnv(t, jirafake.Cloud, withWorkflow(wf))
	ctx := context.Background()
	tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		to  ft.Status
		res string
	}{{ft.StatusWontDo, "Won't Do"}, {ft.StatusDone, "Done"}, {ft.StatusOpen, ""}, {ft.StatusDone, "Done"}} {
		got, err := e.tr.SetStatus(ctx, tk.Ref.Key, c.to)
		if err != nil {
			t.Fatal(err)
		}
		is, _ := e.fake.Issue(tk.Ref.Key)
		if got.Status != c.to || is.Resolution != c.res {
			t.Errorf("to %s: %s with resolution %q, want %q", c.to, got.Status, is.Resolution, c.res)
		}
	}
}

func TestSetStatusWontDoWithoutResolution(t *testing.T) {
	// Neither a Won't Do status nor a resolution screen: Done is the nearest.
	wf := jirafake.DefaultWorkflow()
	wf.Statuses = wf.Statuses[:3]
	wf.Transitions = wf.Transitions[:3]
	e := newEnv(t, jirafake.Cloud, withWorkflow(wf))
	ctx := context.Background()
	tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.tr.SetStatus(ctx, tk.Ref.Key, ft.StatusWontDo)
	if err != nil {
		t.Fatal(err)
	}
	if is, _ := e.fake.Issue(tk.Ref.Key); is.Status != "Done" || got.Status != ft.StatusDone {
		t.Errorf("status %s (%s)", is.Status, got.Status)
	}
}

func TestSetStatusUnreachable(t *testing.T) {
	wf := jirafake.Workflow{
		Statuses: []jirafake.Status{
			{Name: "To Do", Category: jirafake.CategoryNew},
			{Name: "In Progress", Category: jirafake.CategoryIndeterminate},
			{Name: "Done", Category: jirafake.CategoryDone},
		},
		Transitions: []jirafake.Transition{
			{ID: "1", Name: "Start", From: []string{"To Do"}, To: "In Progress"},
			{ID: "2", Name: "Back", From: []string{"In Progress"}, To: "To Do"},
		},
	}
	e := newEnv(t, jirafake.DataCenter, withWorkflow(wf))
	ctx := context.Background()
	tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.tr.SetStatus(ctx, tk.Ref.Key, ft.StatusDone)
	var te *ft.TrackerError
	if !errors.As(err, &te) || te.Retryable || te.Op != "set_status" {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{tk.Ref.Key, "To Do", "In Progress", "done"} {
		if !strings.Contains(te.Message, want) {
			t.Errorf("message %q does not name %q", te.Message, want)
		}
	}
	if n := e.fake.Calls(http.MethodPost, "/rest/api/2/issue/"+tk.Ref.Key+"/transitions"); n > 5 {
		t.Errorf("%d transitions: not bounded", n)
	}
}

func TestSetStatusOverrides(t *testing.T) {
	// jira.statuses says "Blocked" is in_progress: SetStatus(in_progress) may land there.
	wf := jirafake.Workflow{
		Statuses: []jirafake.Status{
			{Name: "To Do", Category: jirafake.CategoryNew},
			{Name: "Blocked", Category: jirafake.CategoryNew},
			{Name: "Done", Category: jirafake.CategoryDone, Resolution: "Done"},
		},
		Transitions: []jirafake.Transition{
			{ID: "1", Name: "Block", To: "Blocked"},
			{ID: "2", Name: "Done", To: "Done"},
			{ID: "3", Name: "Reopen", To: "To Do"},
		},
	}
	e := newEnv(t, jirafake.Cloud, withWorkflow(wf))
	e.cfg.Statuses = map[string]string{"Blocked": "in_progress"}
	ctx := context.Background()
	tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.tr.SetStatus(ctx, tk.Ref.Key, ft.StatusInProgress)
	if err != nil {
		t.Fatal(err)
	}
	if is, _ := e.fake.Issue(tk.Ref.Key); is.Status != "Blocked" || got.Status != ft.StatusInProgress {
		t.Errorf("status %s (%s)", is.Status, got.Status)
	}
}
