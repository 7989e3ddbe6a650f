package test

// What the binary refuses, as the contract's command line says: a binary older than the
// database's schema neither serves nor migrates nor copies it, and copy-db does not copy a
// SQLite database that serve holds.

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runBinary runs the binary to its end (a minute at most) and returns its exit code and output.
func runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "FOLLOWTHROUGH_CONFIG=")
	out, err := cmd.CombinedOutput()
	return exitCode(err), string(out)
}

func TestOlderBinaryRefusesANewerDatabase(t *testing.T) {
	forEachBackend(t, testOlderBinaryRefusesANewerDatabase)
}

func testOlderBinaryRefusesANewerDatabase(t *testing.T, b backend) {
	database := b.Database(t)
	if code, out := runBinary(t, "migrate", "--db", database); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	// A newer release's migration, as goose records it.
	driver, dsn := "sqlite", "file:"+database
	if strings.HasPrefix(database, "postgres://") {
		driver, dsn = "pgx", database
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, TRUE)`); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	cfg := writeConfig(t, "listen: "+freeAddr(t)+"\nintake:\n  tokens: [t]\n")
	for _, args := range [][]string{
		{"serve", "--config", cfg, "--db", database},
		{"migrate", "--db", database},
		{"copy-db", "--from", database, "--to", filepath.Join(t.TempDir(), "copy.db")},
	} {
		code, out := runBinary(t, args...)
		if code != 1 || !strings.Contains(out, "9999") {
			t.Errorf("%s on a database at schema version 9999: exit %d, want 1 naming the version:\n%s", args[0], code, out)
		}
	}
}

func TestCopyDBRefusesADatabaseServeHolds(t *testing.T) {
	dir := t.TempDir()
	database, target := filepath.Join(dir, "ft.db"), filepath.Join(dir, "copy.db")
	cfg := writeConfig(t, "intake:\n  tokens: [t]\n")
	addr := freeAddr(t)
	s := start(t, addr, "serve", "--config", cfg, "--db", database, "--listen", addr)
	code, out := runBinary(t, "copy-db", "--from", database, "--to", target)
	if code != 1 {
		t.Errorf("copy-db while serve runs: exit %d, want 1:\n%s", code, out)
	}
	if _, err := os.Stat(target); err == nil {
		t.Errorf("copy-db refused but made %s", target)
	}
	s.stop()
	if code, out := runBinary(t, "copy-db", "--from", database, "--to", target); code != 0 {
		t.Errorf("copy-db once serve stopped: exit %d, want 0:\n%s", code, out)
	}
}
