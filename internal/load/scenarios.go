package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	ft "github.com/followthrough/followthrough"
)

// Healthz measures GET /healthz: the rate this machine's HTTP stack and the server's router
// allow with these clients, the ceiling the other scenarios are compared with.
func Healthz(ctx context.Context, t Target, clients int, duration time.Duration) (Result, error) {
	return run(ctx, t, spec{
		name: "healthz", clients: clients, duration: duration,
		request: func(int, int64) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, t.url("/healthz"), nil)
		},
	})
}

// IntakeOptions shape an intake scenario.
type IntakeOptions struct {
	Name     string        // [intake]
	Clients  int           // keep-alive clients
	Duration time.Duration // stop after this long (0: after Count)
	Count    int64         // stop after this many postmortems (0: after Duration)
	Items    int           // action items per postmortem
	Run      string        // makes this run's postmortem ids distinct from other runs'
	// Bearer sends the token even when an intake secret is known; otherwise intake is signed
	// with Standard Webhooks headers when Target.IntakeSecret is set.
	Bearer bool
}

// Intake posts distinct postmortems (see Postmortem) to POST /v1/postmortems and returns the
// ids of those accepted (2xx).
func Intake(ctx context.Context, t Target, o IntakeOptions) (Result, []string, error) {
	if o.Name == "" {
		o.Name = "intake"
	}
	var key []byte
	if t.IntakeSecret != "" && !o.Bearer {
		var err error
		if key, err = StandardKey(t.IntakeSecret); err != nil {
			return Result{}, nil, err
		}
	} else if t.Token == "" {
		return Result{}, nil, fmt.Errorf("%s: no intake secret and no token", o.Name)
	}
	accepted := make([][]int64, o.Clients)
	base := SignOffBase(time.Now())
	res, err := run(ctx, t, spec{
		name: o.Name, clients: o.Clients, duration: o.Duration, count: o.Count,
		request: func(_ int, seq int64) (*http.Request, error) {
			body := Postmortem(o.Run, seq, o.Items, base)
			req, err := http.NewRequest(http.MethodPost, t.url("/v1/postmortems"), bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			if key != nil {
				SignStandard(req.Header, key, "msg_"+o.Run+"_"+strconv.FormatInt(seq, 10), time.Now(), body)
			} else {
				t.authorize(req)
			}
			return req, nil
		},
		answer: func(client int, seq int64, status int, _ []byte) {
			if statusOK(status) {
				accepted[client] = append(accepted[client], seq)
			}
		},
	})
	var ids []string
	for _, seqs := range accepted {
		for _, seq := range seqs {
			ids = append(ids, PostmortemID(o.Run, seq))
		}
	}
	return res, ids, err
}

// WebhookOptions shape a burst of tracker webhooks for known tickets.
type WebhookOptions struct {
	Clients int
	// Duration is how long the burst lasts, and at least until every ticket had an event.
	Duration time.Duration
	Count    int64
	Tickets  []Ticket // the tickets the events are about (github and jira)
	Run      string   // makes delivery ids distinct from other runs'
	// AppliedTimeout bounds the wait, after the burst, for every ticket to show its last event
	// [30s].
	AppliedTimeout time.Duration
}

// statusCycle is the order of statuses each ticket's events go through; each ticket starts at
// one of cycleStarts (never open, the status of a new ticket), so that every event changes the
// status and tickets end in different statuses.
var (
	statusCycle = []ft.Status{ft.StatusInProgress, ft.StatusDone, ft.StatusOpen, ft.StatusWontDo}
	cycleStarts = []int64{0, 1, 3}
)

// ticketEvent is event round of ticket i: its status, the one before, and its updated time
// (one second apart, strictly increasing per ticket).
func ticketEvent(i int, round int64, base time.Time) (prev, status ft.Status, updated time.Time) {
	start := cycleStarts[i%len(cycleStarts)]
	at := func(r int64) ft.Status { return statusCycle[(start+r)%int64(len(statusCycle))] }
	prev = ft.StatusOpen
	if round > 0 {
		prev = at(round - 1)
	}
	return prev, at(round), base.Add(time.Duration(round+1) * time.Second)
}

// webhookRequest builds the signed delivery of an event about a ticket.
func webhookRequest(t Target, gh *GitHubPayloads, jr *JiraPayloads, tk Ticket, deliveryID string, prev, status ft.Status, updated time.Time) (*http.Request, error) {
	var (
		body []byte
		err  error
		path string
		hdr  = http.Header{"Content-Type": {"application/json"}}
	)
	switch tk.Kind {
	case "github":
		repo, num, ok := strings.Cut(tk.Key, "#")
		n, convErr := strconv.Atoi(num)
		if !ok || convErr != nil {
			return nil, fmt.Errorf("github ticket %q is not owner/repo#N", tk.Key)
		}
		body, err = gh.Issue(GitHubIssueEvent{Repo: repo, Number: n, Prev: prev, Status: status,
			UpdatedAt: updated, Title: "Follow-up " + tk.ItemID + " of " + tk.PostmortemID,
			Body: "<!-- followthrough:" + tk.PostmortemID + "/" + tk.ItemID + " -->"})
		path = "/webhooks/github"
		hdr.Set("X-GitHub-Event", GitHubIssues)
		hdr.Set("X-GitHub-Delivery", deliveryID)
		hdr.Set("User-Agent", "GitHub-Hookshot/ftload")
		hdr.Set("X-Hub-Signature-256", HubSignature(t.GitHubSecret, body))
	case "jira":
		body, err = jr.IssueUpdated(JiraIssueEvent{Key: tk.Key, Prev: prev, Status: status,
			UpdatedAt: updated, Summary: "Follow-up " + tk.ItemID + " of " + tk.PostmortemID})
		path = "/webhooks/jira"
		hdr.Set("X-Atlassian-Webhook-Identifier", deliveryID)
		hdr.Set("X-Hub-Signature", HubSignature(t.JiraSecret, body))
	default:
		return nil, fmt.Errorf("ticket %q: unknown tracker %q", tk.Key, tk.Kind)
	}
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, t.url(path), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = hdr
	return req, nil
}

// deliveryID is a GUID-shaped delivery id, distinct per run and seq.
func deliveryID(run string, seq int64) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(run); i++ {
		h = (h ^ uint64(run[i])) * 1099511628211
	}
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", uint32(h>>32), uint16(h>>16), uint16(h), uint16(seq>>48), uint64(seq)&0xffffffffffff)
}

// Webhooks sends signed GitHub and Jira webhooks about the given tickets, round after round
// (every ticket gets round r before any gets r+1), each event one second newer than the
// ticket's previous one. Afterwards it reads the items back through the list API until every
// ticket shows the status of the last event accepted for it, and reports how long that took
// after the burst and how fast the server applied the events (from
// followthrough_outbox_pending_jobs).
func Webhooks(ctx context.Context, t Target, o WebhookOptions) (Result, error) {
	if len(o.Tickets) == 0 {
		return Result{}, fmt.Errorf("webhooks: no tickets to send events about")
	}
	if o.AppliedTimeout <= 0 {
		o.AppliedTimeout = 30 * time.Second
	}
	gh, err := NewGitHubPayloads()
	if err != nil {
		return Result{}, err
	}
	jr, err := NewJiraPayloads()
	if err != nil {
		return Result{}, err
	}
	n := int64(len(o.Tickets))
	// The last round accepted (2xx) and the last one not, per ticket; -1 for none.
	last := newRoundTracker(len(o.Tickets))
	// Whole seconds, as GitHub writes them, and later than any ticket's creation.
	base := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	pendingBefore, err := PendingJobs(ctx, t)
	if err != nil {
		pendingBefore = -1
	}
	res, err := run(ctx, t, spec{
		name: "webhooks", clients: o.Clients, duration: o.Duration, count: o.Count, atLeast: n,
		request: func(_ int, seq int64) (*http.Request, error) {
			i := int(seq % n)
			prev, status, updated := ticketEvent(i, seq/n, base)
			return webhookRequest(t, gh, jr, o.Tickets[i], deliveryID(o.Run, seq), prev, status, updated)
		},
		answer: func(_ int, seq int64, status int, _ []byte) {
			last.record(int(seq%n), seq/n, statusOK(status))
		},
	})
	if err != nil {
		return res, err
	}
	expected := map[string]ft.Status{}
	uncertain := 0
	for i, tk := range o.Tickets {
		ok, bad := last.get(i)
		switch {
		case ok < 0:
		case bad > ok:
			uncertain++ // a later event got no 2xx: it may or may not have been stored
		default:
			_, status, _ := ticketEvent(i, ok, base)
			expected[tk.Kind+" "+tk.Key] = status
		}
	}
	check, err := waitApplied(ctx, t, expected, pendingBefore, o.AppliedTimeout)
	if err != nil {
		return res, err
	}
	kinds := map[string]int{}
	for _, tk := range o.Tickets {
		kinds[tk.Kind]++
	}
	res.Note("tickets", "%d (%s)", len(o.Tickets), kindCounts(kinds))
	if check.matched == len(expected) {
		res.Note("applied", "%d/%d tickets show their last event %s after the burst",
			check.matched, len(expected), round(check.allMatchedAfter))
	} else {
		res.Note("applied", "%d/%d tickets show their last event %s after the burst (NOT ALL)",
			check.matched, len(expected), round(o.AppliedTimeout))
	}
	if uncertain > 0 {
		res.Note("uncertain", "%d tickets whose last event was not accepted are not checked", uncertain)
	}
	if check.pendingAfter >= 0 && pendingBefore >= 0 {
		processed := res.Accepted - max(0, check.pendingAfter-pendingBefore)
		window := res.Elapsed + check.waited
		res.Note("applied/s", "%s (%d of %d accepted events processed in %s)", formatRate(float64(processed)/window.Seconds()),
			processed, res.Accepted, round(window))
		if check.idleAfter >= 0 {
			res.Note("outbox", "back to %d pending jobs %s after the burst", pendingBefore, round(check.idleAfter))
		} else {
			res.Note("outbox", "%d pending jobs %s after the burst (%d before it)", check.pendingAfter, round(check.waited), pendingBefore)
		}
	}
	return res, nil
}

func kindCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}

// round shortens a duration for a report.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// roundTracker keeps, per ticket, the last round whose event was accepted and the last one
// whose event was not.
type roundTracker struct {
	mu  sync.Mutex
	ok  []int64
	bad []int64
}

func newRoundTracker(n int) *roundTracker {
	r := &roundTracker{ok: make([]int64, n), bad: make([]int64, n)}
	for i := range n {
		r.ok[i], r.bad[i] = -1, -1
	}
	return r
}

func (r *roundTracker) record(i int, round int64, accepted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if accepted {
		r.ok[i] = max(r.ok[i], round)
	} else {
		r.bad[i] = max(r.bad[i], round)
	}
}

func (r *roundTracker) get(i int) (ok, bad int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok[i], r.bad[i]
}

// appliedCheck is what waitApplied saw.
type appliedCheck struct {
	matched         int
	allMatchedAfter time.Duration // -1: not within the timeout
	idleAfter       time.Duration // when the outbox was back to its pending jobs before; -1: not
	pendingAfter    int           // at the end of the wait; -1 unknown
	waited          time.Duration
}

// waitApplied reads the items back until every ticket in expected ("kind key" → status) shows
// its status and the outbox is back to pendingBefore jobs, or timeout passes.
func waitApplied(ctx context.Context, t Target, expected map[string]ft.Status, pendingBefore int, timeout time.Duration) (appliedCheck, error) {
	client := t.newClient()
	defer client.CloseIdleConnections()
	start := time.Now()
	c := appliedCheck{allMatchedAfter: -1, idleAfter: -1, pendingAfter: -1}
	for {
		matched := 0
		_, err := t.walkList(ctx, client, func(pm listPostmortem) {
			for _, it := range pm.Items {
				if it.Ticket != nil && string(expected[it.Ticket.Kind+" "+it.Ticket.Key]) == it.Status {
					matched++
				}
			}
		}, nil)
		if err != nil {
			return c, fmt.Errorf("read statuses back: %w", err)
		}
		c.matched = matched
		if matched == len(expected) && c.allMatchedAfter < 0 {
			c.allMatchedAfter = time.Since(start)
		}
		if pending, err := PendingJobs(ctx, t); err == nil {
			c.pendingAfter = pending
			if pending <= pendingBefore && c.idleAfter < 0 {
				c.idleAfter = time.Since(start)
			}
		}
		c.waited = time.Since(start)
		if (c.allMatchedAfter >= 0 && (c.idleAfter >= 0 || pendingBefore < 0)) || c.waited >= timeout {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Unfollowed sends count signed GitHub deliveries about issues followthrough does not follow,
// as an organisation-wide webhook does (see GitHubPayloads.Unfollowed).
func Unfollowed(ctx context.Context, t Target, clients int, count int64, runID string) (Result, error) {
	gh, err := NewGitHubPayloads()
	if err != nil {
		return Result{}, err
	}
	bytesSent := make([]int64, clients) // per client
	res, err := run(ctx, t, spec{
		name: "unfollowed deliveries", clients: clients, count: count,
		request: func(client int, seq int64) (*http.Request, error) {
			event, body, err := gh.Unfollowed("acme-org", seq, rand.New(rand.NewPCG(uint64(seq), 0x5eed)))
			if err != nil {
				return nil, err
			}
			bytesSent[client] += int64(len(body))
			req, err := http.NewRequest(http.MethodPost, t.url("/webhooks/github"), bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", event)
			req.Header.Set("X-GitHub-Delivery", deliveryID(runID+"-unfollowed", seq))
			req.Header.Set("X-Hub-Signature-256", HubSignature(t.GitHubSecret, body))
			return req, nil
		},
	})
	var total int64
	for _, n := range bytesSent {
		total += n
	}
	if res.Sent > 0 {
		res.Note("payload", "%.1f KB on average", float64(total)/float64(res.Sent)/1024)
	}
	return res, err
}

// Page measures GET of the pages path picks, with the bearer token.
func Page(ctx context.Context, t Target, name string, clients int, duration time.Duration, path func(seq int64) string) (Result, error) {
	return run(ctx, t, spec{
		name: name, clients: clients, duration: duration,
		request: func(_ int, seq int64) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, t.url(path(seq)), nil)
			if err == nil {
				t.authorize(req)
			}
			return req, err
		},
	})
}

// ListPages measures the list API as a client paging through it does: each client follows
// next_cursor with limit postmortems a page and starts over after the last page.
func ListPages(ctx context.Context, t Target, clients int, duration time.Duration, limit int) (Result, error) {
	cursors := make([]string, clients)
	return run(ctx, t, spec{
		name: fmt.Sprintf("list API (limit %d, cursors)", limit), clients: clients, duration: duration, wantBody: true,
		request: func(client int, _ int64) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, t.url(listPath(limit, cursors[client])), nil)
			if err == nil {
				t.authorize(req)
			}
			return req, err
		},
		answer: func(client int, _ int64, status int, body []byte) {
			var page struct {
				NextCursor string `json:"next_cursor"`
			}
			if statusOK(status) && json.Unmarshal(body, &page) == nil {
				cursors[client] = page.NextCursor
			} else {
				cursors[client] = ""
			}
		},
	})
}

// PendingJobs reads followthrough_outbox_pending_jobs from /metrics.
func PendingJobs(ctx context.Context, t Target) (int, error) {
	v, err := Metric(ctx, t, "followthrough_outbox_pending_jobs")
	return int(v), err
}

// Metric reads one unlabelled metric from /metrics.
func Metric(ctx context.Context, t Target, name string) (float64, error) {
	values, err := Metrics(ctx, t, name)
	return values[0], err
}

// Metrics reads unlabelled metrics from one answer of /metrics, in the order of names.
func Metrics(ctx context.Context, t Target, names ...string) ([]float64, error) {
	client := t.newClient()
	defer client.CloseIdleConnections()
	values := make([]float64, len(names))
	status, body, err := t.get(ctx, client, "/metrics")
	if err != nil {
		return values, err
	}
	if status != http.StatusOK {
		return values, fmt.Errorf("GET /metrics: status %d", status)
	}
	lines := strings.Split(string(body), "\n")
	for i, name := range names {
		found := false
		for _, line := range lines {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				if values[i], err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
					return values, fmt.Errorf("/metrics: %s: %w", name, err)
				}
				found = true
				break
			}
		}
		if !found {
			return values, fmt.Errorf("/metrics has no %s", name)
		}
	}
	return values, nil
}
