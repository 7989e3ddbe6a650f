// Package migrations embeds the numbered, forward-only SQL migrations of the store, one folder
// per database dialect. They are applied in order by goose, from `serve` and `migrate`.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql
var sqliteFiles embed.FS

// SQLite holds the SQLite migrations, named NNNN_what.sql.
var SQLite = mustSub(sqliteFiles, "sqlite")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
