package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// testPostgresSchema returns the URL of a fresh schema of the test PostgreSQL
// (FOLLOWTHROUGH_TEST_POSTGRES, else the local default), dropped when the test ends. Without a
// PostgreSQL the test is skipped, or fails under CI=true.
func testPostgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("FOLLOWTHROUGH_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	db, err := sql.Open("pgx", base)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at FOLLOWTHROUGH_TEST_POSTGRES is not reachable: %v", err)
		}
		t.Skip("no PostgreSQL: set FOLLOWTHROUGH_TEST_POSTGRES to a postgres:// URL to run this test")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "ft_test_" + hex.EncodeToString(b)
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
