package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
)

// reviseSignOff stores revision n of postmortem id, the same but signed off at signedOff.
func reviseSignOff(ctx context.Context, s *Store, id string, n int, signedOff time.Time, now time.Time) error {
	doc := testDoc(id)
	doc.SignedOffAt = &signedOff
	plan := IntakePlan{Postmortem: PostmortemRow{ID: id, Title: doc.Title, Team: doc.Team, SignedOffAt: doc.SignedOffAt},
		Revision: Revision{Number: n, Hash: fmt.Sprint(id, "-revision-", n), Document: []byte("{}")}}
	return s.Write(ctx, func(tx *Tx) error { return ApplyIntake(ctx, tx, plan, now) })
}

// intakeSigned stores postmortems PM-0 to PM-<n-1>, without items, PM-i signed off i steps
// after t0.
func intakeSigned(t *testing.T, s *Store, n int, step time.Duration) {
	t.Helper()
	for i := range n {
		doc := testDoc(fmt.Sprintf("PM-%d", i))
		signed := t0.Add(time.Duration(i) * step)
		doc.SignedOffAt = &signed
		if err := intakeNew(context.Background(), s, doc, nil, t0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestListWalkSeesEachPostmortemOnce(t *testing.T) {
	forEachBackend(t, testListWalkSeesEachPostmortemOnce)
}

// A walk through the list's pages, without filters, sees every postmortem that existed when it
// began exactly once, in the order of that moment, while revisions move sign-offs between its
// pages: one already seen moved behind the cursor, one not yet seen moved ahead of it, one
// moved twice, one moved and moved back; a postmortem new since the walk began is seen at most
// once. The next walk shows the sign-offs as they are now.
func testListWalkSeesEachPostmortemOnce(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	hour := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	revisions := map[string]int{}
	revise := func(id string, signedOff time.Time) {
		t.Helper()
		revisions[id]++
		if err := reviseSignOff(ctx, s, id, revisions[id], signedOff, hour(100)); err != nil {
			t.Fatal(err)
		}
	}
	var before []string // newest sign-off first
	for i := range 10 {
		id := fmt.Sprintf("PM-%d", i)
		doc := testDoc(id, item("AI-1", "x"))
		signed := hour(i)
		doc.SignedOffAt = &signed
		if err := intakeNew(ctx, s, doc, targets(1, repoA), t0); err != nil {
			t.Fatal(err)
		}
		revisions[id] = 1
		before = append([]string{id}, before...)
	}
	// Between pages (after the page given by its number, from 1), sign-offs move.
	changes := map[int]func(){
		1: func() {
			revise("PM-9", hour(-5)) // seen: moves behind the cursor
			revise("PM-2", hour(50)) // not seen: moves ahead of it
		},
		2: func() {
			revise("PM-6", hour(-6)) // seen, moves behind
			revise("PM-3", hour(60)) // not seen, moves ahead
			revise("PM-1", hour(-1)) // not seen, moves behind, then back (page 3)
			revise("PM-0", hour(70)) // not seen, moves ahead twice
			doc := testDoc("PM-NEW", item("AI-1", "x"))
			signed := hour(-3) // new since the walk began, behind the cursor
			doc.SignedOffAt = &signed
			if err := intakeNew(ctx, s, doc, targets(1, repoA), hour(100)); err != nil {
				t.Fatal(err)
			}
		},
		3: func() {
			revise("PM-1", hour(1))
			revise("PM-0", hour(80))
			revise("PM-9", hour(90)) // seen, moves ahead again
		},
	}
	var walked []string
	cursor := ""
	for page := 1; ; page++ {
		pms, next, err := s.ListPostmortems(ctx, ft.ListFilter{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, pm := range pms {
			walked = append(walked, pm.ID)
		}
		if next == "" {
			break
		}
		if page > 20 {
			t.Fatalf("the walk does not end: %v", walked)
		}
		if change := changes[page]; change != nil {
			change()
		}
		cursor = next
	}
	var got []string // what the walk saw of what existed when it began
	for _, id := range walked {
		if id != "PM-NEW" {
			got = append(got, id)
		}
	}
	if !slices.Equal(got, before) {
		t.Errorf("the walk saw %v, want each of %v once, in that order", walked, before)
	}
	if n := len(walked) - len(got); n > 1 {
		t.Errorf("the walk saw PM-NEW %d times: %v", n, walked)
	}
	pms, _, err := s.ListPostmortems(ctx, ft.ListFilter{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var now []string
	for _, pm := range pms {
		now = append(now, pm.ID)
	}
	want := []string{"PM-9", "PM-0", "PM-3", "PM-2", "PM-8", "PM-7", "PM-5", "PM-4", "PM-1", "PM-NEW", "PM-6"}
	if !slices.Equal(now, want) {
		t.Errorf("a new walk's first page is %v, want %v", now, want)
	}
}

func TestListCursorForms(t *testing.T) { forEachBackend(t, testListCursorForms) }

// A cursor of the earlier form (position only) still reads on from its position; one whose
// walk began at a move not yet made, or that is not a cursor at all, is ft.ErrBadCursor.
func testListCursorForms(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	intakeSigned(t, s, 4, time.Hour)
	if err := reviseSignOff(ctx, s, "PM-0", 2, t0.Add(-time.Hour), t0); err != nil { // move 1
		t.Fatal(err)
	}
	encode := func(text string) string { return base64.RawURLEncoding.EncodeToString([]byte(text)) }
	pm2 := formatTime(t0.Add(2 * time.Hour))
	pms, next, err := s.ListPostmortems(ctx, ft.ListFilter{Limit: 1, Cursor: encode(pm2 + "|PM-2")})
	if err != nil || len(pms) != 1 || pms[0].ID != "PM-1" {
		t.Fatalf("earlier form: %v, %v", pms, err)
	}
	if c, err := decodeCursor(next); err != nil || c.began != 1 {
		t.Errorf("its next cursor %+v (%v): want the walk's beginning at move 1", c, err)
	}
	if pms, _, err := s.ListPostmortems(ctx, ft.ListFilter{Cursor: encode(pm2 + "|PM-2|1")}); err != nil || len(pms) != 2 {
		t.Errorf("a walk begun at move 1: %v, %v", pms, err)
	}
	for _, bad := range []string{
		encode(pm2 + "|PM-2|2"), // move 2 is not made yet
		encode(pm2 + "|PM-2|-1"),
		encode(pm2 + "|PM-2|x"),
		encode(pm2 + "|PM-2|1|1"),
		encode(pm2 + "|"),
		encode("yesterday|PM-2|1"),
		"not a cursor",
	} {
		if _, _, err := s.ListPostmortems(ctx, ft.ListFilter{Cursor: bad}); err != ft.ErrBadCursor {
			t.Errorf("cursor %q: %v, want ft.ErrBadCursor", bad, err)
		}
	}
}

func TestConcurrentMovesAreNumberedOnce(t *testing.T) {
	forEachBackend(t, testConcurrentMovesAreNumberedOnce)
}

// Revisions that move sign-offs at the same time each get their own move number (on
// PostgreSQL, one of two that read the same last number is run again), and every one of them
// is stored.
func testConcurrentMovesAreNumberedOnce(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	const n = 8
	for i := range n {
		if err := intakeNew(ctx, s, testDoc(fmt.Sprintf("PM-%d", i)), nil, t0); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- reviseSignOff(ctx, s, fmt.Sprintf("PM-%d", i), 2, t0.Add(time.Duration(i+1)*time.Hour), t0)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	rows, err := s.readDB.QueryContext(ctx, `SELECT sort_seq FROM postmortems ORDER BY sort_seq`)
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := collect(rows, scanString)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seqs) != "[1 2 3 4 5 6 7 8]" {
		t.Errorf("move numbers %v, want 1 to %d once each", seqs, n)
	}
}

func TestListWalkAfterMigration(t *testing.T) { forEachBackend(t, testListWalkAfterMigration) }

// Migration 0020 gives a database that predates it what a walk needs: the current revisions'
// sort keys. A walk begun after it places a postmortem moved during the walk by the key it had
// before the migration.
func testListWalkAfterMigration(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	intakeSigned(t, s, 3, time.Hour)
	// PM-2 is revised twice before the migration: its key is PM-2's of revision 3.
	for n, h := range []int{-5, 2} {
		if err := reviseSignOff(ctx, s, "PM-2", n+2, t0.Add(time.Duration(h)*time.Hour), t0); err != nil {
			t.Fatal(err)
		}
	}
	for _, stmt := range []string{
		`DROP INDEX postmortems_moved`,
		`ALTER TABLE postmortems DROP COLUMN sort_seq`,
		`ALTER TABLE postmortem_revisions DROP COLUMN sort_at`,
		`ALTER TABLE postmortem_revisions DROP COLUMN sort_seq`,
		`DELETE FROM goose_db_version WHERE version_id = 20`,
	} {
		if _, err := s.writeDB.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := s.readDB.QueryContext(ctx, `SELECT postmortem_id || ' ' || revision || ' ' || COALESCE(sort_at, 'none')
		FROM postmortem_revisions ORDER BY postmortem_id, revision`)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := collect(rows, scanString)
	if err != nil {
		t.Fatal(err)
	}
	hour := func(h int) string { return formatTime(t0.Add(time.Duration(h) * time.Hour)) }
	want := []string{"PM-0 1 " + hour(0), "PM-1 1 " + hour(1), "PM-2 1 none", "PM-2 2 none", "PM-2 3 " + hour(2)}
	if !slices.Equal(keys, want) {
		t.Errorf("revisions' keys %v, want %v", keys, want)
	}
	pms, next, err := s.ListPostmortems(ctx, ft.ListFilter{Limit: 1})
	if err != nil || len(pms) != 1 || pms[0].ID != "PM-2" {
		t.Fatalf("first page %v, %v", pms, err)
	}
	if err := reviseSignOff(ctx, s, "PM-2", 4, t0.Add(-time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	var walked []string
	for next != "" {
		pms, next, err = s.ListPostmortems(ctx, ft.ListFilter{Limit: 1, Cursor: next})
		if err != nil {
			t.Fatal(err)
		}
		for _, pm := range pms {
			walked = append(walked, pm.ID)
		}
	}
	if !slices.Equal(walked, []string{"PM-1", "PM-0"}) {
		t.Errorf("the rest of the walk saw %v, want [PM-1 PM-0]", walked)
	}
}

// A page of a walk during which more than maxWalkMoves sign-offs moved reads on from its
// position with the sign-offs of now, and its next cursor begins the walk again there.
func TestListWalkOfTooManyMovesReadsOnAsOfNow(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	defer func(was int64) { maxWalkMoves = was }(maxWalkMoves)
	maxWalkMoves = 2
	intakeSigned(t, s, 4, time.Hour)
	_, next, err := s.ListPostmortems(ctx, ft.ListFilter{Limit: 1}) // PM-3
	if err != nil {
		t.Fatal(err)
	}
	// PM-0 moves ahead of the cursor, three times: after the third, the walk reads on as of now.
	for move, want := range []string{"[PM-2 PM-1 PM-0]", "[PM-2 PM-1 PM-0]", "[PM-2 PM-1]"} {
		if err := reviseSignOff(ctx, s, "PM-0", move+2, t0.Add(time.Duration(10+move)*time.Hour), t0); err != nil {
			t.Fatal(err)
		}
		pms, again, err := s.ListPostmortems(ctx, ft.ListFilter{Limit: 5, Cursor: next})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(ids(pms)); got != want {
			t.Errorf("after %d moves: %v, want %v", move+1, got, want)
		}
		if again != "" {
			t.Errorf("after %d moves: a next page", move+1)
		}
	}
	pms, next, err := s.ListPostmortems(ctx, ft.ListFilter{Limit: 1, Cursor: next})
	if c, _ := decodeCursor(next); err != nil || len(pms) != 1 || c.began != 3 {
		t.Errorf("its next cursor %+v (%v): want the walk begun again at move 3", c, err)
	}
}

func ids(pms []ft.PostmortemView) []string {
	var out []string
	for _, pm := range pms {
		out = append(out, pm.ID)
	}
	return out
}

// TestWalkPlansPostgres: on PostgreSQL too, with its statistics taken, a walk's queries are
// index ranges: the moved postmortems from postmortems_moved, each one's revision by its key,
// the last move from the end of postmortems_moved, and the unmoved ones from the list's index.
func TestWalkPlansPostgres(t *testing.T) {
	s := openAt(t, pgtest.URL(t))
	ctx := context.Background()
	intakeSigned(t, s, 500, time.Minute)
	for i := range 5 {
		if err := reviseSignOff(ctx, s, fmt.Sprintf("PM-%d", i*7), 2, t0.Add(-time.Hour), t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.writeDB.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	after := &listCursor{sortAt: formatTime(t0.Add(250 * time.Minute)), id: "PM-250", began: 2}
	unmoved, unmovedArgs := listQuery(ft.ListFilter{}, after, 2, 51)
	for _, q := range []struct {
		name, sql string
		args      []any
		uses      []string
	}{
		{"moved", movedQuery, []any{2, 2}, []string{"Index Scan using postmortems_moved on postmortems p",
			"Index Scan Backward using postmortem_revisions_pkey on postmortem_revisions r"}},
		{"last move", "SELECT " + lastMoveQuery, nil, []string{"Index Only Scan Backward using postmortems_moved"}},
		{"unmoved", unmoved, unmovedArgs, []string{"Index Scan using postmortems_list"}},
	} {
		plan := strings.Join(planPostgres(t, s, q.sql, q.args...), "\n")
		for _, want := range q.uses {
			if !strings.Contains(plan, want) || strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Sort") {
				t.Errorf("%s: the plan lacks %q, or scans or sorts:\n%s", q.name, want, plan)
			}
		}
	}
}
