package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
)

// TestDatabaseOutOfReachAnswersRefused: on PostgreSQL, a write while the server cannot be
// reached (a failover: connections dropped, new ones refused) or while it answers as a
// standby is ft.ErrWriteRefused, answered 503 with Retry-After like a full disk, not a 500;
// it is logged once, and writes go through again once the server is back.
func TestDatabaseOutOfReachAnswersRefused(t *testing.T) {
	database := pgtest.URL(t)
	openAt(t, database) // migrated
	ctx := context.Background()
	p, viaProxy := pgtest.NewRelay(t, database)
	var logs bytes.Buffer
	s, err := Open(ctx, viaProxy, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func() error {
		return s.Write(ctx, func(tx *Tx) error {
			return enqueueAll(ctx, tx, []Job{{Kind: "notify", PostmortemID: "PM-1"}}, t0)
		})
	}
	if err := write(); err != nil {
		t.Fatalf("write before the cut: %v", err)
	}
	p.Cut()
	for i := range 3 {
		if err := write(); !errors.Is(err, ft.ErrWriteRefused) {
			t.Fatalf("write %d while out of reach: %v, want ft.ErrWriteRefused", i+1, err)
		}
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping passed while the database is out of reach")
	}
	if n := strings.Count(logs.String(), "out of reach"); n != 1 {
		t.Errorf("logged the episode %d times, want once:\n%s", n, logs.String())
	}
	p.Listen(p.Addr)
	if err := write(); err != nil {
		t.Fatalf("write once the database is back: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping once the database is back: %v", err)
	}
	if !strings.Contains(logs.String(), "takes writes again") {
		t.Errorf("the end of the episode is not logged:\n%s", logs.String())
	}

	// A standby refuses a write's serializable BEGIN (TestWhatIsOutOfReach) and any other
	// write as read-only, the answer a URL whose sessions are read-only gets here.
	u, err := url.Parse(database)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", q.Get("options")+" -cdefault_transaction_read_only=on")
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	ro, err := Open(ctx, u.String(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Write(ctx, func(tx *Tx) error {
		return enqueueAll(ctx, tx, []Job{{Kind: "notify", PostmortemID: "PM-2"}}, t0)
	}); !errors.Is(err, ft.ErrWriteRefused) {
		t.Errorf("write to a read-only database: %v, want ft.ErrWriteRefused", err)
	}
}

// TestWhatIsOutOfReach: the errors that say PostgreSQL cannot take writes for now, and only
// those. A standby answers a serializable BEGIN with 0A000 (every write of ours begins so), in
// the server's language; a write it let begin would get 25006. A protocol violation (08P01)
// is a bug of the driver's or ours, and a caller that went away says nothing of the database.
func TestWhatIsOutOfReach(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("%w: %w", errBegin, &pgconn.PgError{Code: "0A000", Message: "cannot use serializable mode in a hot standby"}), true},
		{fmt.Errorf("%w: %w", errBegin, &pgconn.PgError{Code: "0A000", Message: "kann serialisierbaren Modus nicht in einem Hot-Standby verwenden"}), true},
		{&pgconn.PgError{Code: "25006", Message: "cannot execute UPDATE in a read-only transaction"}, true},
		{&pgconn.PgError{Code: "57P01"}, true},
		{&pgconn.PgError{Code: "57P03"}, true},
		{&pgconn.PgError{Code: "53300", Message: "sorry, too many clients already"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{io.ErrUnexpectedEOF, true},
		{&pgconn.PgError{Code: "0A000", Message: "FOR UPDATE is not allowed with aggregate functions"}, false},
		{&pgconn.PgError{Code: "0A000", Message: "cannot use serializable mode in a hot standby"}, false}, // not at BEGIN
		{&pgconn.PgError{Code: "08P01", Message: "bind message supplies 2 parameters, but prepared statement \"\" requires 3"}, false},
		{&pgconn.PgError{Code: "57014"}, false}, // a statement timeout
		{&pgconn.PgError{Code: "42703"}, false},
		{context.Canceled, false},
		{fmt.Errorf("begin transaction: %w", &net.OpError{Op: "read", Err: context.Canceled}), false},
	} {
		if got := unreachable(fmt.Errorf("write: %w", tc.err)); got != tc.want {
			t.Errorf("unreachable(%v) = %v; want %v", tc.err, got, tc.want)
		}
	}
}

// TestACancelledWriteIsNotOutOfReach: a write whose caller goes away while its connection is
// being made fails as cancelled, not as the database out of reach (503 with Retry-After, and
// an episode logged).
func TestACancelledWriteIsNotOutOfReach(t *testing.T) {
	database := pgtest.URL(t)
	openAt(t, database) // migrated
	p, viaProxy := pgtest.NewRelay(t, database)
	var logs bytes.Buffer
	s, err := Open(context.Background(), viaProxy, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.writeDB.SetMaxIdleConns(0) // the write makes a connection
	// The server address now takes connections and never answers: the write waits in its
	// connection's start until the caller cancels.
	p.Cut()
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
			cancel()
		}
	}()
	defer func() {
		select {
		case c := <-accepted:
			c.Close()
		default:
		}
	}()
	err = s.Write(ctx, func(tx *Tx) error {
		return enqueueAll(ctx, tx, []Job{{Kind: "notify", PostmortemID: "PM-1"}}, t0)
	})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ft.ErrWriteRefused) {
		t.Errorf("cancelled write: %v, want context.Canceled and not ft.ErrWriteRefused", err)
	}
	if strings.Contains(logs.String(), "out of reach") {
		t.Errorf("a cancelled write was logged as the database out of reach:\n%s", logs.String())
	}
}

// TestRetryableErrors: the errors after which a transaction is run again, being aborted only
// for running beside others, and not others of the same codes.
func TestRetryableErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "40001"}, true},
		{&pgconn.PgError{Code: "40P01"}, true},
		{&pgconn.PgError{Code: "53200", Message: "not enough elements in RWConflictPool to record a read/write conflict"}, true},
		{&pgconn.PgError{Code: "53200", Message: "out of shared memory", Hint: "You might need to increase max_pred_locks_per_transaction."}, true},
		{&pgconn.PgError{Code: "53200", Message: "out of shared memory", Hint: "You might need to increase max_locks_per_transaction."}, false},
		{&pgconn.PgError{Code: "23505"}, false}, // retried a few times apart: isUniqueViolation
		{io.ErrUnexpectedEOF, false},
	} {
		if got := retryable(fmt.Errorf("commit: %w", tc.err)); got != tc.want {
			t.Errorf("retryable(%v) = %v; want %v", tc.err, got, tc.want)
		}
	}
}

// TestConnectTimeoutByDefault: a PostgreSQL URL without connect_timeout gets one, so that a
// server whose address drops packets does not hold a write for as long as TCP takes to give up;
// one the URL sets is kept, and the rest of the URL is left as it was.
func TestConnectTimeoutByDefault(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://ft@db:5432/ft?sslmode=require", "postgres://ft@db:5432/ft?connect_timeout=10&sslmode=require"},
		{"postgres://ft@db/ft?connect_timeout=3", "postgres://ft@db/ft?connect_timeout=3"},
		{"postgres://ft@db/ft?options=-csearch_path%3Dx%20-cstatement_timeout%3D5s", "postgres://ft@db/ft?connect_timeout=10&options=-csearch_path%3Dx%20-cstatement_timeout%3D5s"},
	} {
		if got := withConnectTimeout(tc.in); got != tc.want {
			t.Errorf("withConnectTimeout(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
