package test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

// The tests in this file check the two ways of the contract ("Tracker webhooks", PATCH,
// "Outbound events") with the real binary: people's changes at GitHub and Jira reach the item
// through signed webhooks (or, without a webhook, through reconciliation); duplicate, late and
// badly signed deliveries change nothing; a PATCH moves the ticket and its echo is recognised as
// ours; and a notify receiver gets exactly one correctly signed item.status_changed per change,
// retried with the same webhook-id.

const (
	// twPerson is a GitHub user who is not followthrough.
	twPerson = "octo-person"
	// twJiraBot is the account the Jira stand-in authenticates followthrough as.
	twJiraBot = "ft-bot-account"
)

// twClock is the stand-ins' clock: real time plus an offset that tick moves forward, so that
// two changes made in the same second still have distinct updated times (GitHub's have
// one-second precision) without the test waiting for it.
type twClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *twClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *twClock) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += 2 * time.Second
}

// ---- the environment ---------------------------------------------------------------------

// twEnv is a GitHub and a Jira stand-in on one clock, a notify receiver, and a followthrough
// that uses them with webhook secrets for both trackers. Items of team payments go to Jira PAY,
// the rest to GitHub acme/actions (as in trackerEnv, whose helpers it reuses).
type twEnv struct {
	*trackerEnv
	clock    *twClock
	recv     *notifyReceiver
	delivery atomic.Int64
}

// newTWEnv starts the stand-ins, the receiver and the server on a new database of the backend;
// reconcileEvery is the config's reconcile.every.
func newTWEnv(t *testing.T, b backend, reconcileEvery string) *twEnv {
	t.Helper()
	clock := &twClock{}
	recv := newNotifyReceiver(t)
	e := &twEnv{trackerEnv: newTrackerEnv(t, envOptions{backend: b,
		github:    githubfake.Options{Now: clock.now},
		jira:      jirafake.Options{Now: clock.now},
		reconcile: reconcileEvery,
		notify:    recv, notifyEvents: "item.status_changed, postmortem.completed",
	}), clock: clock, recv: recv}
	e.start()
	return e
}

// intake sends a postmortem and waits until every item has its ticket.
func (e *twEnv) intake(doc pmDoc) pmView {
	e.t.Helper()
	e.post(doc, http.StatusAccepted)
	return e.waitLinked(doc.ID, 20*time.Second)
}

// nextDelivery is a fresh delivery id.
func (e *twEnv) nextDelivery() string {
	return fmt.Sprintf("%s-delivery-%d", e.t.Name(), e.delivery.Add(1))
}

// patch sets an item's status through the API.
func (e *twEnv) patch(pmID, itemID, status string) itemView {
	e.t.Helper()
	code, body := e.s.do(http.MethodPatch, "/v1/postmortems/"+pmID+"/items/"+itemID, testToken,
		[]byte(fmt.Sprintf(`{"status":%q}`, status)))
	if code != http.StatusOK {
		e.t.Fatalf("PATCH %s/%s %s = %d: %s", pmID, itemID, status, code, body)
	}
	var it itemView
	if err := json.Unmarshal(body, &it); err != nil {
		e.t.Fatalf("PATCH answer: %v: %s", err, body)
	}
	return it
}

// waitStatus waits until the API shows the item with status want.
func (e *twEnv) waitStatus(pmID, itemID, want string) itemView {
	e.t.Helper()
	var it itemView
	eventually(e.t, 10*time.Second, fmt.Sprintf("%s/%s is %s", pmID, itemID, want), func() bool {
		it = e.get(pmID).item(e.t, itemID)
		return it.Status == want
	})
	return it
}

// waitInProgressLabel waits until the GitHub ticket is open with the `in progress` label, as
// a PATCH to in_progress leaves it.
func (e *twEnv) waitInProgressLabel(key string) {
	e.t.Helper()
	eventually(e.t, 10*time.Second, key+" reopened with the in progress label", func() bool {
		is := e.ghIssue(key)
		return is.State == "open" && slices.Contains(is.Labels, "in progress")
	})
}

// lastActivity is the item's last_activity_at as the API shows it ("" for none).
func (e *twEnv) lastActivity(pmID, itemID string) string {
	e.t.Helper()
	var v struct {
		Items []struct {
			ID           string
			LastActivity string `json:"last_activity_at"`
		}
	}
	e.s.getJSON("/v1/postmortems/"+pmID, testToken, &v)
	for _, it := range v.Items {
		if it.ID == itemID {
			return it.LastActivity
		}
	}
	e.t.Fatalf("%s has no item %s", pmID, itemID)
	return ""
}

// expectEvents waits until the receiver has accepted as many item.status_changed events as
// want and checks that they are exactly those, in order. The receiver's events go out one
// after the other, so once the last one is in, any extra event queued before it would be too.
func (e *twEnv) expectEvents(want ...statusChange) {
	e.t.Helper()
	var got []notifyEvent
	eventually(e.t, 10*time.Second, fmt.Sprintf("%d item.status_changed events", len(want)), func() bool {
		got = e.recv.statusEvents()
		return len(got) >= len(want)
	})
	var changes []statusChange
	for _, ev := range got {
		changes = append(changes, *ev.Data.Change)
	}
	if !slices.Equal(changes, want) {
		e.t.Fatalf("item.status_changed events:\n got %+v\nwant %+v", changes, want)
	}
}

// twHistoryEntry is one row of an item's status history on the status page.
type twHistoryEntry struct{ From, To, Source, By string }

// twHistoryRow is one row of templates/postmortem.html's history table.
var twHistoryRow = regexp.MustCompile(`<tr><td class="when">[^<]*</td><td>(\w+) → (\w+)</td><td>(\w+)</td><td>([^<]*)</td></tr>`)

// history reads an item's status history from the status page (GET /postmortems/{id}), the
// contract's place for it.
func (e *twEnv) history(pmID, itemID string) []twHistoryEntry {
	e.t.Helper()
	code, body := e.s.do(http.MethodGet, "/postmortems/"+pmID, testToken, nil)
	if code != http.StatusOK {
		e.t.Fatalf("GET /postmortems/%s = %d: %s", pmID, code, body)
	}
	page := string(body)
	start := strings.Index(page, `id="item-`+itemID+`"`)
	if start < 0 {
		e.t.Fatalf("the status page of %s has no item %s", pmID, itemID)
	}
	page = page[start:]
	if end := strings.Index(page, "</article>"); end >= 0 {
		page = page[:end]
	}
	var out []twHistoryEntry
	for _, m := range twHistoryRow.FindAllStringSubmatch(page, -1) {
		by := html.UnescapeString(m[4])
		if by == "—" {
			by = ""
		}
		out = append(out, twHistoryEntry{From: m[1], To: m[2], Source: m[3], By: by})
	}
	return out
}

func (e *twEnv) expectHistory(pmID, itemID string, want ...twHistoryEntry) {
	e.t.Helper()
	if got := e.history(pmID, itemID); !slices.Equal(got, want) {
		e.t.Fatalf("%s/%s history:\n got %+v\nwant %+v", pmID, itemID, got, want)
	}
}

// ---- webhooks ----------------------------------------------------------------------------

// twWebhook is one tracker webhook request.
type twWebhook struct {
	path    string // /webhooks/github or /webhooks/jira, with a query string when wanted
	headers map[string]string
	body    []byte
}

// send posts the webhook and returns the status code and the answer's "status" field.
func (e *twEnv) send(w twWebhook) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.s.base+w.path, bytes.NewReader(w.body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range w.headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: checkedTransport(e.t)}).Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", w.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer struct{ Status string }
	_ = json.Unmarshal(raw, &answer)
	return resp.StatusCode, answer.Status
}

// mustSend sends the webhook and checks it is answered 200 with that status ("accepted",
// "ignored").
func (e *twEnv) mustSend(w twWebhook, want string) {
	e.t.Helper()
	code, status := e.send(w)
	if code != http.StatusOK || status != want {
		e.t.Fatalf("POST %s (%v) = %d %q, want 200 %q", w.path, w.headers, code, status, want)
	}
}

// hubSig is "sha256=<hex HMAC-SHA256 of body>", GitHub's X-Hub-Signature-256 and Jira's
// X-Hub-Signature.
func hubSig(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// githubHook is an "issues" delivery signed with the configured secret.
func githubHook(delivery string, body []byte) twWebhook {
	return twWebhook{path: "/webhooks/github", body: body, headers: map[string]string{
		"X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery,
		"X-Hub-Signature-256": hubSig(githubWebhookSecret, body)}}
}

// jiraHook is a delivery signed with the configured secret; an empty delivery sends no
// X-Atlassian-Webhook-Identifier.
func jiraHook(delivery string, body []byte) twWebhook {
	h := map[string]string{"X-Hub-Signature": hubSig(jiraWebhookSecret, body)}
	if delivery != "" {
		h["X-Atlassian-Webhook-Identifier"] = delivery
	}
	return twWebhook{path: "/webhooks/jira", body: body, headers: h}
}

func readTWFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// githubPayload adapts a real GitHub "issues" delivery (testdata/<fixture>) to the issue as the
// stand-in holds it now: repository, number, html_url, state, state_reason, labels, body and
// times, with action and sender.
func (e *twEnv) githubPayload(fixture, action, key, sender string) []byte {
	e.t.Helper()
	is := e.ghIssue(key)
	m := readTWFixture(e.t, fixture)
	m["action"] = action
	owner, name, _ := strings.Cut(is.Repo, "/")
	r := m["repository"].(map[string]any)
	r["full_name"], r["name"] = is.Repo, name
	r["owner"].(map[string]any)["login"] = owner
	issue := m["issue"].(map[string]any)
	issue["number"] = is.Number
	issue["title"] = is.Title
	issue["html_url"] = e.gh.HTMLBase() + "/" + is.Repo + "/issues/" + strconv.Itoa(is.Number)
	issue["state"] = is.State
	issue["state_reason"] = nil
	if is.StateReason != "" {
		issue["state_reason"] = is.StateReason
	}
	labels := []any{}
	for _, l := range is.Labels {
		labels = append(labels, map[string]any{"name": l, "color": "ededed"})
	}
	issue["labels"] = labels
	issue["body"] = is.Body
	issue["created_at"] = is.CreatedAt.UTC().Format(time.RFC3339)
	issue["updated_at"] = is.UpdatedAt.UTC().Format(time.RFC3339)
	if action == "labeled" {
		m["label"] = map[string]any{"name": "in progress", "color": "ededed"}
	}
	m["sender"].(map[string]any)["login"] = sender
	return mustJSON(e.t, m)
}

// twCategory is the status category of the Jira stand-in's statuses.
var twCategory = map[string]string{"To Do": "new", "In Progress": "indeterminate", "Done": "done", "Won't Do": "done"}

// jiraPayload adapts a real jira:issue_updated delivery (testdata/<fixture>) to the issue as the
// stand-in holds it now: key, status and category, resolution, updated, description, and the
// webhook's timestamp, made by accountID.
func (e *twEnv) jiraPayload(fixture, key, accountID string) []byte {
	e.t.Helper()
	is := e.jiraIssue(key)
	m := readTWFixture(e.t, fixture)
	m["timestamp"] = e.clock.now().UnixMilli()
	m["user"].(map[string]any)["accountId"] = accountID
	issue := m["issue"].(map[string]any)
	issue["key"] = key
	issue["id"] = is.ID
	fields := issue["fields"].(map[string]any)
	fields["status"] = map[string]any{"name": is.Status, "statusCategory": map[string]any{"key": twCategory[is.Status]}}
	fields["resolution"] = nil
	if is.Resolution != "" {
		fields["resolution"] = map[string]any{"name": is.Resolution}
	}
	fields["summary"] = is.Summary
	fields["description"] = is.Description
	fields["updated"] = is.Updated.Format(jirafake.TimeFormat)
	if cl, ok := m["changelog"].(map[string]any); ok {
		for _, it := range cl["items"].([]any) {
			if item := it.(map[string]any); item["field"] == "status" {
				item["toString"] = is.Status
			}
		}
	}
	return mustJSON(e.t, m)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ---- 1. GitHub ---------------------------------------------------------------------------

// TestTwoWayGitHubWebhooks makes people's changes at the GitHub stand-in and sends the signed
// webhook GitHub would send for each: close as completed, reopen, close as not planned, close
// as duplicate, and the `in progress` label. Each moves the item, with history source github by
// that person, and one item.status_changed.
func TestTwoWayGitHubWebhooks(t *testing.T) { forEachBackend(t, testTwoWayGitHubWebhooks) }

func testTwoWayGitHubWebhooks(t *testing.T, b backend) {
	t.Parallel()
	e := newTWEnv(t, b, "1h")
	const pm = "PM-TW-GH"
	v := e.intake(newPM(pm, "GitHub both ways",
		aiDoc{ID: "AI-1", Title: "Fix the retry storm", Owner: "bob@acme.com", Priority: "P1", Due: "2027-01-15"}))
	key := v.item(t, "AI-1").Ticket.Key
	repo, num := ghRef(t, key)

	steps := []struct {
		name    string
		act     func() error
		fixture string
		action  string
		want    string
	}{
		{"closed as completed", func() error { return e.gh.CloseIssue(repo, num, "completed", twPerson) },
			"issues.closed.json", "closed", "done"},
		{"reopened", func() error { return e.gh.ReopenIssue(repo, num) },
			"reopened.payload.json", "reopened", "open"},
		{"closed as not planned", func() error { return e.gh.CloseIssue(repo, num, "not_planned", twPerson) },
			"issues.closed.json", "closed", "wont_do"},
		{"reopened again", func() error { return e.gh.ReopenIssue(repo, num) },
			"reopened.payload.json", "reopened", "open"},
		{"closed as duplicate", func() error { return e.gh.CloseIssue(repo, num, "duplicate", twPerson) },
			"issues.closed.json", "closed", "wont_do"},
		{"reopened once more", func() error { return e.gh.ReopenIssue(repo, num) },
			"reopened.payload.json", "reopened", "open"},
		{"in progress label", func() error { return e.gh.AddLabel(repo, num, "in progress") },
			"labeled.payload.json", "labeled", "in_progress"},
	}
	// Creating the ticket (with its assignee) made GitHub send opened and assigned, both by us;
	// someone else's issue in the same repository is closed. None of it moves anything: the
	// first step below is the first change and the first event.
	e.mustSend(githubHook(e.nextDelivery(), e.githubPayload("opened.payload.json", "opened", key, githubfake.DefaultLogin)), "accepted")
	e.mustSend(githubHook(e.nextDelivery(), e.githubPayload("assigned.payload.json", "assigned", key, githubfake.DefaultLogin)), "accepted")
	foreign, err := e.gh.CreateIssue(repo, githubfake.NewIssue{Title: "Not ours", User: twPerson, Labels: []string{"postmortem"}})
	must(t, err)
	must(t, e.gh.CloseIssue(repo, foreign.Number, "completed", twPerson))
	foreignKey := repo + "#" + strconv.Itoa(foreign.Number)
	// An issue followthrough does not follow: acknowledged, and nothing of it kept but its id.
	e.mustSend(githubHook(e.nextDelivery(), e.githubPayload("issues.closed.json", "closed", foreignKey, twPerson)), "ignored")
	ping, err := os.ReadFile(filepath.Join("testdata", "ping.payload.json"))
	must(t, err)
	e.mustSend(twWebhook{path: "/webhooks/github", body: ping, headers: map[string]string{"X-GitHub-Event": "ping",
		"X-GitHub-Delivery": e.nextDelivery(), "X-Hub-Signature-256": hubSig(githubWebhookSecret, ping)}}, "pong")

	var history []twHistoryEntry
	var events []statusChange
	prev := "open"
	for _, step := range steps {
		e.clock.tick()
		if err := step.act(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		e.mustSend(githubHook(e.nextDelivery(), e.githubPayload(step.fixture, step.action, key, twPerson)), "accepted")
		e.waitStatus(pm, "AI-1", step.want)
		history = append(history, twHistoryEntry{From: prev, To: step.want, Source: "github", By: twPerson})
		events = append(events, statusChange{Item: "AI-1", From: prev, To: step.want, Source: "github"})
		e.expectHistory(pm, "AI-1", history...)
		e.expectEvents(events...)
		prev = step.want
	}
	if e.lastActivity(pm, "AI-1") == "" {
		t.Error("people's status changes left no last_activity_at")
	}
	if n := len(e.get(pm).Items); n != 1 {
		t.Errorf("%d items after someone else's issue was closed, want 1", n)
	}
	// The webhooks did it: followthrough wrote nothing to the ticket on the way.
	if is := e.ghIssue(key); is.State != "open" || !slices.Contains(is.Labels, "in progress") || len(is.Comments) != 0 {
		t.Errorf("ticket after the steps: state %s, labels %v, %d comments", is.State, is.Labels, len(is.Comments))
	}
}

// ---- 2. Jira -----------------------------------------------------------------------------

// TestTwoWayJiraWebhooks moves Jira tickets as people do and sends signed jira:issue_updated
// webhooks: To Do → In Progress → Done, and Won't Do. Then, with a workflow where Done is
// reachable only through In Progress (behind a resolution screen), a PATCH to done takes the
// ticket there in two transitions.
func TestTwoWayJiraWebhooks(t *testing.T) { forEachBackend(t, testTwoWayJiraWebhooks) }

func testTwoWayJiraWebhooks(t *testing.T, b backend) {
	t.Parallel()
	e := newTWEnv(t, b, "1h")
	const pm = "PM-TW-JIRA"
	v := e.intake(newPM(pm, "Jira both ways",
		aiDoc{ID: "AI-1", Title: "Cap the card retries", Owner: "bob@acme.com", Team: "payments"},
		aiDoc{ID: "AI-2", Title: "Rewrite the ledger", Owner: "alice@acme.com", Team: "payments"},
		aiDoc{ID: "AI-3", Title: "Page on capture failures", Owner: "bob@acme.com", Team: "payments"},
		aiDoc{ID: "AI-4", Title: "Replace the card vault", Owner: "alice@acme.com", Team: "payments"}))
	keys := map[string]string{}
	for _, it := range v.Items {
		if it.Ticket.Kind != "jira" {
			t.Fatalf("%s went to %s, want jira", it.ID, it.Ticket.Key)
		}
		keys[it.ID] = it.Ticket.Key
		if is := e.jiraIssue(it.Ticket.Key); is.Status != "To Do" {
			t.Fatalf("%s starts in %q, want To Do", it.Ticket.Key, is.Status)
		}
	}

	steps := []struct {
		item, status, resolution, fixture, want string
	}{
		{"AI-1", "In Progress", "", "webhook-issue-updated-started-working.json", "in_progress"},
		{"AI-1", "Done", "", "webhook-issue-updated-resolved.json", "done"},
		{"AI-2", "Won't Do", "", "webhook-issue-updated-resolved.json", "wont_do"},
	}
	var events []statusChange
	history := map[string][]twHistoryEntry{}
	for _, step := range steps {
		e.clock.tick()
		must(t, e.jr.Transition(keys[step.item], step.status, step.resolution))
		e.mustSend(jiraHook(e.nextDelivery(), e.jiraPayload(step.fixture, keys[step.item], jiraPerson)), "accepted")
		e.waitStatus(pm, step.item, step.want)
		h := history[step.item]
		from := "open"
		if len(h) > 0 {
			from = h[len(h)-1].To
		}
		history[step.item] = append(h, twHistoryEntry{From: from, To: step.want, Source: "jira", By: jiraPerson})
		events = append(events, statusChange{Item: step.item, From: from, To: step.want, Source: "jira"})
		e.expectHistory(pm, step.item, history[step.item]...)
		e.expectEvents(events...)
	}

	// Two steps: To Do → In Progress → Done (Resolve asks for a resolution).
	e.jr.SetWorkflow(jirafake.TwoStepWorkflow())
	transitions := "/rest/api/2/issue/" + keys["AI-3"] + "/transitions"
	before := e.jr.Calls(http.MethodPost, transitions)
	if it := e.patch(pm, "AI-3", "done"); it.Status != "done" {
		t.Fatalf("PATCH answered status %q", it.Status)
	}
	eventually(t, 10*time.Second, keys["AI-3"]+" reaches Done", func() bool {
		return e.jiraIssue(keys["AI-3"]).Status == "Done"
	})
	is := e.jiraIssue(keys["AI-3"])
	if n := e.jr.Calls(http.MethodPost, transitions) - before; n != 2 {
		t.Errorf("%d transitions to reach Done, want 2 (Start Progress, Resolve)\ncalls:\n%s", n, e.describeCalls())
	}
	if is.Resolution != "Done" && is.Resolution != "Fixed" {
		t.Errorf("%s resolved as %q, want Done or Fixed", is.Key, is.Resolution)
	}
	events = append(events, statusChange{Item: "AI-3", From: "open", To: "done", Source: "api"})
	e.expectEvents(events...)
	// There is no Won't Do status in this workflow: won't do is Done with a won't-do resolution,
	// also two transitions away.
	transitions4 := "/rest/api/2/issue/" + keys["AI-4"] + "/transitions"
	before = e.jr.Calls(http.MethodPost, transitions4)
	e.patch(pm, "AI-4", "wont_do")
	eventually(t, 10*time.Second, keys["AI-4"]+" reaches Done", func() bool {
		return e.jiraIssue(keys["AI-4"]).Status == "Done"
	})
	is = e.jiraIssue(keys["AI-4"])
	if n := e.jr.Calls(http.MethodPost, transitions4) - before; n != 2 {
		t.Errorf("%d transitions to reach Done as won't do, want 2\ncalls:\n%s", n, e.describeCalls())
	}
	if !slices.Contains([]string{"Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce", "Declined"}, is.Resolution) {
		t.Errorf("%s closed as won't do with resolution %q, want a won't-do resolution", is.Key, is.Resolution)
	}
	events = append(events, statusChange{Item: "AI-4", From: "open", To: "wont_do", Source: "api"})
	e.expectEvents(events...)
	if st := e.get(pm).State; st != "completed" {
		t.Errorf("state %q with every item finished, want completed", st)
	}

	// Jira tells us of both transitions, made by our own account: the first one (In Progress,
	// shown here with the issue's latest updated time) would move the item back if it were
	// people's.
	var m map[string]any
	must(t, json.Unmarshal(e.jiraPayload("webhook-issue-updated-started-working.json", keys["AI-3"], twJiraBot), &m))
	fields := m["issue"].(map[string]any)["fields"].(map[string]any)
	fields["status"] = map[string]any{"name": "In Progress", "statusCategory": map[string]any{"key": "indeterminate"}}
	fields["resolution"] = nil
	e.mustSend(jiraHook(e.nextDelivery(), mustJSON(t, m)), "accepted")
	e.mustSend(jiraHook(e.nextDelivery(), e.jiraPayload("webhook-issue-updated-resolved.json", keys["AI-3"], twJiraBot)), "accepted")
	// A person reopens AI-1 afterwards: the echoes were applied before it.
	e.clock.tick()
	must(t, e.jr.Transition(keys["AI-1"], "To Do", ""))
	e.mustSend(jiraHook(e.nextDelivery(), e.jiraPayload("webhook-issue-updated-reopened.json", keys["AI-1"], jiraPerson)), "accepted")
	e.waitStatus(pm, "AI-1", "open")
	events = append(events, statusChange{Item: "AI-1", From: "done", To: "open", Source: "jira"})
	e.expectEvents(events...)
	e.expectHistory(pm, "AI-3", twHistoryEntry{From: "open", To: "done", Source: "api"})
	if at := e.lastActivity(pm, "AI-3"); at != "" {
		t.Errorf("AI-3: our own transitions counted as activity (last_activity_at %s)", at)
	}
}

// ---- 3. duplicates and late deliveries ---------------------------------------------------

// TestTwoWayDuplicateAndOutOfOrderDeliveries sends deliveries again (same X-GitHub-Delivery,
// same X-Atlassian-Webhook-Identifier, and a Jira delivery without that header repeated) and
// late (an older updated time after a newer one, under a new delivery id). None of them
// changes the status, the history or what the receiver gets.
func TestTwoWayDuplicateAndOutOfOrderDeliveries(t *testing.T) {
	forEachBackend(t, testTwoWayDuplicateAndOutOfOrderDeliveries)
}

func testTwoWayDuplicateAndOutOfOrderDeliveries(t *testing.T, b backend) {
	t.Parallel()
	e := newTWEnv(t, b, "1h")
	const pm = "PM-TW-DUP"
	v := e.intake(newPM(pm, "Duplicates",
		aiDoc{ID: "AI-1", Title: "GitHub one", Owner: "bob@acme.com"},
		aiDoc{ID: "AI-2", Title: "Jira one", Owner: "bob@acme.com", Team: "payments"},
		aiDoc{ID: "AI-3", Title: "GitHub two", Owner: "alice@acme.com"}))
	ghKey, jiraKey, ghKey3 := v.item(t, "AI-1").Ticket.Key, v.item(t, "AI-2").Ticket.Key, v.item(t, "AI-3").Ticket.Key
	repo, num := ghRef(t, ghKey)

	// GitHub: closed, then reopened; the closed delivery comes again and late.
	e.clock.tick()
	must(t, e.gh.CloseIssue(repo, num, "completed", twPerson))
	closed := githubHook("gh-closed", e.githubPayload("issues.closed.json", "closed", ghKey, twPerson))
	e.mustSend(closed, "accepted")
	e.waitStatus(pm, "AI-1", "done")
	e.clock.tick()
	must(t, e.gh.ReopenIssue(repo, num))
	e.mustSend(githubHook("gh-reopened", e.githubPayload("reopened.payload.json", "reopened", ghKey, twPerson)), "accepted")
	e.waitStatus(pm, "AI-1", "open")
	e.mustSend(closed, "ignored") // redelivered: the same X-GitHub-Delivery
	late := closed
	late.headers = map[string]string{"X-GitHub-Event": "issues", "X-GitHub-Delivery": "gh-closed-late",
		"X-Hub-Signature-256": closed.headers["X-Hub-Signature-256"]}
	e.mustSend(late, "accepted") // stored, but older than what is known

	// Jira: Done and then In Progress at the tracker; In Progress is delivered first.
	e.clock.tick()
	must(t, e.jr.Transition(jiraKey, "Done", ""))
	done := jiraHook("jira-done", e.jiraPayload("webhook-issue-updated-resolved.json", jiraKey, jiraPerson))
	e.clock.tick()
	must(t, e.jr.Transition(jiraKey, "In Progress", ""))
	started := jiraHook("jira-started", e.jiraPayload("webhook-issue-updated-started-working.json", jiraKey, jiraPerson))
	e.mustSend(started, "accepted")
	e.waitStatus(pm, "AI-2", "in_progress")
	e.mustSend(done, "accepted") // late
	e.mustSend(done, "ignored")  // and twice
	e.mustSend(started, "ignored")
	// Without X-Atlassian-Webhook-Identifier the same issue, event and timestamp is the same
	// delivery.
	e.clock.tick()
	must(t, e.jr.Transition(jiraKey, "To Do", ""))
	reopened := jiraHook("", e.jiraPayload("webhook-issue-updated-reopened.json", jiraKey, jiraPerson))
	e.mustSend(reopened, "accepted")
	e.waitStatus(pm, "AI-2", "open")
	e.mustSend(reopened, "ignored")

	// A person closes AI-3's ticket, and before GitHub's webhook for it arrives we set the item
	// in progress (reopening the ticket): the late webhook is older than our own write.
	repo3, num3 := ghRef(t, ghKey3)
	e.clock.tick()
	must(t, e.gh.CloseIssue(repo3, num3, "completed", twPerson))
	closed3 := githubHook("gh-closed-3", e.githubPayload("issues.closed.json", "closed", ghKey3, twPerson))
	e.clock.tick()
	e.patch(pm, "AI-3", "in_progress")
	e.waitInProgressLabel(ghKey3)
	e.mustSend(closed3, "accepted")

	// A real change after all of them on each ticket: webhooks of one tracker are applied in
	// the order they came and events go out in order, so by the time these two arrive anything
	// the duplicates or late ones did would show.
	e.clock.tick()
	must(t, e.gh.AddLabel(repo, num, "in progress"))
	e.mustSend(githubHook("gh-labeled", e.githubPayload("labeled.payload.json", "labeled", ghKey, twPerson)), "accepted")
	// GitHub's and Jira's deliveries are applied independently: one after the other keeps the
	// events in a known order.
	e.waitStatus(pm, "AI-1", "in_progress")
	e.clock.tick()
	must(t, e.jr.Transition(jiraKey, "Won't Do", ""))
	e.mustSend(jiraHook("jira-wontdo", e.jiraPayload("webhook-issue-updated-resolved.json", jiraKey, jiraPerson)), "accepted")
	e.waitStatus(pm, "AI-2", "wont_do")

	e.expectEvents(
		statusChange{Item: "AI-1", From: "open", To: "done", Source: "github"},
		statusChange{Item: "AI-1", From: "done", To: "open", Source: "github"},
		statusChange{Item: "AI-2", From: "open", To: "in_progress", Source: "jira"},
		statusChange{Item: "AI-2", From: "in_progress", To: "open", Source: "jira"},
		statusChange{Item: "AI-3", From: "open", To: "in_progress", Source: "api"},
		statusChange{Item: "AI-1", From: "open", To: "in_progress", Source: "github"},
		statusChange{Item: "AI-2", From: "open", To: "wont_do", Source: "jira"},
	)
	e.expectHistory(pm, "AI-1",
		twHistoryEntry{"open", "done", "github", twPerson},
		twHistoryEntry{"done", "open", "github", twPerson},
		twHistoryEntry{"open", "in_progress", "github", twPerson})
	e.expectHistory(pm, "AI-2",
		twHistoryEntry{"open", "in_progress", "jira", jiraPerson},
		twHistoryEntry{"in_progress", "open", "jira", jiraPerson},
		twHistoryEntry{"open", "wont_do", "jira", jiraPerson})
	e.expectHistory(pm, "AI-3", twHistoryEntry{From: "open", To: "in_progress", Source: "api"})
}

// ---- 4. bad signatures -------------------------------------------------------------------

// TestTwoWayBadSignaturesAre401 sends forged deliveries that claim the tickets were finished:
// wrong secret, no signature, a body changed after signing, a malformed signature, a wrong
// ?secret=. Each is 401 and stores nothing: the same delivery ids, properly signed, are then
// accepted as new, and the items keep their status.
func TestTwoWayBadSignaturesAre401(t *testing.T) { forEachBackend(t, testTwoWayBadSignaturesAre401) }

func testTwoWayBadSignaturesAre401(t *testing.T, b backend) {
	t.Parallel()
	e := newTWEnv(t, b, "1h")
	const pm = "PM-TW-SIG"
	v := e.intake(newPM(pm, "Forgeries",
		aiDoc{ID: "AI-1", Title: "GitHub one", Owner: "bob@acme.com"},
		aiDoc{ID: "AI-2", Title: "Jira one", Owner: "bob@acme.com", Team: "payments"}))
	ghKey, jiraKey := v.item(t, "AI-1").Ticket.Key, v.item(t, "AI-2").Ticket.Key

	// What a forger would send: the tickets closed (the stand-ins still show them open).
	var m map[string]any
	must(t, json.Unmarshal(e.githubPayload("issues.closed.json", "closed", ghKey, twPerson), &m))
	m["issue"].(map[string]any)["state"], m["issue"].(map[string]any)["state_reason"] = "closed", "completed"
	m["issue"].(map[string]any)["updated_at"] = e.clock.now().Add(time.Hour).UTC().Format(time.RFC3339)
	ghForged := mustJSON(t, m)
	must(t, json.Unmarshal(e.jiraPayload("webhook-issue-updated-resolved.json", jiraKey, jiraPerson), &m))
	fields := m["issue"].(map[string]any)["fields"].(map[string]any)
	fields["status"] = map[string]any{"name": "Done", "statusCategory": map[string]any{"key": "done"}}
	fields["resolution"] = map[string]any{"name": "Done"}
	fields["updated"] = e.clock.now().Add(time.Hour).Format(jirafake.TimeFormat)
	jiraForged := mustJSON(t, m)
	altered := func(b []byte) []byte { return bytes.Replace(b, []byte(`"closed"`), []byte(`"closed" `), 1) }

	gh := func(delivery string, body []byte, sig string) twWebhook {
		h := map[string]string{"X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery}
		if sig != "" {
			h["X-Hub-Signature-256"] = sig
		}
		return twWebhook{path: "/webhooks/github", headers: h, body: body}
	}
	jira := func(query string, body []byte, sig string) twWebhook {
		h := map[string]string{"X-Atlassian-Webhook-Identifier": "jira-forged"}
		if sig != "" {
			h["X-Hub-Signature"] = sig
		}
		return twWebhook{path: "/webhooks/jira" + query, headers: h, body: body}
	}
	cases := []struct {
		name string
		hook twWebhook
	}{
		{"github wrong secret", gh("gh-forged", ghForged, hubSig("not-the-secret", ghForged))},
		{"github no signature", gh("gh-forged", ghForged, "")},
		{"github body altered after signing", gh("gh-forged", altered(ghForged), hubSig(githubWebhookSecret, ghForged))},
		{"github sha1 signature", gh("gh-forged", ghForged, "sha1="+strings.TrimPrefix(hubSig(githubWebhookSecret, ghForged), "sha256="))},
		{"github ping with a wrong secret", twWebhook{path: "/webhooks/github", body: []byte(`{"zen":"Design for failure."}`),
			headers: map[string]string{"X-GitHub-Event": "ping", "X-GitHub-Delivery": "gh-ping",
				"X-Hub-Signature-256": hubSig("not-the-secret", []byte(`{"zen":"Design for failure."}`))}}},
		{"jira wrong secret", jira("", jiraForged, hubSig("not-the-secret", jiraForged))},
		{"jira no signature and no query", jira("", jiraForged, "")},
		{"jira body altered after signing", jira("", bytes.Replace(jiraForged, []byte(`"Done"`), []byte(`"Done" `), 1),
			hubSig(jiraWebhookSecret, jiraForged))},
		{"jira wrong ?secret=", jira("?secret=not-the-secret", jiraForged, "")},
		{"jira empty ?secret=", jira("?secret=", jiraForged, "")},
		{"jira wrong ?secret= and wrong signature", jira("?secret=nope", jiraForged, hubSig("nope", jiraForged))},
	}
	for _, tc := range cases {
		if code, status := e.send(tc.hook); code != http.StatusUnauthorized {
			t.Errorf("%s: %d %q, want 401", tc.name, code, status)
		}
	}

	// Nothing was stored: the same delivery ids are new to followthrough. These real changes,
	// properly signed (Jira by ?secret=, for Jira versions that cannot sign), go in as usual.
	repo, num := ghRef(t, ghKey)
	e.clock.tick()
	must(t, e.gh.AddLabel(repo, num, "in progress"))
	e.mustSend(githubHook("gh-forged", e.githubPayload("labeled.payload.json", "labeled", ghKey, twPerson)), "accepted")
	e.waitStatus(pm, "AI-1", "in_progress")
	e.clock.tick()
	must(t, e.jr.Transition(jiraKey, "In Progress", ""))
	e.mustSend(jira("?secret="+jiraWebhookSecret, e.jiraPayload("webhook-issue-updated-started-working.json", jiraKey, jiraPerson), ""), "accepted")
	e.waitStatus(pm, "AI-2", "in_progress")
	e.expectEvents(
		statusChange{Item: "AI-1", From: "open", To: "in_progress", Source: "github"},
		statusChange{Item: "AI-2", From: "open", To: "in_progress", Source: "jira"},
	)
	e.expectHistory(pm, "AI-1", twHistoryEntry{"open", "in_progress", "github", twPerson})
	e.expectHistory(pm, "AI-2", twHistoryEntry{"open", "in_progress", "jira", jiraPerson})
}

// ---- 5. reconciliation -------------------------------------------------------------------

// TestTwoWayReconcileSeesChangesWithoutWebhooks changes tickets at both stand-ins and sends no
// webhook: with reconcile.every 1s the items follow within a few seconds, with history and
// events from source reconcile.
func TestTwoWayReconcileSeesChangesWithoutWebhooks(t *testing.T) {
	forEachBackend(t, testTwoWayReconcileSeesChangesWithoutWebhooks)
}

func testTwoWayReconcileSeesChangesWithoutWebhooks(t *testing.T, b backend) {
	t.Parallel()
	e := newTWEnv(t, b, "1s")
	const pm = "PM-TW-REC"
	v := e.intake(newPM(pm, "Lost webhooks",
		aiDoc{ID: "AI-1", Title: "GitHub one", Owner: "bob@acme.com"},
		aiDoc{ID: "AI-2", Title: "Jira one", Owner: "bob@acme.com", Team: "payments"},
		aiDoc{ID: "AI-3", Title: "GitHub two", Owner: "alice@acme.com"}))
	ghKey, jiraKey := v.item(t, "AI-1").Ticket.Key, v.item(t, "AI-2").Ticket.Key
	repo, num := ghRef(t, ghKey)

	e.clock.tick()
	must(t, e.gh.CloseIssue(repo, num, "not_planned", twPerson))
	must(t, e.jr.Transition(jiraKey, "In Progress", ""))
	changed := time.Now()
	eventually(t, 5*time.Second, "both items follow their tickets", func() bool {
		v := e.get(pm)
		return v.item(t, "AI-1").Status == "wont_do" && v.item(t, "AI-2").Status == "in_progress"
	})
	t.Logf("seen by reconciliation after %s", time.Since(changed).Round(time.Millisecond))
	e.expectHistory(pm, "AI-1", twHistoryEntry{From: "open", To: "wont_do", Source: "reconcile"})
	e.expectHistory(pm, "AI-2", twHistoryEntry{From: "open", To: "in_progress", Source: "reconcile"})

	// And the way back, once more.
	e.clock.tick()
	must(t, e.gh.ReopenIssue(repo, num))
	must(t, e.jr.Transition(jiraKey, "Done", ""))
	eventually(t, 5*time.Second, "both items follow again", func() bool {
		v := e.get(pm)
		return v.item(t, "AI-1").Status == "open" && v.item(t, "AI-2").Status == "done"
	})
	got := e.recv.statusEvents()
	eventually(t, 10*time.Second, "four events", func() bool { got = e.recv.statusEvents(); return len(got) >= 4 })
	// The two trackers are reconciled in an order of their own: compare per item.
	perItem := map[string][]statusChange{}
	for _, ev := range got {
		perItem[ev.Data.Change.Item] = append(perItem[ev.Data.Change.Item], *ev.Data.Change)
	}
	want := map[string][]statusChange{
		"AI-1": {{"AI-1", "open", "wont_do", "reconcile"}, {"AI-1", "wont_do", "open", "reconcile"}},
		"AI-2": {{"AI-2", "open", "in_progress", "reconcile"}, {"AI-2", "in_progress", "done", "reconcile"}},
	}
	for id, w := range want {
		if !slices.Equal(perItem[id], w) {
			t.Errorf("%s events %+v, want %+v", id, perItem[id], w)
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d events, want 4", len(got))
	}

	// Our own change comes back through reconciliation: closed AI-1 goes in progress (reopen,
	// then label) from the API. A person's change to AI-3, seen by a later cycle than our push
	// (its ticket was changed after it), is the only other event.
	e.patch(pm, "AI-1", "in_progress")
	e.waitInProgressLabel(ghKey)
	e.clock.tick()
	repo3, num3 := ghRef(t, v.item(t, "AI-3").Ticket.Key)
	must(t, e.gh.CloseIssue(repo3, num3, "completed", twPerson))
	e.waitStatus(pm, "AI-3", "done")
	eventually(t, 10*time.Second, "six events", func() bool { got = e.recv.statusEvents(); return len(got) >= 6 })
	var last []statusChange
	for _, ev := range got[4:] {
		last = append(last, *ev.Data.Change)
	}
	if w := []statusChange{{"AI-1", "open", "in_progress", "api"}, {"AI-3", "open", "done", "reconcile"}}; !slices.Equal(last, w) {
		t.Errorf("events after the PATCH %+v, want %+v", last, w)
	}
	e.expectHistory(pm, "AI-1", twHistoryEntry{From: "open", To: "wont_do", Source: "reconcile"},
		twHistoryEntry{From: "wont_do", To: "open", Source: "reconcile"},
		twHistoryEntry{From: "open", To: "in_progress", Source: "api"})
}

// ---- 6. PATCH and its echo ---------------------------------------------------------------

// TestTwoWayPatchMovesTicketsAndEchoesChangeNothing sets statuses through the API and checks
// the tickets (GitHub closed as completed / not planned, reopened with the `in progress` label;
// Jira into Won't Do), then sends the webhooks the trackers would send for those changes, by
// followthrough's own identity, including GitHub's intermediate "reopened" without the label.
// They change nothing, count as no activity and send no second event; a person's change
// afterwards still goes through.
func TestTwoWayPatchMovesTicketsAndEchoesChangeNothing(t *testing.T) {
	forEachBackend(t, testTwoWayPatchMovesTicketsAndEchoesChangeNothing)
}

func testTwoWayPatchMovesTicketsAndEchoesChangeNothing(t *testing.T, b backend) {
	t.Parallel()
	e := newTWEnv(t, b, "1h")
	const pm = "PM-TW-PATCH"
	v := e.intake(newPM(pm, "Changes from our side",
		aiDoc{ID: "AI-1", Title: "GitHub done then in progress", Owner: "bob@acme.com"},
		aiDoc{ID: "AI-2", Title: "GitHub won't do", Owner: "alice@acme.com"},
		aiDoc{ID: "AI-3", Title: "Jira won't do", Owner: "bob@acme.com", Team: "payments"}))
	key1, key2, key3 := v.item(t, "AI-1").Ticket.Key, v.item(t, "AI-2").Ticket.Key, v.item(t, "AI-3").Ticket.Key

	e.clock.tick()
	if it := e.patch(pm, "AI-1", "done"); it.Status != "done" || it.ID != "AI-1" {
		t.Fatalf("PATCH answered %+v", it)
	}
	e.patch(pm, "AI-2", "wont_do")
	e.patch(pm, "AI-3", "wont_do")
	eventually(t, 10*time.Second, "tickets closed as completed, not planned, and Won't Do", func() bool {
		a, b, c := e.ghIssue(key1), e.ghIssue(key2), e.jiraIssue(key3)
		return a.State == "closed" && a.StateReason == "completed" && b.State == "closed" && b.StateReason == "not_planned" &&
			c.Status == "Won't Do"
	})
	e.expectEvents(
		statusChange{"AI-1", "open", "done", "api"},
		statusChange{"AI-2", "open", "wont_do", "api"},
		statusChange{"AI-3", "open", "wont_do", "api"},
	)
	// GitHub and Jira tell us what we did.
	e.mustSend(githubHook(e.nextDelivery(), e.githubPayload("issues.closed.json", "closed", key1, githubfake.DefaultLogin)), "accepted")
	e.mustSend(githubHook(e.nextDelivery(), e.githubPayload("issues.closed.json", "closed", key2, githubfake.DefaultLogin)), "accepted")
	e.mustSend(jiraHook(e.nextDelivery(), e.jiraPayload("webhook-issue-updated-resolved.json", key3, twJiraBot)), "accepted")

	// In progress from our side: reopened, then labelled.
	e.clock.tick()
	e.patch(pm, "AI-1", "in_progress")
	e.waitInProgressLabel(key1)
	// GitHub sends "reopened" (before the label went on) and "labeled", both by us. The first,
	// made from the issue as it is now minus the label, would say open if it were people's.
	var m map[string]any
	must(t, json.Unmarshal(e.githubPayload("reopened.payload.json", "reopened", key1, githubfake.DefaultLogin), &m))
	m["issue"].(map[string]any)["labels"] = []any{map[string]any{"name": "postmortem", "color": "ededed"}}
	e.mustSend(githubHook(e.nextDelivery(), mustJSON(t, m)), "accepted")
	e.mustSend(githubHook(e.nextDelivery(), e.githubPayload("labeled.payload.json", "labeled", key1, githubfake.DefaultLogin)), "accepted")

	// A person reopens AI-2: the only change from here on.
	repo2, num2 := ghRef(t, key2)
	e.clock.tick()
	must(t, e.gh.ReopenIssue(repo2, num2))
	e.mustSend(githubHook(e.nextDelivery(), e.githubPayload("reopened.payload.json", "reopened", key2, twPerson)), "accepted")
	e.waitStatus(pm, "AI-2", "open")

	e.expectEvents(
		statusChange{"AI-1", "open", "done", "api"},
		statusChange{"AI-2", "open", "wont_do", "api"},
		statusChange{"AI-3", "open", "wont_do", "api"},
		statusChange{"AI-1", "done", "in_progress", "api"},
		statusChange{"AI-2", "wont_do", "open", "github"},
	)
	got := e.get(pm)
	if s1, s3 := got.item(t, "AI-1").Status, got.item(t, "AI-3").Status; s1 != "in_progress" || s3 != "wont_do" {
		t.Errorf("after the echoes AI-1 is %s and AI-3 %s, want in_progress and wont_do", s1, s3)
	}
	e.expectHistory(pm, "AI-1", twHistoryEntry{From: "open", To: "done", Source: "api"},
		twHistoryEntry{From: "done", To: "in_progress", Source: "api"})
	e.expectHistory(pm, "AI-2", twHistoryEntry{From: "open", To: "wont_do", Source: "api"},
		twHistoryEntry{From: "wont_do", To: "open", Source: "github", By: twPerson})
	e.expectHistory(pm, "AI-3", twHistoryEntry{From: "open", To: "wont_do", Source: "api"})
	for _, id := range []string{"AI-1", "AI-3"} {
		if at := e.lastActivity(pm, id); at != "" {
			t.Errorf("%s: our own changes counted as activity (last_activity_at %s)", id, at)
		}
	}
	if e.lastActivity(pm, "AI-2") == "" {
		t.Error("AI-2: a person reopening the ticket is activity")
	}
	// The tickets are as we left them: the echoes were not pushed back either.
	if is := e.ghIssue(key1); is.State != "open" || !slices.Contains(is.Labels, "in progress") {
		t.Errorf("%s: state %s labels %v", key1, is.State, is.Labels)
	}
	if is := e.jiraIssue(key3); is.Status != "Won't Do" {
		t.Errorf("%s: status %q", key3, is.Status)
	}
}

// ---- 7. retries of outbound events -------------------------------------------------------

// TestTwoWayNotifyRetryKeepsWebhookID makes the receiver answer 500 once: the event comes again
// within 5 s with the same webhook-id, is accepted once, and no other event is sent.
func TestTwoWayNotifyRetryKeepsWebhookID(t *testing.T) {
	forEachBackend(t, testTwoWayNotifyRetryKeepsWebhookID)
}

func testTwoWayNotifyRetryKeepsWebhookID(t *testing.T, b backend) {
	t.Parallel()
	e := newTWEnv(t, b, "1h")
	const pm = "PM-TW-RETRY"
	e.intake(newPM(pm, "Retries", aiDoc{ID: "AI-1", Title: "GitHub one", Owner: "bob@acme.com"}))

	e.recv.failNext(1)
	e.patch(pm, "AI-1", "in_progress")
	e.expectEvents(statusChange{"AI-1", "open", "in_progress", "api"})
	attempts := e.recv.attemptLog()
	if len(attempts) != 2 {
		t.Fatalf("%d deliveries, want 2 (a 500, then a 200): %+v", len(attempts), attempts)
	}
	first, second := attempts[0], attempts[1]
	if first.Status != http.StatusInternalServerError || second.Status != http.StatusOK {
		t.Fatalf("answers %d then %d", first.Status, second.Status)
	}
	if first.ID == "" || first.ID != second.ID {
		t.Errorf("webhook-id %q on the first attempt, %q on the retry; want the same", first.ID, second.ID)
	}
	if gap := second.At.Sub(first.At); gap > 5*time.Second {
		t.Errorf("retried after %s, want within 5s", gap)
	}
	if ev := e.recv.statusEvents()[0]; ev.WebhookID != first.ID || ev.Data.ID != pm {
		t.Errorf("accepted event %s about %q", ev.WebhookID, ev.Data.ID)
	}

	// The next event is a new one, with a new id.
	e.patch(pm, "AI-1", "done")
	e.expectEvents(statusChange{"AI-1", "open", "in_progress", "api"}, statusChange{"AI-1", "in_progress", "done", "api"})
	if ids := e.recv.statusEvents(); ids[1].WebhookID == ids[0].WebhookID {
		t.Errorf("two events share webhook-id %s", ids[0].WebhookID)
	}
}
