package sync

import (
	"context"

	ft "github.com/followthrough/followthrough"
)

// WithTargets is a copy of doc whose items name the targets as trackers of their own
// (targets[i] for doc.ActionItems[i]), so that intake sends them there whatever the routes:
// tests that place items by hand hand it to Engine.Intake.
func WithTargets(doc *ft.Document, targets []ft.Target) *ft.Document {
	d := *doc
	d.ActionItems = make([]ft.ActionItem, len(doc.ActionItems))
	for i, it := range doc.ActionItems {
		if i < len(targets) {
			t := targets[i]
			it.Tracker = &t
		}
		d.ActionItems[i] = it
	}
	return &d
}

// LearnSelf has the engine ask the tracker for its own identity now, as the first job that
// needs it would.
func (e *Engine) LearnSelf(ctx context.Context, kind ft.TrackerKind) error {
	_, err := e.selfOf(ctx, kind)
	return err
}
