package followthrough

import "errors"

// The kinds of error that the API answers in words, whatever package found them: every layer
// wraps one of these (with %w) and the web server maps each to its HTTP status in one place.
var (
	// ErrNotFound is an unknown postmortem, item or ticket (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict is a change that does not fit the current state (409): a removed item, or one
	// whose ticket does not exist yet or was deleted.
	ErrConflict = errors.New("conflict")
	// ErrBadCursor is a list cursor that followthrough did not write (400).
	ErrBadCursor = errors.New("bad cursor")
)

// ErrWriteRefused is a write the database refused for want of room or a working disk (a full
// disk, an I/O error), or that PostgreSQL could not take, being out of reach or a standby (a
// failover, a restart). It may succeed later (503 with Retry-After). Nothing of a refused write
// was stored; one whose connection dropped as it committed may have been, which sending it
// again cannot make twice (a document's revision and a delivery's id are each stored once).
// The web server answers a read that met PostgreSQL out of reach the same way.
var ErrWriteRefused = errors.New("the database refuses writes for now")
