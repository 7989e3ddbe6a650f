package github

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/sleep"
)

// holdAfter is the longest a write waits for its turn inside the call. Work whose turn is
// further away is held back instead (a *heldError): its caller reschedules it for its turn and
// says why it waits, rather than keep a worker asleep and the work's reason unknown.
const holdAfter = 2 * time.Second

// turnKept is how long after its time a turn held for some work is kept for it. Work comes
// back at its turn; work that never does (its item was removed meanwhile) leaves only a gap.
const turnKept = time.Hour

// pacer spaces one token's writes: at least interval between two, and at most perHour in any
// rolling hour. GitHub's secondary limits count content-creating calls per token; every write
// (POST, PATCH, DELETE) goes through the pacer, which keeps the connector well inside them.
//
// Every write gets a turn, in the order writes ask: the first time that keeps both limits after
// the turns already given. A write whose turn is near waits for it in place. Work named with
// ft.WithTurn whose turn is further than holdAfter is held: it gets a *heldError saying when
// its turn is, and the turn is kept under its name, so that when the work comes back it writes
// at once instead of queueing again. Turns are given ahead in time; the writes made are
// tracked too, so that a turn taken late still keeps both limits.
type pacer struct {
	interval time.Duration
	perHour  int
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	turns []time.Time          // the turns given in the last hour and ahead, in order
	held  map[string]time.Time // turns kept for held work, by its name
	queue []heldTurn           // the same, in the order they were given, for expiry
	made  []time.Time          // start times of the writes made in the last hour, oldest first
	last  time.Time            // start time of the last write made
}

type heldTurn struct {
	name string
	at   time.Time
}

// heldError is a write the pacer held back: nothing was sent; its turn is at until.
type heldError struct {
	until  time.Time
	reason string
}

func (e *heldError) Error() string { return e.reason }

func newPacer(interval time.Duration, perHour int, now func() time.Time, wait func(context.Context, time.Duration) error) *pacer {
	if wait == nil {
		wait = sleep.For
	}
	return &pacer{interval: interval, perHour: perHour, now: now, sleep: wait, held: map[string]time.Time{}}
}

// paced reports whether the pacer limits anything.
func (p *pacer) paced() bool { return p.interval > 0 || p.perHour > 0 }

// wait blocks until a write may be made and counts it, returns a *heldError for named work
// whose turn is further than holdAfter, or returns ctx's error.
func (p *pacer) wait(ctx context.Context) error {
	if !p.paced() {
		return nil
	}
	name := ft.Turn(ctx)
	p.mu.Lock()
	now := p.now()
	p.forget(now)
	at, kept := p.held[name]
	if !kept {
		at = p.give(now)
	}
	if name != "" && at.Sub(now) > holdAfter {
		if !kept {
			p.held[name] = at
			p.queue = append(p.queue, heldTurn{name: name, at: at})
		}
		err := &heldError{until: at, reason: p.reason(now, at)}
		p.mu.Unlock()
		return err
	}
	if kept {
		delete(p.held, name)
	}
	p.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.mu.Lock()
		now := p.now()
		next := at
		if t := p.madeLimit(now); t.After(next) {
			next = t
		}
		if !next.After(now) {
			p.made = append(p.made, now)
			p.last = now
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		if err := p.sleep(ctx, next.Sub(now)); err != nil {
			return err
		}
	}
}

// give books the next turn: after every turn given (so writes go in the order they asked), at
// least interval after the last one, and no more than perHour turns in any hour. Callers hold
// p.mu.
func (p *pacer) give(now time.Time) time.Time {
	at := now
	if n := len(p.turns); n > 0 {
		if t := p.turns[n-1].Add(p.interval); t.After(at) {
			at = t
		}
	}
	if p.perHour > 0 && len(p.turns) >= p.perHour {
		if t := p.turns[len(p.turns)-p.perHour].Add(time.Hour); t.After(at) {
			at = t
		}
	}
	p.turns = append(p.turns, at)
	return at
}

// madeLimit is the earliest time the next write may start given the writes made: a turn taken
// late moves the writes after it. Callers hold p.mu.
func (p *pacer) madeLimit(now time.Time) time.Time {
	var at time.Time
	if !p.last.IsZero() {
		at = p.last.Add(p.interval)
	}
	if p.perHour > 0 && len(p.made) >= p.perHour {
		if t := p.made[len(p.made)-p.perHour].Add(time.Hour); t.After(at) {
			at = t
		}
	}
	return at
}

// forget drops what no longer counts at now: turns and writes older than an hour, and held
// turns that their work did not come back for. Callers hold p.mu.
func (p *pacer) forget(now time.Time) {
	hourAgo := now.Add(-time.Hour)
	drop := func(ts []time.Time) []time.Time {
		i := 0
		for i < len(ts) && !ts[i].After(hourAgo) {
			i++
		}
		return ts[i:]
	}
	p.turns = drop(p.turns)
	p.made = drop(p.made)
	for len(p.queue) > 0 && p.queue[0].at.Add(turnKept).Before(now) {
		h := p.queue[0]
		if at, ok := p.held[h.name]; ok && at.Equal(h.at) {
			delete(p.held, h.name)
		}
		p.queue = p.queue[1:]
	}
}

// reason says in words why a write waits until at. Callers hold p.mu.
func (p *pacer) reason(now, at time.Time) string {
	// Turns of the last hour that have come, and those given before this one still to come.
	past := sort.Search(len(p.turns), func(i int) bool { return p.turns[i].After(now) })
	queued := max(0, sort.Search(len(p.turns), func(i int) bool { return !p.turns[i].Before(at) })-past)
	when := at.UTC().Format(time.RFC3339)
	if p.perHour > 0 && past >= p.perHour {
		return fmt.Sprintf("GitHub's hourly write budget is spent (github.writes_per_hour: %d): followthrough paces its writes under GitHub's limits; this one's turn is at %s, after %d queued writes",
			p.perHour, when, queued)
	}
	return fmt.Sprintf("followthrough paces its GitHub writes %s apart (github.write_interval) under GitHub's limits; this one's turn is at %s, after %d queued writes",
		p.interval, when, queued)
}
