package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"html"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// pageNow is the clock of the status page tests: 2026-11-26 12:00 UTC, newEnv's default.
var pageNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const xssTitle = `<script>alert(1)</script>`

// seedPages stores four postmortems through the store, at pageNow:
//
//	PM-D  no items, no sign-off time (sorts by acceptance: newest)   completed 0/0
//	PM-C  "=SUM(A1:A2)", team "@ops", one item done                   completed 1/1
//	PM-A  payments SEV1, 5 items: AI-1 overdue and stalled, AI-2 due today with a
//	      javascript: ticket URL, AI-3 done, AI-4 sync failed, AI-5 removed  reopened 2/5
//	PM-B  xssTitle, search SEV2, signed off 2026-10-01, two items without due dates:
//	      AI-1 (P0, due by default 2026-10-29) overdue, AI-2 (P3, 2026-11-26) not yet  tracking 0/2
func seedPages(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	at := func(s string) *time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &tm
	}
	// Each postmortem is accepted, through the engine, when it was signed off (or at pageNow),
	// so that its items stall only where the seed says.
	intake := func(d *ft.Document) {
		t.Helper()
		own := *d
		own.ActionItems = slices.Clone(d.ActionItems)
		for i := range own.ActionItems {
			own.ActionItems[i].Tracker = &ft.Target{Kind: ft.GitHub, Repo: "acme/actions"}
		}
		d = &own
		e.clock.Set(pageNow)
		if d.SignedOffAt != nil && d.SignedOffAt.Before(pageNow) {
			e.clock.Set(*d.SignedOffAt)
		}
		defer e.clock.Set(pageNow)
		if _, err := e.engine.Intake(ctx, d); err != nil {
			t.Fatalf("intake %s: %v", d.ID, err)
		}
	}
	write := func(fn func(tx *store.Tx) error) {
		t.Helper()
		if err := e.store.Write(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	doc := func(id, title, team, severity string, signed *time.Time, items ...ft.ActionItem) *ft.Document {
		return &ft.Document{ID: id, Title: title, Status: "finalized", Team: team, Severity: severity,
			SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: signed, ActionItems: items}
	}
	item := func(id, title, priority, due string) ft.ActionItem {
		return ft.ActionItem{ID: id, Title: title, Owner: strings.ToLower(id) + "@acme.com", Priority: priority, Due: due}
	}

	pmA := doc("PM-A", "Checkout outage 2026-11-20", "payments", "SEV1", at("2026-11-22T10:00:00Z"),
		item("AI-1", "Add a circuit breaker to the tax client", "P1", "2026-11-20"),
		item("AI-2", "Alert on tax latency", "P2", "2026-11-26"),
		item("AI-3", "Write the runbook", "P1", "2026-11-01"),
		item("AI-4", "Load test checkout", "P0", ""),
		item("AI-5", "Dropped in revision 2", "P3", "2026-01-01"))
	pmA.URL = "https://wiki.acme.com/pm/42"
	intake(pmA)
	// Revision 2 drops AI-5: it stays, removed and wont_do.
	pmA.ActionItems = pmA.ActionItems[:4]
	intake(pmA)
	write(func(tx *store.Tx) error {
		link := func(itemID, key, url string) error {
			_, err := store.LinkTicket(ctx, tx, "PM-A", itemID, ft.Ticket{
				Ref: ft.TicketRef{Kind: ft.GitHub, Key: key, URL: url}, CreatedAt: pageNow.Add(-72 * time.Hour)}, "acme/actions", pageNow)
			return err
		}
		if err := link("AI-1", "acme/actions#12", "https://github.com/acme/actions/issues/12"); err != nil {
			return err
		}
		if err := link("AI-2", "acme/actions#13", "javascript:alert(2)"); err != nil {
			return err
		}
		if err := link("AI-3", "acme/actions#14", "https://github.com/acme/actions/issues/14"); err != nil {
			return err
		}
		if _, err := store.SetItemStatus(ctx, tx, "PM-A", "AI-3", ft.StatusInProgress, "github", "bob-gh", pageNow.Add(-48*time.Hour)); err != nil {
			return err
		}
		if _, err := store.SetItemStatus(ctx, tx, "PM-A", "AI-3", ft.StatusDone, "github", "bob-gh", pageNow.Add(-24*time.Hour)); err != nil {
			return err
		}
		if err := store.SetItemSyncFailed(ctx, tx, "PM-A", "AI-4", "github create acme/actions: 422: <b>label</b> invalid", pageNow); err != nil {
			return err
		}
		if err := store.SetItemStall(ctx, tx, "PM-A", "AI-1", store.ItemStall{Reason: ft.StallOverdue, Episode: 1, Since: pageNow}); err != nil {
			return err
		}
		return store.SetState(ctx, tx, store.PostmortemRecord{ID: "PM-A", State: ft.StateReopened, ReopenedCount: 1}, pageNow)
	})

	intake(doc("PM-B", xssTitle, "search", "SEV2", at("2026-10-01T08:00:00Z"),
		item("AI-1", "Page on index lag", "P0", ""),
		item("AI-2", "Document the reindex", "P3", "")))

	intake(doc("PM-C", "=SUM(A1:A2)", "@ops", "SEV3", at("2026-11-24T09:00:00Z"),
		item("AI-1", "+rotate keys", "P2", "2026-11-25")))
	write(func(tx *store.Tx) error {
		if _, err := store.SetItemStatus(ctx, tx, "PM-C", "AI-1", ft.StatusDone, "api", "", pageNow); err != nil {
			return err
		}
		return store.SetState(ctx, tx, store.PostmortemRecord{ID: "PM-C", State: ft.StateCompleted, CompletedCount: 1}, pageNow)
	})

	intake(doc("PM-D", "No action items", "search", "SEV3", nil))
}

// page GETs path with the given headers (none: a plain browser-like request without a token).
func (e *env) page(path string, kv ...string) response {
	e.t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return e.do(http.MethodGet, path, nil, h)
}

var rowID = regexp.MustCompile(`<tr id="pm-([^"]+)"`)

// rowIDs are the postmortems of a list page, in order.
func rowIDs(body []byte) []string {
	var out []string
	for _, m := range rowID.FindAllSubmatch(body, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

var nextLink = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)

// walkPages follows the status page's next links from path, reading at most pages pages, and
// returns the ids of their rows in order. between, if given, is called with each next link's
// path (and how many pages were read) before it is followed.
func (e *env) walkPages(path string, pages int, between func(read int, next string)) []string {
	e.t.Helper()
	var seen []string
	for read := 1; read <= pages; read++ {
		r := e.page(path)
		if r.status != http.StatusOK {
			e.t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		seen = append(seen, rowIDs(r.body)...)
		m := nextLink.FindSubmatch(r.body)
		if m == nil {
			break
		}
		path = html.UnescapeString(string(m[1]))
		if between != nil {
			between(read, path)
		}
	}
	return seen
}

func checkPageHeaders(t *testing.T, r response) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "style-src 'self'", "img-src 'self'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
		}
	}
}

func TestStatusPageFilters(t *testing.T) {
	e := newEnv(t, testConfig)
	seedPages(t, e)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"PM-D", "PM-C", "PM-A", "PM-B"}},
		{"state=&team=&severity=", []string{"PM-D", "PM-C", "PM-A", "PM-B"}}, // the form sent empty
		{"state=reopened", []string{"PM-A"}},
		{"state=tracking", []string{"PM-B"}},
		{"state=completed", []string{"PM-D", "PM-C"}},
		{"team=search", []string{"PM-D", "PM-B"}},
		{"severity=SEV3", []string{"PM-D", "PM-C"}},
		{"team=search&severity=SEV3", []string{"PM-D"}},
		{"team=%40ops", []string{"PM-C"}},
		{"team=nobody", nil},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := e.page("/?" + tc.query)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("Content-Type %q", ct)
			}
			checkPageHeaders(t, r)
			if got := rowIDs(r.body); !slices.Equal(got, tc.want) {
				t.Fatalf("rows %v, want %v", got, tc.want)
			}
			if tc.want == nil && !bytes.Contains(r.body, []byte("No postmortems match")) {
				t.Fatalf("no empty-list message: %s", r.body)
			}
		})
	}

	// The filters come back in the form.
	r := e.page("/?state=completed&team=search")
	for _, want := range []string{`<option value="completed" selected>`, `name="team" value="search"`} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("form lacks %s", want)
		}
	}
}

func TestStatusPageRow(t *testing.T) {
	e := newEnv(t, testConfig)
	seedPages(t, e)
	r := e.page("/")
	row := rowHTML(t, r.body, "PM-A")
	for _, want := range []string{
		`href="/postmortems/PM-A"`, "Checkout outage 2026-11-20", "payments", "SEV1",
		`class="state state-reopened">reopened<`,
		`<progress max="100" value="40" aria-label="2 of 5 items finished, 40 percent">`, "2/5 · 40%",
		`<td class="num">1</td>`,                                    // reopened once
		`<td class="num warn">1</td>`, `<td class="num bad">1</td>`, // stalled, overdue
		"2026-11-22 10:00 UTC",
	} {
		if !strings.Contains(row, want) {
			t.Errorf("PM-A row lacks %q:\n%s", want, row)
		}
	}
	if row := rowHTML(t, r.body, "PM-D"); !strings.Contains(row, "0/0 · 100%") || !strings.Contains(row, "state-completed") {
		t.Errorf("PM-D row: %s", row)
	}
}

// rowHTML is the table row of one postmortem.
func rowHTML(t *testing.T, body []byte, id string) string {
	t.Helper()
	s := string(body)
	start := strings.Index(s, `<tr id="pm-`+id+`"`)
	if start < 0 {
		t.Fatalf("no row for %s", id)
	}
	end := strings.Index(s[start:], "</tr>")
	return s[start : start+end]
}

func TestStatusPageEscapes(t *testing.T) {
	e := newEnv(t, testConfig)
	seedPages(t, e)
	for _, path := range []string{"/", "/postmortems/PM-B"} {
		r := e.page(path)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d", path, r.status)
		}
		if bytes.Contains(r.body, []byte(xssTitle)) || bytes.Contains(r.body, []byte("<script")) {
			t.Errorf("%s renders the title unescaped", path)
		}
		if !bytes.Contains(r.body, []byte("&lt;script&gt;alert(1)&lt;/script&gt;")) {
			t.Errorf("%s lacks the escaped title", path)
		}
	}
	// A tracker's error text is text too.
	r := e.page("/postmortems/PM-A")
	if bytes.Contains(r.body, []byte("<b>label</b>")) || !bytes.Contains(r.body, []byte("&lt;b&gt;label&lt;/b&gt; invalid")) {
		t.Errorf("last_error is not escaped")
	}
}

func TestStatusPageErrors(t *testing.T) {
	e := newEnv(t, testConfig)
	seedPages(t, e)
	tests := []struct {
		name, path string
		accept     string
		status     int
		html       bool
		contains   string
	}{
		{"unknown postmortem", "/postmortems/PM-NOPE", "", 404, true, "There is no postmortem &#34;PM-NOPE&#34;"},
		{"unknown state", "/?state=stalled", "", 400, true, "state must be tracking, reopened or completed"},
		{"unknown format", "/?format=xml", "", 400, true, "format must be html, json or csv"},
		{"bad cursor", "/?cursor=nope", "", 400, true, "bad cursor"},
		{"bad limit", "/?limit=0", "", 400, true, "limit must be"},
		{"long team", "/?team=" + strings.Repeat("x", 201), "", 400, true, "at most 200"},
		{"export keeps JSON errors", "/?state=stalled&format=json", "", 400, false, `"error":"state must be`},
		{"export with a bad cursor", "/?cursor=nope&format=csv", "", 400, false, `"error":"bad cursor`},
		{"Accept JSON keeps JSON errors", "/postmortems/PM-NOPE", "application/json", 404, false, `"error"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.accept != "" {
				r = e.page(tc.path, "Accept", tc.accept)
			} else {
				r = e.page(tc.path)
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			ct := r.header.Get("Content-Type")
			if tc.html != strings.HasPrefix(ct, "text/html") {
				t.Fatalf("Content-Type %q, html %v", ct, tc.html)
			}
			if !bytes.Contains(r.body, []byte(tc.contains)) {
				t.Fatalf("body lacks %q: %s", tc.contains, r.body)
			}
			checkPageHeaders(t, r)
		})
	}
}

// exportRow is a postmortem of the JSON export.
type exportRow struct {
	ID            string        `json:"id"`
	State         ft.State      `json:"state"`
	Completion    ft.Completion `json:"completion"`
	ReopenedCount int           `json:"reopened_count"`
	Stalled       int           `json:"stalled"`
	Overdue       int           `json:"overdue"`
	Items         []ft.ItemView `json:"items"`
}

func exportJSON(t *testing.T, r response) map[string]exportRow {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var body struct {
		Postmortems []exportRow `json:"postmortems"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("export %q: %v", r.body, err)
	}
	out := map[string]exportRow{}
	for _, pm := range body.Postmortems {
		out[pm.ID] = pm
	}
	if len(out) != len(body.Postmortems) || body.Postmortems == nil {
		t.Fatalf("export rows: %s", r.body)
	}
	return out
}

func TestStatusPageJSON(t *testing.T) {
	e := newEnv(t, testConfig)
	seedPages(t, e)
	for _, tc := range []struct{ path, accept string }{
		{"/?format=json", ""},
		{"/", "application/json"},
		{"/", "text/html;q=0.5, application/json"},
	} {
		r := e.page(tc.path, "Accept", tc.accept)
		rows := exportJSON(t, r)
		if len(rows) != 4 {
			t.Fatalf("%s %s: %d rows", tc.path, tc.accept, len(rows))
		}
		a := rows["PM-A"]
		if a.State != ft.StateReopened || a.Completion != (ft.Completion{Done: 2, Total: 5, Percent: 40}) ||
			a.ReopenedCount != 1 || a.Stalled != 1 || a.Overdue != 1 || len(a.Items) != 5 {
			t.Fatalf("PM-A: %+v", a)
		}
	}
	// Filters apply, paging does not: an export holds every match.
	if rows := exportJSON(t, e.page("/?format=json&team=search&limit=1")); len(rows) != 2 {
		t.Fatalf("team=search export: %v", rows)
	}
	if rows := exportJSON(t, e.page("/?format=json&team=nobody")); len(rows) != 0 {
		t.Fatalf("empty export: %v", rows)
	}
}

// TestStatusPageOverdue moves the clock across the ends of due days: an item is overdue from
// the first instant after its due day (UTC), and default_due counts from signed_off_at.
func TestStatusPageOverdue(t *testing.T) {
	e := newEnv(t, testConfig)
	seedPages(t, e)
	tests := []struct {
		now          string
		pmA, pmB     int
		pmAItemsOver []string
	}{
		// PM-A AI-1 was due 2026-11-20; PM-B AI-1 (P0) by default 2026-10-29.
		{"2026-11-20T23:59:59Z", 0, 1, nil},
		{"2026-11-21T00:00:00Z", 1, 1, []string{"AI-1"}},
		{"2026-11-26T12:00:00Z", 1, 1, []string{"AI-1"}},
		{"2026-11-26T23:59:59.999Z", 1, 1, []string{"AI-1"}},
		// PM-A AI-2 is due 2026-11-26; PM-B AI-2 (P3, 56d after 2026-10-01T08:00) too.
		{"2026-11-27T00:00:00Z", 2, 2, []string{"AI-1", "AI-2"}},
		// PM-A AI-4 (P0, 28d after 2026-11-22) is due 2026-12-20; done, won't-do and removed
		// items never count.
		{"2026-12-21T00:00:00Z", 3, 2, []string{"AI-1", "AI-2", "AI-4"}},
	}
	for _, tc := range tests {
		t.Run(tc.now, func(t *testing.T) {
			now, err := time.Parse(time.RFC3339Nano, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Set(now)
			rows := exportJSON(t, e.page("/?format=json"))
			if rows["PM-A"].Overdue != tc.pmA || rows["PM-B"].Overdue != tc.pmB || rows["PM-C"].Overdue != 0 {
				t.Fatalf("overdue A %d B %d C %d, want %d %d 0", rows["PM-A"].Overdue, rows["PM-B"].Overdue,
					rows["PM-C"].Overdue, tc.pmA, tc.pmB)
			}
			r := e.page("/postmortems/PM-A")
			var marked []string
			for _, id := range []string{"AI-1", "AI-2", "AI-3", "AI-4", "AI-5"} {
				if strings.Contains(itemHTML(t, r.body, id), "overdue-badge") {
					marked = append(marked, id)
				}
			}
			if !slices.Equal(marked, tc.pmAItemsOver) {
				t.Fatalf("items marked overdue %v, want %v", marked, tc.pmAItemsOver)
			}
		})
	}
}

// itemHTML is the article of one item on a postmortem's page.
func itemHTML(t *testing.T, body []byte, id string) string {
	t.Helper()
	s := string(body)
	start := strings.Index(s, `id="item-`+id+`"`)
	if start < 0 {
		t.Fatalf("no item %s", id)
	}
	end := strings.Index(s[start:], "</article>")
	return s[start : start+end]
}

func TestStatusPageCSV(t *testing.T) {
	e := newEnv(t, testConfig)
	seedPages(t, e)
	for _, tc := range []struct{ path, accept string }{{"/?format=csv", ""}, {"/", "text/csv"}} {
		r := e.page(tc.path, "Accept", tc.accept)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("Content-Type %q", ct)
		}
		recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v\n%s", err, r.body)
		}
		want := [][]string{
			{"id", "title", "team", "severity", "state", "done", "total", "percent", "stalled", "overdue", "signed_off_at"},
			{"PM-D", "No action items", "search", "SEV3", "completed", "0", "0", "100", "0", "0", ""},
			// The formula guard: text cells starting with = + - @ get a leading quote.
			{"PM-C", "'=SUM(A1:A2)", "'@ops", "SEV3", "completed", "1", "1", "100", "0", "0", "2026-11-24T09:00:00Z"},
			{"PM-A", "Checkout outage 2026-11-20", "payments", "SEV1", "reopened", "2", "5", "40", "1", "1", "2026-11-22T10:00:00Z"},
			{"PM-B", xssTitle, "search", "SEV2", "tracking", "0", "2", "0", "0", "1", "2026-10-01T08:00:00Z"},
		}
		if !slices.EqualFunc(recs, want, slices.Equal) {
			t.Fatalf("csv\n%q\nwant\n%q", recs, want)
		}
	}
	r := e.page("/?format=csv&state=reopened")
	if recs, _ := csv.NewReader(bytes.NewReader(r.body)).ReadAll(); len(recs) != 2 || recs[1][0] != "PM-A" {
		t.Fatalf("filtered csv: %q", r.body)
	}
	r = e.page("/?format=csv&team=nobody")
	if recs, _ := csv.NewReader(bytes.NewReader(r.body)).ReadAll(); len(recs) != 1 {
		t.Fatalf("empty csv: %q", r.body)
	}
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "plain": "plain", "=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)",
		"\t=1": "'\t=1", "\r=1": "'\r=1", "a=1": "a=1", "'quoted": "'quoted",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPostmortemPage(t *testing.T) {
	e := newEnv(t, testConfig)
	seedPages(t, e)
	r := e.page("/postmortems/PM-A")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkPageHeaders(t, r)
	body := string(r.body)
	for _, want := range []string{
		`<a href="https://wiki.acme.com/pm/42" class="pm-title">Checkout outage 2026-11-20</a>`,
		`class="state state-reopened">reopened<`, "2/5 · 40%", "1 time<",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	tests := []struct {
		item    string
		want    []string
		notWant []string
	}{
		{"AI-1", []string{"ai-1@acme.com", "P1", "2026-11-20", "overdue-badge", "stalled: overdue",
			"yes: overdue, and the grace period after the due day has passed", `<a href="https://github.com/acme/actions/issues/12" rel="noreferrer noopener">acme/actions#12</a>`,
			"sync-linked", "No status changes yet."}, nil},
		// A ticket URL that is not http(s) is shown as its key, not as a link.
		{"AI-2", []string{"2026-11-26", "acme/actions#13"}, []string{"javascript:", ">acme/actions#13</a>", "overdue-badge"}},
		{"AI-3", []string{"status-done", "in_progress → done", "open → in_progress", "github", "bob-gh",
			"2026-11-25 12:00 UTC"}, []string{"overdue-badge"}},
		{"AI-4", []string{"2026-12-20", "(default)", "sync-failed", "github create acme/actions: 422", "none yet"}, nil},
		{"AI-5", []string{"removed-badge", "status-wont_do", "open → wont_do", "revision"}, []string{"overdue-badge"}},
	}
	for _, tc := range tests {
		got := itemHTML(t, r.body, tc.item)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s lacks %q:\n%s", tc.item, w, got)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s has %q:\n%s", tc.item, w, got)
			}
		}
	}
	if !strings.Contains(body, `<article class="item removed" id="item-AI-5">`) {
		t.Errorf("removed item is not marked")
	}
	// Removed items come last.
	if strings.Index(body, `id="item-AI-5"`) < strings.Index(body, `id="item-AI-4"`) {
		t.Errorf("removed item is not last")
	}
	if r := e.page("/postmortems/PM-D"); r.status != 200 || !bytes.Contains(r.body, []byte("no action items")) {
		t.Errorf("PM-D: %d %s", r.status, r.body)
	}
}

func TestStatusPagePaging(t *testing.T) {
	e := newEnv(t, testConfig)
	seedPages(t, e)
	seen := e.walkPages("/?limit=1&team=search", 5, func(_ int, next string) {
		if !strings.Contains(next, "team=search") || !strings.Contains(next, "cursor=") {
			e.t.Fatalf("next link %q loses the filter or has no cursor", next)
		}
	})
	if !slices.Equal(seen, []string{"PM-D", "PM-B"}) {
		t.Fatalf("pages gave %v", seen)
	}
}

const privatePageConfig = githubOnlyConfig + `
status_page:
  public: false
`

func TestStatusPageAccess(t *testing.T) {
	public := newEnv(t, testConfig)
	private := newEnv(t, privatePageConfig)
	seedPages(t, public)
	seedPages(t, private)
	tests := []struct {
		name   string
		e      *env
		path   string
		token  string
		status int
	}{
		{"public list", public, "/", "", 200},
		{"public postmortem", public, "/postmortems/PM-A", "", 200},
		{"public export", public, "/?format=csv", "", 200},
		{"private list without token", private, "/", "", 401},
		{"private list, bad token", private, "/", "nope", 401},
		{"private postmortem without token", private, "/postmortems/PM-A", "", 401},
		{"private unknown postmortem without token", private, "/postmortems/PM-NOPE", "", 401},
		{"private export without token", private, "/?format=csv", "", 401},
		{"private list with token", private, "/", testToken, 200},
		{"private postmortem with token", private, "/postmortems/PM-A", testToken, 200},
		{"private export with token", private, "/?format=json", testToken, 200},
		{"stylesheet is open", private, "/static/page.css", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.token != "" {
				r = tc.e.page(tc.path, "Authorization", "Bearer "+tc.token)
			} else {
				r = tc.e.page(tc.path)
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			checkPageHeaders(t, r)
			if tc.status == 401 {
				if r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
				if bytes.Contains(r.body, []byte("PM-A")) {
					t.Errorf("401 shows a postmortem")
				}
			}
			if tc.e == private && tc.status == 200 && tc.path != "/static/page.css" && r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("private page Cache-Control %q", r.header.Get("Cache-Control"))
			}
		})
	}
	if r := public.page("/static/page.css"); !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") || len(r.body) == 0 {
		t.Fatalf("stylesheet: %q %d bytes", r.header.Get("Content-Type"), len(r.body))
	}
}

// requireChromium is the browser the browser tests drive, Debian's chromium, which .ci/run
// installs. Without it a test is skipped, except under CI=true, where it fails.
func requireChromium(t *testing.T) string {
	t.Helper()
	chromium := findChromium()
	if chromium == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed, and CI=true: install Debian's chromium (apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed; CI (.ci/run) installs Debian's chromium, or run: apt-get install -y chromium")
	}
	if testing.Short() {
		t.Skip("starts a browser")
	}
	return chromium
}

// browse opens url in headless chromium with flags and returns what it prints (the DOM, with
// --dump-dom).
func browse(t *testing.T, chromium, url string, flags ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-quic", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir()}
	args = append(append(args, flags...), url)
	cmd := exec.CommandContext(ctx, chromium, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", flags, err, stderr.String())
	}
	return stdout.Bytes()
}

// findChromium is the browser the browser test drives: Debian's chromium, which .ci/run installs.
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// TestStatusPageInBrowser renders the pages in headless Chromium from a real listener on
// 127.0.0.1: the DOM it builds holds the rows and the numbers, and a screenshot comes out. Set
// FT_PAGE_SCREENSHOTS to a directory to keep the screenshots for a person to look at.
func TestStatusPageInBrowser(t *testing.T) {
	chromium := requireChromium(t)
	e := newEnv(t, testConfig)
	seedPages(t, e)
	if !strings.HasPrefix(e.url, "http://127.0.0.1:") {
		t.Fatalf("server is not on 127.0.0.1: %s", e.url)
	}
	shots := os.Getenv("FT_PAGE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	t.Run("list", func(t *testing.T) {
		dom := string(browse(t, chromium, e.url+"/", "--dump-dom"))
		for _, want := range []string{
			`<tr id="pm-PM-A"`, `<tr id="pm-PM-B"`, `<tr id="pm-PM-C"`, `<tr id="pm-PM-D"`,
			"Checkout outage 2026-11-20", "2/5 · 40%", "0/2 · 0%", "1/1 · 100%",
			"&lt;script&gt;alert(1)&lt;/script&gt;",
		} {
			if !strings.Contains(dom, want) {
				t.Errorf("rendered DOM lacks %q", want)
			}
		}
		if strings.Contains(dom, "<script") {
			t.Errorf("rendered DOM has a script element")
		}
		if t.Failed() {
			t.Logf("DOM:\n%s", dom)
		}
	})
	t.Run("postmortem", func(t *testing.T) {
		dom := string(browse(t, chromium, e.url+"/postmortems/PM-A", "--dump-dom"))
		for _, want := range []string{`id="item-AI-1"`, `id="item-AI-5"`, "in_progress → done", "acme/actions#12", "overdue"} {
			if !strings.Contains(dom, want) {
				t.Errorf("rendered DOM lacks %q", want)
			}
		}
	})
	for _, shot := range []struct{ name, path string }{{"page.png", "/"}, {"postmortem.png", "/postmortems/PM-A"}} {
		t.Run("screenshot "+shot.name, func(t *testing.T) {
			file := filepath.Join(shots, shot.name)
			browse(t, chromium, e.url+shot.path, "--screenshot="+file, "--window-size=1280,900")
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("no screenshot: %v", err)
			}
			if len(b) < 1000 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
				t.Fatalf("screenshot is not a PNG (%d bytes)", len(b))
			}
		})
	}
}
