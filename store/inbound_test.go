package store

import (
	"context"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

// linkedItem stores a postmortem with one item linked to a GitHub ticket updated at t0.
func linkedItem(t *testing.T, s *Store, pmID string) ft.TicketRef {
	t.Helper()
	ctx := context.Background()
	if err := intakeNew(ctx, s, testDoc(pmID, item("AI-1", "one")), targets(1, repoA), t0); err != nil {
		t.Fatal(err)
	}
	ref := ft.TicketRef{Kind: ft.GitHub, Key: "acme/a#1", URL: "https://github.example/acme/a/issues/1"}
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := LinkTicket(ctx, tx, pmID, "AI-1", ft.Ticket{Ref: ref, Status: ft.StatusOpen, CreatedAt: t0, UpdatedAt: t0}, "acme/a", t0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestReconcileScopesAndCursor(t *testing.T) { forEachBackend(t, testReconcileScopesAndCursor) }

func testReconcileScopesAndCursor(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	linkedItem(t, s, "PM-1")
	scopes, err := s.ReconcileScopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(scopes) != 1 || scopes[0].Kind != ft.GitHub || scopes[0].Scope != "acme/a" || !scopes[0].Since.Equal(t0) {
		t.Fatalf("scopes %+v", scopes)
	}
	for _, at := range []time.Time{t0.Add(time.Hour), t0.Add(time.Minute)} {
		if err := s.Write(ctx, func(tx *Tx) error { return AdvanceReconcileCursor(ctx, tx, ft.GitHub, "acme/a", at) }); err != nil {
			t.Fatal(err)
		}
	}
	scopes, _ = s.ReconcileScopes(ctx)
	if !scopes[0].Since.Equal(t0.Add(time.Hour)) {
		t.Fatalf("cursor went back to %v", scopes[0].Since)
	}
}
