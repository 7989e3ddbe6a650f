// Package migrations embeds the numbered, forward-only SQL migrations of the store, one folder
// per database dialect. They are applied in order by goose, from `serve` and `migrate`.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql
var sqliteFiles embed.FS

//go:embed postgres/*.sql
var postgresFiles embed.FS

// SQLite holds the SQLite migrations, named NNNN_what.sql.
var SQLite = mustSub(sqliteFiles, "sqlite")

// Postgres holds the PostgreSQL migrations: the same numbers as SQLite's, each meaning the
// same change to the same tables in PostgreSQL's words.
var Postgres = mustSub(postgresFiles, "postgres")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
