package followthrough

import "strings"

// IsPostgresURL reports whether a `database` setting names a PostgreSQL database (a
// postgres:// or postgresql:// URL) rather than a SQLite file's path. Configuration checks and
// the store decide by it alike.
func IsPostgresURL(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}
