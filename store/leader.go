package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"time"
)

// The periodic work (reconciliation, stall scans) runs on one process at a time, whichever
// number of processes share the database, so that its tracker calls do not grow with them.
//
// On PostgreSQL the processes agree through a session-level advisory lock held on a connection
// of the leader's own, rather than through a lease row:
//   - the server releases the lock the moment the session ends, so a crashed or killed leader
//     hands over at once, where a lease row would have to be waited out;
//   - a leader whose node is lost ends its session when the TCP keepalives set below give up
//     (about 25 s), and stops leading itself when its checks of the session fail;
//   - it needs no table, no renewal writes and no agreement between the processes' clocks.
//
// The price: the lock lives in one database session, so the URL must reach PostgreSQL directly
// or through a pooler in session mode (PgBouncer's transaction mode would share the session).
//
// The lock's key is derived from the schema, so that deployments in different schemas of one
// database (and tests, each in a schema of its own) do not share a leader.
const leaderLockKey = `hashtextextended('followthrough periodic work in ' || coalesce(current_schema(), ''), 0)`

// DefaultLeaderEvery is how often a process that does not lead tries to, and how often the
// leader checks that its session (and so its lock) is still there.
const DefaultLeaderEvery = 5 * time.Second

// leaderPingTimeout is how long the leader waits for its session to answer a check.
const leaderPingTimeout = 15 * time.Second

// Lead waits until this process leads the periodic work, then returns a context that ends when
// it stops leading (its database session lost, or ctx ended) and a function that gives the
// lead up, which the caller must call. every is how often it tries and, once leading, checks
// [DefaultLeaderEvery]. On SQLite the one process that owns the file leads at once. Lead
// returns an error only when ctx ends first.
func (s *Store) Lead(ctx context.Context, every time.Duration) (context.Context, context.CancelFunc, error) {
	return s.leader().lead(ctx, every)
}

// leader is the periodic work's lead as this store takes it.
func (s *Store) leader() leader {
	return leader{db: s.sharedDB(), logger: s.logger, database: s.pgDatabase()}
}

// sharedDB is the connection pool of a database that several processes may share (PostgreSQL),
// nil for a SQLite file, which one process owns.
func (s *Store) sharedDB() *sql.DB {
	if s.dialect != Postgres {
		return nil
	}
	return s.writeDB.DB
}

// leader takes and holds the advisory lock of the periodic work on db; a nil db always leads.
type leader struct {
	db       *sql.DB
	logger   *slog.Logger
	database string // the URL, only to take its password out of errors
}

func (l leader) lead(ctx context.Context, every time.Duration) (context.Context, context.CancelFunc, error) {
	if every <= 0 {
		every = DefaultLeaderEvery
	}
	if l.db == nil {
		leadCtx, cancel := context.WithCancel(ctx)
		return leadCtx, cancel, ctx.Err()
	}
	failing := false
	for {
		conn, err := l.tryLock(ctx, max(every, leaderPingTimeout))
		if err != nil && ctx.Err() == nil && !failing {
			// Logged once per outage, not once per try.
			l.logger.Warn("periodic work: cannot try for the lead", slog.String("error", redactError(err, l.database).Error()))
		}
		failing = err != nil
		if conn != nil {
			return l.hold(ctx, conn, every)
		}
		timer := time.NewTimer(every)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// tryLock takes the lock on a connection of its own and returns that connection, or nil when
// another process holds the lock.
func (l leader) tryLock(ctx context.Context, timeout time.Duration) (*sql.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// The server notices a lost node's session by its TCP keepalives: 10 s idle, then 3 probes
	// 5 s apart, and 25 s for data sent but not acknowledged. Ignored on a Unix socket, where
	// nothing is lost without the server knowing.
	var got bool
	err = conn.QueryRowContext(ctx, `SELECT set_config('tcp_keepalives_idle', '10', false) IS NOT NULL
		AND set_config('tcp_keepalives_interval', '5', false) IS NOT NULL
		AND set_config('tcp_keepalives_count', '3', false) IS NOT NULL
		AND set_config('tcp_user_timeout', '25000', false) IS NOT NULL
		AND pg_try_advisory_lock(`+leaderLockKey+`)`).Scan(&got)
	if err != nil || !got {
		// An error here may leave the session unknown: it is not given back to the pool.
		discard(conn, err)
		return nil, err
	}
	return conn, nil
}

// hold keeps the lead on conn until ctx ends, the session is lost or the caller gives it up.
func (l leader) hold(ctx context.Context, conn *sql.Conn, every time.Duration) (context.Context, context.CancelFunc, error) {
	leadCtx, cancel := context.WithCancel(ctx)
	released := make(chan struct{})
	go func() {
		defer close(released)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-leadCtx.Done():
				l.release(conn)
				return
			case <-tick.C:
			}
			// A slow answer is not a lost session: only a failed one or none in a long while
			// gives the lead up, so that a busy database does not make the lead flap.
			pingCtx, stop := context.WithTimeout(leadCtx, max(every, leaderPingTimeout))
			err := conn.PingContext(pingCtx)
			stop()
			if err != nil && leadCtx.Err() == nil {
				// The lock went with the session (or may have): another process may lead now.
				l.logger.Warn("periodic work: lost the database session that held the lead",
					slog.String("error", redactError(err, l.database).Error()))
				cancel()
				discard(conn, driver.ErrBadConn)
				return
			}
		}
	}()
	return leadCtx, func() { cancel(); <-released }, nil
}

// release gives the lock back and the connection to the pool; if the lock cannot be given back,
// the session is closed, which releases it too.
func (l leader) release(conn *sql.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var unlocked bool
	err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock(`+leaderLockKey+`)`).Scan(&unlocked)
	if err == nil && !unlocked {
		err = errors.New("the lock was not held")
	}
	discard(conn, err)
}

// discard gives conn back to the pool, or closes its session when err is set.
func discard(conn *sql.Conn, err error) {
	if err != nil {
		// Returning driver.ErrBadConn from Raw makes database/sql close the connection.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = conn.Close()
}

// PeriodicFinished is when the periodic work named work ("reconcile", "stall") last finished,
// on any process; zero when it never did.
func (s *Store) PeriodicFinished(ctx context.Context, work string) (time.Time, error) {
	var at string
	err := s.readDB.QueryRowContext(ctx, `SELECT finished_at FROM periodic_runs WHERE work = ?`, work).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, redactError(err, s.pgDatabase())
	}
	return parseTime(at), nil
}

// RecordPeriodicFinish stores that the periodic work named work finished at.
func (s *Store) RecordPeriodicFinish(ctx context.Context, work string, at time.Time) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO periodic_runs (work, finished_at) VALUES (?, ?)
			ON CONFLICT (work) DO UPDATE SET finished_at = excluded.finished_at`, work, formatTime(at))
		return err
	})
}
