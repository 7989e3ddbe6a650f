package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	ft "github.com/followthrough/followthrough"
)

// refusedBy reports whether err is the database refusing a write for want of room or a working
// disk, which may pass, rather than the write being wrong.
func refusedBy(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "53100", // disk_full
			"58030": // io_error
			return true
		}
		return false
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
		return true
	}
	return false
}

// errBegin marks a write that PostgreSQL would not begin. A standby refuses our SERIALIZABLE
// BEGIN with feature_not_supported (0A000), a code that any statement of ours would otherwise
// get only from a bug; its message is in the server's language (lc_messages), so the marker,
// not the words, tells the two apart.
var errBegin = errors.New("begin transaction")

// unreachable reports whether err is PostgreSQL out of reach for writes in a way that passes
// with a failover or a restart: no connection (refused, or dropped), the server shutting down
// or still starting, or a standby answering, which takes no writes. A caller that went away
// (its context cancelled, even while a connection was being made) says nothing of the
// database.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", // admin_shutdown
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now: starting up, or shutting down
			"53300", // too_many_connections: every connection slot taken for now
			"25006": // read_only_sql_transaction: a standby
			return true
		case "0A000": // feature_not_supported: a standby begins no serializable transaction
			return errors.Is(err, errBegin)
		case "08P01": // protocol_violation: a bug, not the connection lost
			return false
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection_exception
	}
	var connectErr *pgconn.ConnectError
	var netErr *net.OpError
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF)
}

// refusal wraps a refused write's error in ft.ErrWriteRefused and notes the episode; other
// errors pass unchanged. On PostgreSQL a database out of reach (unreachable) is answered
// alike, 503 with Retry-After, and logged once until a transaction commits again.
func (s *Store) refusal(err error) error {
	if err == nil {
		return nil
	}
	if s.OutOfReach(err) {
		return fmt.Errorf("%w: %w", ft.ErrWriteRefused, err)
	}
	if !refusedBy(err) {
		return err
	}
	if s.refused.CompareAndSwap(false, true) {
		// Once per episode: every write fails alike until it ends.
		s.logger.Error("the database refuses writes; writes answer 503 and /readyz is not ready until one succeeds",
			slog.String("error", err.Error()))
	}
	return fmt.Errorf("%w: %w", ft.ErrWriteRefused, err)
}

// OutOfReach reports whether err, from a read or a write, says PostgreSQL is out of reach for
// now (a failover or a restart: see unreachable), which a later request may not meet; the
// episode is logged once, until a transaction commits again (reached). Always false on
// SQLite, whose file is this process's own.
func (s *Store) OutOfReach(err error) bool {
	if err == nil || s.dialect != Postgres || !unreachable(err) {
		return false
	}
	if s.unreachable.CompareAndSwap(false, true) {
		s.logger.Error("the database is out of reach (a failover or a restart, say); requests answer 503 until a transaction commits again",
			slog.String("error", redactError(err, s.pgDatabase()).Error()))
	}
	return true
}

// reached ends an episode of the database out of reach, if one was on: a transaction
// committed.
func (s *Store) reached() {
	if s.unreachable.CompareAndSwap(true, false) {
		s.logger.Info("the database takes writes again")
	}
}

// writeSucceeded ends a refusal episode, if one was on.
func (s *Store) writeSucceeded() {
	if s.refused.CompareAndSwap(true, false) {
		s.logger.Info("the database accepts writes again")
	}
}

// totalChanges is how many rows the write connection has changed since it opened (-1 when
// unknown).
func totalChanges(tx *sql.Tx) int64 {
	var n int64
	if err := tx.QueryRow(`SELECT total_changes()`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// WritesRefused reports whether the last writes were refused (a full disk, an I/O error) and
// none has succeeded since.
func (s *Store) WritesRefused() bool { return s.refused.Load() }

// LimitPages bounds the database file to pages pages (PRAGMA max_page_count), as a full disk
// does: a write that needs more fails with SQLITE_FULL. 0 lifts the bound. It is for tests and
// drills of a full disk.
func (s *Store) LimitPages(ctx context.Context, pages int64) error {
	if pages <= 0 {
		pages = 1 << 32
	}
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages))
		return err
	})
}
