// Package migrations embeds the numbered, forward-only SQL migrations of the store. They are
// applied in order by goose, from `serve` and `migrate`.
package migrations

import "embed"

// FS holds the migration files, named NNNN_what.sql.
//
//go:embed *.sql
var FS embed.FS
