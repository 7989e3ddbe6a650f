package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// TestStatusPageFiftyAPage: the status page shows 50 postmortems unless limit says otherwise,
// with a link to the next page that keeps the filters, and one back to the first; the exports
// stream every postmortem, whatever the page size.
func TestStatusPageFiftyAPage(t *testing.T) {
	e := newEnv(t, testConfig)
	seedMany(t, e, 120, 1)
	first := regexp.MustCompile(`<a href="([^"]+)">First page</a>`)

	r := e.page("/?severity=SEV1")
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var seen []string
	pages := 0
	path := "/?severity=SEV1"
	for {
		r := e.page(path)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		pages++
		rows := rowIDs(r.body)
		seen = append(seen, rows...)
		if pages > 1 {
			m := first.FindSubmatch(r.body)
			if m == nil || html.UnescapeString(string(m[1])) != "/?severity=SEV1" {
				t.Errorf("page %d: first page link %q", pages, m)
			}
		}
		m := nextLink.FindSubmatch(r.body)
		if m == nil {
			if len(rows) != 10 {
				t.Errorf("last page has %d rows, want 10", len(rows))
			}
			break
		}
		if len(rows) != 50 {
			t.Fatalf("page %d has %d rows, want 50", pages, len(rows))
		}
		path = html.UnescapeString(string(m[1]))
		if !strings.Contains(path, "severity=SEV1") || !strings.Contains(path, "cursor=") {
			t.Fatalf("next link %q loses the filter or has no cursor", path)
		}
	}
	if pages != 2 || len(seen) != 60 {
		t.Fatalf("%d pages, %d postmortems; want 2 pages of the 60 SEV1 postmortems", pages, len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] >= seen[i-1] {
			t.Fatalf("not newest first: %s after %s", seen[i], seen[i-1])
		}
	}

	// The exports are not paged: every postmortem, once.
	r = e.page("/?format=csv")
	recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil || len(recs) != 121 {
		t.Fatalf("CSV export: %d records, %v", len(recs), err)
	}
	if got := len(exportJSON(t, e.page("/?format=json&team=search"))); got != 40 {
		t.Errorf("JSON export of team search: %d postmortems, want 40", got)
	}
	// An export that matches nothing is still a CSV with its header.
	r = e.page("/?format=csv&team=nobody")
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != strings.Join(csvColumns, ",") ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Errorf("empty CSV export: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
}

// TestItemWaitingShown: an item whose create the tracker's limits hold back says why and until
// when, on the API and on its page; once it is linked it waits no more.
func TestItemWaitingShown(t *testing.T) {
	e := newEnv(t, testConfig)
	seedPages(t, e)
	ctx := context.Background()
	until := pageNow.Add(42*time.Minute + 7*time.Second)
	reason := `GitHub's hourly write budget is spent (github.writes_per_hour: 500) <soon>`
	if err := e.store.Write(ctx, func(tx *store.Tx) error {
		return store.SetItemWaiting(ctx, tx, "PM-B", "AI-1", ft.Waiting{Reason: reason, Until: until})
	}); err != nil {
		t.Fatal(err)
	}
	pm := e.get("/v1/postmortems/PM-B").postmortem(t)
	for _, it := range pm.Items {
		switch {
		case it.ID == "AI-1" && (it.Waiting == nil || it.Waiting.Reason != reason || !it.Waiting.Until.Equal(until)):
			t.Errorf("AI-1 waiting = %+v", it.Waiting)
		case it.ID != "AI-1" && it.Waiting != nil:
			t.Errorf("%s waiting = %+v", it.ID, it.Waiting)
		}
	}
	body := string(e.page("/postmortems/PM-B").body)
	item := itemHTML(t, []byte(body), "AI-1")
	if !strings.Contains(item, "2026-11-26 12:42:07 UTC") || !strings.Contains(item, html.EscapeString(reason)) || strings.Contains(item, "<soon>") {
		t.Errorf("AI-1 on its page does not say why it waits, escaped:\n%s", item)
	}
	if strings.Contains(itemHTML(t, []byte(body), "AI-2"), "Waiting") {
		t.Error("AI-2 shows a wait it does not have")
	}

	// Linked: nothing to wait for.
	if err := e.store.Write(ctx, func(tx *store.Tx) error {
		_, err := store.LinkTicket(ctx, tx, "PM-B", "AI-1", ft.Ticket{Ref: ft.TicketRef{Kind: ft.GitHub, Key: "acme/actions#99",
			URL: "https://github.com/acme/actions/issues/99"}}, "acme/actions", pageNow)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, it := range e.get("/v1/postmortems/PM-B").postmortem(t).Items {
		if it.Waiting != nil {
			t.Errorf("%s still waiting once linked: %+v", it.ID, it.Waiting)
		}
	}
}
