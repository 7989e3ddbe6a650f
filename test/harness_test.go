// Package test holds end-to-end tests: they build the real followthrough binary, run it against
// stand-ins of GitHub and Jira on loopback, and drive it only through the contract's interfaces
// (CLI, config file, HTTP API, webhooks).
package test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/jirafake"
	"github.com/followthrough/followthrough/internal/pgtest"
)

// binary is the followthrough binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "followthrough-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "followthrough")
	// The binary of the container image (image_test.go), readable by the image's user.
	if err := buildImageBinary("..", binary); err != nil || os.Chmod(dir, 0o755) != nil {
		fmt.Fprintln(os.Stderr, "build followthrough as the Dockerfile does:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running followthrough process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	stdout *lockedBuffer
	stderr *lockedBuffer
	done   chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// start runs the binary with args and waits until /readyz answers 200.
func start(t *testing.T, addr string, args ...string) *server {
	t.Helper()
	return startEnv(t, addr, "", args...)
}

// startEnv is start with FOLLOWTHROUGH_CONFIG set to configEnv.
func startEnv(t *testing.T, addr, configEnv string, args ...string) *server {
	t.Helper()
	s := &server{t: t, base: "http://" + addr, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	s.cmd.Env = append(os.Environ(), "FOLLOWTHROUGH_CONFIG="+configEnv)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("server stderr:\n%s", tail(s.stderr.String(), 60))
		}
	})
	s.waitReady()
	return s
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

func (s *server) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			s.t.Fatalf("server exited early: %s\n%s", s.cmd.ProcessState, tail(s.stderr.String(), 30))
		default:
		}
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("server not ready after 20s:\n%s", tail(s.stderr.String(), 30))
}

// kill ends the process at once, like a power cut for the process (SIGKILL).
func (s *server) kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-s.done
}

// stop sends SIGTERM and waits for a graceful exit.
func (s *server) stop() {
	s.t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.t.Fatal("server did not stop within 20s of SIGTERM")
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Fatalf("server exited %d after SIGTERM, want 0:\n%s", code, tail(s.stderr.String(), 20))
	}
	if !strings.Contains(s.stderr.String(), `"msg":"stopped"`) {
		s.t.Fatalf("server did not log its orderly stop:\n%s", tail(s.stderr.String(), 20))
	}
}

// do sends a request with the bearer token and returns status and body.
func (s *server) do(method, path, token string, body []byte) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: checkedTransport(s.t)}).Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// getJSON GETs path and decodes the body into v, failing on any status but 200.
func (s *server) getJSON(path, token string, v any) {
	s.t.Helper()
	code, body := s.do(http.MethodGet, path, token, nil)
	if code != http.StatusOK {
		s.t.Fatalf("GET %s = %d: %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		s.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// waitIdle waits until the server's outbox has no work left, as /metrics reports it.
func (s *server) waitIdle(within time.Duration) {
	s.t.Helper()
	eventually(s.t, within, "the outbox is empty", func() bool {
		code, body := s.do(http.MethodGet, "/metrics", "", nil)
		return code == http.StatusOK && strings.Contains(string(body), "\nfollowthrough_outbox_pending_jobs 0\n")
	})
}

// metric reads one unlabelled metric from /metrics (-1 when it is not there).
func (s *server) metric(name string) float64 {
	s.t.Helper()
	_, body := s.do(http.MethodGet, "/metrics", "", nil)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// writeConfig writes a YAML config into a temp dir and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "followthrough.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// readLines reads the first n lines a process printed on stdout.
func readLines(t *testing.T, r io.Reader, n int) []string {
	t.Helper()
	sc := bufio.NewScanner(r)
	var lines []string
	for len(lines) < n && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < n {
		t.Fatalf("read %d of %d lines: %v", len(lines), n, sc.Err())
	}
	return lines
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// ---- the databases ---------------------------------------------------------------------------

// backend is a database the servers of the end-to-end suites keep their data in: the suites
// that run a server against the stand-ins run once per backend of pgtest's table (a SQLite
// file, a fresh PostgreSQL schema), as subtests named after it, through forEachBackend.
type backend = pgtest.Backend

var (
	sqliteBackend   = backendNamed("sqlite")
	postgresBackend = backendNamed("postgres")
)

func backendNamed(name string) backend {
	for _, b := range pgtest.Backends {
		if b.Name == name {
			return b
		}
	}
	panic("no backend " + name)
}

// forEachBackend runs test once per backend, as subtests named after them.
func forEachBackend(t *testing.T, test func(t *testing.T, b backend)) { pgtest.ForEach(t, test) }

// openDatabase opens the database a server of the test used, to look at it directly. Queries
// number their parameters ($1, $2), which both databases read.
func openDatabase(t *testing.T, database string) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+database+"?mode=ro"
	if strings.HasPrefix(database, "postgres://") {
		driver, dsn = "pgx", database
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// ---- the stand-ins and the server that uses them -------------------------------------------

// trackerEnv is a GitHub and a Jira stand-in and the config of a followthrough that uses both,
// with webhook secrets for both: items of team payments go to Jira PAY, the rest to GitHub
// acme/actions.
type trackerEnv struct {
	t    *testing.T
	gh   *githubfake.Server
	jr   *jirafake.Server
	addr string
	db   string
	cfg  string
	s    *server
}

const (
	defaultRepo = "acme/actions"
	jiraProject = "PAY"

	githubWebhookSecret = "e2e-github-webhook-secret-0123"
	jiraWebhookSecret   = "e2e-jira-webhook-secret-4567"
	// jiraPerson is a Jira Cloud user who is not followthrough (the fixtures' own accountId).
	jiraPerson = "5c5f880629be9642ba529340"
)

// envOptions is what a test's trackerEnv varies in.
type envOptions struct {
	// backend is the database the server keeps its data in [SQLite].
	backend backend
	github  githubfake.Options
	jira    jirafake.Options // Mode and Users are the env's own
	// reconcile is reconcile.every [1h]; stall holds the stall section's settings, one per
	// line [scan_every: 1h].
	reconcile string
	stall     []string
	// notify, when set, receives the events listed in notifyEvents.
	notify       *notifyReceiver
	notifyEvents string
	// writeInterval is github.write_interval [0s: creates are not spaced].
	writeInterval string
}

// newTrackerEnv starts the stand-ins and writes the config; start runs the server.
func newTrackerEnv(t *testing.T, o envOptions) *trackerEnv {
	t.Helper()
	gh := githubfake.New(o.github)
	t.Cleanup(gh.Close)
	o.jira.Mode = jirafake.Cloud
	o.jira.Users = []jirafake.User{
		{AccountID: "acc-bob", Email: "bob@acme.com", DisplayName: "Bob"},
		{AccountID: "acc-alice", Email: "alice@acme.com", DisplayName: "Alice"},
		{AccountID: jiraPerson, Email: "dev@acme.com", DisplayName: "Dev"},
	}
	jr := jirafake.New(o.jira)
	t.Cleanup(jr.Close)
	if o.reconcile == "" {
		o.reconcile = "1h"
	}
	if o.stall == nil {
		o.stall = []string{"scan_every: 1h"}
	}
	if o.writeInterval == "" {
		o.writeInterval = "0s"
	}
	notify := ""
	if o.notify != nil {
		notify = fmt.Sprintf("notify:\n  - url: %s\n    secret: %s\n    events: [%s]\n", o.notify.srv.URL, o.notify.secret, o.notifyEvents)
	}
	addr := freeAddr(t)
	if o.backend.Database == nil {
		o.backend = sqliteBackend
	}
	db := o.backend.Database(t)
	cfg := writeConfig(t, fmt.Sprintf(`listen: %s
database: %q
public_url: http://%s
intake:
  tokens: [%q]
github:
  api_url: %s
  token: %s
  webhook_secret: %s
  write_interval: %s
  request_timeout: 2s
jira:
  url: %s
  deployment: cloud
  email: bot@example.com
  api_token: cloud-token
  webhook_secret: %s
  request_timeout: 2s
  search_lag: 2s
routes:
  - when: { team: payments }
    to: { kind: jira, project: %s }
  - to: { kind: github, repo: %s }
people:
  - { email: bob@acme.com, github: bob-gh, jira: acc-bob }
  - { email: alice@acme.com, github: alice-gh, jira: acc-alice }
reconcile:
  every: %s
stall:
  %s
%s`, addr, db, addr, testToken, gh.URL(), githubfake.DefaultToken, githubWebhookSecret, o.writeInterval, jr.URL(), jiraWebhookSecret,
		jiraProject, defaultRepo, o.reconcile, strings.Join(o.stall, "\n  "), notify))
	return &trackerEnv{t: t, gh: gh, jr: jr, addr: addr, db: db, cfg: cfg}
}

// start runs the server (again, after a kill or stop) on the env's address and database.
func (e *trackerEnv) start() *server {
	e.t.Helper()
	e.s = start(e.t, e.addr, "serve", "--config", e.cfg)
	return e.s
}

// ghRef splits "owner/repo#N".
func ghRef(t *testing.T, key string) (string, int) {
	t.Helper()
	repo, num, _ := strings.Cut(key, "#")
	n, err := strconv.Atoi(num)
	if err != nil {
		t.Fatalf("%q is not a GitHub ticket key", key)
	}
	return repo, n
}

// ---- the notify receiver -----------------------------------------------------------------

// notifyAttempt is one POST the notify receiver got, whatever it answered.
type notifyAttempt struct {
	ID     string
	At     time.Time
	Status int
}

// notifyEvent is one outbound event the receiver accepted.
type notifyEvent struct {
	WebhookID string
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		ID    string `json:"id"`
		State string `json:"state"`
		Item  *struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"item"`
		Change *statusChange `json:"change"`
	} `json:"data"`
}

// statusChange is data.change of item.status_changed, with the item it is about.
type statusChange struct {
	Item   string `json:"-"`
	From   string `json:"from"`
	To     string `json:"to"`
	Source string `json:"source"`
}

// notifyReceiver is a notify URL on loopback that checks Standard Webhooks signatures
// (v1,base64(HMAC-SHA256(key, id.timestamp.body)), key the base64-decoded part after whsec_)
// and timestamps, and records what it gets. fail makes it answer 500 to that many deliveries.
type notifyReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	key    []byte

	mu       sync.Mutex
	fail     int
	attempts []notifyAttempt
	events   []notifyEvent
	problems []string
}

func newNotifyReceiver(t *testing.T) *notifyReceiver {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	r := &notifyReceiver{t: t, key: key, secret: "whsec_" + base64.StdEncoding.EncodeToString(key)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *notifyReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, r.key)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	valid := false
	for _, sig := range strings.Fields(req.Header.Get("webhook-signature")) {
		valid = valid || hmac.Equal([]byte(sig), []byte(want))
	}
	sec, tsErr := strconv.ParseInt(ts, 10, 64)
	r.mu.Lock()
	defer r.mu.Unlock()
	answer := func(code int) {
		r.attempts = append(r.attempts, notifyAttempt{ID: id, At: time.Now(), Status: code})
		w.WriteHeader(code)
	}
	switch {
	case id == "" || tsErr != nil || !valid:
		r.problems = append(r.problems, fmt.Sprintf("delivery %q: bad signature %q", id, req.Header.Get("webhook-signature")))
		answer(http.StatusUnauthorized)
		return
	case time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute:
		r.problems = append(r.problems, fmt.Sprintf("delivery %q: timestamp %s is off by more than 5 minutes", id, ts))
		answer(http.StatusUnauthorized)
		return
	case req.Header.Get("Content-Type") != "application/json":
		r.problems = append(r.problems, fmt.Sprintf("delivery %q: content type %q", id, req.Header.Get("Content-Type")))
	}
	if r.fail > 0 {
		r.fail--
		answer(http.StatusInternalServerError)
		return
	}
	ev := notifyEvent{WebhookID: id}
	if err := json.Unmarshal(body, &ev); err != nil {
		r.problems = append(r.problems, fmt.Sprintf("delivery %q: %v: %s", id, err, body))
		answer(http.StatusBadRequest)
		return
	}
	if ev.Data.Change != nil && ev.Data.Item != nil {
		ev.Data.Change.Item = ev.Data.Item.ID
	}
	r.events = append(r.events, ev)
	answer(http.StatusOK)
}

// failNext makes the receiver answer 500 to the next n deliveries.
func (r *notifyReceiver) failNext(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = n
}

func (r *notifyReceiver) attemptLog() []notifyAttempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.attempts)
}

// statusEvents returns the item.status_changed events accepted so far, failing the test on any
// badly signed delivery, on an event accepted twice, and on an event without its item or
// change.
func (r *notifyReceiver) statusEvents() []notifyEvent {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.problems) > 0 {
		r.t.Fatalf("notify receiver: %s", strings.Join(r.problems, "; "))
	}
	seen := map[string]bool{}
	var out []notifyEvent
	for _, ev := range r.events {
		if seen[ev.WebhookID] {
			r.t.Fatalf("event %s accepted twice", ev.WebhookID)
		}
		seen[ev.WebhookID] = true
		if ev.Type != "item.status_changed" {
			continue
		}
		if ev.Data.Item == nil || ev.Data.Change == nil || ev.Data.Item.Status != ev.Data.Change.To || ev.Data.ID == "" ||
			ev.Timestamp == "" {
			r.t.Fatalf("item.status_changed %s lacks data.id, data.item or data.change, or they disagree: %+v", ev.WebhookID, ev)
		}
		out = append(out, ev)
	}
	return out
}

// types returns the types of the events accepted so far, failing the test on any badly
// signed delivery.
func (r *notifyReceiver) types() []string {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.problems) > 0 {
		r.t.Fatalf("notify receiver: %s", strings.Join(r.problems, "; "))
	}
	var out []string
	for _, ev := range r.events {
		out = append(out, ev.Type)
	}
	return out
}
