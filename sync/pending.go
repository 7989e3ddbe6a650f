package sync

import (
	"context"
	"errors"

	"github.com/followthrough/followthrough/store"
)

// TODO(issue 5, 6): replaced by inbound.go, reconcile.go and stall.go.
var errNotYet = errors.New("not implemented yet")

func (e *Engine) periodic(ctx context.Context)                            { <-ctx.Done() }
func (e *Engine) comment(ctx context.Context, job store.Job) error        { return errNotYet }
func (e *Engine) label(ctx context.Context, job store.Job) error          { return errNotYet }
func (e *Engine) ownTicket(ctx context.Context, job store.Job) error      { return errNotYet }
func (e *Engine) processWebhook(ctx context.Context, job store.Job) error { return errNotYet }
