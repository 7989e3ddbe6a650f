// Package load measures a running followthrough from outside, over HTTP with keep-alive clients,
// as cmd/ftload does: intake of distinct signed postmortems, signed GitHub and Jira webhooks
// about existing tickets (and about issues it does not follow), reads of the status page and the
// list API, each compared with the same server's /healthz rate. Bench starts builds of the
// binary with stand-ins of GitHub and Jira and measures them side by side.
//
// payloads/ holds byte copies of ../shared/fixtures deliveries (see SOURCES.md there) that the
// webhook bodies are built from.
package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Target is a running followthrough server and the credentials to drive it.
type Target struct {
	URL          string // base URL without a trailing slash, e.g. http://127.0.0.1:8080
	Token        string // a bearer token of intake.tokens: the list API needs it
	IntakeSecret string // intake.secret (whsec_...); empty: intake is sent with the token
	GitHubSecret string // github.webhook_secret
	JiraSecret   string // jira.webhook_secret
	// RequestTimeout bounds each request [60s].
	RequestTimeout time.Duration
	// Replicas are the base URLs of more processes serving the same database: the clients of a
	// scenario spread over URL and these, client i sending to the (i mod n)th.
	Replicas []string
}

// spread sends a client's request to that client's process.
func (t Target) spread(req *http.Request, client int) error {
	i := client % (len(t.Replicas) + 1)
	if i == 0 {
		return nil
	}
	u, err := url.Parse(t.Replicas[i-1])
	if err != nil {
		return fmt.Errorf("replica URL: %w", err)
	}
	req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, ""
	return nil
}

func (t Target) url(path string) string { return strings.TrimRight(t.URL, "/") + path }

// authorize sets the bearer token, when there is one.
func (t Target) authorize(req *http.Request) {
	if t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.Token)
	}
}

// newClient is one keep-alive client: its own transport, so that each client holds its own
// connection, as N independent callers would.
func (t Target) newClient() *http.Client {
	timeout := t.RequestTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// spec is one scenario: clients send requests until the duration has passed or count requests
// were sent, whichever comes first.
type spec struct {
	name     string
	clients  int
	duration time.Duration // 0: until count
	count    int64         // 0: until duration
	// atLeast keeps a timed scenario going until this many requests were sent, e.g. one
	// event about every ticket whatever the machine's speed.
	atLeast int64
	// request builds request seq (0, 1, 2, ... across all clients) for a client.
	request func(client int, seq int64) (*http.Request, error)
	// answer, when set, is told every answered request's status and, with wantBody, its body
	// (valid only during the call).
	answer   func(client int, seq int64, status int, body []byte)
	wantBody bool
}

// run carries out a scenario with its own keep-alive clients and measures it.
func run(ctx context.Context, t Target, s spec) (Result, error) {
	if s.clients < 1 {
		return Result{}, fmt.Errorf("%s: at least one client is needed", s.name)
	}
	if s.duration <= 0 && s.count <= 0 {
		return Result{}, fmt.Errorf("%s: neither a duration nor a count", s.name)
	}
	recs := make([]*recorder, s.clients)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		buildErr atomic.Pointer[error]
	)
	start := time.Now()
	deadline := start.Add(s.duration)
	for c := range s.clients {
		rec := newRecorder()
		recs[c] = rec
		wg.Go(func() {
			client := t.newClient()
			defer client.CloseIdleConnections()
			var body bytes.Buffer
			// Every client sends at least once: on a busy machine a client may first run after
			// a short duration has passed, and a scenario with no answer measures nothing.
			for first := true; ctx.Err() == nil && (first || s.duration <= 0 || time.Now().Before(deadline) || next.Load() < s.atLeast); first = false {
				seq := next.Add(1) - 1
				if s.count > 0 && seq >= s.count {
					return
				}
				req, err := s.request(c, seq)
				if err == nil {
					err = t.spread(req, c)
				}
				if err != nil {
					buildErr.CompareAndSwap(nil, &err)
					return
				}
				sent := time.Now()
				resp, err := client.Do(req.WithContext(ctx))
				if err != nil {
					rec.failed(err)
					continue
				}
				body.Reset()
				if s.wantBody {
					_, err = body.ReadFrom(resp.Body)
				} else {
					_, err = io.Copy(io.Discard, resp.Body)
				}
				resp.Body.Close()
				took := time.Since(sent)
				if err != nil {
					rec.failed(err)
					continue
				}
				rec.answered(resp.StatusCode, took)
				if s.answer != nil {
					s.answer(c, seq, resp.StatusCode, body.Bytes())
				}
			}
		})
	}
	wg.Wait()
	res := merge(s.name, s.clients, time.Since(start), recs)
	if p := buildErr.Load(); p != nil {
		return res, fmt.Errorf("%s: %w", s.name, *p)
	}
	return res, nil
}

// get sends one GET with the bearer token and returns the status and body (at most 64 MiB).
func (t Target) get(ctx context.Context, client *http.Client, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url(path), nil)
	if err != nil {
		return 0, nil, err
	}
	t.authorize(req)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return resp.StatusCode, body, nil
}
