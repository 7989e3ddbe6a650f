package jira

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors"
)

// Jira's status category keys.
const (
	categoryNew           = "new"
	categoryIndeterminate = "indeterminate"
	categoryDone          = "done"
)

// wontDoResolutions are the resolutions that make a Done-category status mean wont_do, in the
// order SetStatus prefers them.
var wontDoResolutions = []string{"Won't Do", "Won't Fix", "Declined", "Duplicate", "Cannot Reproduce"}

// doneResolutions are the resolutions SetStatus prefers for done.
var doneResolutions = []string{"Done", "Fixed"}

// normalize folds case and typographic apostrophes, so "Won’t do" equals "Won't Do".
func normalize(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "’", "'"))
}

func isWontDoResolution(res string) bool {
	for _, r := range wontDoResolutions {
		if normalize(r) == normalize(res) {
			return true
		}
	}
	return false
}

// MapStatus is the item status of a Jira status: jira.statuses by status name first, then a
// status named "Won't Do", then by category (new → open, indeterminate → in_progress, done →
// done, or wont_do with a won't-do resolution). A status without a category (very old Jira)
// counts as done when resolved, else open.
func (t *Tracker) MapStatus(name, categoryKey, resolution string) ft.Status {
	return mapStatus(t.cfg.Statuses, name, categoryKey, resolution)
}

func mapStatus(overrides map[string]string, name, categoryKey, resolution string) ft.Status {
	if s, ok := overrides[name]; ok {
		return ft.Status(s)
	}
	for k, s := range overrides {
		if normalize(k) == normalize(name) {
			return ft.Status(s)
		}
	}
	if normalize(name) == "won't do" {
		return ft.StatusWontDo
	}
	switch categoryKey {
	case categoryNew:
		return ft.StatusOpen
	case categoryIndeterminate:
		return ft.StatusInProgress
	}
	if categoryKey == categoryDone || resolution != "" {
		if isWontDoResolution(resolution) {
			return ft.StatusWontDo
		}
		return ft.StatusDone
	}
	return ft.StatusOpen
}

func targetCategory(s ft.Status) string {
	switch s {
	case ft.StatusOpen:
		return categoryNew
	case ft.StatusInProgress:
		return categoryIndeterminate
	}
	return categoryDone
}

func categoryRank(c string) int {
	switch c {
	case categoryNew:
		return 0
	case categoryIndeterminate:
		return 1
	case categoryDone:
		return 2
	}
	return 1
}

type transitionJSON struct {
	ID     string     `json:"id"`
	Name   string     `json:"name"`
	To     statusJSON `json:"to"`
	Fields map[string]struct {
		Required      bool `json:"required"`
		AllowedValues []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"allowedValues"`
	} `json:"fields"`
}

// resolutionFor picks the resolution to send with a transition: none when the screen has no
// resolution field; else a won't-do one for wont_do, Done/Fixed otherwise, falling back to the
// first allowed value when the field is required.
func resolutionFor(tr transitionJSON, target ft.Status) string {
	f, ok := tr.Fields["resolution"]
	if !ok || len(f.AllowedValues) == 0 {
		return ""
	}
	pick := func(names []string) string {
		for _, want := range names {
			for _, v := range f.AllowedValues {
				if normalize(v.Name) == normalize(want) {
					return v.Name
				}
			}
		}
		return ""
	}
	if target == ft.StatusWontDo {
		if r := pick(wontDoResolutions); r != "" {
			return r
		}
	} else if r := pick(doneResolutions); r != "" {
		return r
	}
	for _, v := range f.AllowedValues {
		if !isWontDoResolution(v.Name) || target == ft.StatusWontDo {
			return v.Name
		}
	}
	return f.AllowedValues[0].Name
}

// SetStatus implements ft.Tracker, through transitions only. One read gives the issue and the
// transitions offered from its status (expand=transitions); a ticket already there costs that
// read alone, one transition away costs the read, the transition and a read of the result.
// Jira shows only the transitions offered from the current status, so the path is found step
// by step: a transition that lands
// on the target when one is offered, else the one whose status category is nearest the
// target's, never revisiting a status, at most maxTransitions steps. wont_do prefers a status
// named "Won't Do", then a Done-category status with a won't-do resolution, and settles for a
// Done-category status when the workflow offers nothing better.
func (t *Tracker) SetStatus(ctx context.Context, key string, target ft.Status) (ft.Ticket, error) {
	ctx = connectors.WithOp(ctx, "set_status")
	if !target.Valid() {
		return ft.Ticket{}, &ft.TrackerError{Tracker: ft.Jira, Op: "set_status", Ticket: key,
			Message: fmt.Sprintf("changing the status of Jira ticket %s: %q is not an item status", key, target)}
	}
	// The issue comes with the transitions offered from its status (and their screens'
	// fields), in one call.
	var is issueWithTransitions
	err := t.call(ctx, "set_status", key, http.MethodGet,
		"rest/api/2/issue/"+url.PathEscape(key)+"?fields="+ticketFields+"&expand="+url.QueryEscape("transitions,transitions.fields"), nil, &is)
	if err != nil {
		return ft.Ticket{}, err
	}
	if is.status(t) == target {
		return is.ticket(t), nil
	}
	cur := statusJSON{}
	if is.Fields.Status != nil {
		cur = *is.Fields.Status
	}
	start := cur.Name
	visited := map[string]bool{normalize(cur.Name): true}
	path := []string{cur.Name}
	offered := is.Transitions
	for step := 0; ; step++ {
		if step > 0 {
			// A step that did not land on the target: what the new status offers.
			var next struct {
				Transitions []transitionJSON `json:"transitions"`
			}
			err := t.call(ctx, "set_status", key, http.MethodGet,
				"rest/api/2/issue/"+url.PathEscape(key)+"/transitions?expand=transitions.fields", nil, &next)
			if err != nil {
				return ft.Ticket{}, err
			}
			offered = next.Transitions
		}
		tr, res, final := t.chooseTransition(offered, target, visited)
		if !final && step > 0 && target == ft.StatusWontDo && cur.StatusCategory.Key == categoryDone {
			// Nothing leads to a won't-do outcome from here: Done is the nearest the workflow
			// allows.
			t.log.Warn("jira workflow offers no won't-do status or resolution; left in a done status",
				"ticket", key, "status", cur.Name)
			break
		}
		if tr == nil || step >= maxTransitions {
			return ft.Ticket{}, &ft.TrackerError{Tracker: ft.Jira, Op: "set_status", Ticket: key,
				Message: fmt.Sprintf("changing the status of Jira ticket %s to %s: no transition path from %q (went %s); from %q the workflow offers %s",
					key, target, start, strings.Join(path, " → "), cur.Name, describeTransitions(offered))}
		}
		body := map[string]any{"transition": map[string]string{"id": tr.ID}}
		if res != "" {
			body["fields"] = map[string]any{"resolution": map[string]string{"name": res}}
		}
		if err := t.call(ctx, "set_status", key, http.MethodPost, "rest/api/2/issue/"+url.PathEscape(key)+"/transitions", body, nil); err != nil {
			return ft.Ticket{}, err
		}
		cur = tr.To
		visited[normalize(cur.Name)] = true
		path = append(path, cur.Name)
		if final {
			break
		}
	}
	// Read back for Jira's updated time of this change, so that an older event arriving late
	// is known to be older.
	after, err := t.getIssue(ctx, "set_status", key)
	if err != nil {
		return ft.Ticket{}, err
	}
	return after.ticket(t), nil
}

// issueWithTransitions is an issue read with expand=transitions.
type issueWithTransitions struct {
	issueJSON
	Transitions []transitionJSON `json:"transitions"`
}

// chooseTransition picks the next transition toward target: final is true when it lands there.
func (t *Tracker) chooseTransition(offered []transitionJSON, target ft.Status, visited map[string]bool) (*transitionJSON, string, bool) {
	var best *transitionJSON
	bestRes, bestScore := "", 0
	for i := range offered {
		tr := &offered[i]
		res := resolutionFor(*tr, target)
		if t.MapStatus(tr.To.Name, tr.To.StatusCategory.Key, res) != target {
			continue
		}
		score := 0
		if res != "" && t.MapStatus(tr.To.Name, tr.To.StatusCategory.Key, "") != target {
			score = 1 // reaches the target only through the resolution
		}
		if best == nil || score < bestScore {
			best, bestRes, bestScore = tr, res, score
		}
	}
	if best != nil {
		return best, bestRes, true
	}
	want := categoryRank(targetCategory(target))
	for i := range offered {
		tr := &offered[i]
		if visited[normalize(tr.To.Name)] {
			continue
		}
		rank := categoryRank(tr.To.StatusCategory.Key)
		score := abs(rank - want)
		if target == ft.StatusWontDo {
			// A plain done status ends the search for a won't-do one: try it last.
			score = []int{1, 0, 3}[rank]
		}
		if best == nil || score < bestScore {
			best, bestScore = tr, score
			bestRes = ""
			if f, ok := tr.Fields["resolution"]; ok && f.Required {
				bestRes = resolutionFor(*tr, target)
			}
		}
	}
	return best, bestRes, false
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func describeTransitions(ts []transitionJSON) string {
	if len(ts) == 0 {
		return "no transitions"
	}
	var parts []string
	for _, tr := range ts {
		parts = append(parts, fmt.Sprintf("%q → %q", tr.Name, tr.To.Name))
	}
	return strings.Join(parts, ", ")
}
