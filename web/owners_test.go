package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// Strings a postmortem's author wrote, each of which must come out as text.
const (
	xssOwner = `<img src=x onerror=alert(3)>@acme.com`
	xssTeam  = `<b>ops</b>`
	oddOwner = `Platform / SRE?#team` // not an email: kept as written, and one path segment
)

// seedOwners stores, at pageNow (Thursday 2026-11-26 12:00 UTC):
//
//	PM-1 payments SEV1, signed off 2026-11-02 10:00
//	  I1 bob@acme.com  P1 due 11-10  done 11-09           on time
//	  I2 Bob@Acme.com  P1 due 11-20  open, stalled         overdue 6 days
//	  I3 carol@acme.com P2 no due (default 12-28) in progress
//	  I4 xssOwner      P1 due 11-01  open                  overdue 25 days
//	  I5 bob@acme.com  P0 due 11-05  won't do 11-06        late
//	PM-2 xssTeam SEV2, xssTitle, signed off 2026-10-01 08:00
//	  I1 oddOwner      P3 due 12-01  open
//	  I2 bob@acme.com  P2 due 2026-09-15  done 10-20       late
//	  I3 dave@acme.com P0 no due (default 10-29) open      overdue 28 days
//	  I4 bob@acme.com  P1 no due     open, removed by revision 2
func seedOwners(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	intake := func(d *ft.Document, accepted time.Time) {
		t.Helper()
		engineIntake(t, e, d, accepted)
	}
	item := func(id, owner, priority, due string) ft.ActionItem {
		return ft.ActionItem{ID: id, Title: "Fix " + id, Owner: owner, Priority: priority, Due: due}
	}
	signed1, signed2 := at("2026-11-02T10:00:00Z"), at("2026-10-01T08:00:00Z")
	intake(&ft.Document{ID: "PM-1", Title: "Checkout outage", Status: "finalized", Team: "payments", Severity: "SEV1",
		SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed1, ActionItems: []ft.ActionItem{
			item("I1", "bob@acme.com", "P1", "2026-11-10"), item("I2", "Bob@Acme.com", "P1", "2026-11-20"),
			item("I3", "carol@acme.com", "P2", ""), item("I4", xssOwner, "P1", "2026-11-01"),
			item("I5", "bob@acme.com", "P0", "2026-11-05")}}, at("2026-11-02T11:00:00Z"))
	pm2 := &ft.Document{ID: "PM-2", Title: xssTitle, Status: "finalized", Team: xssTeam, Severity: "SEV2",
		SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed2, ActionItems: []ft.ActionItem{
			item("I1", oddOwner, "P3", "2026-12-01"), item("I2", "bob@acme.com", "P2", "2026-09-15"),
			item("I3", "dave@acme.com", "P0", ""), item("I4", "bob@acme.com", "P1", "")}}
	intake(pm2, at("2026-10-01T09:00:00Z"))
	pm2.ActionItems = pm2.ActionItems[:3]
	intake(pm2, at("2026-10-02T09:00:00Z"))
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		for _, c := range []struct {
			pm, item string
			to       ft.Status
			at       string
		}{
			{"PM-1", "I1", ft.StatusDone, "2026-11-09T10:00:00Z"},
			{"PM-1", "I3", ft.StatusInProgress, "2026-11-10T10:00:00Z"},
			{"PM-1", "I5", ft.StatusWontDo, "2026-11-06T10:00:00Z"},
			{"PM-2", "I2", ft.StatusDone, "2026-10-20T10:00:00Z"},
		} {
			if _, err := store.SetItemStatus(ctx, tx, c.pm, c.item, c.to, "github", "", at(c.at)); err != nil {
				return err
			}
		}
		if _, err := store.LinkTicket(ctx, tx, "PM-1", "I2", ft.Ticket{Ref: ft.TicketRef{Kind: ft.GitHub,
			Key: "acme/actions#2", URL: "https://github.com/acme/actions/issues/2"}}, "acme/actions", pageNow); err != nil {
			return err
		}
		return store.SetItemStall(ctx, tx, "PM-1", "I2", store.ItemStall{Reason: ft.StallOverdue, Episode: 1, Since: pageNow})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// engineIntake accepts a document through the engine at the time accepted, every item going to
// acme/actions.
func engineIntake(t *testing.T, e *env, d *ft.Document, accepted time.Time) {
	t.Helper()
	own := *d
	own.ActionItems = slices.Clone(d.ActionItems)
	for i := range own.ActionItems {
		own.ActionItems[i].Tracker = &ft.Target{Kind: ft.GitHub, Repo: "acme/actions"}
	}
	e.clock.Set(accepted)
	defer e.clock.Set(pageNow)
	if _, err := e.engine.Intake(context.Background(), &own); err != nil {
		t.Fatalf("intake %s: %v", d.ID, err)
	}
}

func TestOwnersPageJSON(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	for _, tc := range []struct{ path, accept string }{{"/owners?format=json", ""}, {"/owners", "application/json"}} {
		r := e.page(tc.path, "Accept", tc.accept)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s %s", tc.path, r.status, r.header.Get("Content-Type"), r.body)
		}
		// The contract's shape, exactly: bob's four items are one owner; dave's default due date
		// (2026-10-29) is older than bob's 2026-11-20, xssOwner's 2026-11-01 in between; carol
		// and the owner who is no email owe nothing overdue.
		want := `{"owners":[` +
			`{"email":"dave@acme.com","open":1,"overdue":1,"stalled":0,"oldest_overdue_due":"2026-10-29"},` +
			`{"email":"\u003cimg src=x onerror=alert(3)\u003e@acme.com","open":1,"overdue":1,"stalled":0,"oldest_overdue_due":"2026-11-01"},` +
			`{"email":"bob@acme.com","open":1,"overdue":1,"stalled":1,"oldest_overdue_due":"2026-11-20"},` +
			`{"email":"carol@acme.com","open":1,"overdue":0,"stalled":0,"oldest_overdue_due":null},` +
			`{"email":"platform / sre?#team","open":1,"overdue":0,"stalled":0,"oldest_overdue_due":null}]}`
		if got := strings.TrimSpace(string(r.body)); got != want {
			t.Fatalf("owners\n%s\nwant\n%s", got, want)
		}
	}
}

// ownerJSON is GET /owners/{email} as a client reads it.
type ownerJSON struct {
	Email string `json:"email"`
	Items []struct {
		ft.ItemView
		PostmortemID string `json:"postmortem_id"`
		DaysOverdue  *int   `json:"days_overdue"`
		DueDate      string `json:"due_date"`
		Overdue      bool   `json:"overdue"`
	} `json:"items"`
}

func TestOwnerPageJSON(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	tests := []struct {
		path  string
		email string
		items []string // postmortem/item days-overdue
	}{
		{"/owners/bob@acme.com", "bob@acme.com", []string{"PM-1/I2 6"}},
		{"/owners/BOB%40acme.COM", "bob@acme.com", []string{"PM-1/I2 6"}},
		{"/owners/" + url.PathEscape(oddOwner), "platform / sre?#team", []string{"PM-2/I1 0"}},
		{"/owners/" + url.PathEscape(xssOwner), "<img src=x onerror=alert(3)>@acme.com", []string{"PM-1/I4 25"}},
		{"/owners/carol@acme.com", "carol@acme.com", []string{"PM-1/I3 0"}},
		// Finished and removed items are not owed: 200 and no items.
		{"/owners/erin@acme.com", "erin@acme.com", nil},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := e.page(tc.path + "?format=json")
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var got ownerJSON
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(r.body), `"items":[`) {
				t.Errorf("items is not a list: %s", r.body)
			}
			if got.Email != tc.email {
				t.Errorf("email %q, want %q", got.Email, tc.email)
			}
			var items []string
			for _, it := range got.Items {
				if it.DaysOverdue == nil {
					t.Fatalf("%s has no days_overdue: %s", it.ID, r.body)
				}
				items = append(items, it.PostmortemID+"/"+it.ID+" "+strconv.Itoa(*it.DaysOverdue))
			}
			if !slices.Equal(items, tc.items) {
				t.Fatalf("items %v, want %v", items, tc.items)
			}
		})
	}

	// A percent sign is escaped too, and decoded once.
	signed := pageNow
	engineIntake(t, e, &ft.Document{ID: "PM-3", Title: "Sale", Status: "finalized",
		SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed, ActionItems: []ft.ActionItem{
			{ID: "I1", Title: "Cap discounts", Owner: "50%25off@acme.com", Priority: "P1"}}}, pageNow)
	for _, path := range []string{"/owners/" + url.PathEscape("50%25off@acme.com"), "/owners/50%2525off@acme.com"} {
		var got ownerJSON
		r := e.page(path + "?format=json")
		if err := json.Unmarshal(r.body, &got); err != nil || got.Email != "50%25off@acme.com" || len(got.Items) != 1 {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	if body := string(e.page("/postmortems/PM-3").body); !strings.Contains(body, `href="/owners/50%2525off@acme.com"`) {
		t.Errorf("PM-3 does not link its owner: %s", body)
	}

	// An item as GET /v1 shows it, plus postmortem_id and days_overdue.
	r := e.page("/owners/bob@acme.com?format=json")
	var raw struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil || len(raw.Items) != 1 {
		t.Fatalf("%s: %v", r.body, err)
	}
	for _, k := range []string{"id", "title", "owner", "priority", "due", "status", "stalled", "stalled_reason", "sync",
		"last_error", "ticket", "postmortem_id", "days_overdue"} {
		if _, ok := raw.Items[0][k]; !ok {
			t.Errorf("item lacks %q: %s", k, r.body)
		}
	}
	if it := raw.Items[0]; it["stalled_reason"] != "overdue" || it["owner"] != "Bob@Acme.com" ||
		it["ticket"].(map[string]any)["url"] != "https://github.com/acme/actions/issues/2" {
		t.Errorf("item: %v", it)
	}
}

var owedRow = regexp.MustCompile(`<tr id="item-([^"]+)" class="owed-item( overdue)?">`)

func TestOwnerPageHTML(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	r := e.page("/owners/bob@acme.com")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkPageHeaders(t, r)
	body := string(r.body)
	var rows []string
	for _, m := range owedRow.FindAllStringSubmatch(body, -1) {
		rows = append(rows, m[1]+m[2])
	}
	if !slices.Equal(rows, []string{"PM-1-I2 overdue"}) {
		t.Fatalf("rows %v", rows)
	}
	for _, want := range []string{`<a href="/postmortems/PM-1">`, "Checkout outage", "2026-11-20", ">6<",
		`<a href="https://github.com/acme/actions/issues/2" rel="noreferrer noopener">acme/actions#2</a>`, "stalled-badge"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	r = e.page("/owners/erin@acme.com")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "erin@acme.com owes nothing") {
		t.Fatalf("erin: %d %s", r.status, r.body)
	}
	// Default due dates say so.
	r = e.page("/owners/dave@acme.com")
	if !strings.Contains(string(r.body), `2026-10-29 <span class="muted">(default)</span>`) {
		t.Errorf("dave's default due date: %s", r.body)
	}
}

func TestOwnersPageHTML(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	r := e.page("/owners")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkPageHeaders(t, r)
	links := regexp.MustCompile(`<td class="owner"><a href="([^"]+)">`).FindAllStringSubmatch(string(r.body), -1)
	var got []string
	for _, m := range links {
		got = append(got, m[1])
	}
	want := []string{"/owners/dave@acme.com", "/owners/%3Cimg%20src=x%20onerror=alert%283%29%3E@acme.com",
		"/owners/bob@acme.com", "/owners/carol@acme.com", "/owners/platform%20%2F%20sre%3F%23team"}
	if !slices.Equal(got, want) {
		t.Fatalf("owner links\n%q\nwant\n%q", got, want)
	}
	// Every link leads to that owner's page.
	for _, href := range got {
		if r := e.page(href + "?format=json"); r.status != http.StatusOK || strings.Contains(string(r.body), `"items":[]`) {
			t.Errorf("%s: %d %s", href, r.status, r.body)
		}
	}

	empty := newEnv(t, testConfig)
	if r := empty.page("/owners"); r.status != http.StatusOK || !strings.Contains(string(r.body), "Nobody owes anything") {
		t.Fatalf("no owners: %d %s", r.status, r.body)
	}
	if r := empty.page("/owners?format=json"); strings.TrimSpace(string(r.body)) != `{"owners":[]}` {
		t.Fatalf("no owners JSON: %s", r.body)
	}
}

// TestPostmortemPageLinksOwners: each owner's name on a postmortem's page leads to what they owe.
func TestPostmortemPageLinksOwners(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	for pm, wants := range map[string][]string{
		"PM-1": {`href="/owners/bob@acme.com"`, `href="/owners/Bob@Acme.com"`, `href="/owners/%3Cimg%20src=x%20onerror=alert%283%29%3E@acme.com"`},
		"PM-2": {`href="/owners/Platform%20%2F%20SRE%3F%23team"`, `>Platform / SRE?#team</a>`},
	} {
		body := string(e.page("/postmortems/" + pm).body)
		for _, want := range wants {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %s", pm, want)
			}
		}
		if strings.Contains(body, "<img") {
			t.Errorf("%s renders an owner as HTML", pm)
		}
	}
	var got ownerJSON
	r := e.page("/owners/Platform%20%2F%20SRE%3F%23team?format=json")
	if err := json.Unmarshal(r.body, &got); err != nil || len(got.Items) != 1 || got.Items[0].PostmortemID != "PM-2" ||
		got.Items[0].ID != "I1" {
		t.Fatalf("the odd owner's page: %s", r.body)
	}
}

func TestOwnerPagesEscape(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	for _, path := range []string{"/owners", "/owners/" + url.PathEscape(xssOwner), "/owners/platform%20%2F%20sre%3F%23team"} {
		r := e.page(path)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d", path, r.status)
		}
		body := string(r.body)
		if strings.Contains(body, "<img") || strings.Contains(body, "<script") {
			t.Errorf("%s renders author text as HTML:\n%s", path, body)
		}
	}
	body := string(e.page("/owners/" + url.PathEscape(xssOwner)).body)
	if !strings.Contains(body, "&lt;img src=x onerror=alert(3)&gt;@acme.com") {
		t.Errorf("the owner is not shown escaped")
	}
	body = string(e.page("/owners/" + url.PathEscape(oddOwner)).body)
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the postmortem title is not shown escaped")
	}
}
