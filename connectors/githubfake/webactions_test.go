package githubfake

import (
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/github"
	"github.com/followthrough/followthrough/connectors/internal/devweb"
	"github.com/followthrough/followthrough/connectors/internal/devweb/devwebtest"
)

// TestIssuePageButtons clicks every button of an issue's page: each changes the issue as its
// assignee would and delivers one webhook as GitHub does (headers, signature, the fixtures'
// payload shape), which followthrough's own parser reads as the change made.
func TestIssuePageButtons(t *testing.T) {
	const secret = "webhook-secret"
	rec := devwebtest.NewRecorder(t)
	s := New(Options{ServeHTML: true})
	defer s.Close()
	s.SetWebhook(rec.URL+"/webhooks/github", secret)
	is, err := s.CreateIssue("acme/x", NewIssue{Title: "Fix it", Body: "<!-- followthrough:PM-1/AI-1 -->", Assignees: []string{"bob-gh"}})
	if err != nil {
		t.Fatal(err)
	}
	page := s.HTMLBase() + "/acme/x/issues/1"
	// followthrough's own reader of GitHub's webhooks.
	tracker, err := github.New(&config.GitHub{APIURL: s.URL(), Token: config.Secret(DefaultToken)}, nil, github.Options{})
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		action, comment string
		event, fixture  string
		state, reason   string
		inProgress      bool
		status          ft.Status
	}{
		{devweb.ActionStart, "", "issues", "labeled.payload.json", "open", "", true, ft.StatusInProgress},
		{devweb.ActionComment, "on it", "issue_comment", "issue_comment.created.payload.json", "open", "", true, ft.StatusInProgress},
		{devweb.ActionDone, "", "issues", "issues.closed.json", "closed", "completed", true, ft.StatusDone},
		{devweb.ActionReopen, "", "issues", "reopened.payload.json", "open", "reopened", true, ft.StatusInProgress},
		{devweb.ActionWontDo, "", "issues", "issues.closed.json", "closed", "not_planned", true, ft.StatusWontDo},
	}
	ids := map[string]bool{}
	for i, st := range steps {
		code, loc := devwebtest.Click(t, page, url.Values{"action": {st.action}, "body": {st.comment}})
		if code != http.StatusSeeOther || loc != "/acme/x/issues/1" {
			t.Fatalf("%s: %d %q, want 303 back to the page", st.action, code, loc)
		}
		got, _ := s.Issue("acme/x", is.Number)
		if got.State != st.state || got.StateReason != st.reason || (indexFold(got.Labels, inProgressLabel) >= 0) != st.inProgress {
			t.Fatalf("%s: issue %s/%s labels %v", st.action, got.State, got.StateReason, got.Labels)
		}
		reqs, bodies := rec.Deliveries()
		if len(reqs) != i+1 {
			t.Fatalf("%s: %d deliveries, want %d", st.action, len(reqs), i+1)
		}
		req, body := reqs[i], bodies[i]
		h := req.Header
		if req.URL.Path != "/webhooks/github" || h.Get("X-GitHub-Event") != st.event || h.Get("Content-Type") != "application/json" ||
			!strings.HasPrefix(h.Get("User-Agent"), "GitHub-Hookshot/") || h.Get("X-GitHub-Hook-ID") == "" {
			t.Errorf("%s: delivery to %s with %v", st.action, req.URL.Path, h)
		}
		if sig := h.Get("X-Hub-Signature-256"); sig != devweb.HubSignature(secret, body) {
			t.Errorf("%s: X-Hub-Signature-256 %q does not sign the body", st.action, sig)
		}
		id := h.Get("X-GitHub-Delivery")
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) || ids[id] {
			t.Errorf("%s: X-GitHub-Delivery %q is not a fresh GUID", st.action, id)
		}
		ids[id] = true

		keys, want := devwebtest.Keys(t, body), devwebtest.FileKeys(t, filepath.Join("testdata", "webhooks", st.fixture))
		for obj, fields := range want {
			if obj == "installation" || obj == "organization" { // an App's or organisation's hook only
				continue
			}
			for k := range fields {
				optional := k == "installation" || k == "organization" || k == "draft"
				if !keys[obj][k] && !optional {
					t.Errorf("%s: payload %s lacks %q, which %s has", st.action, obj, k, st.fixture)
				}
			}
		}
		ev, relevant, err := tracker.ParseWebhook(st.event, body)
		if err != nil || !relevant {
			t.Fatalf("%s: followthrough's parser: relevant %v, %v", st.action, relevant, err)
		}
		if ev.Ref.Key != "acme/x#1" || ev.Status != st.status || ev.Actor != "bob-gh" || !ev.Activity ||
			ev.Marker != "followthrough:PM-1/AI-1" || !ev.UpdatedAt.Equal(got.UpdatedAt) {
			t.Errorf("%s: parsed %+v, want acme/x#1 %s by bob-gh at %s", st.action, ev, st.status, got.UpdatedAt)
		}
	}

	_, _, html := get(t, page)
	for _, want := range []string{`value="reopen"`, `name="body"`, "Webhook deliveries", "issues closed", "200", rec.URL + "/webhooks/github"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, `value="done"`) {
		t.Errorf("a closed issue's page offers to close it")
	}
}

// TestIssuePageRefusesForeignPosts: a post from another site (as the browser reports it), to a
// host name that is not loopback (DNS rebinding), of a button the issue does not offer, or of
// an empty comment changes nothing and delivers nothing; without a webhook a click changes the
// issue and sends nothing.
func TestIssuePageRefusesForeignPosts(t *testing.T) {
	rec := devwebtest.NewRecorder(t)
	s := New(Options{ServeHTML: true})
	defer s.Close()
	s.SetWebhook(rec.URL, "secret")
	if _, err := s.CreateIssue("acme/x", NewIssue{Title: "Fix it"}); err != nil {
		t.Fatal(err)
	}
	page := s.HTMLBase() + "/acme/x/issues/1"
	devwebtest.CheckRefusals(t, page, devweb.ActionReopen, rec, func(t *testing.T) {
		if is, _ := s.Issue("acme/x", 1); is.State != "open" || len(is.Comments) != 0 {
			t.Errorf("the issue changed: %+v", is)
		}
	})

	s.SetWebhook("", "")
	if code, body := devwebtest.Click(t, page, url.Values{"action": {devweb.ActionDone}}); code != http.StatusSeeOther {
		t.Fatalf("click without a webhook: %d: %s", code, body)
	}
	if is, _ := s.Issue("acme/x", 1); is.State != "closed" {
		t.Errorf("state %s after close without a webhook", is.State)
	}
	if reqs, _ := rec.Deliveries(); len(reqs) != 0 {
		t.Errorf("%d deliveries without a webhook", len(reqs))
	}
}

// TestIssuePageDeliveriesAnyCase: a click on the page at one spelling of the repository lists
// its delivery on the page at another, as both name the same issue.
func TestIssuePageDeliveriesAnyCase(t *testing.T) {
	rec := devwebtest.NewRecorder(t)
	s := New(Options{ServeHTML: true})
	defer s.Close()
	s.SetWebhook(rec.URL, "secret")
	if _, err := s.CreateIssue("Acme/X", NewIssue{Title: "Fix it"}); err != nil {
		t.Fatal(err)
	}
	if code, body := devwebtest.Click(t, s.HTMLBase()+"/ACME/x/issues/1", url.Values{"action": {devweb.ActionDone}}); code != http.StatusSeeOther {
		t.Fatalf("click: %d: %s", code, body)
	}
	for _, path := range []string{"/acme/x/issues/1", "/Acme/X/issues/1"} {
		if _, _, html := get(t, s.HTMLBase()+path); !strings.Contains(html, "issues closed") {
			t.Errorf("%s does not list the delivery:\n%s", path, html)
		}
	}
}
