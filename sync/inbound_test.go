package sync_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/github"
	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/jira"
	"github.com/followthrough/followthrough/connectors/jirafake"
	"github.com/followthrough/followthrough/internal/pgtest"
	"github.com/followthrough/followthrough/internal/testclock"
	"github.com/followthrough/followthrough/store"
	"github.com/followthrough/followthrough/sync"
)

// ---- the two-way test environment --------------------------------------------------------

// twReceived is one outbound event as the notify receiver got it.
type twReceived struct {
	ID     string
	Type   string
	Item   string
	Change *sync.StatusChange
	State  ft.State
}

// twReceiver is a notify URL on loopback that checks Standard Webhooks signatures.
type twReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	key    []byte

	mu       gosync.Mutex
	events   []twReceived
	problems []string
}

func newTWReceiver(t *testing.T) *twReceiver {
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	r := &twReceiver{t: t, key: key, secret: "whsec_" + base64.StdEncoding.EncodeToString(key)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *twReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	mac := hmac.New(sha256.New, r.key)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil || id == "" || !hmac.Equal([]byte(sig), []byte(want)) {
		r.problems = append(r.problems, fmt.Sprintf("bad signature on %q: %q", id, sig))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			State  ft.State           `json:"state"`
			Item   *ft.ItemView       `json:"item"`
			Change *sync.StatusChange `json:"change"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		r.problems = append(r.problems, "bad body: "+err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	got := twReceived{ID: id, Type: ev.Type, Change: ev.Data.Change, State: ev.Data.State}
	if ev.Data.Item != nil {
		got.Item = ev.Data.Item.ID
	}
	r.events = append(r.events, got)
	w.WriteHeader(http.StatusNoContent)
}

// statusEvents returns the item.status_changed events received so far, checking that every
// delivery was signed correctly and no event came twice.
func (r *twReceiver) statusEvents() []twReceived {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.problems) > 0 {
		r.t.Fatalf("notify receiver: %v", r.problems)
	}
	seen := map[string]bool{}
	var out []twReceived
	for _, ev := range r.events {
		if seen[ev.ID] {
			r.t.Fatalf("event %s delivered twice", ev.ID)
		}
		seen[ev.ID] = true
		if ev.Type == ft.EventStatusChanged {
			out = append(out, ev)
		}
	}
	return out
}

// twEnv is a store on a temp file, an engine with the real connectors, and the GitHub and Jira
// stand-ins on loopback, all on one driven clock.
type twEnv struct {
	t      *testing.T
	ctx    context.Context
	clock  *testclock.Clock
	gh     *githubfake.Server
	jf     *jirafake.Server
	st     *store.Store
	cfg    *config.Config
	eng    *sync.Engine
	recv   *twReceiver
	jiraTr *jira.Tracker
	// database is where st keeps its data, for a test to reach it beside the store.
	database string
}

const (
	twRepo    = "acme/checkout"
	twProject = "PAY"
	twBot     = githubfake.DefaultLogin
	twJiraBot = "ft-bot-account"
	twPerson  = "octo-person"
	twJiraAcc = "5c5f880629be9642ba529340"
)

var twStart = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func newTWEnv(t *testing.T, on pgtest.Backend) *twEnv {
	t.Helper()
	ctx := context.Background()
	clock := testclock.New(twStart)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	gh := githubfake.New(githubfake.Options{Now: clock.Now})
	t.Cleanup(gh.Close)
	jf := jirafake.New(jirafake.Options{Now: clock.Now})
	t.Cleanup(jf.Close)
	recv := newTWReceiver(t)
	cfg := config.Default()
	cfg.GitHub = config.DefaultGitHub()
	cfg.GitHub.APIURL, cfg.GitHub.Token = gh.URL(), config.Secret(githubfake.DefaultToken)
	// Pacing would wait for real time, which the driven clock does not give.
	cfg.GitHub.WriteInterval, cfg.GitHub.WritesPerHour = 0, 0
	cfg.Jira = config.DefaultJira()
	cfg.Jira.URL, cfg.Jira.Deployment = jf.URL(), config.JiraCloud
	cfg.Jira.Email, cfg.Jira.APIToken = "bot@example.com", "cloud-token"
	// Items with no tracker of their own go to twRepo.
	cfg.Routes = []config.Route{{To: config.RouteTarget{Kind: string(ft.GitHub), Repo: twRepo}}}
	cfg.Notify = []config.Notify{{URL: recv.srv.URL, Secret: config.Secret(recv.secret),
		Events: []string{ft.EventStatusChanged, ft.EventCompleted, ft.EventReopened, ft.EventResumed}}}
	ghTr, err := github.New(cfg.GitHub, nil, github.Options{Logger: logger, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	jiraTr, err := jira.New(cfg.Jira, nil, jira.Options{Logger: logger, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	database := on.Database(t)
	st, err := store.Open(ctx, database, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	eng := sync.New(sync.Options{Store: st, Config: cfg, Clock: clock, Logger: logger,
		Trackers: map[ft.TrackerKind]ft.Tracker{ft.GitHub: ghTr, ft.Jira: jiraTr}})
	return &twEnv{t: t, ctx: ctx, clock: clock, gh: gh, jf: jf, st: st, cfg: cfg, eng: eng, recv: recv, jiraTr: jiraTr,
		database: database}
}

// intake accepts a postmortem whose items go to the given targets, and runs the worker until
// every ticket exists.
func (e *twEnv) intake(pmID string, targets ...ft.Target) ft.PostmortemView {
	e.t.Helper()
	signed := e.clock.Now()
	doc := &ft.Document{ID: pmID, Title: "Outage " + pmID, Status: "finalized", SignedOffBy: []string{"carol@acme.com"},
		SignedOffAt: &signed}
	for i := range targets {
		doc.ActionItems = append(doc.ActionItems, ft.ActionItem{ID: fmt.Sprintf("AI-%d", i+1),
			Title: fmt.Sprintf("Action %d", i+1), Owner: "bob@acme.com", Priority: "P1"})
	}
	if _, err := e.eng.Intake(e.ctx, sync.WithTargets(doc, targets)); err != nil {
		e.t.Fatal(err)
	}
	e.run()
	pm := e.pm(pmID)
	for _, it := range pm.Items {
		if it.Ticket == nil || it.Sync != ft.SyncLinked {
			e.t.Fatalf("item %s not linked after intake: sync %s, error %v", it.ID, it.Sync, it.LastError)
		}
	}
	return pm
}

// run works the outbox until nothing is due.
func (e *twEnv) run() {
	e.t.Helper()
	if _, err := e.eng.RunDue(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *twEnv) pm(id string) ft.PostmortemView {
	e.t.Helper()
	pm, err := e.st.Postmortem(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return pm
}

func (e *twEnv) item(pmID, itemID string) ft.ItemView {
	e.t.Helper()
	for _, it := range e.pm(pmID).Items {
		if it.ID == itemID {
			return it
		}
	}
	e.t.Fatalf("no item %s/%s", pmID, itemID)
	return ft.ItemView{}
}

func (e *twEnv) history(pmID, itemID string) []ft.HistoryEntry {
	e.t.Helper()
	_, byItem, err := e.st.PostmortemWithHistory(e.ctx, pmID)
	if err != nil {
		e.t.Fatal(err)
	}
	return byItem[itemID]
}

// historySteps is an item's status history as "from→to" steps.
func (e *twEnv) historySteps(pmID, itemID string) []string {
	e.t.Helper()
	var steps []string
	for _, h := range e.history(pmID, itemID) {
		steps = append(steps, string(h.From)+"→"+string(h.To))
	}
	return steps
}

// recordGitHub records a GitHub issues delivery that must be stored (applied or queued), without
// running the worker.
func (e *twEnv) recordGitHub(payload []byte) {
	e.t.Helper()
	if ignored, err := e.eng.RecordWebhook(e.ctx, "github", nextDelivery(), "issues", payload); err != nil || ignored != "" {
		e.t.Fatalf("record: %q, %v", ignored, err)
	}
}

// wantStored checks how many deliveries are stored as inbound events and webhook jobs.
func (e *twEnv) wantStored(events, jobs int) {
	e.t.Helper()
	st, err := e.st.InboundStats(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if st.Events != events || st.WebhookJobs != jobs {
		e.t.Fatalf("stored %d events and %d webhook jobs, want %d and %d", st.Events, st.WebhookJobs, events, jobs)
	}
}

// deliver records a webhook as the web handler does after checking its signature, then runs
// the worker. It returns whether the delivery was a duplicate.
func (e *twEnv) deliver(source, deliveryID, event string, payload []byte) bool {
	e.t.Helper()
	ignored, err := e.eng.RecordWebhook(e.ctx, source, deliveryID, event, payload)
	if err != nil {
		e.t.Fatal(err)
	}
	e.run()
	return ignored == ft.WebhookDuplicate
}

// tick moves the clock so that the next change at a stand-in has a later updated time.
func (e *twEnv) tick() { e.clock.Advance(3 * time.Second) }

func readFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func splitGitHubKey(t *testing.T, key string) (string, int) {
	t.Helper()
	repo, num, _ := strings.Cut(key, "#")
	n, err := strconv.Atoi(num)
	if err != nil {
		t.Fatalf("key %q: %v", key, err)
	}
	return repo, n
}

// githubPayload adapts a real GitHub delivery to the issue as the stand-in holds it now: the
// repository, number, state, reason, labels and updated time, sent by sender.
func (e *twEnv) githubPayload(fixture, action, key, sender string) []byte {
	e.t.Helper()
	repo, num := splitGitHubKey(e.t, key)
	is, ok := e.gh.Issue(repo, num)
	if !ok {
		e.t.Fatalf("no issue %s at the stand-in", key)
	}
	m := readFixture(e.t, fixture)
	m["action"] = action
	owner, name, _ := strings.Cut(repo, "/")
	r := m["repository"].(map[string]any)
	r["full_name"], r["name"] = repo, name
	r["owner"].(map[string]any)["login"] = owner
	issue := m["issue"].(map[string]any)
	issue["number"] = num
	issue["html_url"] = e.gh.HTMLBase() + "/" + repo + "/issues/" + strconv.Itoa(num)
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
	issue["updated_at"] = is.UpdatedAt.UTC().Format(time.RFC3339)
	issue["created_at"] = is.CreatedAt.UTC().Format(time.RFC3339)
	m["sender"].(map[string]any)["login"] = sender
	return mustJSON(e.t, m)
}

// jiraCategory is the status category of the stand-in's default workflow statuses.
var jiraCategory = map[string]string{"To Do": "new", "In Progress": "indeterminate", "Done": "done", "Won't Do": "done"}

// jiraPayload adapts a real Jira delivery to the issue as the stand-in holds it now, sent as
// the user with accountID.
func (e *twEnv) jiraPayload(fixture, key, accountID string) []byte {
	e.t.Helper()
	is, ok := e.jf.Issue(key)
	if !ok {
		e.t.Fatalf("no issue %s at the stand-in", key)
	}
	m := readFixture(e.t, fixture)
	m["timestamp"] = e.clock.Now().UnixMilli()
	issue := m["issue"].(map[string]any)
	issue["key"] = key
	fields := issue["fields"].(map[string]any)
	fields["status"] = map[string]any{"name": is.Status, "statusCategory": map[string]any{"key": jiraCategory[is.Status]}}
	fields["resolution"] = nil
	if is.Resolution != "" {
		fields["resolution"] = map[string]any{"name": is.Resolution}
	}
	fields["updated"] = is.Updated.Format(jirafake.TimeFormat)
	fields["description"] = is.Description
	if u, ok := m["user"].(map[string]any); ok {
		u["accountId"] = accountID
	}
	if c, ok := m["comment"].(map[string]any); ok {
		c["author"].(map[string]any)["accountId"] = accountID
		c["created"] = is.Updated.Format(jirafake.TimeFormat)
		c["updated"] = is.Updated.Format(jirafake.TimeFormat)
	}
	return mustJSON(e.t, m)
}

var deliveries = 0

func nextDelivery() string {
	deliveries++
	return fmt.Sprintf("delivery-%d", deliveries)
}

func wantStatus(t *testing.T, it ft.ItemView, want ft.Status) {
	t.Helper()
	if it.Status != want {
		t.Fatalf("item %s status = %s, want %s", it.ID, it.Status, want)
	}
}

// ---- tests -------------------------------------------------------------------------------

func TestGitHubWebhooksMoveItemStatus(t *testing.T) {
	pgtest.ForEach(t, testGitHubWebhooksMoveItemStatus)
}

func testGitHubWebhooksMoveItemStatus(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-1", ft.Target{Kind: ft.GitHub, Repo: twRepo})
	key := pm.Items[0].Ticket.Key
	repo, num := splitGitHubKey(t, key)

	steps := []struct {
		name    string
		act     func() error
		fixture string
		action  string
		want    ft.Status
	}{
		{"closed as completed", func() error { return env.gh.CloseIssue(repo, num, "completed", twPerson) },
			"issues.closed.json", "closed", ft.StatusDone},
		{"reopened", func() error { return env.gh.ReopenIssue(repo, num) },
			"reopened.payload.json", "reopened", ft.StatusOpen},
		{"in progress label", func() error { return env.gh.AddLabel(repo, num, "in progress") },
			"labeled.payload.json", "labeled", ft.StatusInProgress},
		{"closed as not planned", func() error { return env.gh.CloseIssue(repo, num, "not_planned", twPerson) },
			"issues.closed.json", "closed", ft.StatusWontDo},
		{"reopened with the label", func() error { return env.gh.ReopenIssue(repo, num) },
			"reopened.payload.json", "reopened", ft.StatusInProgress},
		{"closed as duplicate", func() error { return env.gh.CloseIssue(repo, num, "duplicate", twPerson) },
			"issues.closed.json", "closed", ft.StatusWontDo},
		{"reopened, label removed", func() error {
			if err := env.gh.ReopenIssue(repo, num); err != nil {
				return err
			}
			return env.gh.RemoveLabel(repo, num, "in progress")
		}, "reopened.payload.json", "reopened", ft.StatusOpen},
		{"closed with no reason", func() error { return env.gh.CloseIssue(repo, num, "", twPerson) },
			"issues.closed.json", "closed", ft.StatusDone},
	}
	prev := ft.StatusOpen
	for i, step := range steps {
		env.tick()
		if err := step.act(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		env.deliver("github", nextDelivery(), "issues", env.githubPayload(step.fixture, step.action, key, twPerson))
		it := env.item("PM-1", "AI-1")
		if it.Status != step.want {
			t.Fatalf("%s: status = %s, want %s", step.name, it.Status, step.want)
		}
		h := env.history("PM-1", "AI-1")
		if len(h) != i+1 {
			t.Fatalf("%s: %d history entries, want %d", step.name, len(h), i+1)
		}
		last := h[len(h)-1]
		if last.From != prev || last.To != step.want || last.Source != "github" || last.Actor != twPerson {
			t.Fatalf("%s: history %+v", step.name, last)
		}
		if it.LastActivity == nil {
			t.Fatalf("%s: no activity recorded", step.name)
		}
		events := env.recv.statusEvents()
		if len(events) != i+1 {
			t.Fatalf("%s: %d status events, want %d", step.name, len(events), i+1)
		}
		ev := events[len(events)-1]
		if ev.Item != "AI-1" || *ev.Change != (sync.StatusChange{From: prev, To: step.want, Source: "github"}) {
			t.Fatalf("%s: event %+v change %+v", step.name, ev, ev.Change)
		}
		prev = step.want
	}
	// The last step finished the only item: the postmortem is complete.
	if st := env.pm("PM-1").State; st != ft.StateCompleted {
		t.Fatalf("state = %s, want completed", st)
	}
}

func TestJiraWebhooksMoveItemStatus(t *testing.T) { pgtest.ForEach(t, testJiraWebhooksMoveItemStatus) }

func testJiraWebhooksMoveItemStatus(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-J", ft.Target{Kind: ft.Jira, Project: twProject})
	key := pm.Items[0].Ticket.Key

	steps := []struct {
		name       string
		status     string
		resolution string
		fixture    string
		want       ft.Status
	}{
		{"started", "In Progress", "", "webhook-issue-updated-started-working.json", ft.StatusInProgress},
		{"resolved", "Done", "Done", "webhook-issue-updated-resolved.json", ft.StatusDone},
		{"back to do", "To Do", "", "webhook-issue-updated-started-working.json", ft.StatusOpen},
		{"won't do", "Won't Do", "", "webhook-issue-updated-resolved.json", ft.StatusWontDo},
		{"reopened", "In Progress", "", "webhook-issue-updated-started-working.json", ft.StatusInProgress},
		{"won't fix", "Done", "Won't Fix", "webhook-issue-updated-resolved.json", ft.StatusWontDo},
		{"fixed", "Done", "Fixed", "webhook-issue-updated-resolved.json", ft.StatusDone},
	}
	prev := ft.StatusOpen
	for i, step := range steps {
		env.tick()
		if err := env.jf.Transition(key, step.status, step.resolution); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		env.deliver("jira", nextDelivery(), jira.EventIssueUpdated, env.jiraPayload(step.fixture, key, twJiraAcc))
		it := env.item("PM-J", "AI-1")
		if it.Status != step.want {
			t.Fatalf("%s: status = %s, want %s", step.name, it.Status, step.want)
		}
		h := env.history("PM-J", "AI-1")
		last := h[len(h)-1]
		if len(h) != i+1 || last.From != prev || last.To != step.want || last.Source != "jira" || last.Actor != twJiraAcc {
			t.Fatalf("%s: history %+v", step.name, h)
		}
		events := env.recv.statusEvents()
		if len(events) != i+1 || *events[i].Change != (sync.StatusChange{From: prev, To: step.want, Source: "jira"}) {
			t.Fatalf("%s: events %+v", step.name, events)
		}
		prev = step.want
	}
}

func TestJiraCommentIsActivityUnlessOurs(t *testing.T) {
	pgtest.ForEach(t, testJiraCommentIsActivityUnlessOurs)
}

func testJiraCommentIsActivityUnlessOurs(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-C", ft.Target{Kind: ft.Jira, Project: twProject})
	key := pm.Items[0].Ticket.Key
	if it := env.item("PM-C", "AI-1"); it.LastActivity != nil {
		t.Fatalf("activity before any: %v", it.LastActivity)
	}

	env.tick()
	if err := env.jf.AddComment(key, twJiraBot, "a comment of ours"); err != nil {
		t.Fatal(err)
	}
	env.deliver("jira", nextDelivery(), jira.EventCommentCreated, env.jiraPayload("webhook-cloud-comment-created.json", key, twJiraBot))
	if it := env.item("PM-C", "AI-1"); it.LastActivity != nil {
		t.Fatalf("our own comment counted as activity at %v", it.LastActivity)
	}

	env.tick()
	if err := env.jf.AddComment(key, twJiraAcc, "working on it"); err != nil {
		t.Fatal(err)
	}
	issue, _ := env.jf.Issue(key)
	env.deliver("jira", nextDelivery(), jira.EventCommentCreated, env.jiraPayload("webhook-cloud-comment-created.json", key, twJiraAcc))
	it := env.item("PM-C", "AI-1")
	if it.LastActivity == nil || !it.LastActivity.Equal(issue.Updated.Truncate(time.Millisecond)) {
		t.Fatalf("activity = %v, want %v", it.LastActivity, issue.Updated)
	}
	if it.Status != ft.StatusOpen || len(env.history("PM-C", "AI-1")) != 0 || len(env.recv.statusEvents()) != 0 {
		t.Fatalf("a comment changed the status: %s", it.Status)
	}
}

func TestDuplicateAndOlderDeliveriesChangeNothing(t *testing.T) {
	pgtest.ForEach(t, testDuplicateAndOlderDeliveriesChangeNothing)
}

func testDuplicateAndOlderDeliveriesChangeNothing(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-D", ft.Target{Kind: ft.GitHub, Repo: twRepo}, ft.Target{Kind: ft.Jira, Project: twProject})
	ghKey, jiraKey := pm.Items[0].Ticket.Key, pm.Items[1].Ticket.Key
	repo, num := splitGitHubKey(t, ghKey)

	// GitHub: closed, then reopened; the closed delivery comes again (redelivered, same id) and
	// late under a new id: neither undoes the reopen.
	env.tick()
	if err := env.gh.CloseIssue(repo, num, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	closed := env.githubPayload("issues.closed.json", "closed", ghKey, twPerson)
	if dup := env.deliver("github", "gh-closed", "issues", closed); dup {
		t.Fatal("first delivery taken for a duplicate")
	}
	env.tick()
	if err := env.gh.ReopenIssue(repo, num); err != nil {
		t.Fatal(err)
	}
	env.deliver("github", "gh-reopened", "issues", env.githubPayload("reopened.payload.json", "reopened", ghKey, twPerson))
	wantStatus(t, env.item("PM-D", "AI-1"), ft.StatusOpen)
	if dup := env.deliver("github", "gh-closed", "issues", closed); !dup {
		t.Fatal("redelivery not recognised as a duplicate")
	}
	env.deliver("github", "gh-closed-late", "issues", closed)
	wantStatus(t, env.item("PM-D", "AI-1"), ft.StatusOpen)

	// Jira: Done arrives after a later In Progress (out of order), and twice.
	env.tick()
	if err := env.jf.Transition(jiraKey, "Done", ""); err != nil {
		t.Fatal(err)
	}
	done := env.jiraPayload("webhook-issue-updated-resolved.json", jiraKey, twJiraAcc)
	env.tick()
	if err := env.jf.Transition(jiraKey, "In Progress", ""); err != nil {
		t.Fatal(err)
	}
	started := env.jiraPayload("webhook-issue-updated-started-working.json", jiraKey, twJiraAcc)
	env.deliver("jira", "jira-started", jira.EventIssueUpdated, started)
	env.deliver("jira", "jira-done", jira.EventIssueUpdated, done)
	if dup := env.deliver("jira", "jira-done", jira.EventIssueUpdated, done); !dup {
		t.Fatal("jira redelivery not recognised")
	}
	wantStatus(t, env.item("PM-D", "AI-2"), ft.StatusInProgress)

	// closed, reopened, in progress: three changes, three events.
	if n := len(env.recv.statusEvents()); n != 3 {
		t.Fatalf("%d status events, want 3", n)
	}
	if h := env.history("PM-D", "AI-1"); len(h) != 2 {
		t.Fatalf("github item history %+v", h)
	}
	if h := env.history("PM-D", "AI-2"); len(h) != 1 {
		t.Fatalf("jira item history %+v", h)
	}
}

func TestGitHubOpenedAssignedPairActsOnce(t *testing.T) {
	pgtest.ForEach(t, testGitHubOpenedAssignedPairActsOnce)
}

func testGitHubOpenedAssignedPairActsOnce(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-O", ft.Target{Kind: ft.GitHub, Repo: twRepo})
	key := pm.Items[0].Ticket.Key
	repo, num := splitGitHubKey(t, key)
	if err := env.gh.Assign(repo, num, "bob-gh"); err != nil {
		t.Fatal(err)
	}
	// Creating the ticket (with its assignee) makes GitHub send opened and assigned, both by us.
	env.deliver("github", nextDelivery(), "issues", env.githubPayload("opened.payload.json", "opened", key, twBot))
	env.deliver("github", nextDelivery(), "issues", env.githubPayload("assigned.payload.json", "assigned", key, twBot))
	it := env.item("PM-O", "AI-1")
	if it.Status != ft.StatusOpen || it.LastActivity != nil || len(env.history("PM-O", "AI-1")) != 0 {
		t.Fatalf("our own create acted: status %s, activity %v", it.Status, it.LastActivity)
	}
	if n := len(env.recv.statusEvents()); n != 0 {
		t.Fatalf("%d status events for our own create", n)
	}
	// A person assigning it is activity, once.
	env.tick()
	if err := env.gh.Assign(repo, num, "alice-gh"); err != nil {
		t.Fatal(err)
	}
	assigned := env.githubPayload("assigned.payload.json", "assigned", key, twPerson)
	env.deliver("github", "assign-1", "issues", assigned)
	env.deliver("github", "assign-1", "issues", assigned)
	it = env.item("PM-O", "AI-1")
	is, _ := env.gh.Issue(repo, num)
	if it.LastActivity == nil || !it.LastActivity.Equal(is.UpdatedAt) {
		t.Fatalf("activity = %v, want %v", it.LastActivity, is.UpdatedAt)
	}
	if it.Status != ft.StatusOpen || len(env.recv.statusEvents()) != 0 {
		t.Fatal("an assignment changed the status")
	}
}

func TestOwnChangeComingBackChangesNothing(t *testing.T) {
	pgtest.ForEach(t, testOwnChangeComingBackChangesNothing)
}

func testOwnChangeComingBackChangesNothing(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-E", ft.Target{Kind: ft.GitHub, Repo: twRepo}, ft.Target{Kind: ft.Jira, Project: twProject})
	ghKey, jiraKey := pm.Items[0].Ticket.Key, pm.Items[1].Ticket.Key
	repo, num := splitGitHubKey(t, ghKey)

	env.tick()
	if _, err := env.eng.SetItemStatus(env.ctx, "PM-E", "AI-1", ft.StatusInProgress); err != nil {
		t.Fatal(err)
	}
	if _, err := env.eng.SetItemStatus(env.ctx, "PM-E", "AI-2", ft.StatusDone); err != nil {
		t.Fatal(err)
	}
	env.run()
	if is, _ := env.gh.Issue(repo, num); is.State != "open" || !strings.Contains(strings.Join(is.Labels, ","), "in progress") {
		t.Fatalf("github ticket not in progress: %+v", is)
	}
	if is, _ := env.jf.Issue(jiraKey); is.Status != "Done" {
		t.Fatalf("jira ticket status %q, want Done", is.Status)
	}
	before := env.recv.statusEvents()
	if len(before) != 2 || before[0].Change.Source != "api" {
		t.Fatalf("events after PATCH: %+v", before)
	}

	// Our push comes back: GitHub's labeled (and, in between, the state without the label),
	// Jira's transition, all by our own identity.
	env.deliver("github", nextDelivery(), "issues", env.githubPayload("labeled.payload.json", "labeled", ghKey, twBot))
	env.deliver("jira", nextDelivery(), jira.EventIssueUpdated, env.jiraPayload("webhook-issue-updated-resolved.json", jiraKey, twJiraBot))
	stale := env.githubPayload("reopened.payload.json", "reopened", ghKey, twBot)
	var m map[string]any
	_ = json.Unmarshal(stale, &m)
	m["issue"].(map[string]any)["labels"] = []any{map[string]any{"name": "postmortem"}}
	env.deliver("github", nextDelivery(), "issues", mustJSON(t, m))
	// A reconcile sees the same tickets.
	if err := env.eng.Reconcile(env.ctx); err != nil {
		t.Fatal(err)
	}
	env.run()

	for _, c := range []struct {
		item string
		want ft.Status
	}{{"AI-1", ft.StatusInProgress}, {"AI-2", ft.StatusDone}} {
		it := env.item("PM-E", c.item)
		wantStatus(t, it, c.want)
		if it.LastActivity != nil {
			t.Fatalf("%s: our own change counted as activity", c.item)
		}
		if h := env.history("PM-E", c.item); len(h) != 1 || h[0].Source != "api" {
			t.Fatalf("%s: history %+v", c.item, h)
		}
	}
	if after := env.recv.statusEvents(); len(after) != 2 {
		t.Fatalf("our own change came back as events: %+v", after[2:])
	}
}

func TestPeopleChangeWhilePushPendingLosesToThePush(t *testing.T) {
	pgtest.ForEach(t, testPeopleChangeWhilePushPendingLosesToThePush)
}

func testPeopleChangeWhilePushPendingLosesToThePush(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-P", ft.Target{Kind: ft.GitHub, Repo: twRepo})
	key := pm.Items[0].Ticket.Key
	repo, num := splitGitHubKey(t, key)
	env.tick()
	if _, err := env.eng.SetItemStatus(env.ctx, "PM-P", "AI-1", ft.StatusDone); err != nil {
		t.Fatal(err)
	}
	// Before the worker closes the ticket, someone comments: the webhook still shows it open.
	env.tick()
	if err := env.gh.EditIssue(repo, num, "Action 1 (edited)", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := env.eng.RecordWebhook(env.ctx, "github", nextDelivery(), "issues",
		env.githubPayload("issues.closed.json", "edited", key, twPerson)); err != nil {
		t.Fatal(err)
	}
	env.run()
	it := env.item("PM-P", "AI-1")
	wantStatus(t, it, ft.StatusDone)
	if it.LastActivity == nil {
		t.Fatal("the edit was not counted as activity")
	}
	if is, _ := env.gh.Issue(repo, num); is.State != "closed" {
		t.Fatalf("ticket state %s, want closed", is.State)
	}
	if n := len(env.recv.statusEvents()); n != 1 {
		t.Fatalf("%d status events, want 1", n)
	}
}

// TestDeletedTicketOfRemovedItem: when people delete the ticket of a removed item (closed as
// not planned), nothing has failed and nothing is to be retried: the item shows no ticket
// (sync: none), a retry leaves it so, and brought back it gets a new ticket.
func TestDeletedTicketOfRemovedItem(t *testing.T) {
	pgtest.ForEach(t, testDeletedTicketOfRemovedItem)
}

func testDeletedTicketOfRemovedItem(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	env.revise("PM-D", [2]string{"AI-1"}, [2]string{"AI-2"})
	env.settle()
	key := env.item("PM-D", "AI-1").Ticket.Key
	env.revise("PM-D", [2]string{"AI-2"}) // AI-1 removed: its ticket is closed as not planned
	env.settle()
	repo, num := splitGitHubKey(t, key)
	if is, _ := env.gh.Issue(repo, num); is.StateReason != "not_planned" {
		t.Fatalf("removed item's ticket %+v, want closed as not planned", is)
	}
	env.tick()
	payload := env.githubPayload("deleted.payload.json", "deleted", key, twPerson)
	if err := env.gh.DeleteIssue(repo, num); err != nil {
		t.Fatal(err)
	}
	env.deliver("github", nextDelivery(), "issues", payload)
	noTicket := func(when string) {
		t.Helper()
		if it := env.item("PM-D", "AI-1"); it.Sync != ft.SyncNone || it.Ticket != nil || it.LastError != nil {
			t.Fatalf("%s: removed item sync %s, ticket %+v, last_error %v; want none, none, none", when, it.Sync, it.Ticket, it.LastError)
		}
	}
	noTicket("after the deletion")
	if _, err := env.eng.Retry(env.ctx, "PM-D"); err != nil {
		t.Fatal(err)
	}
	env.settle()
	noTicket("after a retry")
	env.revise("PM-D", [2]string{"AI-1"}, [2]string{"AI-2"})
	env.settle()
	if it := env.item("PM-D", "AI-1"); it.Sync != ft.SyncLinked || it.Ticket == nil || it.Ticket.Key == key || it.Status != ft.StatusOpen {
		t.Fatalf("brought back: sync %s, ticket %+v, status %s; want a new open ticket (old %s)", it.Sync, it.Ticket, it.Status, key)
	}
}

func TestDeletedTicketFailsAndRetryMakesANewOne(t *testing.T) {
	pgtest.ForEach(t, testDeletedTicketFailsAndRetryMakesANewOne)
}

func testDeletedTicketFailsAndRetryMakesANewOne(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-X", ft.Target{Kind: ft.GitHub, Repo: twRepo}, ft.Target{Kind: ft.Jira, Project: twProject})
	ghKey, jiraKey := pm.Items[0].Ticket.Key, pm.Items[1].Ticket.Key
	repo, num := splitGitHubKey(t, ghKey)
	creates := env.gh.Calls("POST", "/repos/"+repo+"/issues")

	env.tick()
	payload := env.githubPayload("deleted.payload.json", "deleted", ghKey, twPerson)
	if err := env.gh.DeleteIssue(repo, num); err != nil {
		t.Fatal(err)
	}
	env.deliver("github", nextDelivery(), "issues", payload)
	jiraPayload := env.jiraPayload("webhook-issue-deleted.json", jiraKey, twJiraAcc)
	if err := env.jf.Delete(jiraKey); err != nil {
		t.Fatal(err)
	}
	env.deliver("jira", nextDelivery(), jira.EventIssueDeleted, jiraPayload)

	for _, c := range []struct{ item, key string }{{"AI-1", ghKey}, {"AI-2", jiraKey}} {
		it := env.item("PM-X", c.item)
		if it.Sync != ft.SyncFailed || it.LastError == nil || !strings.Contains(*it.LastError, c.key+" was deleted") ||
			!strings.Contains(*it.LastError, "/v1/postmortems/PM-X/retry") {
			t.Fatalf("%s: sync %s, last_error %v", c.item, it.Sync, it.LastError)
		}
		if _, err := env.eng.SetItemStatus(env.ctx, "PM-X", c.item, ft.StatusDone); !errors.Is(err, ft.ErrConflict) {
			t.Fatalf("%s: PATCH on a deleted ticket: %v, want a conflict", c.item, err)
		}
	}
	// Nothing re-creates it: not the worker, not a reconcile.
	if err := env.eng.Reconcile(env.ctx); err != nil {
		t.Fatal(err)
	}
	env.run()
	if n := env.gh.Calls("POST", "/repos/"+repo+"/issues"); n != creates {
		t.Fatalf("%d creates after the deletion, want none", n-creates)
	}
	if n := len(env.jf.Issues(twProject)); n != 0 {
		t.Fatalf("%d jira issues after the deletion", n)
	}

	view, err := env.eng.Retry(env.ctx, "PM-X")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range view.Items {
		if it.Sync != ft.SyncPending || it.LastError != nil || it.Ticket != nil {
			t.Fatalf("after retry %s: sync %s, error %v, ticket %v", it.ID, it.Sync, it.LastError, it.Ticket)
		}
	}
	env.run()
	for _, c := range []struct{ item, old string }{{"AI-1", ghKey}, {"AI-2", jiraKey}} {
		it := env.item("PM-X", c.item)
		if it.Sync != ft.SyncLinked || it.Ticket == nil || it.Ticket.Key == c.old {
			t.Fatalf("%s after retry: sync %s, ticket %+v (old %s)", c.item, it.Sync, it.Ticket, c.old)
		}
	}
	if n := env.gh.Calls("POST", "/repos/"+repo+"/issues"); n != creates+1 {
		t.Fatalf("%d creates after retry, want 1", n-creates)
	}
	// A second retry has nothing to do.
	if _, err := env.eng.Retry(env.ctx, "PM-X"); err != nil {
		t.Fatal(err)
	}
	env.run()
	if n := env.gh.Calls("POST", "/repos/"+repo+"/issues"); n != creates+1 {
		t.Fatalf("a second retry created again")
	}
	if _, err := env.eng.Retry(env.ctx, "PM-NONE"); !errors.Is(err, ft.ErrNotFound) {
		t.Fatalf("retry of an unknown postmortem: %v", err)
	}
}

func TestIrrelevantAndForeignWebhooksAreIgnored(t *testing.T) {
	pgtest.ForEach(t, testIrrelevantAndForeignWebhooksAreIgnored)
}

func testIrrelevantAndForeignWebhooksAreIgnored(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	env.intake("PM-I", ft.Target{Kind: ft.GitHub, Repo: twRepo})
	// An issue we did not create, a ping, and a body that is not JSON.
	other, err := env.gh.CreateIssue(twRepo, githubfake.NewIssue{Title: "someone else's", Labels: []string{"postmortem"}})
	if err != nil {
		t.Fatal(err)
	}
	env.tick()
	if err := env.gh.CloseIssue(twRepo, other.Number, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	env.deliver("github", nextDelivery(), "issues",
		env.githubPayload("issues.closed.json", "closed", github.Key(twRepo, other.Number), twPerson))
	env.deliver("github", nextDelivery(), "ping", []byte(`{"zen":"Keep it logically awesome."}`))
	env.deliver("github", nextDelivery(), "issues", []byte(`not json`))
	env.deliver("jira", nextDelivery(), "jira:issue_created", []byte(`{"webhookEvent":"jira:issue_created","issue":{"key":"PAY-99"}}`))
	if pending, failed, err := env.st.JobCounts(env.ctx); err != nil || pending != 0 || failed != 0 {
		t.Fatalf("jobs pending %d failed %d (%v)", pending, failed, err)
	}
	wantStatus(t, env.item("PM-I", "AI-1"), ft.StatusOpen)
	if n := len(env.recv.statusEvents()); n != 0 {
		t.Fatalf("%d events for foreign tickets", n)
	}
}

// An organisation's webhook sends events about every issue: those about issues followthrough
// does not follow are acknowledged and leave their delivery id behind, and no job or body.
func TestUnfollowedDeliveriesLeaveOnlyTheirID(t *testing.T) {
	pgtest.ForEach(t, testUnfollowedDeliveriesLeaveOnlyTheirID)
}

func testUnfollowedDeliveriesLeaveOnlyTheirID(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	env.intake("PM-U", ft.Target{Kind: ft.GitHub, Repo: twRepo})
	other, err := env.gh.CreateIssue(twRepo, githubfake.NewIssue{Title: "someone else's"})
	if err != nil {
		t.Fatal(err)
	}
	env.tick()
	if err := env.gh.CloseIssue(twRepo, other.Number, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	payload := env.githubPayload("issues.closed.json", "closed", github.Key(twRepo, other.Number), twPerson)
	before, err := env.st.InboundStats(env.ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := nextDelivery()
	for _, want := range []string{ft.WebhookNotFollowed, ft.WebhookDuplicate} {
		ignored, err := env.eng.RecordWebhook(env.ctx, "github", id, "issues", payload)
		if err != nil || ignored != want {
			t.Fatalf("record: %q, %v; want %q", ignored, err, want)
		}
	}
	if ignored, err := env.eng.RecordWebhook(env.ctx, "github", nextDelivery(), "pull_request", payload); err != nil || ignored != ft.WebhookNotUsed {
		t.Fatalf("pull request event: %q, %v", ignored, err)
	}
	after, err := env.st.InboundStats(env.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Deliveries != before.Deliveries+2 || after.Events != before.Events || after.PayloadBytes != before.PayloadBytes ||
		after.WebhookJobs != 0 {
		t.Fatalf("before %+v, after %+v: want two delivery ids more and nothing else", before, after)
	}
	if pending, failed, err := env.st.JobCounts(env.ctx); err != nil || pending != 0 || failed != 0 {
		t.Fatalf("jobs pending %d failed %d (%v)", pending, failed, err)
	}
}

// Deliveries about followed tickets are stored, applied in the order they came per ticket (the
// last event of each ticket wins), and their bodies dropped once applied.
func TestFollowedDeliveriesApplyPerTicketAndDropTheirBodies(t *testing.T) {
	pgtest.ForEach(t, testFollowedDeliveriesApplyPerTicketAndDropTheirBodies)
}

func testFollowedDeliveriesApplyPerTicketAndDropTheirBodies(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	pm := env.intake("PM-F", ft.Target{Kind: ft.GitHub, Repo: twRepo}, ft.Target{Kind: ft.GitHub, Repo: twRepo})
	var payloads [][]byte
	for i, it := range pm.Items {
		repo, num := splitGitHubKey(t, it.Ticket.Key)
		env.tick()
		if err := env.gh.AddLabel(repo, num, "in progress"); err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, env.githubPayload("labeled.payload.json", "labeled", it.Ticket.Key, twPerson))
		if i == 0 {
			env.tick()
			if err := env.gh.CloseIssue(repo, num, "completed", twPerson); err != nil {
				t.Fatal(err)
			}
			payloads = append(payloads, env.githubPayload("issues.closed.json", "closed", it.Ticket.Key, twPerson))
		}
	}
	for _, p := range payloads {
		if ignored, err := env.eng.RecordWebhook(env.ctx, "github", nextDelivery(), "issues", p); err != nil || ignored != "" {
			t.Fatalf("record: %q, %v", ignored, err)
		}
	}
	queued, err := env.st.InboundStats(env.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if queued.Events != 3 || queued.WebhookJobs != 3 || queued.PayloadBytes == 0 {
		t.Fatalf("queued: %+v", queued)
	}
	env.run()
	wantStatus(t, env.item("PM-F", "AI-1"), ft.StatusDone)
	wantStatus(t, env.item("PM-F", "AI-2"), ft.StatusInProgress)
	applied, err := env.st.InboundStats(env.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if applied.Unprocessed != 0 || applied.WebhookJobs != 0 || applied.PayloadBytes != 0 {
		t.Fatalf("after applying: %+v; want every delivery processed and no body kept", applied)
	}
}

// The intake's answer is built from what it wrote: it must be what GET reads right after, for
// a new postmortem (one item overdue, so it stalls at once) and for a revision.
func TestIntakeViewIsWhatIsStored(t *testing.T) { pgtest.ForEach(t, testIntakeViewIsWhatIsStored) }

func testIntakeViewIsWhatIsStored(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	signed := env.clock.Now().Add(-90 * 24 * time.Hour)
	doc := &ft.Document{ID: "PM-V", Title: "Outage", Status: "finalized", SignedOffBy: []string{"carol@acme.com"},
		SignedOffAt: &signed, ActionItems: []ft.ActionItem{
			{ID: "AI-1", Title: "Overdue", Owner: "bob@acme.com", Priority: "P1", Due: signed.Format("2006-01-02")},
			{ID: "AI-2", Title: "Done already", Owner: "bob@acme.com", Priority: "P2", Status: ft.StatusDone},
		}}
	var last *ft.Document
	for i, want := range []ft.IntakeOutcome{ft.IntakeCreated, ft.IntakeRevised} {
		if i == 1 {
			doc.ActionItems = append(doc.ActionItems, ft.ActionItem{ID: "AI-3", Title: "New", Owner: "dan@acme.com", Priority: "P2"})
		}
		targets := make([]ft.Target, len(doc.ActionItems))
		for j := range targets {
			targets[j] = ft.Target{Kind: ft.GitHub, Repo: twRepo}
		}
		last = sync.WithTargets(doc, targets)
		outcome, view, err := env.eng.IntakeView(env.ctx, last)
		if err != nil || outcome != want {
			t.Fatalf("intake %d: %v, %v", i, outcome, err)
		}
		if !view.Items[0].Stalled {
			t.Fatalf("intake %d: the overdue item is not stalled: %+v", i, view.Items[0])
		}
		got, _ := json.Marshal(view)
		stored, _ := json.Marshal(env.pm("PM-V"))
		if string(got) != string(stored) {
			t.Fatalf("intake %d answered\n%s\nbut GET reads\n%s", i, got, stored)
		}
		env.tick()
	}
	if outcome, view, err := env.eng.IntakeView(env.ctx, last); err != nil || outcome != ft.IntakeUnchanged || view.ID != "" {
		t.Fatalf("unchanged: %v, %q, %v", outcome, view.ID, err)
	}
}

// On SQLite, once the engine knows its own identity in the tracker, a delivery about a
// followed ticket is applied in the transaction that records it: no body, no job. Before that,
// and behind a delivery of the same ticket still queued, it is queued, so a ticket's events
// keep the order they came in. On PostgreSQL every delivery is queued.
func TestFollowedDeliveryAppliedAtReceipt(t *testing.T) {
	pgtest.ForEach(t, testFollowedDeliveryAppliedAtReceipt)
}

func testFollowedDeliveryAppliedAtReceipt(t *testing.T, db pgtest.Backend) {
	env := newTWEnv(t, db)
	atReceipt := env.st.Dialect() == store.SQLite
	pm := env.intake("PM-N", ft.Target{Kind: ft.GitHub, Repo: twRepo}, ft.Target{Kind: ft.GitHub, Repo: twRepo})
	first, second := pm.Items[0].Ticket.Key, pm.Items[1].Ticket.Key
	repo, num := splitGitHubKey(t, first)
	env.tick()
	if err := env.gh.AddLabel(repo, num, "in progress"); err != nil {
		t.Fatal(err)
	}
	env.recordGitHub(env.githubPayload("labeled.payload.json", "labeled", first, twPerson))
	env.wantStored(1, 1) // the engine has not learnt who it is in GitHub yet
	wantStatus(t, env.item("PM-N", "AI-1"), ft.StatusOpen)

	if err := env.eng.LearnSelf(env.ctx, ft.GitHub); err != nil {
		t.Fatal(err)
	}
	env.tick()
	if err := env.gh.CloseIssue(repo, num, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	env.recordGitHub(env.githubPayload("issues.closed.json", "closed", first, twPerson))
	env.wantStored(2, 2) // behind the first ticket's queued delivery
	wantStatus(t, env.item("PM-N", "AI-1"), ft.StatusOpen)

	repo2, num2 := splitGitHubKey(t, second)
	env.tick()
	if err := env.gh.CloseIssue(repo2, num2, "not_planned", twPerson); err != nil {
		t.Fatal(err)
	}
	env.recordGitHub(env.githubPayload("issues.closed.json", "closed", second, twPerson))
	if atReceipt {
		env.wantStored(2, 2) // applied at once: nothing more stored
		wantStatus(t, env.item("PM-N", "AI-2"), ft.StatusWontDo)
	} else {
		env.wantStored(3, 3)
		wantStatus(t, env.item("PM-N", "AI-2"), ft.StatusOpen)
	}

	env.run()
	wantStatus(t, env.item("PM-N", "AI-1"), ft.StatusDone)
	wantStatus(t, env.item("PM-N", "AI-2"), ft.StatusWontDo)
	if got, want := env.historySteps("PM-N", "AI-1"), []string{"open→in_progress", "in_progress→done"}; !slices.Equal(got, want) {
		t.Fatalf("AI-1's history %v, want %v", got, want)
	}
	var changed []string
	for _, ev := range env.recv.statusEvents() {
		changed = append(changed, ev.Item+":"+string(ev.Change.To))
	}
	if !slices.Contains(changed, "AI-2:wont_do") {
		t.Fatalf("item.status_changed events %v: none for AI-2's change applied at receipt", changed)
	}
}

// When applying a delivery at receipt fails, what it wrote is undone and it is queued in the
// same transaction: the ticket's next delivery queues behind it, and once the fault is gone
// both are applied in the order they came. The fault is real: a trigger that makes SQLite
// refuse every status history row. (Only SQLite applies deliveries at receipt.)
func TestDeliveryFailingAtReceiptIsQueuedInOrder(t *testing.T) {
	var sqlite pgtest.Backend
	for _, b := range pgtest.Backends {
		if b.Name == "sqlite" {
			sqlite = b
		}
	}
	env := newTWEnv(t, sqlite)
	pm := env.intake("PM-Q", ft.Target{Kind: ft.GitHub, Repo: twRepo})
	key := pm.Items[0].Ticket.Key
	repo, num := splitGitHubKey(t, key)
	if err := env.eng.LearnSelf(env.ctx, ft.GitHub); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+env.database)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TRIGGER refuse_history BEFORE INSERT ON status_history
		BEGIN SELECT RAISE(ABORT, 'injected fault'); END`); err != nil {
		t.Fatal(err)
	}
	env.tick()
	if err := env.gh.AddLabel(repo, num, "in progress"); err != nil {
		t.Fatal(err)
	}
	env.recordGitHub(env.githubPayload("labeled.payload.json", "labeled", key, twPerson))
	env.wantStored(1, 1) // applying it failed: queued instead, nothing of it applied
	wantStatus(t, env.item("PM-Q", "AI-1"), ft.StatusOpen)
	env.tick()
	if err := env.gh.CloseIssue(repo, num, "completed", twPerson); err != nil {
		t.Fatal(err)
	}
	env.recordGitHub(env.githubPayload("issues.closed.json", "closed", key, twPerson))
	env.wantStored(2, 2) // behind the first
	if _, err := raw.Exec(`DROP TRIGGER refuse_history`); err != nil {
		t.Fatal(err)
	}
	env.run()
	if got, want := env.historySteps("PM-Q", "AI-1"), []string{"open→in_progress", "in_progress→done"}; !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
}
