package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/load"
	"github.com/followthrough/followthrough/internal/pgtest"
)

// BenchmarkIntakePagesWritten counts the pages that SQLite writes to its WAL for intakes of
// ftload's five-item postmortems, 16 at a time after 5,000 of them, and which table or index
// each page belongs to (logged). Every page is a frame the commit writes and syncs, so this is
// what an intake costs the disk, whatever the machine. Its time per op is not the figure: the
// WAL is read whole once the intakes are done.
func BenchmarkIntakePagesWritten(b *testing.B) {
	ctx := context.Background()
	path := pgtest.SQLiteFile(b)
	s := openAt(b, path)
	base := load.SignOffBase(time.Now())
	var seq atomic.Int64
	intakes := func(n int) {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for range n {
					doc, err := ft.DecodeDocument(load.Postmortem("bench", seq.Add(1), 5, base))
					if err != nil {
						b.Error(err)
						return
					}
					doc.Normalize(ft.TicketSites{})
					if err := intakeNew(ctx, s, doc, targets(5, repoA), time.Now()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	intakes(5000 / 16)
	// From here the WAL keeps every page written: it starts empty and is not checkpointed.
	if err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "PRAGMA wal_autocheckpoint = 0")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.writeDB.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	tx0, commits0 := s.WriteStats()
	b.ResetTimer()
	intakes(max(1, b.N/16))
	b.StopTimer()
	tx, commits := s.WriteStats()
	tx, commits = tx-tx0, commits-commits0

	owners := map[uint32]string{}
	pages, err := s.writeDB.QueryContext(ctx, "SELECT name, pageno FROM dbstat")
	if err != nil {
		b.Fatal(err)
	}
	for pages.Next() {
		var name string
		var page uint32
		if err := pages.Scan(&name, &page); err != nil {
			b.Fatal(err)
		}
		owners[page] = name
	}
	if err := pages.Close(); err != nil {
		b.Fatal(err)
	}
	wal, err := os.ReadFile(path + "-wal")
	if err != nil {
		b.Fatal(err)
	}
	// A WAL is a 32-byte header, then frames of a 24-byte header (the page's number first)
	// and the page.
	pageSize := int(binary.BigEndian.Uint32(wal[8:12]))
	written := map[string]int{}
	frames := 0
	for off := 32; off+24+pageSize <= len(wal); off += 24 + pageSize {
		written[owners[binary.BigEndian.Uint32(wal[off:])]]++
		frames++
	}
	b.ReportMetric(float64(frames)/float64(tx), "pages/intake")
	b.ReportMetric(float64(tx)/float64(commits), "intakes/commit")
	if b.N == 1 {
		return // the run that sizes b.N: its log would take the place of the real run's
	}
	names := make([]string, 0, len(written))
	for name := range written {
		names = append(names, name)
	}
	slices.SortFunc(names, func(x, y string) int { return cmp.Compare(written[y], written[x]) })
	// go test shows ten lines of a benchmark's log: the eight largest, then the rest together.
	rest := 0
	for i, name := range names {
		if i < 8 {
			b.Log(fmt.Sprintf("%-32s %.2f pages an intake", name, float64(written[name])/float64(tx)))
		} else {
			rest += written[name]
		}
	}
	b.Log(fmt.Sprintf("%-32s %.2f pages an intake", fmt.Sprintf("the other %d", max(0, len(names)-8)), float64(rest)/float64(tx)))
}
