package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fillForCopy puts rows in every table through the store's own writes: postmortems with items
// and their create jobs, a ticket, a status change, a webhook delivery with a binary body, a
// reconcile cursor, and a job done.
func fillForCopy(t *testing.T, s *Store, prefix string) {
	t.Helper()
	ctx := context.Background()
	for i := range 3 {
		doc := testDoc(fmt.Sprintf("%s-%d", prefix, i), item("AI-1", "Fix the thing"), item("AI-2", "Ünïcode ✓ and 'quotes'"))
		if err := intakeNew(ctx, s, doc, targets(2, repoA), t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	body := make([]byte, 256)
	for i := range body {
		body[i] = byte(i) // NUL and bytes that are not UTF-8
	}
	err := s.Write(ctx, func(tx *Tx) error {
		pm := prefix + "-0"
		if _, err := LinkTicket(ctx, tx, pm, "AI-1", ft.Ticket{Ref: ft.TicketRef{Kind: ft.GitHub, Key: "acme/a#" + prefix,
			URL: "https://github.com/acme/a/issues/" + prefix}, Status: ft.StatusOpen, CreatedAt: t0, UpdatedAt: t0}, "acme/a", t0); err != nil {
			return err
		}
		if _, err := SetItemStatus(ctx, tx, pm, "AI-1", ft.StatusInProgress, "github", "bob-gh", t0.Add(time.Hour)); err != nil {
			return err
		}
		if _, err := RecordDelivery(ctx, tx, "github", "delivery-"+prefix, t0); err != nil {
			return err
		}
		if _, err := InsertInboundEvent(ctx, tx, InboundEvent{Source: "github", DeliveryID: "delivery-" + prefix, Event: "issues",
			Payload: body, ReceivedAt: t0}); err != nil {
			return err
		}
		return AdvanceReconcileCursor(ctx, tx, ft.GitHub, "acme/a", t0.Add(2*time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimJobs(ctx, "test", "github", t0.Add(time.Hour), time.Minute, 1, nil)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if err := s.Write(ctx, func(tx *Tx) error { return MarkJobDone(ctx, tx, jobs[0].ID, t0.Add(time.Hour)) }); err != nil {
		t.Fatal(err)
	}
}

// dumpTables is every row of every table of followthrough's, as text, sorted.
func dumpTables(t *testing.T, s *Store) map[string][]string {
	t.Helper()
	ctx := context.Background()
	tables, err := s.dataTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := s.readDB.QueryContext(ctx, `SELECT * FROM `+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		lines := []string{}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if x, ok := v.([]byte); ok {
					v = "bytes:" + hex.EncodeToString(x)
				}
				fmt.Fprintf(&b, "%s=%v;", cols[i], v)
			}
			lines = append(lines, b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(lines)
		out[table] = lines
	}
	return out
}

func sameTables(t *testing.T, what string, want, got map[string][]string) {
	t.Helper()
	for table, rows := range want {
		if !slices.Equal(rows, got[table]) {
			t.Errorf("%s: table %s differs:\nwant %q\n got %q", what, table, rows, got[table])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d tables, want %d", what, len(got), len(want))
	}
}

// copyDB runs Copy and fails the test on an error.
func copyDB(t *testing.T, from, to string) []CopiedTable {
	t.Helper()
	copied, err := Copy(context.Background(), from, to, quiet)
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	return copied
}

// TestCopyRoundTrip: SQLite to PostgreSQL, to another PostgreSQL schema, to SQLite and to SQLite
// again keeps every row of every table, bytes and all; the counts it reports are the tables'; a
// PostgreSQL target's sequences are advanced, so the copy takes new rows. Tables of more rows
// than one INSERT takes are copied in several.
func TestCopyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "first.db")
	src := openAt(t, first)
	fillForCopy(t, src, "PM")
	many := make([]ft.ActionItem, 2*maxRowsPerInsert+1)
	for i := range many {
		many[i] = item(fmt.Sprintf("AI-%d", i+1), "One of many")
	}
	if err := intakeNew(context.Background(), src, testDoc("MANY", many...), targets(len(many), repoA), t0); err != nil {
		t.Fatal(err)
	}
	want := dumpTables(t, src)
	src.Close()

	pg, pg2 := pgtest.URL(t), pgtest.URL(t)
	second, third := filepath.Join(dir, "second.db"), filepath.Join(dir, "third.db")
	hops := [][2]string{{first, pg}, {pg, pg2}, {pg2, second}, {second, third}}
	for _, hop := range hops {
		copied := copyDB(t, hop[0], hop[1])
		total := 0
		for _, c := range copied {
			if int(c.Rows) != len(want[c.Name]) {
				t.Errorf("%s: %s has %d rows, Copy says %d", hop[1], c.Name, len(want[c.Name]), c.Rows)
			}
			total += int(c.Rows)
		}
		if len(copied) != len(want) || total == 0 {
			t.Errorf("%s: copied %+v", hop[1], copied)
		}
		s := openAt(t, hop[1])
		sameTables(t, RedactDatabase(hop[1]), want, dumpTables(t, s))
		s.Close()
	}
	// New rows get ids past the copied ones, in a copy from SQLite and in one from PostgreSQL:
	// without the sequences advanced, the next ticket, history row, job and event would
	// collide with a copied id.
	for _, db := range []string{pg, pg2} {
		s := openAt(t, db)
		fillForCopy(t, s, "NEW")
		s.Close()
	}
}

// TestCopyRefusesNonEmptyTarget: a target with rows in any of followthrough's tables is refused
// and left as it was, not even migrated further.
func TestCopyRefusesNonEmptyTarget(t *testing.T) { forEachBackend(t, testCopyRefusesNonEmptyTarget) }

func testCopyRefusesNonEmptyTarget(t *testing.T, b backend) {
	ctx := context.Background()
	from := filepath.Join(t.TempDir(), "from.db")
	src := openAt(t, from)
	fillForCopy(t, src, "PM")
	src.Close()

	// The target is at an older schema, with one postmortem.
	to := b.Database(t)
	dst, err := Open(ctx, to, quiet)
	if err != nil {
		t.Fatal(err)
	}
	older := previousVersion(t, dst)
	migrateTo(t, dst, older)
	if _, err := dst.writeDB.ExecContext(ctx, `INSERT INTO postmortems (id, title, accepted_at, sort_at, revision, updated_at)
		VALUES ('OLD-1', 'Kept', 'x', 'x', 1, 'x')`); err != nil {
		t.Fatal(err)
	}
	before := dumpTables(t, dst)
	dst.Close()

	_, err = Copy(ctx, from, to, quiet)
	if err == nil || !strings.Contains(err.Error(), "not empty (postmortems has 1 rows)") {
		t.Fatalf("copy into a non-empty target: %v", err)
	}
	dst, err = Open(ctx, to, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if current, _, _, err := dst.schemaVersion(ctx); err != nil || current != older {
		t.Errorf("the refused target is at schema version %d (%v), want %d as it was", current, err, older)
	}
	sameTables(t, "refused target", before, dumpTables(t, dst))
}

// previousVersion is the number of the binary's second newest migration (numbers may leave
// gaps).
func previousVersion(t *testing.T, s *Store) int64 {
	t.Helper()
	p, err := s.migrationProvider()
	if err != nil {
		t.Fatal(err)
	}
	sources := p.ListSources()
	return sources[len(sources)-2].Version
}

// TestCopyRefusesSourceAtAnotherVersion: the source must be at this binary's schema version;
// a missing source file is not made; neither touches the target.
func TestCopyRefusesSourceAtAnotherVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, to := filepath.Join(dir, "old.db"), filepath.Join(dir, "to.db")
	s, err := Open(ctx, old, quiet)
	if err != nil {
		t.Fatal(err)
	}
	_, known, _, _ := s.schemaVersion(ctx)
	older := previousVersion(t, s)
	migrateTo(t, s, older)
	s.Close()

	_, err = Copy(ctx, old, to, quiet)
	if want := fmt.Sprintf("has schema version %d, this binary's is %d", older, known); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("copy from an older schema: %v, want %q", err, want)
	}
	// At the newest version, but without one below it (migrate applies such a one out of order).
	gap := filepath.Join(dir, "gap.db")
	s = openAt(t, gap)
	if _, err := s.writeDB.ExecContext(ctx, `DELETE FROM goose_db_version WHERE version_id = ?`, older); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Copy(ctx, gap, to, quiet); err == nil || !strings.Contains(err.Error(), "lacks migrations this binary has") {
		t.Errorf("copy from a source missing a migration: %v", err)
	}
	missing := filepath.Join(dir, "missing.db")
	if _, err := Copy(ctx, missing, to, quiet); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("copy from a missing file: %v", err)
	}
	for _, f := range []string{missing, to} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s exists after a refused copy: %v", f, err)
		}
	}
	if _, err := Copy(ctx, old, old, quiet); err == nil || !strings.Contains(err.Error(), "same database") {
		t.Errorf("copy onto itself: %v", err)
	}
}

// TestCopyTakesTheFileLock: a SQLite file that a process has open (as serve does) is refused
// as the source and as the target.
func TestCopyTakesTheFileLock(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "from.db"), filepath.Join(dir, "to.db")
	src := openAt(t, from)
	fillForCopy(t, src, "PM")
	if _, err := Copy(context.Background(), from, to, quiet); err == nil {
		t.Error("copied from a file another process has open")
	}
	src.Close()
	dst := openAt(t, to)
	if _, err := Copy(context.Background(), from, to, quiet); err == nil {
		t.Error("copied into a file another process has open")
	}
	dst.Close()
	copyDB(t, from, to)
}

// TestCopyRefusesRunningPostgres: on PostgreSQL, copy-db refuses a source while a job lease is
// live, and while a process leads the periodic work (a serve is running).
func TestCopyRefusesRunningPostgres(t *testing.T) {
	ctx := context.Background()
	from := pgtest.URL(t)
	src := openAt(t, from)
	fillForCopy(t, src, "PM")
	if _, err := src.ClaimJobs(ctx, "a-process", "github", time.Now(), time.Minute, 1, nil); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "to.db")
	_, err := Copy(ctx, from, to, quiet)
	if err == nil || !strings.Contains(err.Error(), "1 jobs are leased to a running process") {
		t.Errorf("copy while a lease is live: %v", err)
	}
	if _, err := src.writeDB.ExecContext(ctx, `UPDATE outbox SET lease_until = ? WHERE lease_owner = 'a-process'`,
		formatTime(time.Now().Add(-time.Second))); err != nil {
		t.Fatal(err)
	}

	_, resign, err := src.Lead(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Copy(ctx, from, to, quiet)
	if err == nil || !strings.Contains(err.Error(), "a followthrough process is running on it") {
		t.Errorf("copy while a process leads: %v", err)
	}
	resign()
	if _, err := os.Stat(to); !os.IsNotExist(err) {
		t.Errorf("the target was made by a refused copy: %v", err)
	}

	copyDB(t, from, to)
	dst := openAt(t, to)
	var leased int
	if err := dst.readDB.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE lease_owner IS NOT NULL`).Scan(&leased); err != nil || leased != 0 {
		t.Errorf("%d leases copied (%v): the copy's jobs belong to no process", leased, err)
	}
}

// TestCopyNeverPrintsThePassword: errors about databases given with a password name them
// without it.
func TestCopyNeverPrintsThePassword(t *testing.T) {
	const password = "copy-db-secret-pw"
	withPassword := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), password)
		return u.String()
	}
	ctx := context.Background()
	full := withPassword(pgtest.URL(t)) // trust authentication lets any password in
	s := openAt(t, full)
	fillForCopy(t, s, "PM")
	s.Close()
	empty := withPassword(pgtest.URL(t))
	unreachable := "postgres://ft:" + password + "@127.0.0.1:1/ft?sslmode=disable&connect_timeout=2"
	for _, c := range [][2]string{
		{full, full},         // the same
		{empty, full},        // an empty source, at no schema version
		{unreachable, empty}, // no server there
		{full, unreachable},  // no server for the target
		{"postgres://ft:" + password + "@[::1", empty}, // not a URL
	} {
		_, err := Copy(ctx, c[0], c[1], quiet)
		if err == nil {
			t.Errorf("copy %s to %s succeeded", RedactDatabase(c[0]), RedactDatabase(c[1]))
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	// And a non-empty target, named in the error.
	copyDB(t, full, empty)
	_, err := Copy(ctx, full, empty, quiet)
	if err == nil || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("copy into a non-empty target: %v", err)
	}
}

// TestCopyVerifiesRowCounts: a target that loses rows on the way (here a trigger drops every
// ticket) fails the copy on its row counts, and nothing of the copy is committed.
func TestCopyVerifiesRowCounts(t *testing.T) {
	ctx := context.Background()
	from := filepath.Join(t.TempDir(), "from.db")
	src := openAt(t, from)
	fillForCopy(t, src, "PM")
	src.Close()
	to := pgtest.URL(t)
	dst := openAt(t, to) // migrated and empty: a target copy-db takes
	if _, err := dst.writeDB.ExecContext(ctx, `CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
		CREATE TRIGGER drop_tickets BEFORE INSERT ON tickets FOR EACH ROW EXECUTE FUNCTION drop_row()`); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	_, err := Copy(ctx, from, to, quiet)
	if err == nil || !strings.Contains(err.Error(), "tickets: 1 rows in the source, 0 copied: nothing was committed") {
		t.Fatalf("copy into a target that drops tickets: %v", err)
	}
	dst = openAt(t, to)
	for table, rows := range dumpTables(t, dst) {
		if len(rows) > 0 {
			t.Errorf("%s has %d rows after a failed copy", table, len(rows))
		}
	}
}
