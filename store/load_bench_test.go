package store

import (
	"context"
	"fmt"
	"testing"
)

// loadBenchStore is a store of 200 postmortems of five items each, named PM-000 to PM-199.
func loadBenchStore(b *testing.B) *Store {
	ctx := context.Background()
	s := openTest(b)
	for i := range 200 {
		doc := testDoc(fmt.Sprintf("PM-%03d", i), item("AI-1", "a"), item("AI-2", "b"), item("AI-3", "c"), item("AI-4", "d"), item("AI-5", "e"))
		if err := intakeNew(ctx, s, doc, targets(5, repoA), t0); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkLoadPostmortem reads one postmortem of five items with their tickets, as a page
// does, on the readers.
func BenchmarkLoadPostmortem(b *testing.B) {
	ctx := context.Background()
	s := loadBenchStore(b)
	for i := 0; b.Loop(); i++ {
		if _, err := loadPostmortem(ctx, s.readDB, fmt.Sprintf("PM-%03d", i%200), true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadPostmortemTx reads them inside the writer's transactions, with its prepared
// statements, as every evaluation does: 100 reads per transaction.
func BenchmarkLoadPostmortemTx(b *testing.B) {
	ctx := context.Background()
	s := loadBenchStore(b)
	for i := 0; b.Loop(); i++ {
		if err := s.Write(ctx, func(tx *Tx) error {
			for j := range 100 {
				if _, err := LoadPostmortemTx(ctx, tx, fmt.Sprintf("PM-%03d", (i+j)%200)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}
