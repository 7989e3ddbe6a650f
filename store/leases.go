package store

import "context"

// ReleaseLeasesOf frees the leases that owner holds on unfinished jobs: a process that stops
// gives its claimed work back, so that the other processes sharing the database take it at
// once instead of when the leases run out.
func (s *Store) ReleaseLeasesOf(ctx context.Context, owner string) error {
	return s.Write(ctx, func(tx *Tx) error { return freeLeases(ctx, tx, owner) })
}

// freeLeases frees, in the caller's transaction, the leases on unfinished jobs that owner
// holds, or every such lease when owner is "".
func freeLeases(ctx context.Context, tx *Tx, owner string) error {
	_, err := tx.exec(ctx, `UPDATE outbox SET lease_owner = NULL, lease_until = NULL
		WHERE lease_owner IS NOT NULL AND (? = '' OR lease_owner = ?) AND done_at IS NULL AND failed_at IS NULL`,
		owner, owner)
	return err
}
