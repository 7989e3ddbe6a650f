package cli

import (
	"fmt"
	"slices"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
)

// route finds the items that intake would refuse with this configuration: those that the
// configuration's router (intake's) cannot place, and those naming a ticket in a tracker that
// is not configured. An item that names its ticket needs no route: the ticket says where it is.
// The messages are intake's.
func route(cfg *config.Config, doc *ft.Document) []ft.FieldError {
	var fields []ft.FieldError
	router := cfg.Router()
	for i, it := range doc.ActionItems {
		if it.Ticket != "" {
			if ref, err := cfg.TicketSites().ParseTicket(it.Ticket); err == nil && !slices.Contains(router.Trackers, ref.Kind) {
				fields = append(fields, ft.FieldError{Field: fmt.Sprintf("action_items[%d].ticket", i),
					Message: fmt.Sprintf("action item %q: %s is a %s ticket, and %s is not configured", it.ID, ref.Key, ref.Kind, ref.Kind)})
			}
			continue
		}
		if _, err := router.Route(doc, it); err != nil {
			fields = append(fields, ft.FieldError{Field: fmt.Sprintf("action_items[%d].tracker", i), Message: err.Error()})
		}
	}
	return fields
}
