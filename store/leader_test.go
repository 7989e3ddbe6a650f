package store

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"
	"time"
)

// leaderPool is a connection pool on a fresh schema of the test PostgreSQL; each call is one
// process's pool.
func leaderPool(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestLeaderOneAtATime: of two processes on one schema one leads and the other waits; when the
// leader gives up, the other takes over; when the leader's session is killed, the leader stops
// leading and the other takes over within its polling interval.
func TestLeaderOneAtATime(t *testing.T) {
	url := testPostgresSchema(t)
	ctx := t.Context()
	logger := slog.New(slog.DiscardHandler)
	a := leader{db: leaderPool(t, url), logger: logger}
	b := leader{db: leaderPool(t, url), logger: logger}
	const every = 50 * time.Millisecond

	aCtx, aResign, err := a.lead(ctx, every)
	if err != nil {
		t.Fatal(err)
	}
	type led struct {
		ctx    context.Context
		resign context.CancelFunc
	}
	bLed := make(chan led, 1)
	go func() {
		c, r, err := b.lead(ctx, every)
		if err == nil {
			bLed <- led{c, r}
		}
	}()
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

	// A third process on another schema leads at once: schemas do not share a leader.
	other := leader{db: leaderPool(t, testPostgresSchema(t)), logger: logger}
	oCtx, oResign, err := other.lead(ctx, every)
	if err != nil || oCtx.Err() != nil {
		t.Fatalf("another schema's process does not lead: %v", err)
	}
	oResign()

	// a waits again; b's session is killed under it, as when its node is lost.
	aLed := make(chan led, 1)
	go func() {
		c, r, err := a.lead(ctx, every)
		if err == nil {
			aLed <- led{c, r}
		}
	}()
	select {
	case <-aLed:
		t.Fatal("a leads while b does")
	case <-time.After(10 * every):
	}
	admin := leaderPool(t, url)
	if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND pid <> pg_backend_pid() AND granted
		  AND objid = (`+leaderLockKey+` & x'ffffffff'::bigint)::oid`); err != nil {
		t.Fatal(err)
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
		t.Fatal("a did not take over after b's session was killed")
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
