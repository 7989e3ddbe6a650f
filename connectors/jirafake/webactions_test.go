package jirafake

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/internal/devweb"
	"github.com/followthrough/followthrough/connectors/internal/devweb/devwebtest"
	"github.com/followthrough/followthrough/connectors/jira"
)

// TestBrowsePageButtons clicks every button of an issue's page: each moves the issue as its
// assignee would and delivers one webhook as a Jira admin webhook with a secret does (headers,
// signature, the fixtures' payload shape), which followthrough's own parser reads as the change
// made.
func TestBrowsePageButtons(t *testing.T) {
	const secret = "jira-webhook-secret"
	rec := devwebtest.NewRecorder(t)
	c := newClient(t, Options{ServeHTML: true, Users: []User{{AccountID: "acc-bob", DisplayName: "Bob"}}})
	c.s.SetWebhook(rec.URL+"/webhooks/jira", secret)
	key := c.create("PAY", "Fix it")
	if err := c.s.Edit(key, func(is *Issue) { is.Assignee = "acc-bob" }); err != nil {
		t.Fatal(err)
	}
	page := c.s.URL() + "/browse/" + key
	// followthrough's own reader of Jira's webhooks.
	tracker, err := jira.New(&config.Jira{URL: c.s.URL(), Deployment: config.JiraCloud, Email: "bot@example.com", APIToken: "cloud-token"}, nil, jira.Options{})
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		action, comment string
		event, fixture  string
		status          string // in Jira
		resolution      string
		want            ft.Status
	}{
		{devweb.ActionStart, "", "jira:issue_updated", "webhook-issue-updated-started-working.json", "In Progress", "", ft.StatusInProgress},
		{devweb.ActionComment, "on it", "comment_created", "webhook-cloud-comment-created.json", "In Progress", "", ft.StatusInProgress},
		{devweb.ActionDone, "", "jira:issue_updated", "webhook-issue-updated-resolved.json", "Done", "Done", ft.StatusDone},
		{devweb.ActionReopen, "", "jira:issue_updated", "webhook-issue-updated-reopened.json", "To Do", "", ft.StatusOpen},
		{devweb.ActionWontDo, "", "jira:issue_updated", "webhook-issue-updated-resolved.json", "Won't Do", "Won't Do", ft.StatusWontDo},
	}
	ids := map[string]bool{}
	for i, st := range steps {
		code, loc := devwebtest.Click(t, page, url.Values{"action": {st.action}, "body": {st.comment}})
		if code != http.StatusSeeOther || loc != "/browse/"+key {
			t.Fatalf("%s: %d %q, want 303 back to the page", st.action, code, loc)
		}
		is, _ := c.s.Issue(key)
		if is.Status != st.status || is.Resolution != st.resolution {
			t.Fatalf("%s: issue %q/%q, want %q/%q", st.action, is.Status, is.Resolution, st.status, st.resolution)
		}
		reqs, bodies := rec.Deliveries()
		if len(reqs) != i+1 {
			t.Fatalf("%s: %d deliveries, want %d", st.action, len(reqs), i+1)
		}
		req, body := reqs[i], bodies[i]
		if sig := req.Header.Get("X-Hub-Signature"); req.URL.Path != "/webhooks/jira" || sig != devweb.HubSignature(secret, body) {
			t.Errorf("%s: delivery to %s signed %q, want the body's signature", st.action, req.URL.Path, sig)
		}
		if id := req.Header.Get("X-Atlassian-Webhook-Identifier"); id == "" || ids[id] {
			t.Errorf("%s: X-Atlassian-Webhook-Identifier %q is not a fresh id", st.action, id)
		} else {
			ids[id] = true
		}
		if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", st.action, ct)
		}

		keys, want := devwebtest.Keys(t, body), devwebtest.FileKeys(t, filepath.Join("testdata", "webhooks", st.fixture))
		for _, obj := range []string{"", "issue", "changelog", "comment", "user"} {
			for k := range want[obj] {
				optional := k == "jsdPublic" || k == "avatarUrls" || k == "name" || k == "key" || k == "emailAddress" // service desk; Cloud's privacy
				if !keys[obj][k] && !optional {
					t.Errorf("%s: payload %q lacks %q, which %s has", st.action, obj, k, st.fixture)
				}
			}
		}
		ev, relevant, err := tracker.ParseWebhook(st.event, body)
		if err != nil || !relevant {
			t.Fatalf("%s: followthrough's parser: relevant %v, %v", st.action, relevant, err)
		}
		if ev.Ref.Key != key || ev.Status != st.want || ev.Actor != "acc-bob" || !ev.Activity || ev.Marker != "followthrough:PM-1/AI-1" && st.action != devweb.ActionComment {
			t.Errorf("%s: parsed %+v, want %s %s by acc-bob", st.action, ev, key, st.want)
		}
	}

	_, _, html := c.browse("/browse/"+key, false)
	for _, want := range []string{`value="reopen"`, `name="body"`, "Webhook deliveries", "jira:issue_updated", "comment_created", "as Bob would"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, `value="done"`) {
		t.Errorf("a finished issue's page offers to finish it")
	}
}

// TestBrowsePageRefusesForeignPosts: a post from another site (as the browser reports it), to a
// host name that is not loopback (DNS rebinding), of a button the issue does not offer, or of
// an empty comment changes nothing and delivers nothing; without a webhook a click changes the
// issue and sends nothing.
func TestBrowsePageRefusesForeignPosts(t *testing.T) {
	rec := devwebtest.NewRecorder(t)
	c := newClient(t, Options{ServeHTML: true})
	c.s.SetWebhook(rec.URL, "secret")
	key := c.create("PAY", "Fix it")
	page := c.s.URL() + "/browse/" + key
	devwebtest.CheckRefusals(t, page, devweb.ActionReopen, rec, func(t *testing.T) {
		if is, _ := c.s.Issue(key); is.Status != "To Do" || len(is.Comments) != 0 {
			t.Errorf("the issue changed: %+v", is)
		}
	})

	c.s.SetWebhook("", "")
	if code, body := devwebtest.Click(t, page, url.Values{"action": {devweb.ActionDone}}); code != http.StatusSeeOther {
		t.Fatalf("click without a webhook: %d: %s", code, body)
	}
	if is, _ := c.s.Issue(key); is.Status != "Done" {
		t.Errorf("status %s after close without a webhook", is.Status)
	}
	if reqs, _ := rec.Deliveries(); len(reqs) != 0 {
		t.Errorf("%d deliveries without a webhook", len(reqs))
	}
}

// TestBrowsePageTwoStepWorkflow: without a Won't Do status, "won't do" is the done status with
// a won't-do resolution.
func TestBrowsePageTwoStepWorkflow(t *testing.T) {
	wf := TwoStepWorkflow()
	c := newClient(t, Options{ServeHTML: true, Workflow: &wf})
	key := c.create("PAY", "Fix it")
	if code, body := devwebtest.Click(t, c.s.URL()+"/browse/"+key, url.Values{"action": {devweb.ActionWontDo}}); code != http.StatusSeeOther {
		t.Fatalf("%d: %s", code, body)
	}
	if is, _ := c.s.Issue(key); is.Status != "Done" || is.Resolution != "Won't Do" {
		t.Errorf("won't do in a two-step workflow: %q/%q", is.Status, is.Resolution)
	}
}
