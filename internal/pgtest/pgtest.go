// Package pgtest gives tests a PostgreSQL database of their own: a schema created for the
// test in the server that FOLLOWTHROUGH_TEST_POSTGRES names, dropped when the test ends. With
// no PostgreSQL the tests that ask for one skip, saying how to enable them; under CI=true they
// fail instead, so that CI always runs them. Backends is the table of both databases, for
// tests that run once on each.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// EnvVar names the server the tests use.
const EnvVar = "FOLLOWTHROUGH_TEST_POSTGRES"

// DefaultURL is the server used when EnvVar is not set, if it answers.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var (
	once    sync.Once
	server  *sql.DB
	baseURL string
	problem string // why there is no server, "" when there is one
)

func connect() {
	baseURL = os.Getenv(EnvVar)
	if baseURL == "" {
		baseURL = DefaultURL
	}
	db, err := sql.Open("pgx", baseURL)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = db.PingContext(ctx)
	}
	if err != nil {
		problem = fmt.Sprintf("no PostgreSQL at %s (%s): set %s to a postgres:// URL to run the PostgreSQL tests",
			redact(baseURL), strings.Join(strings.Fields(redactText(err.Error())), " "), EnvVar)
		return
	}
	db.SetMaxOpenConns(2)
	server = db
}

// Available reports whether a PostgreSQL server answers, and if not, why.
func Available() (ok bool, why string) {
	once.Do(connect)
	return problem == "", problem
}

// Require skips the test when no PostgreSQL answers, or fails it under CI=true.
func Require(t testing.TB) {
	t.Helper()
	if ok, why := Available(); !ok {
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
}

var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// URL is the URL of a schema of the test's own (its search_path set through the URL's
// options), created now and dropped with everything in it when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	Require(t)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	schema := "t_" + name + "_" + hex.EncodeToString(suffix)
	ctx := context.Background()
	if _, err := server.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if _, err := server.ExecContext(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, redactText(err.Error()))
	}
	q := u.Query()
	// Tests do not need their commits to survive a power cut: not waiting for the disk makes
	// each test's migrations and writes several times faster on a busy machine.
	q.Set("options", "-csearch_path="+schema+" -csynchronous_commit=off")
	// pgx reads "+" in a URL as itself, not as a space: spaces are written %20.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// redactText takes the server URL's password out of a driver's error text.
func redactText(text string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return text
	}
	if p, ok := u.User.Password(); ok && p != "" {
		text = strings.ReplaceAll(text, p, "xxxxx")
	}
	return text
}

// Backend is a kind of database that tests run on.
type Backend struct {
	Name string
	// Database is a new, empty database of this kind for the test, as a `database` value.
	Database func(t testing.TB) string
}

// Backends are the databases followthrough runs on, for tests that run once on each: a SQLite
// file in the test's temporary directory, and a PostgreSQL schema of the test's own.
var Backends = []Backend{
	{Name: "sqlite", Database: SQLiteFile},
	{Name: "postgres", Database: URL},
}

// ForEach runs test once per backend, as subtests named after them.
func ForEach(t *testing.T, test func(t *testing.T, db Backend)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(b.Name, func(t *testing.T) { test(t, b) })
	}
}

// SQLiteFile is the path of a new SQLite database in the test's temporary directory.
func SQLiteFile(t testing.TB) string { return filepath.Join(t.TempDir(), "ft.db") }
