package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-retry"

	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/internal/standardwebhooks"
	"github.com/followthrough/followthrough/internal/testclock"
)

// clockStart is where the tests' clocks start.
var clockStart = time.Unix(1_800_000_000, 0)

// attempt is one request as the flaky service saw it.
type attempt struct {
	at       time.Time // on the fake clock, when it arrived
	real     time.Time // on the real clock
	id, body string
}

// flakyService answers each POST with fail(n, body, header) for its n-th request (from 1): 0
// drops the connection without an answer, hang answers only once the client has given up (or
// after 10 s), any other number is the status to answer, with the headers fail set. Every
// request is checked for a valid signature with testSecret, and takes took on clock.
func flakyService(t *testing.T, clock *testclock.Clock, took time.Duration, fail func(n int, body string, h http.Header) int) (*httptest.Server, func() []attempt) {
	t.Helper()
	key, err := config.Secret(testSecret).WebhookKey()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []attempt
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the delivery: %v", err)
			return
		}
		id, ts := r.Header.Get(standardwebhooks.HeaderID), r.Header.Get(standardwebhooks.HeaderTimestamp)
		if id == "" || r.Header.Get(standardwebhooks.HeaderSignature) != standardwebhooks.Sign(key, id, ts, body) {
			t.Errorf("delivery not signed with the secret: %v", r.Header)
		}
		mu.Lock()
		seen = append(seen, attempt{at: clock.Now(), real: time.Now(), id: id, body: string(body)})
		n := len(seen)
		mu.Unlock()
		clock.Advance(took)
		status := fail(n, string(body), w.Header())
		if status == hang {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
				status = http.StatusServiceUnavailable
			}
		}
		if status == 0 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
			return
		}
		w.WriteHeader(status)
		if status >= 400 {
			io.WriteString(w, `{"error":"try later"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []attempt {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// constantWaits waits d between attempts, with no limit of its own.
func constantWaits(d time.Duration) func() retry.Backoff {
	return func() retry.Backoff { return retry.NewConstant(d) }
}

// for flakyService: no answer at all, or none before the client gives up.
const (
	dropped = 0
	hang    = -1
)

// sleepOn is a Submitter.Sleep that moves clock instead of waiting, and the waits it was asked for.
func sleepOn(clock *testclock.Clock) (func(context.Context, time.Duration) error, func() []time.Duration) {
	var mu sync.Mutex
	var waits []time.Duration
	return func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, d)
			clock.Advance(d)
			return ctx.Err()
		}, func() []time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(waits)
		}
}

// bounded is a context that ends a test whose submit would otherwise never give up.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// submitWith runs the submit command with the Backoff, Now and Sleep of with.
func submitWith(ctx context.Context, with Submitter, args ...string) (int, string, string) {
	return run(func(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
		return submitCommand(ctx, args, stdout, stderr, getenv, with)
	}, nil, args...)
}

// TestSubmitRetriesUntilAccepted: a service that answers 503, or drops the connection, is tried
// again after a wait, with the same webhook-id on every attempt of one signed file; its 202 then
// counts as accepted and submit exits 0.
func TestSubmitRetriesUntilAccepted(t *testing.T) {
	const wait = 30 * time.Millisecond
	for _, tt := range []struct {
		name    string
		failure int
	}{
		{"503", http.StatusServiceUnavailable},
		{"dropped connection", dropped},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := testclock.New(clockStart)
			srv, seen := flakyService(t, clock, time.Second, func(n int, _ string, _ http.Header) int {
				if n <= 3 {
					return tt.failure
				}
				return http.StatusAccepted
			})
			good := files(t, "good.md", goodMD)[0]
			with := Submitter{Backoff: constantWaits(wait), Now: clock.Now}
			code, stdout, stderr := run(func(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
				return submitCommand(context.Background(), args, stdout, stderr, getenv, with)
			}, nil, "--url", srv.URL, "--secret", testSecret, good)
			if code != 0 || stdout != good+": PM-CLI-1 accepted\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and accepted", code, stdout, stderr)
			}
			got := seen()
			if len(got) != 4 {
				t.Fatalf("%d attempts, want 3 failures and the 202", len(got))
			}
			for i, a := range got {
				if a.id != got[0].id || a.body != goodMD {
					t.Errorf("attempt %d: webhook-id %q, body %q; want the first's id %q and the file", i+1, a.id, a.body, got[0].id)
				}
				if i > 0 && a.real.Sub(got[i-1].real) < wait {
					t.Errorf("attempt %d came %v after the one before, sooner than the backoff's %v", i+1, a.real.Sub(got[i-1].real), wait)
				}
			}
		})
	}
}

// TestSubmitGivesUpAfterTwoMinutes: against a service that keeps failing, submit keeps trying
// one file until 2 minutes have passed since its first attempt, then gives up on it, saying after
// how many attempts, how long and the last answer, goes on to the next file, and exits 1. The
// waits are short; the clock is driven by the service, each answer of which takes 8 s.
func TestSubmitGivesUpAfterTwoMinutes(t *testing.T) {
	const took = 8 * time.Second
	for _, tt := range []struct {
		name, failure string // failure: what the failed file's line says after "failed: "
		status        int
	}{
		{"503", "gave up after 15 attempts over 2m0s: the 2m0s limit has passed; the last: the service answered 503: try later", http.StatusServiceUnavailable},
		{"dropped connection", "gave up after 15 attempts over 2m0s: the 2m0s limit has passed; the last: Post ", dropped},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := testclock.New(clockStart)
			// PM-CLI-1 always fails; PM-CLI-5, sent after it, is accepted: the budget is per file.
			srv, seen := flakyService(t, clock, took, func(_ int, body string, _ http.Header) int {
				if strings.Contains(body, "PM-CLI-1") {
					return tt.status
				}
				return http.StatusAccepted
			})
			paths := files(t, "down.md", goodMD, "up.md", strings.Replace(goodMD, "PM-CLI-1", "PM-CLI-5", 1))
			down, up := paths[0], paths[1]
			with := Submitter{Backoff: constantWaits(time.Millisecond), Now: clock.Now}
			// Without a budget, submit would try for ever; the deadline ends the test instead.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			code, stdout, stderr := run(func(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
				return submitCommand(ctx, args, stdout, stderr, getenv, with)
			}, nil, "--url", srv.URL, "--secret", testSecret, down, up)
			got := lines(stdout)
			if code != 1 || len(got) != 2 || !strings.HasPrefix(got[0], down+": PM-CLI-1 failed: "+tt.failure) ||
				got[1] != up+": PM-CLI-5 accepted" {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant 1, %s failed (%s), %s accepted", code, stdout, stderr, down, tt.failure, up)
			}
			var tries []attempt
			for _, a := range seen() {
				if strings.Contains(a.body, "PM-CLI-1") {
					tries = append(tries, a)
				}
			}
			if len(tries) < 2 {
				t.Fatalf("%d attempts at %s", len(tries), down)
			}
			first, last := tries[0].at, tries[len(tries)-1].at
			// Every attempt starts within 2 minutes of the first, and the one after the last would
			// have started at 2 minutes or later.
			if last.Sub(first) >= 2*time.Minute || last.Add(took).Sub(first) < 2*time.Minute {
				t.Errorf("%d attempts, the last %v after the first; want attempts for 2 minutes, every %v", len(tries), last.Sub(first), took)
			}
			for i, a := range tries {
				if a.id != tries[0].id {
					t.Errorf("attempt %d: webhook-id %q, want the first's %q", i+1, a.id, tries[0].id)
				}
			}
		})
	}
}

// TestSubmitDoesNotRetry4xx: a 4xx answer is the service's last word on the file: it is refused
// after one attempt. The contract retries only network errors and 5xx.
func TestSubmitDoesNotRetry4xx(t *testing.T) {
	r := Linter{}.Lint("good.md", Markdown, []byte(goodMD))
	for _, status := range []int{400, 401, 403, 404, 409, 413, 415, 422} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			clock := testclock.New(clockStart)
			srv, seen := flakyService(t, clock, time.Second, func(int, string, http.Header) int { return status })
			s := &Submitter{URL: srv.URL, Secret: testSecret, Backoff: constantWaits(time.Millisecond), Now: clock.Now}
			out := s.Send(context.Background(), r)
			if n := len(seen()); out.Result != "refused" || out.Status != status || n != 1 {
				t.Errorf("outcome %+v after %d attempts; want refused (%d) after one", out, n, status)
			}
		})
	}
}

// TestDefaultBackoff: without a Backoff, the waits double from one second up to 20 s, give or
// take 10%.
func TestDefaultBackoff(t *testing.T) {
	b := defaultBackoff()
	for i, want := range []time.Duration{1, 2, 4, 8, 16, 20, 20, 20} {
		want *= time.Second
		got, stop := b.Next()
		if stop || got < want*9/10 || got > want*11/10 {
			t.Errorf("wait %d: %v (stop %v), want %v ± 10%%", i+1, got, stop, want)
		}
	}
}

// TestDefaultRetries: by default, one file is tried for up to 2 minutes: against a service that
// answers 503 at once, the default waits run on the clock until the next would pass 2 minutes,
// and submit then gives up at once instead of waiting for nothing.
func TestDefaultRetries(t *testing.T) {
	clock := testclock.New(clockStart)
	srv, seen := flakyService(t, clock, 0, func(int, string, http.Header) int { return http.StatusServiceUnavailable })
	sleep, waits := sleepOn(clock)
	s := &Submitter{URL: srv.URL, Secret: testSecret, Now: clock.Now, Sleep: sleep}
	out := s.Send(bounded(t), Linter{}.Lint("good.md", Markdown, []byte(goodMD)))
	got, end := seen(), clock.Now().Sub(clockStart)
	if out.Result != "failed" || out.Status != 503 || !strings.Contains(out.Error, "would pass the 2m0s limit") {
		t.Errorf("outcome %+v, want failed as the next wait would pass the limit", out)
	}
	if len(got) != len(waits())+1 || got[len(got)-1].at != clock.Now() {
		t.Errorf("%d attempts, %d waits, the last attempt at %v, the end at %v: want one wait between attempts and none after the last",
			len(got), len(waits()), got[len(got)-1].at.Sub(clockStart), end)
	}
	// The next default wait is at most 22 s (20 s and 10% jitter).
	if end >= 2*time.Minute || end < 2*time.Minute-22*time.Second {
		t.Errorf("gave up %v after the first attempt (waits %v); want before 2m0s, and less than 22 s before", end, waits())
	}
}

// TestSubmitWaitsAsRetryAfterAsks: a 429 or a 503 is tried again, with the same webhook-id,
// after the wait its Retry-After asks for (seconds or an HTTP date), never sooner; when the
// backoff's wait is longer, or there is no Retry-After, the backoff's.
func TestSubmitWaitsAsRetryAfterAsks(t *testing.T) {
	const took = time.Second
	for _, tt := range []struct {
		name       string
		status     int
		retryAfter func(now time.Time) string // the Retry-After of the first answer; "" none
		backoff    time.Duration
		wait       time.Duration
	}{
		{"429 after 2 s", http.StatusTooManyRequests, func(time.Time) string { return "2" }, time.Millisecond, 2 * time.Second},
		{"503 until an HTTP date", http.StatusServiceUnavailable, func(now time.Time) string {
			return now.Add(30 * time.Second).UTC().Format(http.TimeFormat)
		}, time.Millisecond, 30 * time.Second},
		{"429 without Retry-After", http.StatusTooManyRequests, func(time.Time) string { return "" }, 3 * time.Second, 3 * time.Second},
		{"503 asking less than the backoff", http.StatusServiceUnavailable, func(time.Time) string { return "1" }, 5 * time.Second, 5 * time.Second},
		{"503 with a past HTTP date", http.StatusServiceUnavailable, func(now time.Time) string {
			return now.Add(-time.Hour).UTC().Format(http.TimeFormat)
		}, 4 * time.Second, 4 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := testclock.New(clockStart)
			srv, seen := flakyService(t, clock, took, func(n int, _ string, h http.Header) int {
				if n > 1 {
					return http.StatusAccepted
				}
				if v := tt.retryAfter(clock.Now()); v != "" {
					h.Set("Retry-After", v)
				}
				return tt.status
			})
			sleep, waits := sleepOn(clock)
			good := files(t, "good.md", goodMD)[0]
			code, stdout, stderr := submitWith(context.Background(), Submitter{Backoff: constantWaits(tt.backoff), Now: clock.Now, Sleep: sleep},
				"--url", srv.URL, "--secret", testSecret, good)
			if code != 0 || stdout != good+": PM-CLI-1 accepted\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and accepted", code, stdout, stderr)
			}
			got := seen()
			if len(got) != 2 || got[1].id != got[0].id {
				t.Fatalf("attempts %+v, want two with one webhook-id", got)
			}
			if w := waits(); len(w) != 1 || w[0] != tt.wait || got[1].at.Sub(got[0].at) != took+tt.wait {
				t.Errorf("waits %v, the second attempt %v after the first answer; want one wait of %v",
					w, got[1].at.Sub(got[0].at)-took, tt.wait)
			}
		})
	}
}

// TestSubmitGivesUpWhenRetryAfterPassesTheLimit: a Retry-After longer than what is left of the
// 2 minutes ends the tries at once, without waiting, saying so; exit 1.
func TestSubmitGivesUpWhenRetryAfterPassesTheLimit(t *testing.T) {
	const took = 50 * time.Second
	for _, tt := range []struct {
		name       string
		status     int
		retryAfter []func(now time.Time) string // of the answers in turn
		waits      []time.Duration
		message    string
	}{
		{"429 for 5 minutes", http.StatusTooManyRequests, []func(time.Time) string{func(time.Time) string { return "300" }}, nil,
			"gave up after 1 attempt over 50s: the service asked to wait 5m0s (Retry-After), more than the 1m10s left of the 2m0s limit; the last: the service answered 429: try later"},
		{"503 until a date past the limit", http.StatusServiceUnavailable, []func(time.Time) string{
			func(time.Time) string { return "10" },
			func(now time.Time) string { return now.Add(15 * time.Second).UTC().Format(http.TimeFormat) },
		}, []time.Duration{10 * time.Second},
			"gave up after 2 attempts over 1m50s: the service asked to wait 15s (Retry-After), more than the 10s left of the 2m0s limit; the last: the service answered 503: try later"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := testclock.New(clockStart)
			srv, seen := flakyService(t, clock, took, func(n int, _ string, h http.Header) int {
				if n > len(tt.retryAfter) {
					t.Errorf("attempt %d, after the Retry-After past the limit", n)
					return http.StatusAccepted
				}
				h.Set("Retry-After", tt.retryAfter[n-1](clock.Now()))
				return tt.status
			})
			sleep, waits := sleepOn(clock)
			good := files(t, "good.md", goodMD)[0]
			code, stdout, stderr := submitWith(bounded(t), Submitter{Backoff: constantWaits(time.Millisecond), Now: clock.Now, Sleep: sleep},
				"--url", srv.URL, "--secret", testSecret, good)
			if want := good + ": PM-CLI-1 failed: " + tt.message + "\n"; code != 1 || stdout != want {
				t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant 1 and %q", code, stdout, stderr, want)
			}
			if n, w := len(seen()), waits(); n != len(tt.retryAfter) || !slices.Equal(w, tt.waits) {
				t.Errorf("%d attempts, waits %v; want %d, %v", n, w, len(tt.retryAfter), tt.waits)
			}
		})
	}
}

// TestSubmitCutsASlowAnswerAtTheLimit: an attempt still waiting for its answer when the 2
// minutes end is cut there: submit gives up then, not when the service finally answers.
func TestSubmitCutsASlowAnswerAtTheLimit(t *testing.T) {
	const left = 300 * time.Millisecond // of the 2 minutes when the slow attempt starts
	clock := testclock.New(clockStart)
	srv, seen := flakyService(t, clock, 0, func(n int, _ string, _ http.Header) int {
		if n == 1 {
			clock.Advance(2*time.Minute - left - time.Millisecond)
			return http.StatusServiceUnavailable
		}
		return hang
	})
	sleep, _ := sleepOn(clock)
	good := files(t, "good.md", goodMD)[0]
	began := time.Now()
	code, stdout, stderr := submitWith(bounded(t), Submitter{Backoff: constantWaits(time.Millisecond), Now: clock.Now, Sleep: sleep},
		"--url", srv.URL, "--secret", testSecret, good)
	took := time.Since(began)
	want := good + ": PM-CLI-1 failed: gave up after 2 attempts over 2m0s: no answer came before the 2m0s limit; the last: Post "
	if code != 1 || !strings.HasPrefix(stdout, want) || !strings.HasSuffix(stdout, ": cut at the 2m0s limit\n") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant 1 and %q...", code, stdout, stderr, want)
	}
	// The service would answer after 10 s; the cut comes after what was left.
	if n := len(seen()); n != 2 || took < left || took > left+5*time.Second {
		t.Errorf("%d attempts, gave up after %v; want 2 and the second cut after %v", n, took, left)
	}
}

// TestSubmitGiveUpNamesNoToken: the give-up message quotes the last answer, but not the bearer
// token even when a proxy echoes it back.
func TestSubmitGiveUpNamesNoToken(t *testing.T) {
	const token = "ft_tok_5ecret5ecret5ecret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "600")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":"upstream down, request was `+r.Header.Get("Authorization")+`"}`)
	}))
	defer srv.Close()
	s := &Submitter{URL: srv.URL, Token: token, Backoff: constantWaits(time.Millisecond)}
	out := s.Send(bounded(t), Linter{}.Lint("good.md", Markdown, []byte(goodMD)))
	if out.Result != "failed" || strings.Contains(out.Error, token) || !strings.Contains(out.Error, "request was Bearer [redacted]") {
		t.Errorf("outcome %+v: want failed, quoting the answer without the token", out)
	}
}

// TestRetryAfter: what a Retry-After header asks to wait, including values that cannot be
// read (none), and a number of seconds too large for any integer, which asks for longer than
// any budget rather than for nothing.
func TestRetryAfter(t *testing.T) {
	now := clockStart
	for _, tt := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).UTC().Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).UTC().Format(http.TimeFormat), 0},
		{"4294967297", (1 << 32) * time.Second},
		{"99999999999999999999", (1 << 32) * time.Second},
	} {
		if got := retryAfter(tt.header, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// TestSubmitDoesNotRetry4xxCutShort: a 4xx whose body breaks off is still the service's final
// answer: one attempt, refused with that status, not tried again as if no answer had come.
func TestSubmitDoesNotRetry4xxCutShort(t *testing.T) {
	var mu sync.Mutex
	attempts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		mu.Lock()
		attempts++
		mu.Unlock()
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		// Promises more than it sends, then hangs up.
		_, _ = buf.WriteString("HTTP/1.1 422 Unprocessable Entity\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"error\":\"bad")
		_ = buf.Flush()
	}))
	defer srv.Close()
	clock := testclock.New(clockStart)
	sleep, _ := sleepOn(clock)
	s := &Submitter{URL: srv.URL, Secret: testSecret, Backoff: constantWaits(time.Second), Now: clock.Now, Sleep: sleep}
	out := s.Send(bounded(t), Linter{}.Lint("good.md", Markdown, []byte(goodMD)))
	mu.Lock()
	defer mu.Unlock()
	if out.Result != "refused" || out.Status != http.StatusUnprocessableEntity || attempts != 1 {
		t.Errorf("outcome %+v after %d attempts; want refused (422) after one", out, attempts)
	}
}

// TestSubmitRefusalNamesNoToken: a refusal quotes the service's error, but not the bearer token
// when a proxy echoes it back, as the give-up message does not.
func TestSubmitRefusalNamesNoToken(t *testing.T) {
	const token = "ft_tok_5ecret5ecret5ecret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"no such token: `+r.Header.Get("Authorization")+`"}`)
	}))
	defer srv.Close()
	good := files(t, "good.md", goodMD)[0]
	code, stdout, stderr := submitWith(bounded(t), Submitter{Backoff: constantWaits(time.Millisecond)},
		"--url", srv.URL, "--token", token, good)
	if code != 1 || strings.Contains(stdout+stderr, token) || !strings.Contains(stdout, "no such token: Bearer [redacted]") {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant 1, refused, quoting the answer without the token", code, stdout, stderr)
	}
}

// A --url that answers intake with a redirect (http to https, a moved host) makes Go's client
// follow a 301, 302 or 303 with a GET: the list's 200 then came from no intake, and the file
// was not accepted. submit must not count it as sent.
func TestSubmitRedirectIsNotAccepted(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		switch {
		case r.URL.Path == "/v1/postmortems" && r.Method == http.MethodPost:
			http.Redirect(w, r, "/new/v1/postmortems", http.StatusMovedPermanently)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"items":[],"next_cursor":""}`)
		}
	}))
	defer srv.Close()
	good := files(t, "good.md", goodMD)[0]
	code, stdout, stderr := submitWith(bounded(t), Submitter{Backoff: constantWaits(time.Millisecond)},
		"--url", srv.URL, "--token", testToken, good)
	if code != 1 || !strings.HasPrefix(stdout, good+": PM-CLI-1 refused (301)") {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nrequests %v\nwant exit 1, the redirect refused", code, stdout, stderr, got)
	}
	// A 200 that is not an intake's answer (a proxy's page) is not accepted either.
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>Sign in</html>")
	}))
	defer page.Close()
	code, stdout, stderr = submitWith(bounded(t), Submitter{Backoff: constantWaits(time.Millisecond)},
		"--url", page.URL, "--token", testToken, good)
	if code != 1 || !strings.HasPrefix(stdout, good+": PM-CLI-1 refused (200)") {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant exit 1, refused", code, stdout, stderr)
	}
}
