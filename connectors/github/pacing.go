package github

import (
	"context"
	"sync"
	"time"
)

// pacer spaces one token's writes: at least interval between two, and at most perHour in any
// rolling hour. GitHub's secondary limits count content-creating calls per token; every write
// (POST, PATCH, DELETE) goes through the pacer, which keeps the connector well inside them.
type pacer struct {
	interval time.Duration
	perHour  int
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	last  time.Time
	times []time.Time // start times of the writes of the last hour, oldest first
}

func newPacer(interval time.Duration, perHour int, now func() time.Time, sleep func(context.Context, time.Duration) error) *pacer {
	if sleep == nil {
		sleep = sleepCtx
	}
	return &pacer{interval: interval, perHour: perHour, now: now, sleep: sleep}
}

// wait blocks until a write is allowed and books it, or returns ctx's error.
func (p *pacer) wait(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.mu.Lock()
		now := p.now()
		for len(p.times) > 0 && !now.Before(p.times[0].Add(time.Hour)) {
			p.times = p.times[1:]
		}
		next := now
		if p.interval > 0 && !p.last.IsZero() {
			if t := p.last.Add(p.interval); t.After(next) {
				next = t
			}
		}
		if p.perHour > 0 && len(p.times) >= p.perHour {
			if t := p.times[len(p.times)-p.perHour].Add(time.Hour); t.After(next) {
				next = t
			}
		}
		if !next.After(now) {
			p.last = now
			if p.perHour > 0 {
				p.times = append(p.times, now)
			}
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		if err := p.sleep(ctx, next.Sub(now)); err != nil {
			return err
		}
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
