package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// A --db, --from or --to that is neither a SQLite file's path nor a PostgreSQL URL is a usage
// error (exit 2) like the same value in the configuration's database, and no message quotes
// it: it may hold a password.
func TestDatabaseFlagsAreCheckedLikeTheConfiguration(t *testing.T) {
	const password = "pw_s3cret_in_url"
	dir := t.TempDir()
	for _, args := range [][]string{
		{"migrate", "--db", "mysql://u:" + password + "@h/db"},
		{"migrate", "--db", "POSTGRES://u:" + password + "@h/db"},
		{"migrate", "--db", "postgres://u:" + password + "@h:notaport/db"},
		{"serve", "--dev", "--listen", "127.0.0.1:0", "--db", "mysql://u:" + password + "@h/db"},
		{"copy-db", "--from", filepath.Join(dir, "a.db"), "--to", "mysql://u:" + password + "@h/db"},
		{"copy-db", "--from", "mysql://u:" + password + "@h/db", "--to", filepath.Join(dir, "b.db")},
	} {
		var stdout, stderr bytes.Buffer
		err := realMain(context.Background(), args, &stdout, &stderr)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
		if all := stdout.String() + stderr.String() + errString(err); strings.Contains(all, password) {
			t.Errorf("%v prints the password: %s", args, all)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
