package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	ft "github.com/followthrough/followthrough"
)

// gooseTable is where goose records the migrations applied; it is the migrations', not the
// data's, so copy-db neither copies nor counts it.
const gooseTable = "goose_db_version"

// CopiedTable is one table that Copy copied, with its row count, the same in both databases.
type CopiedTable struct {
	Name string
	Rows int64
}

// Copy copies every row of a stopped service's database (from) into an empty one (to), any
// pair of SQLite file and PostgreSQL URL. It takes the lock serve takes on both: a SQLite
// file's lock; on PostgreSQL the lead of the periodic work (a running serve holds it), and it
// refuses while any job lease is live. The source must be at this binary's schema version.
// The target is checked to be empty (no rows in followthrough's tables) before anything is
// migrated, and a non-empty one is left as it was. The rows are written in one transaction,
// the target's identity sequences advanced past the copied ids, and the row counts of every
// table compared before it commits. No error holds either database's password.
func Copy(ctx context.Context, from, to string, logger *slog.Logger) ([]CopiedTable, error) {
	tables, err := copyDatabase(ctx, from, to, logger)
	return tables, redactError(redactError(err, from), to)
}

func copyDatabase(ctx context.Context, from, to string, logger *slog.Logger) ([]CopiedTable, error) {
	if from == to {
		return nil, errors.New("source and target are the same database")
	}
	if !ft.IsPostgresURL(from) {
		// Opening a SQLite file creates it: a source that is not there is a mistake.
		if _, err := os.Stat(from); err != nil {
			return nil, fmt.Errorf("source %s: %w", from, errors.Unwrap(err))
		}
	}
	src, err := Open(ctx, from, logger)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	current, known, pending, err := src.schemaVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.name, err)
	}
	if current != known {
		return nil, fmt.Errorf("source %s has schema version %d, this binary's is %d: copy with the followthrough that serves it, or run its migrate first", src.name, current, known)
	}
	if pending {
		return nil, fmt.Errorf("source %s lacks migrations this binary has (numbered below its version %d): run migrate on it first", src.name, current)
	}
	releaseSrc, err := src.holdStill(ctx)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.name, err)
	}
	defer releaseSrc()
	tables, err := src.dataTables(ctx)
	if err != nil {
		return nil, fmt.Errorf("source %s: tables: %w", src.name, err)
	}

	dst, err := Open(ctx, to, logger)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	releaseDst, err := dst.holdStill(ctx)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", dst.name, err)
	}
	defer releaseDst()
	if err := dst.refuseRows(ctx, tables); err != nil {
		return nil, fmt.Errorf("target %s: %w", dst.name, err)
	}
	if err := dst.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	order, err := dst.parentsFirst(ctx, tables)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", dst.name, err)
	}

	var copied []CopiedTable
	err = dst.Write(ctx, func(tx *Tx) error {
		copied = nil
		for _, table := range order {
			if err := copyTable(ctx, src, tx, table); err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
		}
		// Leases name the processes of the database copied from, which are stopped: the
		// copy's first serve takes their jobs at once.
		if err := freeLeases(ctx, tx, ""); err != nil {
			return fmt.Errorf("free leases: %w", err)
		}
		if dst.dialect == Postgres {
			if err := advanceSequences(ctx, src, tx); err != nil {
				return err
			}
		}
		for _, table := range order {
			want, err := countRows(ctx, src.readDB, table)
			if err != nil {
				return fmt.Errorf("count %s in the source: %w", table, err)
			}
			got, err := countRows(ctx, tx.reader(), table)
			if err != nil {
				return fmt.Errorf("count %s in the target: %w", table, err)
			}
			if got != want {
				return fmt.Errorf("%s: %d rows in the source, %d copied: nothing was committed", table, want, got)
			}
			copied = append(copied, CopiedTable{Name: table, Rows: got})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", dst.name, err)
	}
	slices.SortFunc(copied, func(a, b CopiedTable) int { return strings.Compare(a.Name, b.Name) })
	return copied, nil
}

// schemaVersion is the database's schema version (0 when it was never migrated), the newest
// this binary knows, and whether the database lacks any of this binary's migrations (one
// numbered below its version, which migrate applies out of order). It writes nothing.
func (s *Store) schemaVersion(ctx context.Context) (current, known int64, pending bool, err error) {
	provider, err := s.migrationProvider()
	if err != nil {
		return 0, 0, false, err
	}
	known = newestVersion(provider)
	tables, err := s.tableNames(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	if !slices.Contains(tables, gooseTable) {
		// Asking goose would create its table.
		return 0, known, known > 0, nil
	}
	if current, err = provider.GetDBVersion(ctx); err != nil {
		return 0, 0, false, err
	}
	pending, err = provider.HasPending(ctx)
	return current, known, pending, err
}

// tableNames lists the tables of the store's schema (not SQLite's own).
func (s *Store) tableNames(ctx context.Context) ([]string, error) {
	query := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`
	if s.dialect == Postgres {
		query = `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	rows, err := s.readDB.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanString)
}

// dataTables are followthrough's tables: every table of the schema but goose's.
func (s *Store) dataTables(ctx context.Context) ([]string, error) {
	tables, err := s.tableNames(ctx)
	return slices.DeleteFunc(tables, func(t string) bool { return t == gooseTable }), err
}

// holdStill makes sure no serve process works on the database and, on PostgreSQL, takes the
// lead of the periodic work until release is called, so that none starts leading meanwhile.
// On a SQLite file, Open took the file's lock already.
func (s *Store) holdStill(ctx context.Context) (release func(), err error) {
	if s.dialect != Postgres {
		return func() {}, nil
	}
	l := s.leader()
	conn, err := l.tryLock(ctx, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if conn == nil {
		return nil, errors.New("a followthrough process is running on it (it leads the periodic work): stop every serve process first")
	}
	release = func() { l.release(conn) }
	var leased int64
	var until sql.NullString
	err = s.readDB.QueryRowContext(ctx, `SELECT COUNT(*), MAX(lease_until) FROM outbox
		WHERE done_at IS NULL AND failed_at IS NULL AND lease_until > ?`, formatTime(time.Now())).Scan(&leased, &until)
	if err != nil && !isUndefinedTable(err) {
		release()
		return nil, fmt.Errorf("leases: %w", err)
	}
	if leased > 0 {
		release()
		return nil, fmt.Errorf("%d jobs are leased to a running process, until %s at the latest: stop every serve process, and wait for the leases to end", leased, until.String)
	}
	return release, nil
}

// presentTables splits tables into those the store has and those it lacks, each in tables'
// order.
func (s *Store) presentTables(ctx context.Context, tables []string) (has, lacks []string, err error) {
	names, err := s.tableNames(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("tables: %w", err)
	}
	for _, table := range tables {
		if slices.Contains(names, table) {
			has = append(has, table)
		} else {
			lacks = append(lacks, table)
		}
	}
	return has, lacks, nil
}

// countRows counts the rows of table.
func countRows(ctx context.Context, db querier, table string) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n)
	return n, err
}

// refuseRows fails when any of tables exists in the store with rows in it.
func (s *Store) refuseRows(ctx context.Context, tables []string) error {
	has, _, err := s.presentTables(ctx, tables)
	if err != nil {
		return err
	}
	var full []string
	for _, table := range has {
		n, err := countRows(ctx, s.readDB, table)
		if err != nil {
			return fmt.Errorf("count %s: %w", table, err)
		}
		if n > 0 {
			full = append(full, fmt.Sprintf("%s has %d rows", table, n))
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("not empty (%s): copy-db only copies into an empty database, and left this one as it was", strings.Join(full, ", "))
	}
	return nil
}

// parentsFirst orders tables so that every table comes after the tables its foreign keys
// refer to, and checks that the store has every one of them.
func (s *Store) parentsFirst(ctx context.Context, tables []string) ([]string, error) {
	_, lacks, err := s.presentTables(ctx, tables)
	if err != nil {
		return nil, err
	}
	if len(lacks) > 0 {
		return nil, fmt.Errorf("has no table %s, which the source has", lacks[0])
	}
	parents := map[string][]string{}
	for _, table := range tables {
		query := `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`
		if s.dialect == Postgres {
			query = `SELECT DISTINCT confrelid::regclass::text FROM pg_constraint
				WHERE contype = 'f' AND conrelid = ?::regclass`
		}
		rows, err := s.readDB.QueryContext(ctx, query, table)
		if err != nil {
			return nil, fmt.Errorf("foreign keys of %s: %w", table, err)
		}
		refs, err := collect(rows, scanString)
		if err != nil {
			return nil, fmt.Errorf("foreign keys of %s: %w", table, err)
		}
		parents[table] = slices.DeleteFunc(refs, func(r string) bool { return r == table })
	}
	var order []string
	placed := map[string]bool{}
	for len(order) < len(tables) {
		progress := false
		for _, table := range tables {
			if placed[table] {
				continue
			}
			ready := true
			for _, p := range parents[table] {
				ready = ready && (placed[p] || !slices.Contains(tables, p))
			}
			if ready {
				order, placed[table], progress = append(order, table), true, true
			}
		}
		if !progress {
			return nil, errors.New("the tables' foreign keys form a cycle")
		}
	}
	return order, nil
}

// copyTable copies every row of table from src into the target's transaction, in INSERTs of
// maxRowsPerInsert rows each (insertRows), reading the source a batch at a time.
func copyTable(ctx context.Context, src *Store, tx *Tx, table string) error {
	rows, err := src.readDB.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	kinds, err := targetKinds(ctx, tx, table, cols)
	if err != nil {
		return err
	}
	head := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES `
	var batch []any // the values of the rows read and not yet inserted, row after row
	flush := func() error {
		n := len(batch) / len(cols)
		err := insertRows(ctx, tx, head, len(cols), n, func(i int, args []any) []any {
			return append(args, batch[i*len(cols):(i+1)*len(cols)]...)
		}, "")
		batch = batch[:0]
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range vals {
			batch = append(batch, convertValue(v, kinds[i]))
		}
		if len(batch) >= maxRowsPerInsert*len(cols) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return flush()
}

// Column kinds in the target, which decide how a value read from the source is written.
const (
	kindOther = iota
	kindBytes
	kindText
	kindInteger
)

// targetKinds are the kinds of the target's columns cols of table.
func targetKinds(ctx context.Context, tx *Tx, table string, cols []string) ([]int, error) {
	rows, err := tx.query(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table+` WHERE 1 = 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	kinds := make([]int, len(types))
	for i, ct := range types {
		switch t := strings.ToUpper(ct.DatabaseTypeName()); {
		case t == "BYTEA" || t == "BLOB":
			kinds[i] = kindBytes
		case t == "TEXT" || strings.Contains(t, "CHAR"):
			kinds[i] = kindText
		case strings.HasPrefix(t, "INT") || t == "BIGINT":
			kinds[i] = kindInteger
		}
	}
	return kinds, rows.Err()
}

// convertValue turns a value as the source's driver gives it into what the target's column
// holds: the two databases agree on integers, text and bytes, but not always on which Go type
// carries them.
func convertValue(v any, kind int) any {
	switch x := v.(type) {
	case string:
		if kind == kindBytes {
			return []byte(x)
		}
	case []byte:
		if kind == kindText {
			return string(x)
		}
		return slices.Clone(x) // the driver may reuse its buffer for the next row
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case time.Time:
		return formatTime(x)
	}
	return v
}

// advanceSequences sets each identity column's sequence of the PostgreSQL target past the
// ids copied and past where the source's own sequence was (a PostgreSQL source may have used
// ids it no longer has), so that new rows get new ids.
func advanceSequences(ctx context.Context, src *Store, tx *Tx) error {
	rows, err := tx.query(ctx, `SELECT table_name, column_name, pg_get_serial_sequence(table_name, column_name)
		FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'`)
	if err != nil {
		return fmt.Errorf("identity columns: %w", err)
	}
	type identity struct{ table, column, sequence string }
	ids, err := collect(rows, func(rows *sql.Rows) (identity, error) {
		var id identity
		err := rows.Scan(&id.table, &id.column, &id.sequence)
		return id, err
	})
	if err != nil {
		return fmt.Errorf("identity columns: %w", err)
	}
	for _, id := range ids {
		var next int64
		if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(`+id.column+`), 0) + 1 FROM `+id.table).Scan(&next); err != nil {
			return fmt.Errorf("sequence of %s: %w", id.table, err)
		}
		if src.dialect == Postgres {
			var seq sql.NullString
			var srcNext int64
			err := src.readDB.QueryRowContext(ctx, `SELECT pg_get_serial_sequence(?, ?)`, id.table, id.column).Scan(&seq)
			if err == nil && seq.Valid {
				err = src.readDB.QueryRowContext(ctx, `SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END
					FROM `+seq.String).Scan(&srcNext)
			}
			if err != nil {
				return fmt.Errorf("sequence of %s in the source: %w", id.table, err)
			}
			next = max(next, srcNext)
		}
		if _, err := tx.exec(ctx, `SELECT setval(?, ?, false)`, id.sequence, next); err != nil {
			return fmt.Errorf("advance the sequence of %s: %w", id.table, err)
		}
	}
	return nil
}
