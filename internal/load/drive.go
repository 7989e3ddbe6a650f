package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Scenario names of Drive.
const (
	ScenarioIntake         = "intake"
	ScenarioWebhooks       = "webhooks"
	ScenarioUnfollowed     = "unfollowed"
	ScenarioStatusPage     = "status-page"
	ScenarioPostmortemPage = "postmortem-page"
	ScenarioList           = "list"
	ScenarioWalk           = "walk"
)

// Scenarios are the scenarios Drive knows, in the order it runs them.
var Scenarios = []string{ScenarioIntake, ScenarioWebhooks, ScenarioUnfollowed, ScenarioStatusPage,
	ScenarioPostmortemPage, ScenarioList, ScenarioWalk}

// DriveOptions choose and size the scenarios Drive runs against a running server.
type DriveOptions struct {
	Scenarios []string // some of Scenarios; /healthz is always measured first
	Clients   int
	Duration  time.Duration // of each timed scenario
	Items     int           // intake: items per postmortem
	Count     int64         // intake: postmortems to send (0: for Duration)
	Bearer    bool          // intake with the token even when a secret is given
	// Trackers limits the webhooks to tickets of these trackers (github, jira; empty: both).
	Trackers   []string
	MaxTickets int // webhooks: at most this many tickets (0: all)
	// AppliedTimeout bounds the wait for every ticket to show its last event.
	AppliedTimeout time.Duration
	Unfollowed     int64 // deliveries about unfollowed issues
	ListLimit      int   // list: postmortems a page
}

// Drive measures /healthz, then each chosen scenario in the order of Scenarios, and sets every
// result's ratio to the /healthz rate.
func Drive(ctx context.Context, t Target, o DriveOptions) ([]Result, error) {
	for _, s := range o.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (known: %v)", s, Scenarios)
		}
	}
	h, err := Healthz(ctx, t, o.Clients, o.Duration)
	if err != nil {
		return nil, err
	}
	results := []Result{h}
	ceiling := h.AcceptedPerSecond()
	if ceiling == 0 {
		return results, fmt.Errorf("/healthz accepted nothing: %s", h.ErrorText())
	}
	run := runID()
	for _, name := range Scenarios {
		if !slices.Contains(o.Scenarios, name) {
			continue
		}
		r, err := driveOne(ctx, t, o, name, run)
		if err != nil {
			return results, fmt.Errorf("%s: %w", name, err)
		}
		r.Ratio = r.AcceptedPerSecond() / ceiling
		results = append(results, r)
	}
	return results, nil
}

func driveOne(ctx context.Context, t Target, o DriveOptions, name, run string) (Result, error) {
	switch name {
	case ScenarioIntake:
		r, _, err := Intake(ctx, t, IntakeOptions{Clients: o.Clients, Duration: o.Duration, Count: o.Count,
			Items: o.Items, Run: run, Bearer: o.Bearer})
		return r, err
	case ScenarioWebhooks:
		all, err := Tickets(ctx, t)
		if err != nil {
			return Result{}, err
		}
		var tickets []Ticket
		for _, tk := range all {
			if (len(o.Trackers) == 0 || slices.Contains(o.Trackers, tk.Kind)) && (o.MaxTickets == 0 || len(tickets) < o.MaxTickets) {
				tickets = append(tickets, tk)
			}
		}
		if len(tickets) == 0 {
			return Result{}, errors.New("the server has no linked tickets of those trackers to send events about")
		}
		return Webhooks(ctx, t, WebhookOptions{Clients: o.Clients, Duration: o.Duration, Tickets: tickets, Run: run,
			AppliedTimeout: o.AppliedTimeout})
	case ScenarioUnfollowed:
		if o.Unfollowed <= 0 {
			return Result{}, errors.New("give the number of deliveries")
		}
		return Unfollowed(ctx, t, o.Clients, o.Unfollowed, run)
	case ScenarioStatusPage:
		return Page(ctx, t, "GET /", o.Clients, o.Duration, func(int64) string { return "/" })
	case ScenarioPostmortemPage:
		ids, err := postmortemIDs(ctx, t, 5000)
		if err != nil {
			return Result{}, err
		}
		if len(ids) == 0 {
			return Result{}, errors.New("the server has no postmortems")
		}
		return Page(ctx, t, "GET /postmortems/{id}", o.Clients, o.Duration,
			func(seq int64) string { return "/postmortems/" + ids[int(seq*7919)%len(ids)] })
	case ScenarioList:
		return ListPages(ctx, t, o.Clients, o.Duration, max(1, o.ListLimit))
	case ScenarioWalk:
		r, check, err := FullWalk(ctx, t, nil)
		if err == nil && !check.OK() {
			err = fmt.Errorf("%s", check)
		}
		return r, err
	}
	return Result{}, fmt.Errorf("unknown scenario %q", name)
}

// postmortemIDs lists the ids of up to n postmortems, newest first.
func postmortemIDs(ctx context.Context, t Target, n int) ([]string, error) {
	client := t.newClient()
	defer client.CloseIdleConnections()
	var ids []string
	_, err := t.walkList(ctx, client, func(pm listPostmortem) {
		if len(ids) < n {
			ids = append(ids, pm.ID)
		}
	}, nil)
	return ids, err
}
