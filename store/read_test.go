package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

// plan is the EXPLAIN QUERY PLAN of query, one step a line.
func plan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.readDB.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// planPostgres is PostgreSQL's EXPLAIN (COSTS OFF) of query, one step a line, planned as the
// reads and the claims run it: on the pool, outside a write (whose enable_seqscan is off).
func planPostgres(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.readDB.QueryContext(context.Background(), "EXPLAIN (COSTS OFF) "+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	steps, err := collect(rows, scanString)
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// fullScan finds a step that reads a whole table rather than through an index.
var fullScan = regexp.MustCompile(`(?m)^SCAN (\w+)$`)

// indexRange finds postmortems read as a range of one of the list's indexes.
var indexRange = regexp.MustCompile(`(?m)^SEARCH (postmortems|p) USING (COVERING )?INDEX postmortems_\w+ \(`)

// TestReadQueriesUseIndexes: every query of the list API, the status page and the exports is
// served by an index: no table is read whole, and the list's order comes from the index, so a
// page costs the same with 10,000 postmortems as with ten. (The exports sort each postmortem's
// few items on their own, as rows stream; a page sorts the items of its postmortems.)
func TestReadQueriesUseIndexes(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for i := range 40 {
		if err := intakeNew(ctx, s, testDoc(fmt.Sprintf("PM-%02d", i), item("AI-1", "x"), item("AI-2", "y")), targets(2, repoA), t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	_, cursor, err := s.ListPostmortems(ctx, ft.ListFilter{Limit: 5})
	if err != nil || cursor == "" {
		t.Fatalf("cursor %q, %v", cursor, err)
	}
	filters := map[string]ft.ListFilter{
		"all":                   {},
		"state":                 {State: "tracking"},
		"team":                  {Team: "payments"},
		"severity":              {Severity: "SEV1"},
		"team and state":        {Team: "payments", State: "completed"},
		"after a cursor":        {Cursor: cursor},
		"state after a cursor":  {State: "tracking", Cursor: cursor},
		"team after a cursor":   {Team: "payments", Cursor: cursor},
		"severity, team, state": {Severity: "SEV2", Team: "search", State: "reopened", Cursor: cursor},
	}
	type query struct {
		name, sql string
		args      []any
		// sorted: the whole result is sorted at once (allowed only for a page's own rows).
		sorted bool
		// filtered: a filter or a cursor selects the postmortems.
		filtered bool
	}
	var queries []query
	for name, f := range filters {
		var after *listCursor
		if f.Cursor != "" {
			c, err := decodeCursor(f.Cursor)
			if err != nil {
				t.Fatal(err)
			}
			after = &c
			// A walk that sort keys moved during reads the unmoved ones by the same index.
			q, args := listQuery(f, after, 3, 51)
			queries = append(queries, query{name: "list, moves since the walk began, " + name, sql: q, args: args, filtered: true})
		}
		q, args := listQuery(f, after, -1, 51)
		filtered := f != ft.ListFilter{}
		queries = append(queries, query{name: "list, " + name, sql: q, args: args, filtered: filtered})
		q, args = listQuery(f, after, -1, 0)
		queries = append(queries, query{name: "export, " + name, sql: q, args: args, filtered: filtered})
		q, args = exportItemsQuery(f, after)
		queries = append(queries, query{name: "export items, " + name, sql: q, args: args, filtered: filtered})
	}
	queries = append(queries,
		// The moved postmortems (and the last move) are read from postmortems_moved, each one's
		// revision as of the walk's beginning by its key.
		query{name: "moved since the walk began", sql: movedQuery, args: []any{3, 3}, filtered: true},
		query{name: "the last move", sql: `SELECT ` + lastMoveQuery, filtered: true},
		query{name: "a page's items", sql: `SELECT ` + itemColumns + itemsFrom + ` WHERE i.postmortem_id IN (SELECT value FROM json_each(?))` + itemOrder,
			args: []any{`["PM-01","PM-02"]`}, sorted: true},
		query{name: "one postmortem", sql: `SELECT ` + postmortemColumns + ` FROM postmortems WHERE id = ?`, args: []any{"PM-01"}},
		query{name: "its history", sql: historyQuery, args: []any{"PM-01"}, sorted: true},
		query{name: "items waiting", sql: queryItemsWaiting, args: []any{formatTime(t0)}, sorted: true},
	)
	for _, q := range queries {
		p := plan(t, s, q.sql, q.args...)
		if m := fullScan.FindStringSubmatch(p); m != nil {
			t.Errorf("%s: reads %s whole:\n%s", q.name, m[1], p)
		}
		if !q.sorted && strings.Contains(p, "USE TEMP B-TREE FOR ORDER BY") {
			t.Errorf("%s: sorts every row before the first:\n%s", q.name, p)
		}
		if strings.HasPrefix(q.name, "list") && !strings.Contains(p, "INDEX postmortems_") {
			t.Errorf("%s: not read through a list index:\n%s", q.name, p)
		}
		// A filter or a cursor is a range of an index, not a walk from the top that skips.
		if q.filtered && !indexRange.MatchString(p) {
			t.Errorf("%s: the filter is not a range of an index:\n%s", q.name, p)
		}
		if testing.Verbose() {
			t.Logf("%s:\n%s", q.name, p)
		}
		if strings.Contains(q.name, "cursor") && !strings.Contains(p, "(sort_at,id)<(?,?)") {
			t.Errorf("%s: does not read on from the cursor:\n%s", q.name, p)
		}
		if strings.HasPrefix(q.name, "list, moves") && !strings.Contains(q.sql, "sort_seq <= ?") {
			t.Errorf("%s: does not leave out the moved postmortems:\n%s", q.name, q.sql)
		}
		if (q.name == "moved since the walk began" || q.name == "the last move") &&
			(!strings.Contains(p, "INDEX postmortems_moved (sort_seq>?)") || strings.Contains(p, "TEMP B-TREE")) {
			t.Errorf("%s: not a range of postmortems_moved:\n%s", q.name, p)
		}
		if q.name == "moved since the walk began" && !strings.Contains(p, "SEARCH r USING INDEX sqlite_autoindex_postmortem_revisions_1 (postmortem_id=?)") {
			t.Errorf("%s: does not find each one's revision by its key:\n%s", q.name, p)
		}
	}
}

// TestEachPostmortemStreamsTheList: the export sees what the list's pages see, in the same
// order, items and all, from a cursor on too.
func TestEachPostmortemStreamsTheList(t *testing.T) {
	forEachBackend(t, testEachPostmortemStreamsTheList)
}

func testEachPostmortemStreamsTheList(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	for i := range 12 {
		doc := testDoc(fmt.Sprintf("PM-%02d", i), item("AI-2", "b"), item("AI-1", "a"), item("AI-3", "c"))
		doc.ActionItems = doc.ActionItems[:i%4]
		if err := intakeNew(ctx, s, doc, targets(len(doc.ActionItems), repoA), t0.Add(time.Duration(i%5)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []ft.ListFilter{{}, {Team: "payments"}, {Team: "nobody"}, {State: "tracking"}} {
		var paged []ft.PostmortemView
		page := f
		page.Limit = 5
		for {
			pms, next, err := s.ListPostmortems(ctx, page)
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, pms...)
			if next == "" {
				break
			}
			page.Cursor = next
		}
		var streamed []ft.PostmortemView
		if err := s.EachPostmortem(ctx, f, func(pm ft.PostmortemView) error {
			streamed = append(streamed, pm)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", streamed) != fmt.Sprintf("%+v", paged) {
			t.Errorf("%+v: streamed\n%+v\npaged\n%+v", f, streamed, paged)
		}
	}
	if err := s.EachPostmortem(ctx, ft.ListFilter{Cursor: "bad!"}, func(ft.PostmortemView) error {
		t.Fatal("called with a bad cursor")
		return nil
	}); err != ft.ErrBadCursor {
		t.Errorf("bad cursor: %v", err)
	}
}
