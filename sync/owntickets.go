package sync

import (
	"context"
	"encoding/json"
	"fmt"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// ownTicketJob is the payload of an own_ticket job: move the postmortem's own ticket to a
// status (open when the postmortem is reopened, done when it is completed).
type ownTicketJob struct {
	Ticket ft.TicketRef `json:"ticket"`
	Status ft.Status    `json:"status"`
}

// ownTicket moves the postmortem's own ticket. Moving a ticket to the status it has is a no-op
// for the trackers, so a retry after a lost answer changes nothing more.
func (e *Engine) ownTicket(ctx context.Context, job store.Job) error {
	var p ownTicketJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return final(fmt.Errorf("own ticket: bad payload: %w", err))
	}
	if p.Ticket.Key == "" || !p.Status.Valid() {
		return final(fmt.Errorf("own ticket: payload names no ticket or status"))
	}
	tr, err := e.tracker(p.Ticket.Kind)
	if err != nil {
		return err
	}
	if _, err := tr.SetStatus(ctx, p.Ticket.Key, p.Status); err != nil {
		return err
	}
	return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
}
