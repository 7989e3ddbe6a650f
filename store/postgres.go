package store

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// PostgreSQL: several processes share one database. What differs from SQLite is here: how the
// database is opened and migrated, how a write commits, and how jobs are claimed.

// maxPostgresConns bounds each process's connections: the writes of concurrent requests, the
// page reads and the outbox workers share them.
const maxPostgresConns = 16

// maxWriteAttempts bounds the retries of a write that PostgreSQL aborted to keep transactions
// serializable (or to break a deadlock). Each retry runs the write again from the start.
// Many writers of one table at once abort each other often while its pages are few (a new
// database: PostgreSQL then tracks what a transaction read by whole table), so the bound is
// generous; the backoff, exponential up to maxWriteBackoff, spreads them out.
const maxWriteAttempts = 40

// maxWriteBackoff bounds the pause before a write is run again.
const maxWriteBackoff = 100 * time.Millisecond

// postgresWriters is how many write transactions one process runs at once. SERIALIZABLE
// transactions that touch the same tables abort each other (PostgreSQL tracks reads by index
// page, or by whole table while a table is small), so unbounded, a process's own writers
// mostly abort and retry each other: measured with ftload (16 intake clients, one process),
// unbounded gave 8.8 postmortems/s with 500s after the retries ran out, 1 writer 92/s and 4
// writers 99/s, neither with an error. Four keep some round trips overlapping for a database
// across a network.
const postgresWriters = 4

// maxUniqueRetries bounds the retries of a write that met a unique key (isUniqueViolation).
const maxUniqueRetries = 3

// postgresState is what a PostgreSQL store has that a SQLite one does not.
type postgresState struct {
	database string // the URL as given, password and all: only for taking it out of errors
	schema   string // the schema the tables are in (the URL's search_path, else public)
	// claimLock is the advisory lock that serialises outbox claims across processes sharing
	// the schema; migrateLock the one migrations take.
	claimLock   int64
	migrateLock int64
	// exports lets maxExports exports read at once, each on two connections.
	exports chan struct{}
	// retries counts the transactions run again after a conflict, for benchmarks.
	retries atomic.Int64
	// writers bounds the write transactions this process runs at once (writePostgres).
	writers chan struct{}
}

// openPostgres opens a pool on the database the URL names and checks that it answers.
func openPostgres(ctx context.Context, database string, logger *slog.Logger) (*Store, error) {
	name := RedactDatabase(database)
	r := &rebinder{dialect: Postgres}
	dsn := withConnectTimeout(database)
	pool := openPostgresPool(dsn, r)
	pool.SetMaxOpenConns(maxPostgresConns)
	pool.SetMaxIdleConns(maxPostgresConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	// Connections are renewed now and then, so that after a failover or a scale-up of the
	// database they spread over what is there now.
	pool.SetConnMaxLifetime(30 * time.Minute)
	var schema string
	if err := pool.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database %s: %w", name, redactError(err, database))
	}
	exportDB, err := openDB("pgx", dsn, r)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database %s: %w", name, redactError(err, database))
	}
	exportDB.SetMaxOpenConns(2 * maxExports)
	s := &Store{
		dialect:  Postgres,
		name:     name,
		r:        r,
		writeDB:  pool,
		readDB:   pool,
		exportDB: exportDB,
		pg: &postgresState{
			database:    database,
			schema:      schema,
			claimLock:   lockID(schema, "outbox claim"),
			migrateLock: lockID(schema, "migrate"),
			exports:     make(chan struct{}, maxExports),
			writers:     make(chan struct{}, postgresWriters),
		},
		logger: logger,
	}
	return s, nil
}

// openPostgresPool opens a pool of pgx connections on dsn (parsed when a connection is made,
// as sql.Open does) whose SERIALIZABLE transactions prefer index scans (indexFirstConn).
func openPostgresPool(dsn string, r *rebinder) *db {
	connector, _ := stdlib.GetDefaultDriver().(*stdlib.Driver).OpenConnector(dsn) // it cannot fail
	return &db{DB: sql.OpenDB(indexFirstConnector{connector}), r: r}
}

// indexFirstConnector makes indexFirstConns.
type indexFirstConnector struct{ driver.Connector }

func (c indexFirstConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &indexFirstConn{conn.(*stdlib.Conn)}, nil
}

// indexFirstConn is a pgx connection whose SERIALIZABLE transactions begin with
// enable_seqscan off. A SERIALIZABLE transaction that reads a table whole (a sequential scan)
// locks it whole, and then conflicts with every concurrent write to it, one of the two being
// aborted; read through an index, it locks the pages it read. Every read of a write has an
// index; the planner still read a thousand tickets whole to join one postmortem's five items
// (TestWritesLockOnlyTheirRows). PostgreSQL's documentation of SERIALIZABLE suggests
// encouraging index scans so. The setting is sent in the BEGIN's own message (beginSerializable),
// not as a statement of its own that costs every write a round trip (TestWriteRoundTrips); it
// lasts as long as the transaction, so the connection's other work (reads, claims, migrations)
// plans as usual.
type indexFirstConn struct{ *stdlib.Conn }

// beginSerializable begins a write; pgx sends a BEGIN without arguments as one simple query,
// which may hold several statements.
const beginSerializable = "BEGIN ISOLATION LEVEL SERIALIZABLE; SET LOCAL enable_seqscan = off"

func (c *indexFirstConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if sql.IsolationLevel(opts.Isolation) != sql.LevelSerializable || opts.ReadOnly {
		return c.Conn.BeginTx(ctx, opts)
	}
	if c.Conn.Conn().IsClosed() {
		return nil, driver.ErrBadConn
	}
	tx, err := c.Conn.Conn().BeginTx(ctx, pgx.TxOptions{BeginQuery: beginSerializable})
	if err != nil {
		return nil, err
	}
	return pgxTx{ctx: ctx, tx: tx}, nil
}

// pgxTx is a pgx transaction as database/sql's driver sees it (as the stdlib driver's own).
type pgxTx struct {
	ctx context.Context
	tx  pgx.Tx
}

func (t pgxTx) Commit() error   { return t.tx.Commit(t.ctx) }
func (t pgxTx) Rollback() error { return t.tx.Rollback(t.ctx) }

// defaultConnectTimeout bounds making a connection when the URL sets no connect_timeout: a
// server whose address drops packets (mid-failover) would otherwise hold a write, and one of
// the writers' slots, for as long as TCP takes to give up.
const defaultConnectTimeout = "10"

// withConnectTimeout is the URL with connect_timeout set to defaultConnectTimeout seconds
// unless it sets one.
func withConnectTimeout(database string) string {
	u, err := url.Parse(database)
	if err != nil || u.Query().Has("connect_timeout") {
		return database // an unparsable URL is reported by the driver, as it was given
	}
	q := u.Query()
	q.Set("connect_timeout", defaultConnectTimeout)
	// pgx reads "+" in a URL as itself, not as a space: spaces are written %20.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

// lockID is an advisory lock key for what, in one schema: processes sharing a schema share the
// lock, and tests in schemas of their own do not wait for each other.
func lockID(schema, what string) int64 {
	h := fnv.New64a()
	h.Write([]byte("followthrough " + what + " " + schema))
	return int64(h.Sum64())
}

// pgDatabase is the URL to take out of errors ("" on SQLite).
func (s *Store) pgDatabase() string {
	if s.pg == nil {
		return ""
	}
	return s.pg.database
}

func (s *Store) closePostgres() error {
	return errors.Join(s.exportDB.Close(), s.writeDB.Close())
}

// postgresMigrations is the goose provider of the PostgreSQL migrations, holding a session
// advisory lock while it migrates so that processes starting together take turns.
func (s *Store) postgresMigrations(ctx context.Context) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(s.pg.migrateLock),
		lock.WithLockTimeout(1, 600), // wait up to 10 minutes for another process's migration
		lock.WithUnlockTimeout(1, 60),
	)
	if err != nil {
		return nil, err
	}
	return s.migrationProvider(goose.WithSessionLocker(locker))
}

// writePostgres runs fn in a SERIALIZABLE transaction: whatever other processes commit at the
// same time, the outcome is one that running the writes one after another would give, as
// under SQLite's single writer.
func (s *Store) writePostgres(ctx context.Context, fn func(*Tx) error) error {
	select {
	case s.pg.writers <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.pg.writers }()
	err := s.runPostgres(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable}, false, fn)
	if err == nil {
		// A write went through: writes are taken again (claims, which may commit nothing,
		// do not say so).
		s.writeSucceeded()
	}
	return err
}

// runPostgres runs fn in a transaction with opts, first taking the claim lock when claim is
// set (claimJobsPostgres). PostgreSQL aborts a transaction it cannot fit into a serial order
// (40001) or that deadlocked (40P01); the transaction is then run again, from the start, a few
// times (and up to maxUniqueRetries times after a unique key collision, isUniqueViolation).
// fn must therefore be safe to run again (set what it reports, do not append to it).
func (s *Store) runPostgres(ctx context.Context, opts *sql.TxOptions, claim bool, fn func(*Tx) error) error {
	s.closeMu.RLock()
	closed := s.closed
	s.closeMu.RUnlock()
	if closed {
		return errClosed
	}
	uniqueRetries := 0
	for attempt := 1; ; attempt++ {
		err := s.transactOnce(ctx, opts, claim, fn)
		again := retryable(err)
		if isUniqueViolation(err) && uniqueRetries < maxUniqueRetries {
			uniqueRetries++
			again = true
		}
		if err == nil {
			return nil
		}
		if !again || attempt == maxWriteAttempts {
			// A database out of room answers 503 and makes /readyz not ready, as on SQLite.
			return redactError(s.refusal(err), s.pg.database)
		}
		s.pg.retries.Add(1)
		// Back off, at random, so that the writers that collided do not again.
		wait := time.Duration(rand.Int64N(int64(min(time.Millisecond<<min(attempt, 10), maxWriteBackoff)))) + time.Millisecond
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// transactOnce runs fn in one transaction.
func (s *Store) transactOnce(ctx context.Context, opts *sql.TxOptions, claim bool, fn func(*Tx) error) (err error) {
	t, err := s.writeDB.beginTx(ctx, opts, &s.itemReads)
	if err != nil {
		return fmt.Errorf("%w: %w", errBegin, err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
		if err != nil {
			_ = t.tx.Rollback()
		}
	}()
	if claim {
		if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock(?)", s.pg.claimLock); err != nil {
			return fmt.Errorf("take the claim lock: %w", err)
		}
	}
	if err := fn(t); err != nil {
		return err
	}
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.commits.Add(1)
	s.transactions.Add(1)
	s.reached()
	return nil
}

// claimJobsPostgresSQL is SQLite's claim (claimJobsSQL) with its rows
// locked as they are chosen, passing over those that another transaction holds. The look for an
// earlier open job of the same item is a LATERAL subquery with LIMIT 1 rather than NOT EXISTS:
// the planner cannot turn it into a join, so it is always one lookup in outbox_open_item per
// open job of the lane. As NOT EXISTS, whenever the statistics were older than a burst of work
// (they then say the outbox has no open jobs), the planner read every open job for each one,
// and a claim of 50 webhook jobs among 2,000 queued took half a second (BENCHMARKS.md). The look
// for a later job of the same item that runs (claimJobsSQL) is one likewise. Arguments: owner,
// lease until, now, owner, held, tracker, now, now, owner, held, limit (the lateral subqueries
// come first).
const claimJobsPostgresSQL = `UPDATE outbox SET lease_owner = ?, lease_until = ?
	WHERE id IN (
		SELECT o.id FROM outbox o
		LEFT JOIN LATERAL (SELECT 1 AS waits FROM outbox e WHERE e.postmortem_id = o.postmortem_id
			AND e.item_id = o.item_id AND e.id < o.id AND e.done_at IS NULL AND e.failed_at IS NULL LIMIT 1) earlier ON true
		LEFT JOIN LATERAL (SELECT 1 AS runs FROM outbox r WHERE r.postmortem_id = o.postmortem_id
			AND r.item_id = o.item_id AND r.id > o.id AND r.done_at IS NULL AND r.failed_at IS NULL
			AND r.lease_until >= ? AND (r.lease_owner <> ? OR r.tracker <> o.tracker
				OR CAST(r.id AS TEXT) IN (SELECT value FROM json_each(?))) LIMIT 1) running ON true
		WHERE o.done_at IS NULL AND o.failed_at IS NULL AND o.tracker = ?
		  AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?
		      OR (o.lease_owner = ? AND CAST(o.id AS TEXT) NOT IN (SELECT value FROM json_each(?))))
		  AND earlier.waits IS NULL AND running.runs IS NULL
		ORDER BY o.id LIMIT ?
		FOR UPDATE OF o SKIP LOCKED)
	RETURNING id, kind, postmortem_id, item_id, tracker, payload, attempts,
		COALESCE(last_error, ''), created_at`

// claimJobsPostgres is ClaimJobs for processes sharing a database. The claims of all of them
// take turns, under a transaction-level advisory lock, and each runs at READ COMMITTED, so
// that it sees every claim committed before it: a job is leased to one process, and an item's
// next job cannot be claimed while an earlier one is unfinished (leased or not), so no two
// processes work one item at once and its jobs run in order. FOR UPDATE SKIP LOCKED passes
// over jobs that another transaction is finishing right now rather than waiting for it. A
// lease that ran out (its process died) makes the job claimable again.
func (s *Store) claimJobsPostgres(ctx context.Context, owner, tracker string, now time.Time, lease time.Duration, limit int, held textList) ([]Job, error) {
	var jobs []Job
	err := s.runPostgres(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, true, func(tx *Tx) error {
		nowText := formatTime(now)
		rows, err := tx.query(ctx, claimJobsPostgresSQL, owner, formatTime(now.Add(lease)), nowText, owner, held,
			tracker, nowText, nowText, owner, held, limit)
		if err != nil {
			return err
		}
		jobs, err = collect(rows, scanClaimedJob)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	slices.SortFunc(jobs, func(a, b Job) int { return cmp.Compare(a.ID, b.ID) })
	return jobs, nil
}

// scanClaimedJob reads a job as a claim returns it.
func scanClaimedJob(rows *sql.Rows) (Job, error) {
	var j Job
	var payload, created string
	err := rows.Scan(&j.ID, &j.Kind, &j.PostmortemID, &j.ItemID, &j.Tracker, &payload, &j.Attempts, &j.LastError, &created)
	j.Payload = json.RawMessage(payload)
	j.CreatedAt = parseTime(created)
	return j, err
}

// isUniqueViolation reports whether the transaction inserted a key that exists. Under
// SERIALIZABLE that is often a race, not a mistake: a concurrent transaction inserted the same
// key after this one had looked for it and found none (PostgreSQL reports it as a
// serialization failure only when the key itself was read, not when a related row was, as
// intake reads the revisions and then writes the postmortem). Run again, the transaction
// sees the key and does what it does when it exists; a write that still collides is a real
// duplicate and fails.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// isUndefinedTable reports whether err is PostgreSQL's "relation does not exist" (a database
// not yet migrated has no outbox, so no leases).
func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// WriteRetries counts the transactions run again after a conflict with another's (0 on
// SQLite, whose one writer has none).
func (s *Store) WriteRetries() int64 {
	if s.pg == nil {
		return 0
	}
	return s.pg.retries.Load()
}

// retryable reports whether PostgreSQL aborted the transaction only for running beside others:
// a serialization failure, a deadlock, or the server's tables of serializable transactions'
// conflicts or predicate locks being full (53200 "not enough elements in RWConflictPool", or
// "out of shared memory" with a hint to raise max_pred_locks_per_transaction, both seen when
// many run at once), after which the same write may well succeed.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "40001", "40P01":
		return true
	case "53200":
		return strings.Contains(pgErr.Message, "RWConflictPool") || strings.Contains(pgErr.Hint, "max_pred_locks")
	}
	return false
}
