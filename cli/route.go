package cli

import (
	"fmt"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
)

// route finds the items that intake would refuse with this configuration: those that no route
// places, those whose tracker is not configured, and those naming a ticket in a tracker that is
// not configured. An item that names its ticket needs no route: the ticket says where it is.
// The messages are intake's.
func route(cfg *config.Config, doc *ft.Document) []ft.FieldError {
	var fields []ft.FieldError
	configured := func(k ft.TrackerKind) bool {
		return k == ft.GitHub && cfg.GitHub != nil || k == ft.Jira && cfg.Jira != nil
	}
	for i, it := range doc.ActionItems {
		if it.Ticket != "" {
			if ref, err := cfg.TicketSites().ParseTicket(it.Ticket); err == nil && !configured(ref.Kind) {
				fields = append(fields, ft.FieldError{Field: fmt.Sprintf("action_items[%d].ticket", i),
					Message: fmt.Sprintf("action item %q: %s is a %s ticket, and %s is not configured", it.ID, ref.Key, ref.Kind, ref.Kind)})
			}
			continue
		}
		field := fmt.Sprintf("action_items[%d].tracker", i)
		kind := ft.TrackerKind("")
		if it.Tracker != nil {
			kind = it.Tracker.Kind
		} else {
			team := it.Team
			if team == "" {
				team = doc.Team
			}
			rt, ok := cfg.Route(team, doc.Severity, it.Labels)
			if !ok {
				fields = append(fields, ft.FieldError{Field: field, Message: fmt.Sprintf(
					"no route for action item %q: give it a tracker, or add a route for team %q, severity %q or its labels",
					it.ID, team, doc.Severity)})
				continue
			}
			kind = ft.TrackerKind(rt.Kind)
		}
		if !configured(kind) {
			fields = append(fields, ft.FieldError{Field: field, Message: fmt.Sprintf("action item %q: goes to %s, which is not configured", it.ID, kind)})
		}
	}
	return fields
}
