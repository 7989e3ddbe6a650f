package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	ft "github.com/followthrough/followthrough"
)

// The store's SQL is written once, with `?` placeholders, in the subset both SQLite and
// PostgreSQL accept. On PostgreSQL every statement goes through rebind on its way to the
// driver, which numbers the placeholders ($1, $2, ...) and sends bools as 0/1. Where the
// dialects do not agree: PostgreSQL has a unixepoch function of the same meaning as SQLite's
// (migrations/postgres/0005), rebind rewrites the few SQLite phrases PostgreSQL says otherwise
// (postgresRewrites), and the claim (postgres.go) and the JSON payload edits (editPayload) are
// written per dialect or in Go. Text columns are COLLATE "C" on PostgreSQL, so that text
// compares and sorts byte by byte as in SQLite; times stay fixed-width text (timeFormat).

// Dialect names the kind of database a store keeps its data in.
type Dialect string

// The dialects a store can have.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// RedactDatabase is a `database` value as it may be printed: a PostgreSQL URL loses its
// password (in the user part or as a password parameter); a file path is left as it is.
func RedactDatabase(database string) string {
	if !ft.IsPostgresURL(database) {
		return database
	}
	u, err := url.Parse(database)
	if err != nil {
		// A URL that does not parse may still hold a password: print only its scheme.
		return strings.SplitN(database, "://", 2)[0] + "://(unparsable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// databasePassword is the password a PostgreSQL URL holds ("" when none), so that error texts
// can be searched for it.
func databasePassword(database string) string {
	u, err := url.Parse(database)
	if err != nil {
		return ""
	}
	if p, ok := u.User.Password(); ok && p != "" {
		return p
	}
	return u.Query().Get("password")
}

// redactedError is an error whose text has the database password taken out; errors.Is and
// errors.As still see the error it wraps.
type redactedError struct {
	err  error
	text string
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

// redactError takes the database's password and URL out of err's text: the driver's errors
// may quote the connection string.
func redactError(err error, database string) error {
	if err == nil || !ft.IsPostgresURL(database) {
		return err
	}
	text := strings.ReplaceAll(err.Error(), database, RedactDatabase(database))
	if p := databasePassword(database); p != "" {
		text = strings.ReplaceAll(text, p, "xxxxx")
		if esc := url.QueryEscape(p); esc != p {
			text = strings.ReplaceAll(text, esc, "xxxxx")
		}
	}
	if text == err.Error() {
		return err
	}
	return &redactedError{err: err, text: text}
}

// rebinder turns the store's `?` placeholders into the dialect's, caching each statement's
// text: the statements are a fixed set, and the driver caches its prepared statements by text.
type rebinder struct {
	dialect Dialect
	cache   sync.Map // query string -> rebound string
}

func (r *rebinder) rebind(query string) string {
	if r == nil || r.dialect != Postgres {
		return query
	}
	if v, ok := r.cache.Load(query); ok {
		return v.(string)
	}
	out := numberPlaceholders(postgresRewrites.Replace(query))
	r.cache.Store(query, out)
	return out
}

// postgresRewrites are the phrases of the store's SQLite SQL that PostgreSQL says otherwise:
// a list of values passed as one parameter (a textList), for `x IN (SELECT value FROM
// json_each(?))`, which PostgreSQL reads as an array of text; SQLite's CROSS JOIN with a
// condition, which there fixes the join order (PostgreSQL plans its joins itself); and a
// ticket key compared without case with a key folded in Go (NOCASE folds ASCII letters, as
// lower() does on text of collation "C"; lower(?) would fold the key under the database's
// collation, every letter).
var postgresRewrites = strings.NewReplacer(
	"NOT IN (SELECT value FROM json_each(?))", "<> ALL (CAST(? AS text[]))",
	"IN (SELECT value FROM json_each(?))", "= ANY (CAST(? AS text[]))",
	"CROSS JOIN items i ON", "JOIN items i ON",
	"key = ? COLLATE NOCASE", "lower(key) = ?",
)

// textList is a list of values passed as one parameter, for `x IN (SELECT value FROM
// json_each(?))`. SQLite is given it as a JSON array. PostgreSQL is given an array of text, so
// that the planner knows how many values there are: read as a set of rows from JSON, it took
// every list for a hundred values, and read one postmortem's items and tickets by scanning both
// tables, which under SERIALIZABLE made every concurrent write to them a conflict.
type textList []string

// Value implements driver.Valuer: the JSON array that SQLite's json_each reads.
func (l textList) Value() (driver.Value, error) {
	if l == nil {
		l = textList{}
	}
	out, err := json.Marshal([]string(l))
	return string(out), err
}

// args converts the arguments of a statement for the dialect: the store passes Go bools for
// its 0/1 columns, which SQLite stores as integers and PostgreSQL's driver will not, and text
// lists, which PostgreSQL takes as arrays.
func (r *rebinder) args(args []any) []any {
	if r == nil || r.dialect != Postgres {
		return args
	}
	copied := false
	for i, a := range args {
		var converted any
		switch a := a.(type) {
		case bool:
			converted = boolInt(a)
		case textList:
			// The driver sends a nil slice as NULL, and `x <> ALL (NULL)` holds for no
			// row, where a list of no values holds for every row.
			if a == nil {
				a = textList{}
			}
			converted = []string(a)
		default:
			continue
		}
		if !copied { // never write into the caller's slice
			args, copied = append([]any(nil), args...), true
		}
		args[i] = converted
	}
	return args
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// toStorableText is s as text that both databases keep alike (ft.StorableText). PostgreSQL
// refuses text that holds a NUL or is not UTF-8 (22021), and a tracker's JSON may carry one
// ("\u0000" in a login), so NULs are dropped and invalid bytes become U+FFFD, on SQLite too.
// Text from outside that the store keeps passes through it where it is written, so that a
// write never fails for it (and is not retried for ever).
func toStorableText(s string) string {
	if ft.StorableText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// numberPlaceholders replaces each `?` outside quotes and comments with $1, $2, ...
func numberPlaceholders(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+2])
			i += end + 1
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end])
			i += end - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// db is a connection pool that speaks the store's SQL: its statements are rebound for the
// dialect. Everything else is database/sql's.
type db struct {
	*sql.DB
	r        *rebinder
	prepared *stmtCache // SQLite's readers: their queries prepared once; nil runs them as text
}

func (d *db) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query, args = d.r.rebind(query), d.r.args(args)
	if st := d.prepared.prepare(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return d.DB.QueryContext(ctx, query, args...)
}

func (d *db) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	query, args = d.r.rebind(query), d.r.args(args)
	if st := d.prepared.prepare(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.DB.QueryRowContext(ctx, query, args...)
}

func (d *db) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, d.r.rebind(query), d.r.args(args)...)
}

func (d *db) Query(query string, args ...any) (*sql.Rows, error) {
	return d.QueryContext(context.Background(), query, args...)
}

// beginTx starts a transaction whose statements are rebound too.
func (d *db) beginTx(ctx context.Context, opts *sql.TxOptions, itemReads *atomic.Int64) (*Tx, error) {
	tx, err := d.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{tx: tx, r: d.r, itemReads: itemReads}, nil
}
