package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestNumberPlaceholders(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = ? AND b IN (?, ?)", "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)"},
		{"SELECT '?' || ?, \"odd?name\" FROM t", "SELECT '?' || $1, \"odd?name\" FROM t"},
		{"SELECT ? -- what? nothing\n, ?", "SELECT $1 -- what? nothing\n, $2"},
		{"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{"SELECT a - b, ?", "SELECT a - b, $1"},
	}
	for _, tc := range tests {
		if got := numberPlaceholders(tc.in); got != tc.want {
			t.Errorf("numberPlaceholders(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactDatabase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/var/lib/followthrough/ft.db", "/var/lib/followthrough/ft.db"},
		{"postgres://ft@db.internal/ft", "postgres://ft@db.internal/ft"},
		{"postgres://ft:hunter2@db.internal:5432/ft?sslmode=require", "postgres://ft:xxxxx@db.internal:5432/ft?sslmode=require"},
		{"postgresql://ft@db.internal/ft?password=hunter2&sslmode=require", "postgresql://ft@db.internal/ft?password=xxxxx&sslmode=require"},
	}
	for _, tc := range tests {
		if got := RedactDatabase(tc.in); got != tc.want {
			t.Errorf("RedactDatabase(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestOpenErrorsDoNotShowThePassword: a database that does not answer, or refuses, is named in
// the error without its password.
func TestOpenErrorsDoNotShowThePassword(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, database := range []string{
		"postgres://ft:hunter2@127.0.0.1:1/ft?sslmode=disable&connect_timeout=2",
		"postgresql://ft@127.0.0.1:1/ft?sslmode=disable&password=hunter2&connect_timeout=2",
		"postgres://ft:hunter2@127.0.0.1:1/ft?sslmode=nonsense",
	} {
		s, err := Open(context.Background(), database, quiet)
		if err == nil {
			err = s.Ping(context.Background())
			s.Close()
		}
		if err == nil {
			t.Fatalf("%s: opened", RedactDatabase(database))
		}
		t.Log(err)
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// TestRefusedWritesOnPostgres: PostgreSQL's disk full and I/O errors are writes refused
// (ft.ErrWriteRefused: 503, /readyz not ready), as SQLite's are; a write that is wrong is not.
func TestRefusedWritesOnPostgres(t *testing.T) {
	for code, refused := range map[string]bool{"53100": true, "58030": true, "23505": false, "40001": false} {
		if got := refusedBy(fmt.Errorf("write: %w", &pgconn.PgError{Code: code})); got != refused {
			t.Errorf("refusedBy(SQLSTATE %s) = %v; want %v", code, got, refused)
		}
	}
}

// TestAnEmptyListIsEmptyOnBothDatabases: a list passed as one parameter (textList) with no
// values is the empty list on both databases, whether the caller's slice is nil or empty: no
// lane is every lane outside it, no kind matches no job. PostgreSQL's driver sends a nil
// slice as NULL, and `x <> ALL (NULL)` holds for no row.
func TestAnEmptyListIsEmptyOnBothDatabases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db backend) {
		s := db.open(t)
		ctx := context.Background()
		if err := s.Write(ctx, func(tx *Tx) error {
			if err := enqueueAll(ctx, tx, []Job{{Kind: "create_ticket", PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "jira"}}, t0); err != nil {
				return err
			}
			for _, lanes := range [][]string{nil, {}} {
				jobs, err := UnfinishedJobsOutside(ctx, tx, lanes)
				if err != nil {
					return err
				}
				if len(jobs) != 1 {
					t.Errorf("unfinished jobs outside %#v: %d, want the one", lanes, len(jobs))
				}
			}
			pending, err := HasUnfinishedJob(ctx, tx, "PM-1", "AI-1")
			if err != nil {
				return err
			}
			if pending {
				t.Error("a job of no kind is waiting")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStorableText: text that PostgreSQL cannot store loses its NULs and has its invalid bytes
// replaced; any other text is kept as it is.
func TestStorableText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"octo-person", "octo-person"},
		{"Élodie", "Élodie"},
		{"octo\x00person", "octoperson"},
		{"\x00", ""},
		{"bad\xffbyte", "bad\uFFFDbyte"},
		{"both\x00\xc3", "both\uFFFD"},
	}
	for _, tc := range tests {
		if got := toStorableText(tc.in); got != tc.want {
			t.Errorf("toStorableText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
