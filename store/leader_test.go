package store

import (
	"context"
	"testing"
	"time"

	"github.com/followthrough/followthrough/internal/pgtest"
)

// TestLeaderOneAtATime: of two processes on one PostgreSQL schema one leads the periodic work
// and the other waits; when the leader gives up, the other takes over; when the leader's
// session is killed (its node lost), it stops leading and the other takes over; a process on
// another schema leads on its own.
func TestLeaderOneAtATime(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	a, b := openAt(t, url), openAt(t, url)
	const every = 50 * time.Millisecond

	aCtx, aResign, err := a.Lead(ctx, every)
	if err != nil {
		t.Fatal(err)
	}
	type led struct {
		ctx    context.Context
		resign context.CancelFunc
	}
	waitLead := func(s *Store) chan led {
		ch := make(chan led, 1)
		go func() {
			c, r, err := s.Lead(ctx, every)
			if err == nil {
				ch <- led{c, r}
			}
		}()
		return ch
	}
	bLed := waitLead(b)
	select {
	case <-bLed:
		t.Fatal("b leads while a does")
	case <-time.After(10 * every):
	}
	if aCtx.Err() != nil {
		t.Fatal("a stopped leading by itself")
	}

	// a gives up: b takes over.
	aResign()
	var bl led
	select {
	case bl = <-bLed:
	case <-time.After(5 * time.Second):
		t.Fatal("b did not take over after a gave up")
	}

	// A process on another schema leads at once: schemas do not share a leader.
	other := openAt(t, pgtest.URL(t))
	oCtx, oResign, err := other.Lead(ctx, every)
	if err != nil || oCtx.Err() != nil {
		t.Fatalf("another schema's process does not lead: %v", err)
	}
	oResign()

	// a waits again; b's session is ended under it, as when its node is lost.
	aLed := waitLead(a)
	select {
	case <-aLed:
		t.Fatal("a leads while b does")
	case <-time.After(10 * every):
	}
	var killed int
	if err := a.sharedDB().QueryRowContext(ctx, `SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l
		WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
		  AND l.objid = (`+leaderLockKey+` & x'ffffffff'::bigint)::oid`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("ended %d sessions holding the lead: %v", killed, err)
	}
	select {
	case <-bl.ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("b did not notice that its session, and with it the lead, was lost")
	}
	bl.resign()
	select {
	case al := <-aLed:
		al.resign()
	case <-time.After(5 * time.Second):
		t.Fatal("a did not take over after b's session was ended")
	}
}

// TestLeaderTakesOverWhenTheLeaderStops: a process that stops (the context of its engine
// ended, as at SIGTERM) hands the lead over before it is told to give it up.
func TestLeaderTakesOverWhenTheLeaderStops(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openAt(t, url), openAt(t, url)
	aRun, stopA := context.WithCancel(t.Context())
	aCtx, aResign, err := a.Lead(aRun, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer aResign()
	stopA()
	<-aCtx.Done()
	waitCtx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	bCtx, resign, err := b.Lead(waitCtx, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("b did not take over after a stopped: %v", err)
	}
	defer resign()
	if bCtx.Err() != nil {
		t.Fatal("b's lead ended at once")
	}
}

// TestLeaderWithoutSharedDatabase: a SQLite file has one process, which leads at once.
func TestLeaderWithoutSharedDatabase(t *testing.T) {
	s := openTest(t)
	ctx, resign, err := s.Lead(t.Context(), time.Millisecond)
	if err != nil || ctx.Err() != nil {
		t.Fatalf("lead: %v %v", err, ctx.Err())
	}
	resign()
	if ctx.Err() == nil {
		t.Fatal("the lead's context did not end when it was given up")
	}
}
