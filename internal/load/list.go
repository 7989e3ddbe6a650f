package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// listPage is the part of a GET /v1/postmortems page that the load command reads.
type listPage struct {
	Postmortems []listPostmortem `json:"postmortems"`
	NextCursor  string           `json:"next_cursor"`
}

type listPostmortem struct {
	ID    string     `json:"id"`
	Items []listItem `json:"items"`
}

type listItem struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Sync    string `json:"sync"`
	Removed bool   `json:"removed"`
	Ticket  *struct {
		Kind string `json:"kind"`
		Key  string `json:"key"`
	} `json:"ticket"`
}

// listPath is the list API's path for a page.
func listPath(limit int, cursor string) string {
	p := "/v1/postmortems?limit=" + strconv.Itoa(limit)
	if cursor != "" {
		p += "&cursor=" + url.QueryEscape(cursor)
	}
	return p
}

// maxListLimit is the list API's largest page.
const maxListLimit = 500

// walkList reads every page of the list API, newest first, with the largest pages, and calls
// visit for each postmortem. took gets each page's latency when set.
func (t Target) walkList(ctx context.Context, client *http.Client, visit func(listPostmortem), took func(time.Duration)) (pages int, err error) {
	cursor := ""
	for {
		start := time.Now()
		status, body, err := t.get(ctx, client, listPath(maxListLimit, cursor))
		if err != nil {
			return pages, err
		}
		if took != nil {
			took(time.Since(start))
		}
		if status != http.StatusOK {
			return pages, fmt.Errorf("GET %s: status %d: %.200s", listPath(maxListLimit, cursor), status, body)
		}
		pages++
		var page listPage
		if err := json.Unmarshal(body, &page); err != nil {
			return pages, fmt.Errorf("list page %d: %w", pages, err)
		}
		for _, pm := range page.Postmortems {
			visit(pm)
		}
		if page.NextCursor == "" {
			return pages, nil
		}
		if page.NextCursor == cursor {
			return pages, fmt.Errorf("list page %d: next_cursor repeats the cursor %q", pages, cursor)
		}
		cursor = page.NextCursor
	}
}

// Ticket is an item's linked ticket, as the list API shows it.
type Ticket struct {
	Kind         string // github | jira
	Key          string // "owner/repo#N" or "PROJ-N"
	PostmortemID string
	ItemID       string
}

// Tickets lists every current ticket of every postmortem through the list API.
func Tickets(ctx context.Context, t Target) ([]Ticket, error) {
	client := t.newClient()
	defer client.CloseIdleConnections()
	var out []Ticket
	_, err := t.walkList(ctx, client, func(pm listPostmortem) {
		for _, it := range pm.Items {
			if it.Ticket != nil && it.Sync == "linked" && !it.Removed {
				out = append(out, Ticket{Kind: it.Ticket.Kind, Key: it.Ticket.Key, PostmortemID: pm.ID, ItemID: it.ID})
			}
		}
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("discover tickets: %w", err)
	}
	return out, nil
}

// ItemCounts counts every item of every postmortem and those whose ticket is linked.
func ItemCounts(ctx context.Context, t Target) (items, linked int, err error) {
	client := t.newClient()
	defer client.CloseIdleConnections()
	_, err = t.walkList(ctx, client, func(pm listPostmortem) {
		for _, it := range pm.Items {
			items++
			if it.Sync == "linked" {
				linked++
			}
		}
	}, nil)
	return items, linked, err
}

// WalkCheck is what a full cursor walk of the list API found.
type WalkCheck struct {
	Pages    int
	Seen     int      // distinct postmortems
	Repeated []string // ids seen more than once
	Missing  []string // expected ids never seen
}

// OK says whether every postmortem was seen exactly once.
func (w WalkCheck) OK() bool { return len(w.Repeated) == 0 && len(w.Missing) == 0 }

// String says what the walk saw, in words.
func (w WalkCheck) String() string {
	s := fmt.Sprintf("%d postmortems in %d pages", w.Seen, w.Pages)
	if w.OK() {
		return s + ", each seen exactly once"
	}
	return s + fmt.Sprintf(", %d seen more than once (e.g. %v), %d missing (e.g. %v)",
		len(w.Repeated), head(w.Repeated, 3), len(w.Missing), head(w.Missing, 3))
}

func head(s []string, n int) []string { return s[:min(n, len(s))] }

// FullWalk pages through the whole list API with cursors (500 a page) and checks that every
// postmortem is seen exactly once and, when expected is given, that each of those is seen.
// The Result's latencies are the pages'.
func FullWalk(ctx context.Context, t Target, expected []string) (Result, WalkCheck, error) {
	client := t.newClient()
	defer client.CloseIdleConnections()
	rec := newRecorder()
	seen := map[string]int{}
	start := time.Now()
	pages, err := t.walkList(ctx, client, func(pm listPostmortem) { seen[pm.ID]++ },
		func(d time.Duration) { rec.answered(http.StatusOK, d) })
	res := merge("full cursor walk", 1, time.Since(start), []*recorder{rec})
	if err != nil {
		return res, WalkCheck{}, err
	}
	check := WalkCheck{Pages: pages, Seen: len(seen)}
	for id, n := range seen {
		if n > 1 {
			check.Repeated = append(check.Repeated, id)
		}
	}
	for _, id := range expected {
		if seen[id] == 0 {
			check.Missing = append(check.Missing, id)
		}
	}
	res.Note("walk", "%s", check)
	return res, check, nil
}
