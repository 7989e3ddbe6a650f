// Package sleep waits for a while unless the caller's context ends first.
package sleep

import (
	"context"
	"time"
)

// For waits d, or until ctx ends, whichever comes first; then it returns ctx's error.
func For(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
