package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
)

const (
	githubHookSecret = "gh-hook-secret-6f1c"
	jiraHookSecret   = "jira hook/secret+&=7d2e"
)

// webhookConfig has both trackers with webhook secrets.
const webhookConfig = `
database: unused.db
intake:
  tokens: [` + testToken + `]
github:
  token: ghp_test
  webhook_secret: ` + githubHookSecret + `
jira:
  url: https://acme.atlassian.net
  email: bot@acme.com
  api_token: jira-test
  webhook_secret: "` + jiraHookSecret + `"
routes:
  - to: {kind: github, repo: acme/actions}
`

func TestHubSignatureVector(t *testing.T) {
	// GitHub's documented example ("Validating webhook deliveries").
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	body := []byte("Hello, World!")
	if got := hubSignature("It's a Secret to Everybody", body); got != want {
		t.Fatalf("hubSignature = %s, want %s", got, want)
	}
	if err := checkHubSignature(headerGitHubSignature, want, "It's a Secret to Everybody", body); err != nil {
		t.Fatalf("check of the documented signature: %v", err)
	}
	upper := "sha256=" + strings.ToUpper(strings.TrimPrefix(want, "sha256="))
	if err := checkHubSignature(headerGitHubSignature, upper, "It's a Secret to Everybody", body); err != nil {
		t.Fatalf("upper-case hex: %v", err)
	}
	for _, bad := range []string{"", "sha256=", "sha1=757107ea", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
		"sha256=zz", want[:len(want)-2], want + "00"} {
		if err := checkHubSignature(headerGitHubSignature, bad, "It's a Secret to Everybody", body); err == nil {
			t.Errorf("signature %q accepted", bad)
		}
	}
	if err := checkHubSignature(headerGitHubSignature, want, "It's a Secret to Everybody", []byte("Hello, World!\n")); err == nil {
		t.Error("signature of another body accepted")
	}
}

// fixture reads a file from testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// githubHeader is what GitHub sends: a JSON body signed with secret ("" signs nothing).
func githubHeader(event, delivery, secret string, body []byte) http.Header {
	h := jsonHeader()
	h.Set("User-Agent", "GitHub-Hookshot/044aadd")
	if event != "" {
		h.Set(headerGitHubEvent, event)
	}
	if delivery != "" {
		h.Set(headerGitHubDelivery, delivery)
	}
	if secret != "" {
		h.Set(headerGitHubSignature, hubSignature(secret, body))
	}
	return h
}

// jiraHeader is what a signing Jira sends; secret "" signs nothing, identifier "" sends none.
func jiraHeader(identifier, secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=UTF-8")
	if identifier != "" {
		h.Set(headerJiraIdentifier, identifier)
	}
	if secret != "" {
		h.Set(headerJiraSignature, hubSignature(secret, body))
	}
	return h
}

func (e *env) hook(path string, body io.Reader, h http.Header) response {
	e.t.Helper()
	return e.do(http.MethodPost, path, body, h)
}

// answer is the webhook's 200 body.
func (r response) answer(t testing.TB) webhookAnswer {
	t.Helper()
	var a webhookAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("webhook answer %q: %v", r.body, err)
	}
	return a
}

// stored is how many deliveries are stored and queued: outbox jobs (there is no other work in
// these tests) and inbound events, which must agree.
func (e *env) stored() int {
	e.t.Helper()
	ctx := context.Background()
	pending, failed, err := e.store.JobCounts(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	events := 0
	for id := int64(1); ; id++ {
		_, err := e.store.InboundEvent(ctx, id)
		if errors.Is(err, ft.ErrNotFound) {
			break
		}
		if err != nil {
			e.t.Fatal(err)
		}
		events++
	}
	if pending+failed != events {
		e.t.Fatalf("%d webhook jobs for %d inbound events", pending+failed, events)
	}
	return events
}

// newHookEnv is a server with webhook secrets.
func newHookEnv(t *testing.T, configYAML string, dev bool) *env {
	t.Helper()
	return newEnvWith(t, configYAML, func(o *Options) { o.Dev = dev })
}

func TestGitHubWebhook(t *testing.T) {
	closed := fixture(t, "github-webhooks/issues.closed.json")
	opened := fixture(t, "github-webhooks/opened.payload.json")
	comment := fixture(t, "github-webhooks/issue_comment.created.payload.json")
	ping := fixture(t, "github-webhooks/ping.payload.json")
	withType := func(h http.Header, ct string) http.Header { h.Set("Content-Type", ct); return h }
	without := func(h http.Header, key string) http.Header { h.Del(key); return h }

	tests := []struct {
		name   string
		body   []byte
		header http.Header
		status int
		answer string // the status in a 200's body
		stored bool
		errHas string
	}{
		{"issues closed", closed, githubHeader("issues", "d-1", githubHookSecret, closed), 200, "accepted", true, ""},
		{"issues opened", opened, githubHeader("issues", "d-2", githubHookSecret, opened), 200, "accepted", true, ""},
		{"issue comment", comment, githubHeader("issue_comment", "d-3", githubHookSecret, comment), 200, "accepted", true, ""},
		{"charset utf-8", closed, withType(githubHeader("issues", "d-4", githubHookSecret, closed), "application/json; charset=utf-8"), 200, "accepted", true, ""},
		{"ping", ping, githubHeader("ping", "d-5", githubHookSecret, ping), 200, "pong", false, ""},
		{"ping without delivery", ping, githubHeader("ping", "", githubHookSecret, ping), 200, "pong", false, ""},
		{"unknown event ignored", opened, githubHeader("push", "d-6", githubHookSecret, opened), 200, "ignored", false, ""},
		{"wrong secret", closed, githubHeader("issues", "d-7", "not-the-secret", closed), 401, "", false, "does not match"},
		{"missing signature", closed, githubHeader("issues", "d-8", "", closed), 401, "", false, "missing X-Hub-Signature-256"},
		{"signature of another body", closed, githubHeader("issues", "d-9", githubHookSecret, opened), 401, "", false, "does not match"},
		{"legacy sha1 only", closed, func() http.Header {
			h := githubHeader("issues", "d-10", "", closed)
			h.Set("X-Hub-Signature", "sha1=0123456789abcdef0123456789abcdef01234567")
			return h
		}(), 401, "", false, "missing X-Hub-Signature-256"},
		{"sha1 in the sha256 header", closed, func() http.Header {
			h := githubHeader("issues", "d-11", "", closed)
			h.Set(headerGitHubSignature, "sha1=0123456789abcdef0123456789abcdef01234567")
			return h
		}(), 401, "", false, "sha256="},
		{"missing delivery", closed, githubHeader("issues", "", githubHookSecret, closed), 400, "", false, "X-GitHub-Delivery"},
		{"missing event", closed, githubHeader("", "d-12", githubHookSecret, closed), 400, "", false, "X-GitHub-Event"},
		{"form-encoded hook", []byte("payload=" + url.QueryEscape(string(closed))), func() http.Header {
			b := []byte("payload=" + url.QueryEscape(string(closed)))
			return withType(githubHeader("issues", "d-13", githubHookSecret, b), "application/x-www-form-urlencoded")
		}(), 415, "", false, "application/json"},
		{"no content type", closed, without(githubHeader("issues", "d-14", githubHookSecret, closed), "Content-Type"), 415, "", false, "application/json"},
		{"signed malformed JSON", []byte(`{"action":`), githubHeader("issues", "d-15", githubHookSecret, []byte(`{"action":`)), 400, "", false, "malformed JSON"},
		{"signed array", []byte(`[]`), githubHeader("issues", "d-16", githubHookSecret, []byte(`[]`)), 400, "", false, ""},
		{"unsigned malformed JSON is 401, not 400", []byte(`{`), githubHeader("issues", "d-17", "", []byte(`{`)), 401, "", false, ""},
	}
	e := newHookEnv(t, webhookConfig, false)
	want := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.engine.Wakes()
			r := e.hook("/webhooks/github", bytes.NewReader(tt.body), tt.header)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if r.status == 200 {
				if a := r.answer(t); a.Status != tt.answer {
					t.Errorf("answer = %+v, want status %q", a, tt.answer)
				}
			} else if eb := r.errorBody(t); !strings.Contains(eb.Error, tt.errHas) {
				t.Errorf("error = %q, want it to mention %q", eb.Error, tt.errHas)
			}
			if tt.stored {
				want++
			}
			if got := e.stored(); got != want {
				t.Errorf("%d deliveries stored, want %d", got, want)
			}
			if woke := e.engine.Wakes() - before; (woke == 1) != tt.stored || woke > 1 {
				t.Errorf("worker woken %d times", woke)
			}
		})
	}

	// What is stored is the delivery, byte for byte, under its id and event.
	ev, err := e.store.InboundEvent(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Source != "github" || ev.DeliveryID != "d-1" || ev.Event != "issues" || !bytes.Equal(ev.Payload, closed) {
		t.Errorf("stored %s %s %s (%d bytes)", ev.Source, ev.DeliveryID, ev.Event, len(ev.Payload))
	}
	logs := e.logs.String()
	for _, secret := range []string{githubHookSecret, hubSignature(githubHookSecret, closed)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
}

func TestGitHubWebhookDuplicate(t *testing.T) {
	e := newHookEnv(t, webhookConfig, false)
	body := fixture(t, "github-webhooks/issues.closed.json")
	h := githubHeader("issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958", githubHookSecret, body)
	if a := e.hook("/webhooks/github", bytes.NewReader(body), h).answer(t); a.Status != "accepted" {
		t.Fatalf("first delivery: %+v", a)
	}
	// A redelivery keeps its X-GitHub-Delivery.
	r := e.hook("/webhooks/github", bytes.NewReader(body), h)
	if r.status != 200 {
		t.Fatalf("redelivery: %d %s", r.status, r.body)
	}
	if a := r.answer(t); a.Status != "ignored" || a.Reason != ft.WebhookDuplicate {
		t.Errorf("redelivery answer = %+v", a)
	}
	if n := e.stored(); n != 1 {
		t.Errorf("%d deliveries stored, want 1", n)
	}
	if n := e.engine.Wakes(); n != 1 {
		t.Errorf("worker woken %d times, want 1", n)
	}
}

func TestWebhookBodyLimit(t *testing.T) {
	e := newHookEnv(t, webhookConfig, false)
	closed := fixture(t, "github-webhooks/issues.closed.json")
	exact := append(bytes.Clone(closed), bytes.Repeat([]byte(" "), MaxWebhookBody-len(closed))...)
	big := append(bytes.Clone(exact), ' ')
	jiraBig := append(fixture(t, "jira-webhooks/webhook-issue-updated-resolved.json"), bytes.Repeat([]byte(" "), MaxWebhookBody)...)
	tests := []struct {
		name   string
		path   string
		body   io.Reader
		header http.Header
		status int
	}{
		{"github exactly 25 MiB", "/webhooks/github", bytes.NewReader(exact), githubHeader("issues", "big-1", githubHookSecret, exact), 200},
		{"github one byte more", "/webhooks/github", bytes.NewReader(big), githubHeader("issues", "big-2", githubHookSecret, big), 413},
		{"github chunked", "/webhooks/github", io.MultiReader(bytes.NewReader(big)), githubHeader("issues", "big-3", githubHookSecret, big), 413},
		{"github 413 before auth", "/webhooks/github", bytes.NewReader(big), githubHeader("issues", "big-4", "", nil), 413},
		{"jira", "/webhooks/jira", bytes.NewReader(jiraBig), jiraHeader("", jiraHookSecret, jiraBig), 413},
		{"jira chunked", "/webhooks/jira", io.MultiReader(bytes.NewReader(jiraBig)), jiraHeader("", jiraHookSecret, jiraBig), 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.status == 200 && testing.Short() {
				t.Skip("stores 25 MiB")
			}
			r := e.hook(tt.path, tt.body, tt.header)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %.200s", r.status, tt.status, r.body)
			}
			if tt.status == 413 {
				if eb := r.errorBody(t); !strings.Contains(eb.Error, "26214400") {
					t.Errorf("error = %q", eb.Error)
				}
			}
		})
	}
	want := 1 // the delivery of exactly 25 MiB
	if testing.Short() {
		want = 0
	}
	if n := e.stored(); n != want {
		t.Errorf("%d deliveries stored, want %d", n, want)
	}
}

func TestWebhooksWithoutSecret(t *testing.T) {
	gh := fixture(t, "github-webhooks/issues.closed.json")
	jira := fixture(t, "jira-webhooks/webhook-issue-updated-resolved.json")
	for _, tt := range []struct {
		name   string
		config string
		dev    bool
		status int
	}{
		// testConfig configures both trackers, without webhook secrets.
		{"refused", testConfig, false, 401},
		{"dev mode accepts unsigned", testConfig, true, 200},
		// githubOnlyConfig has no jira section at all.
		{"refused, tracker not configured", githubOnlyConfig, false, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newHookEnv(t, tt.config, tt.dev)
			// Signed or not: with no secret there is nothing to check a signature against.
			for i, h := range []http.Header{githubHeader("issues", "n-1", "", gh), githubHeader("issues", "n-2", "whatever", gh)} {
				r := e.hook("/webhooks/github", bytes.NewReader(gh), h)
				if r.status != tt.status {
					t.Fatalf("github %d: status = %d, want %d: %s", i, r.status, tt.status, r.body)
				}
				if r.status == 401 && !strings.Contains(r.errorBody(t).Error, "github.webhook_secret") {
					t.Errorf("github error = %s", r.body)
				}
			}
			r := e.hook("/webhooks/jira?secret=anything", bytes.NewReader(jira), jiraHeader("", "whatever", jira))
			if r.status != tt.status {
				t.Fatalf("jira: status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if r.status == 401 && !strings.Contains(r.errorBody(t).Error, "jira.webhook_secret") {
				t.Errorf("jira error = %s", r.body)
			}
			want := 0
			if tt.status == 200 {
				want = 3
			}
			if n := e.stored(); n != want {
				t.Errorf("%d deliveries stored, want %d", n, want)
			}
		})
	}

	t.Run("dev mode still checks a configured secret", func(t *testing.T) {
		e := newHookEnv(t, webhookConfig, true)
		if r := e.hook("/webhooks/github", bytes.NewReader(gh), githubHeader("issues", "n-3", "", gh)); r.status != 401 {
			t.Errorf("github unsigned in dev with a secret: %d %s", r.status, r.body)
		}
		if r := e.hook("/webhooks/jira", bytes.NewReader(jira), jiraHeader("", "", jira)); r.status != 401 {
			t.Errorf("jira unsigned in dev with a secret: %d %s", r.status, r.body)
		}
	})
}

func TestJiraWebhook(t *testing.T) {
	resolved := fixture(t, "jira-webhooks/webhook-issue-updated-resolved.json")
	deleted := fixture(t, "jira-webhooks/webhook-issue-deleted.json")
	cloudComment := fixture(t, "jira-webhooks/webhook-cloud-comment-created.json")
	serverComment := fixture(t, "jira-webhooks/webhook-server-comment-created.json")
	created := fixture(t, "jira-webhooks/webhook-issue-created.json")
	query := "?secret=" + url.QueryEscape(jiraHookSecret)

	tests := []struct {
		name     string
		query    string
		body     []byte
		header   http.Header
		status   int
		answer   string
		delivery string // the id it is stored under
		errHas   string
	}{
		{"signed, no identifier", "", resolved, jiraHeader("", jiraHookSecret, resolved), 200, "accepted",
			"TES-41|jira:issue_updated|1550286940507", ""},
		{"same issue, event and timestamp again", "", resolved, jiraHeader("", jiraHookSecret, resolved), 200, "ignored", "", ""},
		{"with identifier", "", deleted, jiraHeader("wh-77", jiraHookSecret, deleted), 200, "accepted", "wh-77", ""},
		{"identifier seen before", "", resolved, jiraHeader("wh-77", jiraHookSecret, resolved), 200, "ignored", "", ""},
		{"secret in the query", query, cloudComment, jiraHeader("", "", cloudComment), 200, "accepted",
			"TES-41|comment_created|1550286678321", ""},
		{"Data Center comment without issue", query, serverComment, jiraHeader("", "", serverComment), 200, "accepted",
			"comment:10082|comment_created|1559607317234", ""},
		{"wrong signature, right query", query + "&x=1", deleted, jiraHeader("wh-78", "not-the-secret", deleted), 200, "accepted", "wh-78", ""},
		{"unused event", "", created, jiraHeader("", jiraHookSecret, created), 200, "ignored", "", ""},
		{"wrong query secret", "?secret=guess", resolved, jiraHeader("wh-79", "", resolved), 401, "", "", "?secret="},
		{"empty query secret", "?secret=", resolved, jiraHeader("wh-80", "", resolved), 401, "", "", "?secret="},
		{"wrong signature", "", resolved, jiraHeader("wh-81", "not-the-secret", resolved), 401, "", "", "does not match"},
		{"signature of another body", "", resolved, jiraHeader("wh-82", jiraHookSecret, deleted), 401, "", "", "does not match"},
		{"no credentials", "", resolved, jiraHeader("wh-83", "", resolved), 401, "", "", "X-Hub-Signature"},
		{"signed malformed JSON", "", []byte(`{"webhookEvent":`), jiraHeader("wh-84", jiraHookSecret, []byte(`{"webhookEvent":`)), 400, "", "", "not a Jira webhook"},
		{"no webhookEvent", "", []byte(`{"timestamp":1}`), jiraHeader("wh-85", jiraHookSecret, []byte(`{"timestamp":1}`)), 400, "", "", "webhookEvent"},
		{"no timestamp, no identifier", "", []byte(`{"webhookEvent":"jira:issue_updated","issue":{"key":"A-1"}}`),
			jiraHeader("", jiraHookSecret, []byte(`{"webhookEvent":"jira:issue_updated","issue":{"key":"A-1"}}`)), 400, "", "", "timestamp"},
		{"text/plain", "", resolved, func() http.Header {
			h := jiraHeader("wh-86", jiraHookSecret, resolved)
			h.Set("Content-Type", "text/plain")
			return h
		}(), 415, "", "", "application/json"},
	}
	e := newHookEnv(t, webhookConfig, false)
	want := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.engine.Wakes()
			r := e.hook("/webhooks/jira"+tt.query, bytes.NewReader(tt.body), tt.header)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if r.status != 200 {
				if eb := r.errorBody(t); !strings.Contains(eb.Error, tt.errHas) {
					t.Errorf("error = %q, want it to mention %q", eb.Error, tt.errHas)
				}
			} else if a := r.answer(t); a.Status != tt.answer {
				t.Errorf("answer = %+v, want status %q", a, tt.answer)
			}
			if tt.delivery != "" {
				want++
				ev, err := e.store.InboundEvent(context.Background(), int64(want))
				if err != nil {
					t.Fatal(err)
				}
				var env jiraEnvelope
				_ = json.Unmarshal(tt.body, &env)
				if ev.Source != "jira" || ev.DeliveryID != tt.delivery || ev.Event != env.WebhookEvent || !bytes.Equal(ev.Payload, tt.body) {
					t.Errorf("stored %s %q %s (%d bytes)", ev.Source, ev.DeliveryID, ev.Event, len(ev.Payload))
				}
			}
			if got := e.stored(); got != want {
				t.Errorf("%d deliveries stored, want %d", got, want)
			}
			if woke := e.engine.Wakes() - before; (woke == 1) != (tt.delivery != "") || woke > 1 {
				t.Errorf("worker woken %d times", woke)
			}
		})
	}

	// Neither the query string nor a signature reaches the log; the request line names the path.
	logs := e.logs.String()
	for _, secret := range []string{jiraHookSecret, url.QueryEscape(jiraHookSecret), "guess", "secret=",
		hubSignature(jiraHookSecret, resolved), hubSignature("not-the-secret", deleted)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
	if !strings.Contains(logs, `"route":"/webhooks/jira"`) {
		t.Errorf("no request line for /webhooks/jira:\n%.2000s", logs)
	}
}

// TestJiraDedupeOnTimestamp: without an identifier, only the same issue, event and timestamp
// is a duplicate.
func TestJiraDedupeOnTimestamp(t *testing.T) {
	e := newHookEnv(t, webhookConfig, false)
	body := fixture(t, "jira-webhooks/webhook-issue-updated-resolved.json")
	later := bytes.Replace(body, []byte(`"timestamp": 1550286940507`), []byte(`"timestamp": 1550286940999`), 1)
	if bytes.Equal(body, later) {
		t.Fatal("the fixture's timestamp was not found")
	}
	otherIssue := bytes.Replace(body, []byte(`"key": "TES-41"`), []byte(`"key": "TES-42"`), 1)
	if bytes.Equal(body, otherIssue) {
		t.Fatal("the fixture's issue key was not found")
	}
	for i, tt := range []struct {
		body   []byte
		answer string
	}{
		{body, "accepted"},
		{body, "ignored"},
		{later, "accepted"},
		{otherIssue, "accepted"},
		{later, "ignored"},
	} {
		r := e.hook("/webhooks/jira", bytes.NewReader(tt.body), jiraHeader("", jiraHookSecret, tt.body))
		if r.status != 200 {
			t.Fatalf("%d: %d %s", i, r.status, r.body)
		}
		if a := r.answer(t); a.Status != tt.answer {
			t.Errorf("%d: answer %+v, want %s", i, a, tt.answer)
		}
	}
	if n := e.stored(); n != 3 {
		t.Errorf("%d deliveries stored, want 3", n)
	}
}

// hubSignature is the value of GitHub's X-Hub-Signature-256 and Jira's X-Hub-Signature for
// body: "sha256=" and the hex HMAC-SHA256 of the raw body keyed with the webhook secret.
func hubSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
