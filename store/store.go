// Package store keeps followthrough's state: postmortems and their revisions, action items,
// tickets, status history, the outbox of tracker work, and webhook deliveries. It keeps it in
// one SQLite file (the default: one process owns the file) or in a PostgreSQL database that
// several processes share, chosen by the `database` value (Open); the rest of the service does
// not know which. It only stores: what to write and why is the engine's (package sync), which
// runs its transactions through Write with the small statements here (ApplyIntake writes the
// plan of an intake). The API and the status page read through Postmortem, ListPostmortems and
// PostmortemWithHistory.
//
// One set of SQL serves both databases (dialect.go says how): database/sql with pgx's stdlib
// driver rather than a pgx pool, so that statements, transactions (*sql.Tx) and scans are one
// code path, and pgx still caches each connection's prepared statements.
//
// SQLite: all writes go through one writer goroutine that groups the transactions waiting at
// the same time into one SQLite transaction (each in its own savepoint), so that concurrent
// requests share one fsync instead of paying one each. synchronous=FULL makes every
// acknowledged write survive a power cut.
//
// PostgreSQL (postgres.go): several processes share the database. Each Write is its own
// SERIALIZABLE transaction, run again (with a backoff) when PostgreSQL reports a
// serialization failure or deadlock, so writes mean what they mean under SQLite's single
// writer; also, a few times, after a unique-key collision, which PostgreSQL reports as such
// rather than as a serialization failure when the transaction had read a related row rather
// than the key (the same postmortem posted to two processes at once). Outbox claims take turns across processes
// under an advisory lock, at READ COMMITTED so each sees the claims before it, and skip rows
// that others hold (SKIP LOCKED); leases, renewed while a job runs, pass a dead process's jobs
// to the others. Exports read on two connections sharing one exported snapshot, since a
// PostgreSQL connection reads one result at a time; reads that must agree (the insights'
// figures) run in one REPEATABLE READ transaction.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/migrations"
)

// timeFormat is fixed-width so that times compare correctly as text in SQL.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

// errClosed is the answer to a write handed in after Close.
var errClosed = errors.New("database closed")

// maxBatch bounds how many waiting transactions share one commit.
const maxBatch = 256

// maxExports is how many exports stream at once; more wait for one of them to finish.
const maxExports = 2

// Store is the database. It is safe for concurrent use.
type Store struct {
	dialect Dialect
	name    string    // the database as it may be printed (RedactDatabase)
	r       *rebinder // the dialect's statements
	lock    *os.File  // SQLite: held while open, one process owns a database file
	writeDB *db       // SQLite: one connection, SQLite has one writer; PostgreSQL: the pool
	readDB  *db
	// exportDB streams the exports, on connections of their own so that a slow export never
	// holds up the pages.
	exportDB *db
	pg       *postgresState // PostgreSQL only
	logger   *slog.Logger
	writes   chan *writeRequest
	done     chan struct{}
	// closeMu makes Close wait for writers that are handing in work, so that no send meets a
	// closed channel.
	closeMu sync.RWMutex
	closed  bool

	stmts        *stmtCache  // the writer's prepared statements
	refused      atomic.Bool // writes are being refused (refused.go)
	unreachable  atomic.Bool // PostgreSQL is out of reach for writes (refused.go)
	transactions atomic.Int64
	commits      atomic.Int64
	itemReads    atomic.Int64
	// SQLite: the writer's time running batches, and the part of it spent committing them
	// (WriterTime).
	writerBusy       atomic.Int64
	writerCommitting atomic.Int64
}

// maxCachedStmts bounds the writer's prepared statements: every statement text the code writes
// fits many times over, and a text built per call (an IN list, say) cannot grow it without end.
const maxCachedStmts = 512

// stmtCache holds a pool's prepared statements by query text (the writer's, and SQLite's
// readers'), so that SQLite parses a statement once per connection instead of once per use (a
// quarter of intake's CPU went to parsing). A text first met inside a transaction runs
// unprepared and is prepared after it (get, then prepareWanted), when its connection is free:
// preparing inside the transaction could wait for that connection forever.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool
	hits   atomic.Int64 // statements run prepared, for tests
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{db: pool, stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// get returns the prepared statement for query, or nil (and remembers to prepare it).
func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		c.hits.Add(1)
		return st
	}
	if len(c.stmts)+len(c.wanted) < maxCachedStmts {
		c.wanted[query] = true
	}
	return nil
}

// prepareWanted prepares the texts met by get since the last call, with no connection of the
// pool held by the caller (the writer's, after its commit; a reader's, after its transaction).
func (c *stmtCache) prepareWanted(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	wanted := slices.Collect(maps.Keys(c.wanted))
	clear(c.wanted)
	c.mu.Unlock()
	for _, query := range wanted {
		c.add(ctx, query) // one that does not prepare runs unprepared, and fails there in words if wrong
	}
}

// prepare returns query prepared on a pool of connections (the readers), preparing it on
// first use; nil when the cache is full or the text does not prepare, and the caller runs it
// unprepared. database/sql prepares it again on each connection that runs it.
func (c *stmtCache) prepare(ctx context.Context, query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	st, ok := c.stmts[query]
	c.mu.Unlock()
	if ok {
		c.hits.Add(1)
		return st
	}
	return c.add(ctx, query)
}

// add prepares query and keeps it, unless the cache is full; nil when it is not kept. It
// prepares without the lock held: preparing waits for a free connection, and readers holding
// one may need the cache meanwhile.
func (c *stmtCache) add(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	full := len(c.stmts) >= maxCachedStmts
	c.mu.Unlock()
	if full {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if had, ok := c.stmts[query]; ok {
		st.Close()
		return had
	}
	c.stmts[query] = st
	return st
}

func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.stmts {
		errs = append(errs, st.Close())
	}
	c.stmts = map[string]*sql.Stmt{}
	return errors.Join(errs...)
}

// Tx is one logical transaction inside a group commit. Its statements run in a savepoint: if the
// function returns an error, only its own changes are rolled back.
type Tx struct {
	tx        *sql.Tx
	r         *rebinder  // the dialect's statements
	stmts     *stmtCache // SQLite's writer: its prepared statements; nil elsewhere
	itemReads *atomic.Int64
}

// countItemReads counts item rows read inside writes, for ItemRowsRead.
func (t *Tx) countItemReads(n int) { t.itemReads.Add(int64(n)) }

// The statements run prepared when the writer has prepared their text before (stmtCache).

func (t *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query, args = t.r.rebind(query), t.r.args(args)
	if st := t.stmts.get(query); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query, args = t.r.rebind(query), t.r.args(args)
	if st := t.stmts.get(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	query, args = t.r.rebind(query), t.r.args(args)
	if st := t.stmts.get(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// reader is the transaction as the read functions' querier, its statements prepared as exec's.
func (t *Tx) reader() querier { return txReader{t} }

type txReader struct{ t *Tx }

func (r txReader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return r.t.query(ctx, query, args...)
}

func (r txReader) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return r.t.queryRow(ctx, query, args...)
}

type writeRequest struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

// Open opens the database that the `database` value names: a postgres:// or postgresql:// URL
// is a PostgreSQL database (openPostgres), anything else a SQLite file. It does not migrate:
// call Migrate. Errors name the database without its password.
func Open(ctx context.Context, database string, logger *slog.Logger) (*Store, error) {
	if ft.IsPostgresURL(database) {
		return openPostgres(ctx, database, logger)
	}
	return openSQLite(ctx, database, logger)
}

// openSQLite opens (creating if needed) the database file with WAL, foreign keys,
// synchronous=FULL and a busy timeout on every connection.
func openSQLite(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if path == "" {
		return nil, errors.New("open database: no path")
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	pragmas := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "foreign_keys(1)", "synchronous(FULL)", "busy_timeout(10000)"} {
		pragmas.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + pragmas.Encode()
	r := &rebinder{dialect: SQLite}
	// The writer keeps its savepoints' sub-journals in memory (temp_store): they only undo one
	// failed write inside its transaction, never a crash, and in a temporary file they cost a
	// write call for every page a write touches (a third of intake's time).
	writeDB, err := openDB("sqlite", dsn+"&_txlock=immediate&_pragma=temp_store(MEMORY)", r)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	writeDB.SetMaxOpenConns(1)
	writeDB.SetMaxIdleConns(1)
	writeDB.SetConnMaxLifetime(0)
	writeDB.SetConnMaxIdleTime(0)
	if err := writeDB.PingContext(ctx); err != nil {
		writeDB.Close()
		lock.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	readDB, err := openDB("sqlite", dsn+"&_pragma=query_only(1)", r)
	if err != nil {
		writeDB.Close()
		lock.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	readDB.SetMaxOpenConns(4)
	readDB.prepared = newStmtCache(readDB.DB)
	exportDB, err := openDB("sqlite", dsn+"&_pragma=query_only(1)", r)
	if err != nil {
		readDB.Close()
		writeDB.Close()
		lock.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	exportDB.SetMaxOpenConns(maxExports)
	s := &Store{
		dialect:  SQLite,
		name:     path,
		r:        r,
		lock:     lock,
		writeDB:  writeDB,
		readDB:   readDB,
		exportDB: exportDB,
		logger:   logger,
		stmts:    newStmtCache(writeDB.DB),
		writes:   make(chan *writeRequest, maxBatch),
		done:     make(chan struct{}),
	}
	go s.writer()
	return s, nil
}

// openDB opens a pool of the driver whose statements r rebinds.
func openDB(driver, dsn string, r *rebinder) (*db, error) {
	pool, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	return &db{DB: pool, r: r}, nil
}

// Dialect says which kind of database the store has.
func (s *Store) Dialect() Dialect { return s.dialect }

// Name is the database as it may be printed: the file, or the URL without its password.
func (s *Store) Name() string { return s.name }

// Migrate applies the embedded migrations that the database does not have yet. It refuses a
// database whose schema is newer than this binary knows (written by a newer release): its
// statements could not be trusted to mean what they say. On PostgreSQL, processes starting
// together migrate one at a time, under an advisory lock. Numbers are reserved in ranges for
// work done side by side, so a database may have a later migration before an earlier one
// lands (0010 before 0009): the missing one is applied then (goose's out-of-order).
func (s *Store) Migrate(ctx context.Context) error {
	var provider *goose.Provider
	var err error
	switch s.dialect {
	case Postgres:
		provider, err = s.postgresMigrations(ctx)
	default:
		provider, err = s.migrationProvider()
	}
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.name, redactError(err, s.pgDatabase()))
	}
	if err := s.refuseNewerSchema(ctx, provider); err != nil {
		return err
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.name, redactError(err, s.pgDatabase()))
	}
	for _, r := range results {
		s.logger.Info("migration applied", slog.String("migration", r.Source.Path), slog.Duration("duration", r.Duration))
	}
	return s.refuseNewerSchema(ctx, provider)
}

// migrationProvider is the goose provider of the embedded migrations of the store's dialect,
// out of order as Migrate says, with opts (Migrate's session lock on PostgreSQL).
func (s *Store) migrationProvider(opts ...goose.ProviderOption) (*goose.Provider, error) {
	dialect, fsys := goose.DialectSQLite3, fs.FS(migrations.SQLite)
	if s.dialect == Postgres {
		dialect, fsys = goose.DialectPostgres, migrations.Postgres
	}
	return goose.NewProvider(dialect, s.writeDB.DB, fsys, append([]goose.ProviderOption{goose.WithAllowOutofOrder(true)}, opts...)...)
}

// newestVersion is the number of the newest migration this binary has.
func newestVersion(provider *goose.Provider) int64 {
	known := int64(0)
	for _, src := range provider.ListSources() {
		known = max(known, src.Version)
	}
	return known
}

// refuseNewerSchema fails when the database has a migration this binary does not have.
func (s *Store) refuseNewerSchema(ctx context.Context, provider *goose.Provider) error {
	current, err := provider.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: schema version: %w", s.name, redactError(err, s.pgDatabase()))
	}
	if known := newestVersion(provider); current > known {
		return fmt.Errorf("database %s has schema version %d, newer than this binary's %d: run a newer followthrough", s.name, current, known)
	}
	return nil
}

// Close finishes the writes already queued and closes the database.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	if s.dialect == Postgres {
		s.closeMu.Unlock()
		return s.closePostgres()
	}
	close(s.writes)
	s.closeMu.Unlock()
	<-s.done
	return errors.Join(s.stmts.close(), s.readDB.prepared.close(), s.exportDB.Close(), s.readDB.Close(), s.writeDB.Close(), s.lock.Close())
}

// Ping checks that the database answers, and takes writes: while writes are refused (a full
// disk) it fails with ft.ErrWriteRefused until one succeeds, and so it does while PostgreSQL
// answers as a standby (in recovery: a failover not finished, or a URL naming a replica).
func (s *Store) Ping(ctx context.Context) error {
	if s.WritesRefused() {
		return fmt.Errorf("ping: %w", ft.ErrWriteRefused)
	}
	if s.dialect == Postgres {
		var standby bool
		if err := s.readDB.QueryRowContext(ctx, "SELECT pg_is_in_recovery()").Scan(&standby); err != nil {
			return redactError(err, s.pgDatabase())
		}
		if standby {
			return fmt.Errorf("ping: the database is a standby: %w", ft.ErrWriteRefused)
		}
		return nil
	}
	var one int
	return s.readDB.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// WriteStats says how many logical transactions were committed in how many SQLite commits.
func (s *Store) WriteStats() (transactions, commits int64) {
	return s.transactions.Load(), s.commits.Load()
}

// WriterTime says how long SQLite's one writer has spent running batches of transactions,
// and how much of that committing them (writing their pages to the WAL and syncing it). busy
// growing as fast as the clock means writes queue for the writer. Zero on PostgreSQL, whose
// transactions run side by side.
func (s *Store) WriterTime() (busy, committing time.Duration) {
	return time.Duration(s.writerBusy.Load()), time.Duration(s.writerCommitting.Load())
}

// ItemRowsRead counts the item rows that write transactions have read whole (a postmortem's
// items, for planning and evaluation), so that tests and benchmarks can see that a write reads
// a postmortem's items a fixed number of times, not once per item.
func (s *Store) ItemRowsRead() int64 { return s.itemReads.Load() }

// Write runs fn in a transaction and returns once it is durably committed (or failed). fn may
// share its commit with other writers; it must not keep the Tx.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	if s.dialect == Postgres {
		return s.writePostgres(ctx, fn)
	}
	req := &writeRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return errClosed
	}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	// Once queued, wait for the outcome even if ctx ends: the work may already be committed.
	return <-req.done
}

func (s *Store) writer() {
	defer close(s.done)
	for first := range s.writes {
		batch := []*writeRequest{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case req, ok := <-s.writes:
				if !ok {
					break drain
				}
				batch = append(batch, req)
			default:
				break drain
			}
		}
		s.commitBatch(batch)
		s.stmts.prepareWanted(context.Background())
	}
}

func (s *Store) commitBatch(batch []*writeRequest) {
	start := time.Now()
	defer func() { s.writerBusy.Add(int64(time.Since(start))) }()
	ctx := context.Background()
	results := make([]error, len(batch))
	t, err := s.writeDB.beginTx(ctx, nil, &s.itemReads)
	if err != nil {
		err = s.refusal(err)
		for _, req := range batch {
			req.done <- fmt.Errorf("begin transaction: %w", err)
		}
		return
	}
	t.stmts = s.stmts
	tx := t.tx
	// While writes are refused, only a commit that stored something shows that they are taken
	// again (a claim that found nothing commits with no write at all).
	changesBefore := int64(-1)
	if s.refused.Load() {
		changesBefore = totalChanges(tx)
	}
	applied := 0
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		var broken error
		results[i], broken = s.runInSavepoint(t, req.fn)
		if broken != nil {
			// The savepoint could not be undone (a full disk, an I/O error): nothing of this
			// batch can be trusted, so none of it is committed and every writer hears so.
			_ = tx.Rollback()
			broken = s.refusal(broken)
			for _, r := range batch {
				r.done <- fmt.Errorf("transaction aborted: %w", broken)
			}
			return
		}
		results[i] = s.refusal(results[i])
		if results[i] == nil {
			applied++
		}
	}
	stored := changesBefore >= 0 && totalChanges(tx) > changesBefore
	commitStart := time.Now()
	err = tx.Commit()
	s.writerCommitting.Add(int64(time.Since(commitStart)))
	if err != nil {
		err = s.refusal(err)
		for _, req := range batch {
			req.done <- fmt.Errorf("commit: %w", err)
		}
		return
	}
	s.commits.Add(1)
	s.transactions.Add(int64(applied))
	if stored && !slices.ContainsFunc(results, func(err error) bool { return errors.Is(err, ft.ErrWriteRefused) }) {
		s.writeSucceeded()
	}
	for i, req := range batch {
		req.done <- results[i]
	}
}

// runInSavepoint runs fn in a savepoint of the batch's transaction. err is fn's own failure,
// after which its changes are undone; broken is set when they could not be undone.
func (s *Store) runInSavepoint(t *Tx, fn func(*Tx) error) (err, broken error) {
	ctx := context.Background()
	if _, err := t.exec(ctx, "SAVEPOINT w"); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
		if err != nil {
			if _, rbErr := t.exec(ctx, "ROLLBACK TO w"); rbErr != nil {
				broken = fmt.Errorf("undo a failed write (%w): %w", err, rbErr)
				return
			}
		}
		if _, relErr := t.exec(ctx, "RELEASE w"); relErr != nil {
			broken = fmt.Errorf("release savepoint: %w", relErr)
		}
	}()
	return fn(t), nil
}

// lockFile takes an exclusive lock that the kernel releases when the process ends, however it
// ends. The outbox worker relies on being the only one: at start it takes back every claimed job,
// which is right only if no other process is working them.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("database %s is in use by another followthrough process", strings.TrimSuffix(path, ".lock"))
		}
		return nil, fmt.Errorf("lock database %s: %w", path, err)
	}
	return f, nil
}

// maxRowsPerInsert bounds the rows of one multi-row INSERT: few enough for any database's limit
// on parameters, and few enough statement texts (one per row count) for the statement cache.
const maxRowsPerInsert = 50

// insertRows inserts n rows with as few statements as maxRowsPerInsert allows: prefix is the
// statement up to VALUES, each row has cols parameters appended by row, and suffix follows the
// rows (an ON CONFLICT clause, or ""). The rows are inserted in their order.
func insertRows(ctx context.Context, tx *Tx, prefix string, cols, n int, row func(i int, args []any) []any, suffix string) error {
	placeholders := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	for start := 0; start < n; start += maxRowsPerInsert {
		end := min(start+maxRowsPerInsert, n)
		var q strings.Builder
		q.WriteString(prefix)
		args := make([]any, 0, (end-start)*cols)
		for i := start; i < end; i++ {
			if i > start {
				q.WriteString(", ")
			}
			q.WriteString(placeholders)
			args = row(i, args)
		}
		q.WriteString(suffix)
		if _, err := tx.exec(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// collect reads every row of rows with scan, then closes them.
func collect[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanString reads a row of one text column, for collect.
func scanString(rows *sql.Rows) (string, error) {
	var s string
	err := rows.Scan(&s)
	return s, err
}

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		t, _ = time.Parse(time.RFC3339Nano, s)
	}
	return t
}

func nullTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return formatTime(*t)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Attempt runs fn inside the caller's transaction so that, when fn fails, what it wrote is
// undone and the transaction goes on without it: failed is fn's error then. err is a failure
// to set up or undo the attempt, after which the caller must give up the whole transaction.
func Attempt(ctx context.Context, tx *Tx, fn func() error) (failed, err error) {
	if _, err := tx.exec(ctx, "SAVEPOINT attempt"); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	if failed = fn(); failed != nil {
		if _, err := tx.exec(ctx, "ROLLBACK TO attempt"); err != nil {
			return failed, fmt.Errorf("undo a failed attempt (%w): %w", failed, err)
		}
	}
	if _, err := tx.exec(ctx, "RELEASE attempt"); err != nil {
		return failed, fmt.Errorf("release savepoint: %w", err)
	}
	return failed, nil
}
