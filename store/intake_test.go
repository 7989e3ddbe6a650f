package store

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
)

// A new postmortem's record built from the intake plan must be what reading it back gives,
// field for field: intake evaluates and answers from it. The plan covers what a read
// normalises: a signed-off time out of UTC and finer than stored, a target with fields the
// row does not keep, nil, empty and full labels, an item finished at sign-off, a named ticket,
// a due date, and the postmortem's own ticket.
func TestNewRecordIsWhatIsStored(t *testing.T) { forEachBackend(t, testNewRecordIsWhatIsStored) }

func testNewRecordIsWhatIsStored(t *testing.T, db backend) {
	ctx := context.Background()
	s := db.open(t)
	signed := time.Date(2026, 11, 20, 9, 30, 15, 123456789, time.FixedZone("CET", 3600))
	now := time.Date(2026, 11, 22, 10, 0, 0, 987654321, time.FixedZone("PST", -8*3600))
	jira := ft.Target{Kind: ft.Jira, Project: "OPS", IssueType: "Task", Repo: "ignored/by-the-row"}
	plan := IntakePlan{
		Postmortem: PostmortemRow{ID: "PM-R", Title: "Outage", URL: "https://wiki/pm-r", Severity: "SEV1",
			Team: "payments", SignedOffAt: &signed, Own: &ft.TicketRef{Kind: ft.GitHub, Key: "acme/pm#7", URL: "not stored"}},
		Revision: Revision{Number: 1, Hash: "h", Document: []byte(`{}`)},
		Items: []ItemChange{
			{New: true, Row: ItemRow{PostmortemID: "PM-R", ID: "AI-1", Position: 0, Title: "Nil labels",
				Owner: "bob@acme.com", Priority: "P1", Due: "2026-12-01", Target: repoA, Status: ft.StatusOpen}},
			{New: true, Row: ItemRow{PostmortemID: "PM-R", ID: "AI-2", Position: 1, Title: "Empty labels",
				Owner: "amy@acme.com", Priority: "P2", Labels: []string{}, Target: jira, Status: ft.StatusOpen,
				Team: "infra", Type: "fix", Description: "why"}},
			{New: true, Sync: ft.SyncNone, Row: ItemRow{PostmortemID: "PM-R", ID: "AI-3", Position: 2,
				Title: "Done at sign-off", Owner: "bob@acme.com", Priority: "P3", Labels: []string{"a", "b"},
				Target: repoB, Status: ft.StatusDone}},
			{New: true, Row: ItemRow{PostmortemID: "PM-R", ID: "AI-4", Position: 3, Title: "Names a ticket",
				Owner: "bob@acme.com", Priority: "P2", Target: repoA, Status: ft.StatusOpen, NamedTicket: "acme/a#12"}},
		},
	}
	built, ok := plan.NewRecord(now)
	if !ok {
		t.Fatal("NewRecord refused revision 1")
	}
	var read PostmortemRecord
	err := s.Write(ctx, func(tx *Tx) error {
		if err := ApplyIntake(ctx, tx, plan, now); err != nil {
			return err
		}
		var err error
		read, err = LoadPostmortemTx(ctx, tx, "PM-R")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(built, read) {
		t.Fatalf("built from the plan:\n%#v\nread back:\n%#v", built, read)
	}
	// A zero sign-off time is stored as none.
	var zero time.Time
	plan.Postmortem.ID, plan.Postmortem.SignedOffAt, plan.Items = "PM-Z", &zero, nil
	built, _ = plan.NewRecord(now)
	err = s.Write(ctx, func(tx *Tx) error {
		if err := ApplyIntake(ctx, tx, plan, now); err != nil {
			return err
		}
		var err error
		read, err = LoadPostmortemTx(ctx, tx, "PM-Z")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(built, read) {
		t.Fatalf("with a zero sign-off time, built from the plan:\n%#v\nread back:\n%#v", built, read)
	}
	plan.Revision.Number = 2
	if _, ok := plan.NewRecord(now); ok {
		t.Fatal("NewRecord built a record for revision 2, which depends on what was stored")
	}
}

// TestRevisionFiguresCountFromTheSortKey: a later revision's figure numbers count from the
// postmortem's sign-off, else from its first acceptance, never from the revision's time: on the
// items it writes and, brought up to date, on those it no longer lists and on status history.
func TestRevisionFiguresCountFromTheSortKey(t *testing.T) {
	forEachBackend(t, testRevisionFiguresCountFromTheSortKey)
}

func testRevisionFiguresCountFromTheSortKey(t *testing.T, db backend) {
	ctx := context.Background()
	s := db.open(t)
	accepted, signed := at("2026-11-02T11:00:00Z"), at("2026-11-01T09:00:00Z")
	doc := testDoc("PM-1", item("AI-1", "x"), item("AI-2", "y"))
	doc.SignedOffAt = nil
	if err := intakeItems(ctx, s, doc, accepted, nil); err != nil {
		t.Fatal(err)
	}
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := SetItemStatus(ctx, tx, "PM-1", "AI-1", ft.StatusDone, "github", "", accepted.Add(time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	revise := func(revision int, signedOff *time.Time, now time.Time, want time.Time) {
		t.Helper()
		err := s.Write(ctx, func(tx *Tx) error {
			items, err := LoadItemsTx(ctx, tx, "PM-1")
			if err != nil {
				return err
			}
			plan := IntakePlan{Postmortem: PostmortemRow{ID: "PM-1", Title: doc.Title, Team: doc.Team, SignedOffAt: signedOff},
				Revision: Revision{Number: revision, Hash: fmt.Sprint("revision-", revision), Document: []byte("{}")}}
			for _, it := range items {
				c := ItemChange{Row: it.ItemRow, From: it.Status}
				switch {
				case it.ID == "AI-1":
				case revision == 2: // it drops AI-2
					c.Row.Removed, c.Row.Status = true, ft.StatusWontDo
				default: // AI-2, dropped: not written again
					continue
				}
				plan.Items = append(plan.Items, c)
			}
			return ApplyIntake(ctx, tx, plan, now)
		})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.readDB.Query(`SELECT DISTINCT signed_off_unix FROM items WHERE postmortem_id = 'PM-1'
			UNION SELECT DISTINCT signed_off_unix FROM status_history WHERE postmortem_id = 'PM-1'`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := collect(rows, scanString)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != fmt.Sprint(want.Unix()) {
			t.Fatalf("revision %d: signed_off_unix %v, want %d (%v)", revision, got, want.Unix(), want)
		}
	}
	revise(2, nil, accepted.Add(24*time.Hour), accepted)
	revise(3, &signed, accepted.Add(48*time.Hour), signed)
	revise(4, nil, accepted.Add(72*time.Hour), accepted)
}

// TestSameFiguresLeavesRowsItDoesNotWrite: a revision whose plan says it changes no input of
// the figure numbers does not touch the rows it does not write (a number planted out of date
// stays so), and one that does not say so brings them up to date.
func TestSameFiguresLeavesRowsItDoesNotWrite(t *testing.T) {
	forEachBackend(t, testSameFiguresLeavesRowsItDoesNotWrite)
}

func testSameFiguresLeavesRowsItDoesNotWrite(t *testing.T, db backend) {
	ctx := context.Background()
	s := db.open(t)
	doc := testDoc("PM-1", item("AI-1", "x"))
	doc.Severity = "SEV2"
	if err := intakeItems(ctx, s, doc, t0, nil); err != nil {
		t.Fatal(err)
	}
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := SetItemStatus(ctx, tx, "PM-1", "AI-1", ft.StatusDone, "github", "", t0.Add(time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.writeDB.Exec(`UPDATE status_history SET severity = 'planted' WHERE postmortem_id = 'PM-1'`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		same bool
		want string
	}{{true, "planted"}, {false, "SEV2"}} {
		revision := 2
		if !tc.same {
			revision = 3
		}
		err := s.Write(ctx, func(tx *Tx) error {
			it, err := LoadItemTx(ctx, tx, "PM-1", "AI-1")
			if err != nil {
				return err
			}
			return ApplyIntake(ctx, tx, IntakePlan{
				Postmortem:  PostmortemRow{ID: "PM-1", Title: doc.Title, Team: doc.Team, Severity: doc.Severity, SignedOffAt: doc.SignedOffAt},
				Revision:    Revision{Number: revision, Hash: fmt.Sprint("revision-", revision), Document: []byte("{}")},
				Items:       []ItemChange{{Row: it.ItemRow, From: it.Status}},
				SameFigures: tc.same,
			}, t0.Add(2*time.Hour))
		})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := s.readDB.QueryRow(`SELECT severity FROM status_history WHERE postmortem_id = 'PM-1'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("SameFigures %v: the status change's severity is %q, want %q", tc.same, got, tc.want)
		}
	}
}

// BenchmarkIntakeRevision: 16 writers per CPU (SetParallelism counts per GOMAXPROCS) revising
// stored postmortems (two items, one with a status change, no sign-off) to a new title, on
// each backend: with the figure numbers of the rows a revision does not write brought up to
// date (refresh), or left alone as the engine plans a revision that changes none of their
// inputs (same).
func BenchmarkIntakeRevision(b *testing.B) {
	for _, db := range pgtest.Backends {
		for _, same := range []bool{false, true} {
			name := db.Name + "/refresh"
			if same {
				name = db.Name + "/same"
			}
			b.Run(name, func(b *testing.B) { benchmarkIntakeRevision(b, openAt(b, db.Database(b)), same) })
		}
	}
}

func benchmarkIntakeRevision(b *testing.B, s *Store, same bool) {
	ctx := context.Background()
	const postmortems = 500
	type stored struct {
		sync.Mutex // one revision of it at a time, as the engine's transactions would serialize
		revision   int
		changes    []ItemChange
	}
	pms := make([]stored, postmortems)
	err := s.Write(ctx, func(tx *Tx) error {
		for i := range pms {
			id := fmt.Sprint("PM-", i)
			plan := IntakePlan{Postmortem: PostmortemRow{ID: id, Title: "Outage", Team: "payments"},
				Revision: Revision{Number: 1, Hash: "revision-1", Document: []byte("{}")}}
			for j, itemID := range []string{"AI-1", "AI-2"} {
				plan.Items = append(plan.Items, ItemChange{New: true, Row: ItemRow{PostmortemID: id, ID: itemID, Position: j,
					Title: "x", Owner: "bob@acme.com", Priority: "P1", Labels: []string{}, Target: repoA, Status: ft.StatusOpen}})
			}
			if err := ApplyIntake(ctx, tx, plan, t0); err != nil {
				return err
			}
			if _, err := SetItemStatus(ctx, tx, id, "AI-1", ft.StatusInProgress, "github", "", t0); err != nil {
				return err
			}
			items, err := LoadItemsTx(ctx, tx, id)
			if err != nil {
				return err
			}
			pms[i].revision = 1
			for _, it := range items {
				pms[i].changes = append(pms[i].changes, ItemChange{Row: it.ItemRow, From: it.Status})
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)) % postmortems
			pm := &pms[i]
			pm.Lock()
			pm.revision++
			plan := IntakePlan{
				Postmortem:  PostmortemRow{ID: fmt.Sprint("PM-", i), Title: fmt.Sprint("Outage, revision ", pm.revision), Team: "payments"},
				Revision:    Revision{Number: pm.revision, Hash: fmt.Sprint("revision-", pm.revision), Document: []byte("{}")},
				Items:       pm.changes,
				SameFigures: same,
			}
			err := s.Write(ctx, func(tx *Tx) error { return ApplyIntake(ctx, tx, plan, t0.Add(time.Hour)) })
			pm.Unlock()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
