package sync

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
)

// received is one outbound event as the receiver saw it, signature checked.
type received struct {
	ID   string
	Type string
	Data ft.PostmortemView
}

// receiver is a notify URL on loopback that verifies Standard Webhooks signatures.
type receiver struct {
	t      *testing.T
	key    []byte
	srv    *httptest.Server
	mu     gosync.Mutex
	events []received
}

const receiverSecret = "whsec_c2VjcmV0LWtleS1mb3ItdGhlLXN0YWxsLXRlc3RzLTEyMzQ="

func newReceiver(t *testing.T) *receiver {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(receiverSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, key: key}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	ok := false
	for _, sig := range strings.Fields(req.Header.Get("webhook-signature")) {
		ok = ok || hmac.Equal([]byte(sig), []byte(want))
	}
	if !ok || id == "" || ts == "" {
		r.t.Errorf("notify delivery with a bad signature: id %q ts %q", id, ts)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev struct {
		Type string            `json:"type"`
		Data ft.PostmortemView `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("notify body: %v", err)
	}
	r.mu.Lock()
	r.events = append(r.events, received{ID: id, Type: ev.Type, Data: ev.Data})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Type)
	}
	return out
}

func (r *receiver) last() received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events[len(r.events)-1]
}

// stallHarness is the service's pieces on a driven clock: a SQLite file, the real connectors
// talking to the stand-ins on loopback, and the engine run with RunDue.
type stallHarness struct {
	t      *testing.T
	ctx    context.Context
	clock  *testclock.Clock
	gh     *githubfake.Server
	jira   *jirafake.Server
	recv   *receiver
	cfg    *config.Config
	db     string
	logger *slog.Logger
	st     *store.Store
	engine *Engine
}

const (
	jiraEmail = "bot@example.com"
	jiraToken = "cloud-token"
	jiraPAT   = "dc-pat"
	bobJira   = "acc-bob"
	aliceJira = "acc-alice"
)

// newStallHarness starts the stand-ins (Jira Cloud, or Data Center with dc) and the service's
// pieces at start.
func newStallHarness(t *testing.T, on pgtest.Backend, start time.Time, dc bool) *stallHarness {
	h := &stallHarness{t: t, ctx: context.Background(), clock: testclock.New(start),
		logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h.gh = githubfake.New(githubfake.Options{Now: h.clock.Now})
	t.Cleanup(h.gh.Close)
	mode := jirafake.Cloud
	if dc {
		mode = jirafake.DataCenter
	}
	h.jira = jirafake.New(jirafake.Options{Mode: mode, Email: jiraEmail, APIToken: jiraToken, PAT: jiraPAT, Now: h.clock.Now})
	t.Cleanup(h.jira.Close)
	h.recv = newReceiver(t)

	cfg := config.Default()
	cfg.PublicURL = "https://ft.example.com"
	gh := config.DefaultGitHub()
	gh.APIURL = h.gh.URL()
	gh.Token = config.Secret(githubfake.DefaultToken)
	gh.WriteInterval = 0
	cfg.GitHub = gh
	j := config.DefaultJira()
	j.URL = h.jira.URL()
	j.Deployment = config.JiraCloud
	j.Email = jiraEmail
	j.APIToken = config.Secret(jiraToken)
	if dc {
		j.Deployment = config.JiraDataCenter
		j.Email, j.APIToken, j.PAT = "", "", config.Secret(jiraPAT)
	}
	j.SearchLag = 0
	cfg.Jira = j
	cfg.People = []config.Person{
		{Email: "bob@acme.com", GitHub: "bob-gh", Jira: bobJira},
		{Email: "alice@acme.com", GitHub: "alice-gh", Jira: aliceJira},
	}
	if dc {
		cfg.People[0].Jira, cfg.People[1].Jira = "bob", "alice"
	}
	cfg.Notify = []config.Notify{{URL: h.recv.srv.URL, Secret: config.Secret(receiverSecret),
		Events: []string{ft.EventReopened, ft.EventResumed, ft.EventCompleted}}}
	h.cfg = cfg
	h.db = on.Database(t)
	h.open()
	t.Cleanup(func() { h.st.Close() })
	return h
}

// open starts a store and an engine on the database file, as the app does at start.
func (h *stallHarness) open() {
	t := h.t
	st, err := store.Open(h.ctx, h.db, h.logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(h.ctx); err != nil {
		t.Fatal(err)
	}
	cfg := h.cfg
	ghT, err := github.New(cfg.GitHub, cfg.People, github.Options{Logger: h.logger, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	jT, err := jira.New(cfg.Jira, cfg.People, jira.Options{Logger: h.logger, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.st = st
	h.engine = New(Options{Store: st, Config: cfg, Clock: h.clock, Logger: h.logger,
		Trackers: map[ft.TrackerKind]ft.Tracker{ft.GitHub: ghT, ft.Jira: jT}})
	if err := st.ReleaseLeases(h.ctx); err != nil {
		t.Fatal(err)
	}
}

// restart closes the store and drops the engine and connectors, then opens new ones on the
// same file, as a process restart would.
func (h *stallHarness) restart() {
	if err := h.st.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

// at moves the clock, scans for stalls and works the outbox until nothing is due.
func (h *stallHarness) at(now time.Time) {
	h.t.Helper()
	h.clock.Set(now)
	if _, err := h.engine.ScanStalls(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	h.run()
}

func (h *stallHarness) run() {
	h.t.Helper()
	if _, err := h.engine.RunDue(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	pending, failed, err := h.st.JobCounts(h.ctx)
	if err != nil || pending != 0 || failed != 0 {
		h.t.Fatalf("after RunDue: %d jobs pending, %d failed, err %v", pending, failed, err)
	}
}

// apply is a tracker event arriving (a webhook, or a reconcile), applied as the inbound side
// applies it: the ticket's news, then the postmortem evaluated, in one transaction.
func (h *stallHarness) apply(ev ft.TicketEvent) {
	h.t.Helper()
	now := h.clock.Now()
	if ev.UpdatedAt.IsZero() {
		ev.UpdatedAt = now
	}
	err := h.st.Write(h.ctx, func(tx *store.Tx) error {
		a, err := applyTicketEvent(h.ctx, tx, ev, string(ev.Ref.Kind), "", now)
		if err != nil || a.Ignored != "" {
			if err == nil {
				h.t.Errorf("event on %s ignored: %s", ev.Ref.Key, a.Ignored)
			}
			return err
		}
		_, err = h.engine.evaluate(h.ctx, tx, a.PostmortemID, now)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.run()
}

func (h *stallHarness) pm(id string) ft.PostmortemView {
	h.t.Helper()
	pm, err := h.st.Postmortem(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return pm
}

func itemOf(pm ft.PostmortemView, id string) ft.ItemView {
	for _, it := range pm.Items {
		if it.ID == id {
			return it
		}
	}
	return ft.ItemView{}
}

func ghNumber(t *testing.T, ref *ft.TicketRef) (string, int) {
	t.Helper()
	if ref == nil {
		t.Fatal("item has no ticket")
	}
	repo, num, _ := strings.Cut(ref.Key, "#")
	n, err := strconv.Atoi(num)
	if err != nil {
		t.Fatalf("ticket key %q", ref.Key)
	}
	return repo, n
}

// ghBotComments are the comments followthrough wrote on a GitHub issue.
func (h *stallHarness) ghBotComments(repo string, n int) []string {
	is, _ := h.gh.Issue(repo, n)
	var out []string
	for _, c := range is.Comments {
		if c.User == githubfake.DefaultLogin {
			out = append(out, c.Body)
		}
	}
	return out
}

func (h *stallHarness) jiraBotComments(key string) []string {
	is, _ := h.jira.Issue(key)
	var out []string
	for _, c := range is.Comments {
		if c.Author == "ft-bot-account" || c.Author == "followthrough" { // the fake's bot, Cloud and DC
			out = append(out, c.Body)
		}
	}
	return out
}

func hasLabel(labels []string, l string) bool {
	for _, x := range labels {
		if x == l {
			return true
		}
	}
	return false
}

func mustContain(t *testing.T, what, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("%s does not contain %q:\n%s", what, p, text)
		}
	}
}

func date(m time.Month, d, hour int) time.Time { return time.Date(2026, m, d, hour, 0, 0, 0, time.UTC) }

// TestStallLifecycle walks a postmortem through weeks of simulated time: tracking → reopened
// (an overdue item, then an inactive one) → resumed → completed → reopened again when a
// finished item is reopened, with a restart in the middle, and checks every comment, label,
// own-ticket change and event, and that none is repeated.
func TestStallLifecycle(t *testing.T) { pgtest.ForEach(t, testStallLifecycle) }

func testStallLifecycle(t *testing.T, db pgtest.Backend) {
	signed := date(1, 5, 10)
	h := newStallHarness(t, db, signed, false)
	ctx := h.ctx

	// The postmortem's own ticket, closed when the postmortem was signed off.
	own, err := h.gh.CreateIssue("acme/pm", githubfake.NewIssue{Title: "PM-1 postmortem", User: "carol-gh"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.gh.CloseIssue("acme/pm", own.Number, "completed", "carol-gh"); err != nil {
		t.Fatal(err)
	}
	checkout := ft.Target{Kind: ft.GitHub, Repo: "acme/checkout"}
	pay := ft.Target{Kind: ft.Jira, Project: "PAY", IssueType: "Task"}
	doc := &ft.Document{ID: "PM-1", Title: "Checkout outage", Status: "finalized", Severity: "SEV1",
		SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed,
		Tracker: &ft.OwnTicket{Kind: ft.GitHub, Repo: "acme/pm", Number: own.Number},
		ActionItems: []ft.ActionItem{
			{ID: "AI-1", Title: "Circuit breaker", Owner: "bob@acme.com", Priority: "P1", Due: "2026-01-20"},
			{ID: "AI-2", Title: "Error-rate alert", Owner: "alice@acme.com", Priority: "P2"},
			{ID: "AI-3", Title: "Game day", Owner: "alice@acme.com", Priority: "P3", Due: "2026-06-01"},
		}}
	h.clock.Set(signed.Add(time.Minute))
	if _, err := h.engine.Intake(ctx, WithTargets(doc, []ft.Target{checkout, pay, checkout})); err != nil {
		t.Fatal(err)
	}
	h.run()
	pm := h.pm("PM-1")
	if pm.State != ft.StateTracking || pm.ReopenedCount != 0 {
		t.Fatalf("after intake: state %s, reopened_count %d", pm.State, pm.ReopenedCount)
	}
	repo1, n1 := ghNumber(t, itemOf(pm, "AI-1").Ticket)
	_, n3 := ghNumber(t, itemOf(pm, "AI-3").Ticket)
	key2 := itemOf(pm, "AI-2").Ticket.Key

	// Bob works on AI-1 on the 15th; the due day (the 20th) ends, the grace runs: nothing yet.
	h.clock.Set(date(1, 15, 9))
	h.apply(ft.TicketEvent{Ref: *itemOf(pm, "AI-1").Ticket, Activity: true, Actor: "bob-gh"})
	h.at(date(1, 21, 12))
	pm = h.pm("PM-1")
	if ai1 := itemOf(pm, "AI-1"); ai1.Stalled || !ft.Overdue(ft.ItemStallInput(pm, ai1), h.cfg.Stall.Policy(), h.clock.Now()) {
		t.Fatalf("in the grace: AI-1 stalled %v, want overdue but not stalled", ai1.Stalled)
	}
	if pm.State != ft.StateTracking || len(h.recv.types()) != 0 || len(h.ghBotComments(repo1, n1)) != 0 {
		t.Fatalf("in the grace: state %s, events %v", pm.State, h.recv.types())
	}

	// The grace ends at midnight: AI-1 stalls as overdue and the postmortem reopens.
	h.at(date(1, 22, 0))
	pm = h.pm("PM-1")
	ai1 := itemOf(pm, "AI-1")
	if pm.State != ft.StateReopened || pm.ReopenedCount != 1 || !ai1.Stalled || ai1.StalledReason == nil || *ai1.StalledReason != ft.StallOverdue {
		t.Fatalf("after the grace: state %s, reopened_count %d, AI-1 %+v", pm.State, pm.ReopenedCount, ai1)
	}
	comments := h.ghBotComments(repo1, n1)
	if len(comments) != 1 {
		t.Fatalf("AI-1 comments = %q; want one", comments)
	}
	mustContain(t, "AI-1's stall comment", comments[0], "@bob-gh", "due on 2026-01-20", "https://ft.example.com/postmortems/PM-1")
	is1, _ := h.gh.Issue(repo1, n1)
	if !hasLabel(is1.Labels, StalledLabel) {
		t.Errorf("AI-1 labels = %v; want stalled", is1.Labels)
	}
	ownIs, _ := h.gh.Issue("acme/pm", own.Number)
	ownComments := h.ghBotComments("acme/pm", own.Number)
	if ownIs.State != "open" || len(ownComments) != 1 {
		t.Fatalf("own ticket: state %s, comments %q; want reopened with one comment", ownIs.State, ownComments)
	}
	mustContain(t, "the reopening comment", ownComments[0], "AI-1", "Circuit breaker", repo1+"#", "overdue", "https://ft.example.com/postmortems/PM-1")
	if strings.Contains(ownComments[0], "AI-2") {
		t.Errorf("the reopening comment lists an item that is not stalled:\n%s", ownComments[0])
	}
	if got := h.recv.types(); len(got) != 1 || got[0] != ft.EventReopened {
		t.Fatalf("events = %v; want one postmortem.reopened", got)
	}
	if ev := h.recv.last(); ev.Data.State != ft.StateReopened || ev.Data.ReopenedCount != 1 || !itemOf(ev.Data, "AI-1").Stalled {
		t.Errorf("postmortem.reopened data: state %s, reopened_count %d", ev.Data.State, ev.Data.ReopenedCount)
	}

	// A restart in the middle: scans at the same time and later repeat nothing.
	h.restart()
	h.at(date(1, 22, 0))
	h.at(date(1, 25, 0))
	if got := len(h.ghBotComments(repo1, n1)); got != 1 {
		t.Errorf("after the restart AI-1 has %d comments; want 1", got)
	}
	if got := len(h.ghBotComments("acme/pm", own.Number)); got != 1 {
		t.Errorf("after the restart the own ticket has %d comments; want 1", got)
	}
	if got := h.recv.types(); len(got) != 1 {
		t.Errorf("after the restart events = %v; want the one reopened", got)
	}

	// AI-2 (P2, Jira, no due date) has been quiet for 30 days since its ticket was made: it
	// stalls as inactive; the postmortem stays reopened, counted once.
	h.at(date(2, 4, 11))
	pm = h.pm("PM-1")
	if ai2 := itemOf(pm, "AI-2"); !ai2.Stalled || *ai2.StalledReason != ft.StallInactive || pm.ReopenedCount != 1 {
		t.Fatalf("AI-2 = %+v, reopened_count %d; want inactive, 1", ai2, pm.ReopenedCount)
	}
	jc := h.jiraBotComments(key2)
	if len(jc) != 1 {
		t.Fatalf("AI-2 comments = %q; want one", jc)
	}
	mustContain(t, "AI-2's stall comment", jc[0], "[~accountid:"+aliceJira+"]", "no activity on it since 2026-01-05", "30 days", "https://ft.example.com/postmortems/PM-1")
	is2, _ := h.jira.Issue(key2)
	if !hasLabel(is2.Labels, StalledLabel) {
		t.Errorf("AI-2 labels = %v; want stalled", is2.Labels)
	}
	if got := len(h.ghBotComments("acme/pm", own.Number)); got != 1 || len(h.recv.types()) != 1 {
		t.Errorf("a second stall while reopened: own comments %d, events %v; want 1, 1", got, h.recv.types())
	}

	// Bob finishes AI-1: its label comes off, the postmortem stays reopened (AI-2).
	h.clock.Set(date(2, 5, 9))
	if err := h.gh.CloseIssue(repo1, n1, "completed", "bob-gh"); err != nil {
		t.Fatal(err)
	}
	h.apply(ft.TicketEvent{Ref: *ai1.Ticket, Status: ft.StatusDone, Activity: true, Actor: "bob-gh"})
	is1, _ = h.gh.Issue(repo1, n1)
	if pm = h.pm("PM-1"); hasLabel(is1.Labels, StalledLabel) || pm.State != ft.StateReopened || itemOf(pm, "AI-1").Stalled {
		t.Fatalf("after AI-1 done: labels %v, state %s", is1.Labels, pm.State)
	}

	// Alice comments on AI-2: no item is stalled any more, the postmortem resumes.
	h.clock.Set(date(2, 6, 9))
	if err := h.jira.AddComment(key2, aliceJira, "on it"); err != nil {
		t.Fatal(err)
	}
	h.apply(ft.TicketEvent{Ref: *itemOf(pm, "AI-2").Ticket, Activity: true, Actor: aliceJira})
	pm = h.pm("PM-1")
	is2, _ = h.jira.Issue(key2)
	if pm.State != ft.StateTracking || pm.ReopenedCount != 1 || hasLabel(is2.Labels, StalledLabel) || itemOf(pm, "AI-2").StalledReason != nil {
		t.Fatalf("after activity: state %s, reopened_count %d, AI-2 labels %v", pm.State, pm.ReopenedCount, is2.Labels)
	}
	if got := h.recv.types(); len(got) != 2 || got[1] != ft.EventResumed {
		t.Fatalf("events = %v; want reopened, resumed", got)
	}
	if ownIs, _ = h.gh.Issue("acme/pm", own.Number); ownIs.State != "open" || len(h.ghBotComments("acme/pm", own.Number)) != 1 {
		t.Errorf("resuming touched the own ticket: state %s", ownIs.State)
	}

	// Another restart, then AI-2 done and AI-3 won't do: completed.
	h.restart()
	h.clock.Set(date(2, 10, 9))
	if err := h.jira.Transition(key2, "Done", ""); err != nil {
		t.Fatal(err)
	}
	h.apply(ft.TicketEvent{Ref: *itemOf(pm, "AI-2").Ticket, Status: ft.StatusDone, Activity: true, Actor: aliceJira})
	if err := h.gh.CloseIssue(repo1, n3, "not_planned", "alice-gh"); err != nil {
		t.Fatal(err)
	}
	h.apply(ft.TicketEvent{Ref: *itemOf(pm, "AI-3").Ticket, Status: ft.StatusWontDo, Activity: true, Actor: "alice-gh"})
	pm = h.pm("PM-1")
	if pm.State != ft.StateCompleted || pm.Completion.Percent != 100 {
		t.Fatalf("after every item finished: state %s, completion %+v", pm.State, pm.Completion)
	}
	if got := h.recv.types(); len(got) != 3 || got[2] != ft.EventCompleted {
		t.Fatalf("events = %v; want reopened, resumed, completed", got)
	}
	ownIs, _ = h.gh.Issue("acme/pm", own.Number)
	ownComments = h.ghBotComments("acme/pm", own.Number)
	if ownIs.State != "closed" || ownIs.StateReason != "completed" || len(ownComments) != 2 {
		t.Fatalf("own ticket: %s/%s, comments %q; want closed with a summary", ownIs.State, ownIs.StateReason, ownComments)
	}
	mustContain(t, "the summary", ownComments[1], "2 done, 1 won't do", "AI-1", "AI-2", "AI-3")
	if got := len(h.ghBotComments(repo1, n3)); got != 0 {
		t.Errorf("AI-3 never stalled but has %d comments", got)
	}

	// Months later nothing happens to a completed postmortem.
	h.at(date(9, 1, 0))
	if got := len(h.recv.types()); got != 3 {
		t.Errorf("events after months: %v", h.recv.types())
	}

	// Bob reopens AI-1, long overdue: it stalls again (a new episode, a new comment), and the
	// postmortem goes from completed to reopened, counted again.
	h.clock.Set(date(9, 2, 9))
	if err := h.gh.ReopenIssue(repo1, n1); err != nil {
		t.Fatal(err)
	}
	h.apply(ft.TicketEvent{Ref: *ai1.Ticket, Status: ft.StatusOpen, Activity: true, Actor: "bob-gh"})
	pm = h.pm("PM-1")
	if pm.State != ft.StateReopened || pm.ReopenedCount != 2 {
		t.Fatalf("after AI-1 reopened: state %s, reopened_count %d; want reopened, 2", pm.State, pm.ReopenedCount)
	}
	if got := h.recv.types(); len(got) != 4 || got[3] != ft.EventReopened {
		t.Fatalf("events = %v; want a second reopened", got)
	}
	if got := len(h.ghBotComments(repo1, n1)); got != 2 {
		t.Errorf("AI-1 has %d comments; want 2 (one per stall)", got)
	}
	is1, _ = h.gh.Issue(repo1, n1)
	ownIs, _ = h.gh.Issue("acme/pm", own.Number)
	if !hasLabel(is1.Labels, StalledLabel) || ownIs.State != "open" || len(h.ghBotComments("acme/pm", own.Number)) != 3 {
		t.Errorf("second reopening: AI-1 labels %v, own ticket %s with %d comments", is1.Labels, ownIs.State,
			len(h.ghBotComments("acme/pm", own.Number)))
	}

	// And a final restart repeats none of it.
	h.restart()
	h.at(date(9, 3, 0))
	if got := len(h.recv.types()); got != 4 {
		t.Errorf("events after the last restart: %v", h.recv.types())
	}
	if got := len(h.ghBotComments(repo1, n1)); got != 2 {
		t.Errorf("AI-1 comments after the last restart: %d", got)
	}
}

// TestStallJiraOwnTicketRetriesAndNoTicketYet: an item already overdue when the postmortem
// arrives stalls at intake, before its ticket exists; its comment waits for the ticket, is
// retried after a tracker failure and written once, mentioning the Data Center username. The
// postmortem's own Jira ticket is reopened, then closed (Done) with a summary.
func TestStallJiraOwnTicketRetriesAndNoTicketYet(t *testing.T) {
	pgtest.ForEach(t, testStallJiraOwnTicketRetriesAndNoTicketYet)
}

func testStallJiraOwnTicketRetriesAndNoTicketYet(t *testing.T, db pgtest.Backend) {
	signed := date(1, 5, 10)
	h := newStallHarness(t, db, signed, true)
	ctx := h.ctx
	ownT, err := h.engine.opts.Trackers[ft.Jira].Create(ctx, ft.NewTicket{Target: ft.Target{Kind: ft.Jira, Project: "PIR"},
		Title: "PM-2 postmortem", Marker: "pm-2-own"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.jira.Transition(ownT.Ref.Key, "Done", ""); err != nil {
		t.Fatal(err)
	}
	pay := ft.Target{Kind: ft.Jira, Project: "PAY", IssueType: "Task"}
	doc := &ft.Document{ID: "PM-2", Title: "Queue backlog", Status: "finalized", SignedOffBy: []string{"carol@acme.com"},
		SignedOffAt: &signed, Tracker: &ft.OwnTicket{Kind: ft.Jira, Key: ownT.Ref.Key},
		ActionItems: []ft.ActionItem{
			{ID: "AI-1", Title: "Drain faster", Owner: "bob@acme.com", Priority: "P0", Due: "2026-01-02"},
			{ID: "AI-2", Title: "Page earlier", Owner: "alice@acme.com", Priority: "P1", Due: "2026-03-01"},
		}}
	h.clock.Set(date(1, 5, 11))
	if _, err := h.engine.Intake(ctx, WithTargets(doc, []ft.Target{pay, pay})); err != nil {
		t.Fatal(err)
	}
	pm := h.pm("PM-2")
	if pm.State != ft.StateReopened || pm.ReopenedCount != 1 || !itemOf(pm, "AI-1").Stalled || itemOf(pm, "AI-1").Ticket != nil {
		t.Fatalf("at intake: state %s, reopened_count %d, AI-1 %+v", pm.State, pm.ReopenedCount, itemOf(pm, "AI-1"))
	}
	// The first comment call fails with a 503: retried later, not lost, not doubled. (The two
	// tickets are created at once, so either may be PAY-1.)
	for _, key := range []string{"PAY-1", "PAY-2"} {
		h.jira.FailNext(1, http.StatusServiceUnavailable, http.MethodPost, "/rest/api/2/issue/"+key+"/comment")
	}
	if _, err := h.engine.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	pm = h.pm("PM-2")
	key1, key2 := itemOf(pm, "AI-1").Ticket.Key, itemOf(pm, "AI-2").Ticket.Key
	if got := h.jiraBotComments(key1); len(got) != 0 {
		t.Fatalf("comments after a failed call: %q", got)
	}
	pending, _, _ := h.st.JobCounts(ctx)
	if pending == 0 {
		t.Fatal("the failed comment is not waiting for a retry")
	}
	h.at(h.clock.Now().Add(5 * time.Second))
	comments := h.jiraBotComments(key1)
	if len(comments) != 1 {
		t.Fatalf("%s comments = %q; want one", key1, comments)
	}
	mustContain(t, "the stall comment", comments[0], "[~bob]", "due on 2026-01-02", "https://ft.example.com/postmortems/PM-2")
	is1, _ := h.jira.Issue(key1)
	if !hasLabel(is1.Labels, StalledLabel) {
		t.Errorf("%s labels %v", key1, is1.Labels)
	}
	own, _ := h.jira.Issue(ownT.Ref.Key)
	ownComments := h.jiraBotComments(ownT.Ref.Key)
	if own.Status != "To Do" || len(ownComments) != 1 {
		t.Fatalf("own ticket %s with %q; want To Do with one comment", own.Status, ownComments)
	}
	// It was written when the postmortem reopened, before AI-1 had a ticket.
	mustContain(t, "the reopening comment", ownComments[0], "AI-1 Drain faster", "overdue (due 2026-01-02)")
	if got := h.recv.types(); len(got) != 1 || got[0] != ft.EventReopened {
		t.Fatalf("events %v", got)
	}

	// Both items finished: completed, own ticket Done with a summary; AI-2 never had a comment.
	h.clock.Set(date(1, 10, 9))
	for _, key := range []string{key1, key2} {
		if err := h.jira.Transition(key, "Done", ""); err != nil {
			t.Fatal(err)
		}
		h.apply(ft.TicketEvent{Ref: ft.TicketRef{Kind: ft.Jira, Key: key}, Status: ft.StatusDone, Activity: true, Actor: "bob"})
	}
	pm = h.pm("PM-2")
	own, _ = h.jira.Issue(ownT.Ref.Key)
	ownComments = h.jiraBotComments(ownT.Ref.Key)
	is1, _ = h.jira.Issue(key1)
	if pm.State != ft.StateCompleted || own.Status != "Done" || len(ownComments) != 2 || hasLabel(is1.Labels, StalledLabel) {
		t.Fatalf("completed: state %s, own %s with %d comments, PAY-1 labels %v", pm.State, own.Status, len(ownComments), is1.Labels)
	}
	mustContain(t, "the summary", ownComments[1], "2 done, 0 won't do")
	// AI-1 finished first: no stall left, AI-2 open, so it resumed before completing.
	if got := h.recv.types(); len(got) != 3 || got[1] != ft.EventResumed || got[2] != ft.EventCompleted {
		t.Fatalf("events %v; want reopened, resumed, completed", got)
	}
	if got := len(h.jiraBotComments(key2)); got != 0 {
		t.Errorf("AI-2 never stalled but has %d comments", got)
	}
}

// TestStallRevisionRemovesStalledItem: a revision that removes a stalled item takes its label
// off, and a postmortem whose items are all finished or removed completes.
func TestStallRevisionRemovesStalledItem(t *testing.T) {
	pgtest.ForEach(t, testStallRevisionRemovesStalledItem)
}

func testStallRevisionRemovesStalledItem(t *testing.T, db pgtest.Backend) {
	signed := date(1, 5, 10)
	h := newStallHarness(t, db, signed, false)
	ctx := h.ctx
	repo := ft.Target{Kind: ft.GitHub, Repo: "acme/ops"}
	doc := &ft.Document{ID: "PM-3", Title: "DNS", Status: "finalized", SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed,
		ActionItems: []ft.ActionItem{{ID: "AI-1", Title: "TTL", Owner: "bob@acme.com", Priority: "P0"}}}
	if _, err := h.engine.Intake(ctx, WithTargets(doc, []ft.Target{repo})); err != nil {
		t.Fatal(err)
	}
	h.run()
	h.at(date(1, 12, 11)) // P0: inactive after 7 days
	pm := h.pm("PM-3")
	if pm.State != ft.StateReopened {
		t.Fatalf("state %s; want reopened", pm.State)
	}
	r, n := ghNumber(t, itemOf(pm, "AI-1").Ticket)
	if is, _ := h.gh.Issue(r, n); !hasLabel(is.Labels, StalledLabel) {
		t.Fatalf("labels %v", is.Labels)
	}
	revised := *doc
	revised.ActionItems = []ft.ActionItem{}
	h.clock.Set(date(1, 13, 9))
	if _, err := h.engine.Intake(ctx, &revised); err != nil {
		t.Fatal(err)
	}
	h.run()
	pm = h.pm("PM-3")
	is, _ := h.gh.Issue(r, n)
	if pm.State != ft.StateCompleted || hasLabel(is.Labels, StalledLabel) || is.State != "closed" {
		t.Fatalf("after the revision: state %s, ticket %s with labels %v", pm.State, is.State, is.Labels)
	}
	if got := h.recv.types(); len(got) != 2 || got[0] != ft.EventReopened || got[1] != ft.EventCompleted {
		t.Fatalf("events %v", got)
	}
}

// TestStallEmptyPostmortemCompletesAtOnce: no action items is 100 % at intake.
func TestStallEmptyPostmortemCompletesAtOnce(t *testing.T) {
	pgtest.ForEach(t, testStallEmptyPostmortemCompletesAtOnce)
}

func testStallEmptyPostmortemCompletesAtOnce(t *testing.T, db pgtest.Backend) {
	signed := date(1, 5, 10)
	h := newStallHarness(t, db, signed, false)
	doc := &ft.Document{ID: "PM-4", Title: "Nothing to do", Status: "finalized", SignedOffBy: []string{"carol@acme.com"},
		SignedOffAt: &signed, ActionItems: []ft.ActionItem{}}
	if _, err := h.engine.Intake(h.ctx, doc); err != nil {
		t.Fatal(err)
	}
	h.run()
	if pm := h.pm("PM-4"); pm.State != ft.StateCompleted || pm.Completion.Percent != 100 {
		t.Fatalf("state %s, completion %+v", pm.State, pm.Completion)
	}
	if got := h.recv.types(); len(got) != 1 || got[0] != ft.EventCompleted {
		t.Fatalf("events %v", got)
	}
}

// TestStallRestoredItemCountsFromItsReturn: an item that a revision removed and a later one
// brings back is followed again from its return: its ticket, quiet for longer than
// inactive_after, is reopened, and the item does not stall at once (which would reopen the
// postmortem for work nobody could have done yet); it stalls once inactive_after has passed
// since it came back, with a comment that counts from then. The same for an item removed
// before its ticket was made, which gets one when it comes back.
func TestStallRestoredItemCountsFromItsReturn(t *testing.T) {
	pgtest.ForEach(t, testStallRestoredItemCountsFromItsReturn)
}

func testStallRestoredItemCountsFromItsReturn(t *testing.T, db pgtest.Backend) {
	signed := date(1, 5, 10)
	h := newStallHarness(t, db, signed, false)
	ctx := h.ctx
	repo := ft.Target{Kind: ft.GitHub, Repo: "acme/ops"}
	// P0: inactive after 7 days; due dates far off, so that only inactivity counts.
	ai1 := ft.ActionItem{ID: "AI-1", Title: "TTL", Owner: "bob@acme.com", Priority: "P0", Due: "2026-12-01"}
	ai2 := ft.ActionItem{ID: "AI-2", Title: "Runbook", Owner: "alice@acme.com", Priority: "P3", Due: "2026-12-01"}
	ai3 := ft.ActionItem{ID: "AI-3", Title: "Alert", Owner: "alice@acme.com", Priority: "P0", Due: "2026-12-01"}
	doc := &ft.Document{ID: "PM-5", Title: "DNS", Status: "finalized", SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed}
	intakeOnly := func(at time.Time, items ...ft.ActionItem) {
		t.Helper()
		h.clock.Set(at)
		revised := *doc
		revised.ActionItems = items
		targets := make([]ft.Target, len(items))
		for i := range targets {
			targets[i] = repo
		}
		if _, err := h.engine.Intake(ctx, WithTargets(&revised, targets)); err != nil {
			t.Fatal(err)
		}
	}
	intake := func(at time.Time, items ...ft.ActionItem) {
		t.Helper()
		intakeOnly(at, items...)
		h.run()
	}
	// AI-3 is removed before its ticket is made.
	intakeOnly(signed, ai1, ai2, ai3)
	intake(signed.Add(time.Minute), ai1, ai2)
	pm := h.pm("PM-5")
	r, n := ghNumber(t, itemOf(pm, "AI-1").Ticket)
	if it := itemOf(pm, "AI-3"); it.Ticket != nil || it.Sync != ft.SyncNone {
		t.Fatalf("AI-3 removed before its create: ticket %v, sync %s; want none", it.Ticket, it.Sync)
	}

	// AI-1 is removed the next day: its ticket is closed as not planned. Weeks pass.
	intake(date(1, 6, 9), ai2)
	if is, _ := h.gh.Issue(r, n); is.State != "closed" {
		t.Fatalf("the removed item's ticket is %s; want closed", is.State)
	}
	h.at(date(2, 1, 9))

	// Both come back on Feb 2, AI-1's ticket quiet since Jan 5: reopened, and not stalled.
	back := date(2, 2, 9)
	intake(back, ai1, ai2, ai3)
	pm = h.pm("PM-5")
	for _, id := range []string{"AI-1", "AI-3"} {
		if it := itemOf(pm, id); it.Removed || it.Status != ft.StatusOpen || it.Stalled || it.Ticket == nil {
			t.Fatalf("brought back: %s %+v; want open with a ticket, not stalled", id, it)
		}
	}
	if pm.State != ft.StateTracking {
		t.Fatalf("brought back: state %s; want tracking", pm.State)
	}
	if is, _ := h.gh.Issue(r, n); is.State != "open" || hasLabel(is.Labels, StalledLabel) || len(h.ghBotComments(r, n)) != 1 {
		t.Fatalf("brought back: ticket %s, labels %v, comments %q; want reopened, no stall", is.State, is.Labels, h.ghBotComments(r, n))
	}
	h.at(back.Add(7*day - time.Minute))
	if pm := h.pm("PM-5"); itemOf(pm, "AI-1").Stalled || itemOf(pm, "AI-3").Stalled || pm.State != ft.StateTracking {
		t.Fatalf("a minute before inactive_after since their return: state %s", pm.State)
	}

	// Seven days after their return, still quiet: they stall, counted from their return.
	h.at(back.Add(7 * day))
	pm = h.pm("PM-5")
	if pm.State != ft.StateReopened || pm.ReopenedCount != 1 {
		t.Fatalf("inactive_after since their return: state %s, reopened_count %d; want reopened, 1", pm.State, pm.ReopenedCount)
	}
	r3, n3 := ghNumber(t, itemOf(pm, "AI-3").Ticket)
	for _, c := range []struct {
		id       string
		comments []string
	}{{"AI-1", h.ghBotComments(r, n)[1:]}, {"AI-3", h.ghBotComments(r3, n3)}} {
		if it := itemOf(pm, c.id); !it.Stalled || *it.StalledReason != ft.StallInactive {
			t.Errorf("%s %+v; want stalled inactive", c.id, it)
		}
		if len(c.comments) != 1 {
			t.Errorf("%s stall comments %q; want one", c.id, c.comments)
			continue
		}
		mustContain(t, c.id+"'s stall comment", c.comments[0], "no activity on it since 2026-02-02")
	}
}
