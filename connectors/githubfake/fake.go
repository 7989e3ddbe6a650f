// Package githubfake is an in-memory stand-in for GitHub's REST API, served over HTTP on
// 127.0.0.1. The GitHub connector's tests and the service's dev mode talk to it exactly as they
// would talk to api.github.com: token and GitHub App authentication, issues, comments, labels,
// issue search (with an index that may lag behind new issues), pagination with Link headers,
// ETags with 304 answers and X-RateLimit-* headers (search with its own per-minute budget), with
// response shapes copied from real GitHub answers.
//
// Tests (and dev mode) can inject faults at runtime (failed calls, latency, rate limits, a lost
// response), count the calls made, and act as people do on github.com (close, reopen, label,
// comment, delete) without any webhook being sent.
package githubfake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/followthrough/followthrough/connectors/internal/devweb"
)

// DefaultToken is the token the fake accepts when Options names no token and no App.
const DefaultToken = "ghp_followthroughfaketoken0000000000000000"

// DefaultLogin is the user DefaultToken authenticates as.
const DefaultLogin = "followthrough-bot"

// DefaultHTMLBase is the web address issues link to when Options.HTMLBase is empty.
const DefaultHTMLBase = "https://github.example"

// Options configures a fake GitHub.
type Options struct {
	// Tokens maps each accepted personal access token to the login it authenticates as. With
	// neither Tokens nor App, DefaultToken is accepted as DefaultLogin.
	Tokens map[string]string
	// App, when set, makes the fake accept that GitHub App: JWTs signed with its key on /app
	// endpoints and the installation tokens it hands out everywhere else.
	App *App
	// PathPrefix mounts the API under a path, like GitHub Enterprise's "/api/v3". Empty: "/".
	PathPrefix string
	// HTMLBase is the web address in html_url fields [the fake's own address with ServeHTML,
	// else DefaultHTMLBase].
	HTMLBase string
	// ServeHTML serves a read-only web page of each issue at /{owner}/{repo}/issues/{n} (and
	// /pull/{n}) on the fake's own address, without authentication, as github.com's web UI
	// does, so that html_url links open in a browser. The pages never shadow the API: with a
	// PathPrefix every path under it is the API's, and without one the owners "repos", "user",
	// "users", "app" and "search" have no page. Page views take no fault, latency or rate
	// limit and are not in the call log. Off: those paths answer as the API always has.
	ServeHTML bool
	// Repos, when not empty, are the only repositories ("owner/name") that exist; others are
	// 404. Empty: every repository exists on first use.
	Repos []string
	// ReadOnlyRepos ("owner/name") can be read but not written: every write to their issues
	// (create, edit, comment, labels) answers 403 "Resource not accessible by personal access
	// token", as GitHub answers a token without Issues: write on the repository.
	ReadOnlyRepos []string
	// RateLimit is the number of calls per hour per token before GitHub's primary rate limit
	// answers 403 [5000].
	RateLimit int
	// SearchRateLimit is the number of search calls per minute per token before search's own
	// rate limit answers 403, as GitHub's 30 a minute [30].
	SearchRateLimit int
	// SearchLag keeps an issue out of search results until it is this old (by Now), as GitHub's
	// search index lags behind new issues. Zero: search sees every issue at once.
	SearchLag time.Duration
	// Now is the clock for timestamps in issues, comments, the call log and the search lag
	// [time.Now]. Rate-limit headers and installation-token expiry always use real time.
	Now func() time.Time
}

// App describes the GitHub App the fake accepts.
type App struct {
	ID             int64
	Slug           string // the bot acts as "<Slug>[bot]"
	InstallationID int64
	PublicKey      *rsa.PublicKey // verifies the app's RS256 JWTs
}

// Server is a running fake GitHub. It is safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu          sync.Mutex
	now         func() time.Time
	repos       map[string]*repo // by lower-case "owner/name"
	users       map[string]int64 // login -> id
	nextID      int64
	tokens      map[string]string // token -> login, including installation tokens
	rates       map[rateKey]*rate
	faults      []*Fault
	latency     time.Duration
	searchLag   time.Duration
	calls       []Call
	allowedRepo map[string]bool
	readOnly    map[string]bool // by lower-case "owner/name"
	hook        devweb.Hook     // where the issue pages' buttons deliver webhooks
}

// New starts a fake GitHub on 127.0.0.1 with a random port. Close it when done.
func New(opts Options) *Server {
	s := &Server{
		opts:   opts,
		now:    opts.Now,
		repos:  map[string]*repo{},
		users:  map[string]int64{},
		nextID: 1000,
		tokens: map[string]string{},
		rates:  map[rateKey]*rate{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.opts.PathPrefix = strings.TrimRight(opts.PathPrefix, "/")
	if s.opts.PathPrefix != "" && !strings.HasPrefix(s.opts.PathPrefix, "/") {
		s.opts.PathPrefix = "/" + s.opts.PathPrefix
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	if s.opts.HTMLBase == "" && s.opts.ServeHTML {
		// What srv.Start sets as srv.URL.
		s.opts.HTMLBase = "http://" + s.srv.Listener.Addr().String()
	}
	if s.opts.HTMLBase == "" {
		s.opts.HTMLBase = DefaultHTMLBase
	}
	s.opts.HTMLBase = strings.TrimRight(s.opts.HTMLBase, "/")
	if s.opts.RateLimit <= 0 {
		s.opts.RateLimit = 5000
	}
	if s.opts.SearchRateLimit <= 0 {
		s.opts.SearchRateLimit = 30
	}
	s.searchLag = opts.SearchLag
	for tok, login := range opts.Tokens {
		s.tokens[tok] = login
	}
	if len(opts.Tokens) == 0 && opts.App == nil {
		s.tokens[DefaultToken] = DefaultLogin
	}
	s.readOnly = map[string]bool{}
	for _, r := range opts.ReadOnlyRepos {
		s.readOnly[strings.ToLower(r)] = true
	}
	if len(opts.Repos) > 0 {
		s.allowedRepo = map[string]bool{}
		for _, r := range opts.Repos {
			s.allowedRepo[strings.ToLower(r)] = true
		}
	}
	s.srv.Start()
	return s
}

// URL is the API's base address with a trailing slash, e.g. "http://127.0.0.1:PORT/" or
// "http://127.0.0.1:PORT/api/v3/" with a PathPrefix: what goes into github.api_url.
func (s *Server) URL() string { return s.srv.URL + s.opts.PathPrefix + "/" }

// HTMLBase is the web address that html_url fields start with: with ServeHTML (and no
// Options.HTMLBase), the fake's own address, e.g. "http://127.0.0.1:PORT", where the issue pages
// are.
func (s *Server) HTMLBase() string { return s.opts.HTMLBase }

// Close stops the server and closes its connections.
func (s *Server) Close() { s.srv.Close() }

// SetReadOnly makes a repository ("owner/name") read-only for the connector, or writable
// again (see Options.ReadOnlyRepos).
func (s *Server) SetReadOnly(repoName string, readOnly bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readOnly[strings.ToLower(repoName)] = readOnly
}

// SetSearchLag changes how long a new issue stays out of search results (zero: none).
func (s *Server) SetSearchLag(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.searchLag = d
}

// nowLocked is the fake's time in GitHub's one-second precision. Callers hold s.mu.
func (s *Server) nowLocked() time.Time { return s.now().UTC().Truncate(time.Second) }

// GenerateAppKey makes an RSA key for a fake GitHub App: the PEM (PKCS#1) to give the
// connector as the app's private key, and the public key for App.PublicKey.
func GenerateAppKey() (privatePEM []byte, public *rsa.PublicKey, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate app key: %w", err)
	}
	privatePEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return privatePEM, &key.PublicKey, nil
}

// Fault makes the fake misbehave on matching calls. The zero Method and PathPrefix match
// every call. Faults are tried in the order they were added; a call consumes at most one.
type Fault struct {
	Method     string // "GET", "POST", ...; empty: any
	PathPrefix string // API path without the mount prefix, e.g. "/repos/acme/x/issues"; empty: any
	Times      int    // how many matching calls it affects [1]

	// Status answers the call with this status and a GitHub-style error body, without
	// running it. 403 and 429 with SecondaryRateLimit answer as GitHub's secondary limit.
	Status int
	// Message is the error body's message [the status text, or GitHub's rate-limit wording].
	Message string
	// RetryAfter, when positive, is sent as the Retry-After header (whole seconds).
	RetryAfter time.Duration
	// SecondaryRateLimit answers as GitHub's secondary rate limit ("You have exceeded a
	// secondary rate limit") with Status 403 unless Status says 429.
	SecondaryRateLimit bool
	// PrimaryRateLimit answers 403 "API rate limit exceeded" with X-RateLimit-Remaining: 0 and
	// X-RateLimit-Reset ResetAfter from now [1 minute].
	PrimaryRateLimit bool
	ResetAfter       time.Duration
	// LoseResponse runs the call (an issue is created, a comment added) and then closes the
	// connection without answering.
	LoseResponse bool
	// Latency delays the answer to matching calls.
	Latency time.Duration
}

// InjectFault adds a fault for the next matching calls.
func (s *Server) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// FailNextMatching answers the next n calls with that method and path prefix with status.
func (s *Server) FailNextMatching(n int, method, pathPrefix string, status int) {
	s.InjectFault(Fault{Times: n, Method: method, PathPrefix: pathPrefix, Status: status})
}

// SecondaryRateLimitNext answers the next call with GitHub's secondary rate limit: status 403
// or 429, with a Retry-After of retryAfter (none when zero).
func (s *Server) SecondaryRateLimitNext(status int, retryAfter time.Duration) {
	s.InjectFault(Fault{Status: status, SecondaryRateLimit: true, RetryAfter: retryAfter})
}

// LoseNextResponse makes the next call with that method and path prefix happen without an
// answer: e.g. ("POST", "/repos/acme/x/issues") creates the issue and drops the connection.
func (s *Server) LoseNextResponse(method, pathPrefix string) {
	s.InjectFault(Fault{Method: method, PathPrefix: pathPrefix, LoseResponse: true})
}

// SetLatency delays every answer by d (zero: none).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ClearFaults removes every pending fault and the latency.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.latency = 0
}

// takeFault returns the first fault matching the call and consumes one use of it.
func (s *Server) takeFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if f.PathPrefix != "" && !strings.HasPrefix(path, f.PathPrefix) {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		c := *f
		return &c
	}
	return nil
}

// Call is one request the fake received.
type Call struct {
	Method      string
	Path        string // API path without the mount prefix and query, e.g. "/repos/acme/x/issues"
	Query       string
	Status      int  // the status answered (or that would have been, for a lost response)
	Lost        bool // the answer was dropped
	NotModified bool // answered 304
	Time        time.Time
}

// Calls counts the calls received with that method and API path (no query).
func (s *Server) Calls(method, path string) int {
	n := 0
	for _, c := range s.CallLog() {
		if strings.EqualFold(c.Method, method) && c.Path == path {
			n++
		}
	}
	return n
}

// NotModifiedCalls counts the calls with that method and path that were answered 304.
func (s *Server) NotModifiedCalls(method, path string) int {
	n := 0
	for _, c := range s.CallLog() {
		if strings.EqualFold(c.Method, method) && c.Path == path && c.NotModified {
			n++
		}
	}
	return n
}

// CallLog returns every call received so far, oldest first.
func (s *Server) CallLog() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// ResetCalls forgets the calls received so far.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// statusWriter records the call as its answer starts, before the client can see it, so that a
// test reading the call log after a response always finds the call there.
type statusWriter struct {
	http.ResponseWriter
	status int
	record func(status int)
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.record(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if s.opts.ServeHTML {
		if repoName, number, ok := s.webPath(path); ok {
			s.serveWeb(w, r, repoName, number)
			return
		}
	}
	if s.opts.PathPrefix != "" {
		if !strings.HasPrefix(path, s.opts.PathPrefix+"/") {
			s.record(r, r.URL.Path, http.StatusNotFound, false)
			writeError(w, http.StatusNotFound, "Not Found", "")
			return
		}
		path = strings.TrimPrefix(path, s.opts.PathPrefix)
	}
	plainPath := r.URL.Path
	if s.opts.PathPrefix != "" {
		plainPath = strings.TrimPrefix(plainPath, s.opts.PathPrefix)
	}

	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	fault := s.takeFault(r.Method, plainPath)
	if fault != nil && fault.Latency > 0 {
		latency += fault.Latency
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.record(r, plainPath, 0, false)
			return
		}
	}

	if fault != nil && fault.LoseResponse {
		rec := httptest.NewRecorder()
		s.route(rec, r, path)
		s.record(r, plainPath, rec.Code, true)
		hijackAndClose(w)
		return
	}

	sw := &statusWriter{ResponseWriter: w, record: func(status int) { s.record(r, plainPath, status, false) }}
	if fault != nil && (fault.Status != 0 || fault.PrimaryRateLimit || fault.SecondaryRateLimit) {
		s.writeFault(sw, fault, plainPath)
	} else {
		s.route(sw, r, path)
	}
	if sw.status == 0 {
		sw.WriteHeader(http.StatusOK)
	}
}

func hijackAndClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func (s *Server) record(r *http.Request, path string, status int, lost bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{
		Method: r.Method, Path: path, Query: r.URL.RawQuery, Status: status, Lost: lost,
		NotModified: status == http.StatusNotModified, Time: s.now(),
	})
}

func (s *Server) writeFault(w http.ResponseWriter, f *Fault, path string) {
	status := f.Status
	msg := f.Message
	doc := "https://docs.github.com/rest"
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int64((f.RetryAfter+time.Second-1)/time.Second)))
	}
	switch {
	case f.PrimaryRateLimit:
		if status == 0 {
			status = http.StatusForbidden
		}
		reset := f.ResetAfter
		if reset <= 0 {
			reset = time.Minute
		}
		// Rate-limit times are real: clients compare them with their own clocks.
		now := time.Now()
		res := resourceOf(path)
		limit := s.limitOf(res)
		w.Header().Set("X-RateLimit-Limit", fmt.Sprint(limit))
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Used", fmt.Sprint(limit))
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(now.Add(reset).Unix()))
		w.Header().Set("X-RateLimit-Resource", res)
		if msg == "" {
			msg = "API rate limit exceeded for user ID 1000. If you reach out to GitHub Support for help, please include the request ID."
		}
		doc = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
	case f.SecondaryRateLimit:
		if status == 0 {
			status = http.StatusForbidden
		}
		if msg == "" {
			msg = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID."
		}
		doc = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	default:
		if msg == "" {
			msg = http.StatusText(status)
		}
	}
	writeError(w, status, msg, doc)
}

// route authenticates the call and answers it.
func (s *Server) route(w http.ResponseWriter, r *http.Request, escapedPath string) {
	segs := splitPath(escapedPath)
	if segs == nil {
		writeError(w, http.StatusNotFound, "Not Found", "")
		return
	}
	if len(segs) >= 1 && segs[0] == "app" {
		s.routeApp(w, r, segs)
		return
	}
	login, ok := s.authenticate(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "Bad credentials", "https://docs.github.com/rest")
		return
	}
	if !s.countRate(w, login, resourceOf("/"+strings.Join(segs, "/"))) {
		return
	}
	switch {
	case len(segs) == 1 && segs[0] == "user" && r.Method == http.MethodGet:
		if strings.HasSuffix(login, "[bot]") {
			writeError(w, http.StatusForbidden, "Resource not accessible by integration", "https://docs.github.com/rest/users/users#get-the-authenticated-user")
			return
		}
		s.mu.Lock()
		u := s.userJSONLocked(login)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, u)
	case len(segs) >= 4 && segs[0] == "repos" && segs[3] == "issues":
		s.routeIssues(w, r, login, segs[1]+"/"+segs[2], segs[4:])
	case len(segs) == 2 && segs[0] == "search" && segs[1] == "issues" && r.Method == http.MethodGet:
		s.searchIssues(w, r)
	default:
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
	}
}

// splitPath splits an escaped path into unescaped segments; nil when a segment is malformed.
func splitPath(escaped string) []string {
	parts := strings.Split(strings.Trim(escaped, "/"), "/")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		u, err := pathUnescape(p)
		if err != nil {
			return nil
		}
		out = append(out, u)
	}
	return out
}

// authenticate returns the login of the token in the Authorization header.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	tok := bearer(r)
	if tok == "" {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	login, ok := s.tokens[tok]
	return login, ok
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, scheme := range []string{"token ", "Bearer ", "bearer "} {
		if strings.HasPrefix(h, scheme) {
			return strings.TrimSpace(h[len(scheme):])
		}
	}
	return ""
}

// rateKey names one login's budget of one rate-limit resource ("core" or "search").
type rateKey struct{ resource, login string }

// rate is one login's use of one rate limit in the current window.
type rate struct {
	windowStart time.Time
	used        int
}

// resourceOf is the rate-limit resource of an API path: search has its own budget.
func resourceOf(path string) string {
	if strings.HasPrefix(path, "/search/") {
		return "search"
	}
	return "core"
}

// limitOf is the budget of a resource per window.
func (s *Server) limitOf(resource string) int {
	if resource == "search" {
		return s.opts.SearchRateLimit
	}
	return s.opts.RateLimit
}

// windowOf is the length of a resource's window: an hour for core, a minute for search.
func windowOf(resource string) time.Duration {
	if resource == "search" {
		return time.Minute
	}
	return time.Hour
}

// countRate spends one call of login's budget for the resource and sets the X-RateLimit-*
// headers; it answers 403 and returns false when the budget is spent.
func (s *Server) countRate(w http.ResponseWriter, login, resource string) bool {
	// Rate-limit windows run on real time, whatever the clock for timestamps says: clients
	// compare X-RateLimit-Reset with their own clocks.
	now := time.Now()
	limit, window := s.limitOf(resource), windowOf(resource)
	key := rateKey{resource, login}
	s.mu.Lock()
	rt := s.rates[key]
	if rt == nil || !now.Before(rt.windowStart.Add(window)) {
		rt = &rate{windowStart: now}
		s.rates[key] = rt
	}
	exceeded := rt.used >= limit
	if !exceeded {
		rt.used++
	}
	used := rt.used
	reset := rt.windowStart.Add(window).Unix()
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", fmt.Sprint(limit))
	h.Set("X-RateLimit-Remaining", fmt.Sprint(limit-used))
	h.Set("X-RateLimit-Used", fmt.Sprint(used))
	h.Set("X-RateLimit-Reset", fmt.Sprint(reset))
	h.Set("X-RateLimit-Resource", resource)
	if exceeded {
		writeError(w, http.StatusForbidden, "API rate limit exceeded for user "+login+".", "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")
		return false
	}
	return true
}

// refundRate gives back the call a 304 answer spent, as GitHub does for conditional requests.
func (s *Server) refundRate(w http.ResponseWriter, login string) {
	s.mu.Lock()
	rt := s.rates[rateKey{"core", login}]
	if rt != nil && rt.used > 0 {
		rt.used--
	}
	used := 0
	if rt != nil {
		used = rt.used
	}
	s.mu.Unlock()
	w.Header().Set("X-RateLimit-Remaining", fmt.Sprint(s.opts.RateLimit-used))
	w.Header().Set("X-RateLimit-Used", fmt.Sprint(used))
}

func randomToken(prefix string) string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
