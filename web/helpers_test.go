package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/internal/testclock"
	"github.com/followthrough/followthrough/store"
	ftsync "github.com/followthrough/followthrough/sync"
)

const (
	testToken  = "test-token-0123456789"
	testToken2 = "second-token"
	testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// testConfig has both trackers and routes by team, label and severity, but no catch-all route,
// so that an item can have no route.
const testConfig = `
database: unused.db
intake:
  secret: ` + testSecret + `
  tokens: [` + testToken + `, ` + testToken2 + `]
github:
  token: ghp_test
jira:
  url: https://acme.atlassian.net
  email: bot@acme.com
  api_token: jira-test
routes:
  - when: {team: payments}
    to: {kind: jira, project: PAY}
  - when: {label: security}
    to: {kind: github, repo: acme/security}
  - when: {severity: SEV1}
    to: {kind: github, repo: acme/sev1}
`

// githubOnlyConfig has no Jira and a default route.
const githubOnlyConfig = `
database: unused.db
intake:
  tokens: [` + testToken + `]
github:
  token: ghp_test
routes:
  - to: {kind: github, repo: acme/actions}
`

// sampleJSON is the contract's example with two more items: AI-2 names its Jira project, AI-3
// is routed by the postmortem's team.
const sampleJSON = `{
  "id": "PM-2026-042",
  "title": "Checkout outage 2026-11-20",
  "url": "https://wiki.acme.com/pm/42",
  "status": "finalized",
  "severity": "SEV1",
  "team": "payments",
  "incident": { "id": "INC-981", "started_at": "2026-11-20T09:12:00Z", "resolved_at": "2026-11-20T11:40:00Z" },
  "signed_off_by": ["carol@acme.com"],
  "signed_off_at": "2026-11-22T10:00:00Z",
  "tracker": { "kind": "jira", "key": "PIR-12" },
  "action_items": [
    { "id": "AI-1", "title": "Add a circuit breaker to the tax client",
      "description": "...", "owner": "bob@acme.com", "priority": "P1", "due": "2026-12-15",
      "type": "prevent",
      "tracker": { "kind": "github", "repo": "acme/checkout" },
      "labels": ["reliability"] },
    { "id": "AI-2", "title": "Alert on tax latency", "owner": "dave@acme.com",
      "tracker": { "kind": "jira", "project": "OPS", "issue_type": "Story" } },
    { "id": "AI-3", "title": "Write the runbook", "owner": "erin@acme.com" }
  ]
}`

// lockedBuffer collects log lines from concurrent requests.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a real server on 127.0.0.1 with a real store in a temporary SQLite file and a real
// engine (not running: the tests look at what it stores and queues).
type env struct {
	t      testing.TB
	srv    *Server
	store  *store.Store
	engine *ftsync.Engine
	url    string
	clock  *testclock.Clock
	logs   *lockedBuffer
	client *http.Client
}

func newEnv(t testing.TB, configYAML string) *env {
	t.Helper()
	return newEnvWith(t, configYAML, nil)
}

// newEnvWith lets a test change the server's options before it starts.
func newEnvWith(t testing.TB, configYAML string, mod func(*Options)) *env {
	t.Helper()
	return buildEnv(t, t.TempDir(), configYAML, mod, t.Cleanup)
}

// buildEnv starts an env on a database in dir; cleanup registers what closes it.
func buildEnv(t testing.TB, dir, configYAML string, mod func(*Options), cleanup func(func())) *env {
	t.Helper()
	return buildEnvOn(t, filepath.Join(dir, "ft.db"), dir, configYAML, mod, cleanup)
}

// buildEnvOn starts an env on database (a file or a PostgreSQL URL), its config named in dir.
func buildEnvOn(t testing.TB, database, dir, configYAML string, mod func(*Options), cleanup func(func())) *env {
	t.Helper()
	ctx := context.Background()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := store.Open(ctx, database, logger)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "config.yaml"), []byte(configYAML))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	clock := testclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	engine := ftsync.New(ftsync.Options{Store: st, Config: cfg, Logger: logger, Clock: clock})
	opts := Options{Config: cfg, Reader: st, Engine: engine, Logger: logger, Now: clock.Now}
	if mod != nil {
		mod(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	cleanup(ts.Close)
	client := ts.Client()
	client.Timeout = 30 * time.Second
	client.Transport = checkedTransport(t, client.Transport) // openapi_test.go
	return &env{t: t, srv: srv, store: st, engine: engine, url: ts.URL, clock: clock, logs: logs, client: client}
}

// response is an answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorBody(t testing.TB) errorBody {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal(r.body, &eb); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if eb.Error == "" {
		t.Fatalf("error body without error: %s", r.body)
	}
	// The contract's error shape: JSON, and "fields" only for validation (422).
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error answer with Content-Type %q, want application/json", ct)
	}
	if eb.Fields != nil && r.status != http.StatusUnprocessableEntity {
		t.Errorf("%d error answer with fields: %s", r.status, r.body)
	}
	return eb
}

func (r response) postmortem(t testing.TB) ft.PostmortemView {
	t.Helper()
	var pm ft.PostmortemView
	if err := json.Unmarshal(r.body, &pm); err != nil {
		t.Fatalf("postmortem body %q: %v", r.body, err)
	}
	return pm
}

// do sends a request; a nil header means bearer auth and a JSON content type.
func (e *env) do(method, path string, body io.Reader, h http.Header) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if h == nil {
		h = bearerHeader(testToken)
	}
	req.Header = h
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) post(body []byte, h http.Header) response {
	e.t.Helper()
	return e.do(http.MethodPost, "/v1/postmortems", bytes.NewReader(body), h)
}

func (e *env) get(path string) response {
	e.t.Helper()
	return e.do(http.MethodGet, path, nil, nil)
}

func bearerHeader(token string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", "Bearer "+token)
	return h
}

func jsonHeader() http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return h
}

// signedHeader signs body as a Standard Webhooks sender does, with the test secret.
func signedHeader(id string, ts time.Time, body []byte) http.Header {
	h := jsonHeader()
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", sign(testSecret, id, strconv.FormatInt(ts.Unix(), 10), body))
	return h
}

func sign(secret, id, ts string, body []byte) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// sample is sampleJSON as a map, to change before sending.
func sample(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(sampleJSON), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func items(m map[string]any) []any { return m["action_items"].([]any) }

func item(m map[string]any, i int) map[string]any { return items(m)[i].(map[string]any) }

func encode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
