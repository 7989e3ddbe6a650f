package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	ft "github.com/followthrough/followthrough"
)

// TestDatabaseForms: database is a SQLite file or a PostgreSQL URL, given in the file, through
// ${ENV} or from database_file like every secret.
func TestDatabaseForms(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "db-url", "postgres://ft:from-file-pw@db.internal:5432/ft?sslmode=verify-full\n")
	t.Setenv("FT_TEST_DB_PASSWORD", "from-env-pw")
	for _, tt := range []struct {
		yaml     string
		want     string
		postgres bool
	}{
		{"database: /var/lib/followthrough/ft.db", "/var/lib/followthrough/ft.db", false},
		{"database: ft.db", "ft.db", false},
		{"database: postgres://ft@db.internal/ft", "postgres://ft@db.internal/ft", true},
		{"database: 'postgresql://ft:pw@db.internal:6432/ft?sslmode=disable&application_name=ft'",
			"postgresql://ft:pw@db.internal:6432/ft?sslmode=disable&application_name=ft", true},
		{"database: postgres://ft:${FT_TEST_DB_PASSWORD}@db.internal/ft", "postgres://ft:from-env-pw@db.internal/ft", true},
		{"database_file: db-url", "postgres://ft:from-file-pw@db.internal:5432/ft?sslmode=verify-full", true},
	} {
		c, err := Parse(dir+"/ft.yaml", []byte(tt.yaml+"\n"))
		if err != nil {
			t.Errorf("%s: %v", tt.yaml, err)
			continue
		}
		if got := c.Database.Value(); got != tt.want {
			t.Errorf("%s: database %q, want %q", tt.yaml, got, tt.want)
		}
		if ft.IsPostgresURL(c.Database.Value()) != tt.postgres {
			t.Errorf("%s: IsPostgresURL = %v", tt.yaml, !tt.postgres)
		}
	}
}

// TestDatabasePasswordNeverShown: a database URL's password is in no output of the
// configuration and in no problem, even when the URL cannot be read.
func TestDatabasePasswordNeverShown(t *testing.T) {
	const password = "s3cret-db-pass"
	c, err := Parse("ft.yaml", []byte("database: postgres://ft:"+password+"@db.internal/ft\n"))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c, "database", c.Database)
	js, _ := json.Marshal(c)
	ys, _ := yaml.Marshal(c)
	outputs := []string{fmt.Sprintf("%v %+v %#v %s", c, *c, *c, c.Database), text.String(), string(js), string(ys)}
	for _, bad := range []string{
		"database: postgres://ft:" + password + "@db.internal:port/ft",
		"database: postgres://ft:" + password + "@db.internal/ft?sslmode=sometimes",
		"database: 'postgres://ft:" + password + "@[db.internal/ft'",
		"database: mysql://ft:" + password + "@db.internal/ft",
	} {
		_, err := Parse("ft.yaml", []byte(bad+"\n"))
		if err == nil {
			t.Errorf("%s: no problem", bad)
			continue
		}
		outputs = append(outputs, err.Error())
	}
	for _, out := range outputs {
		if strings.Contains(out, password) {
			t.Errorf("the password shows in:\n%s", out)
		}
	}
}
