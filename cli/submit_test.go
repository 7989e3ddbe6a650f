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

// flakyService answers each POST with fail(n, body) for its n-th request (from 1): 0 drops the
// connection without an answer, any other number is the status to answer. Every request is
// checked for a valid signature with testSecret, and takes took on clock.
func flakyService(t *testing.T, clock *testclock.Clock, took time.Duration, fail func(n int, body string) int) (*httptest.Server, func() []attempt) {
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
		status := fail(n, string(body))
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

const dropped = 0 // for flakyService: no answer at all

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
			srv, seen := flakyService(t, clock, time.Second, func(n int, _ string) int {
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
// one file until 2 minutes have passed since its first attempt, then gives up on it, names it,
// goes on to the next file, and exits 1. The waits are short; the clock is driven by the service,
// each answer of which takes 7 s.
func TestSubmitGivesUpAfterTwoMinutes(t *testing.T) {
	const took = 7 * time.Second
	for _, tt := range []struct {
		name, failure string // failure: what the failed file's line says after "failed: "
		status        int
	}{
		{"503", "the service answered 503: try later", http.StatusServiceUnavailable},
		{"dropped connection", "EOF", dropped},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := testclock.New(clockStart)
			// PM-CLI-1 always fails; PM-CLI-5, sent after it, is accepted: the budget is per file.
			srv, seen := flakyService(t, clock, took, func(_ int, body string) int {
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
			if code != 1 || len(got) != 2 || !strings.HasPrefix(got[0], down+": PM-CLI-1 failed: ") ||
				!strings.Contains(got[0], tt.failure) || got[1] != up+": PM-CLI-5 accepted" {
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
			srv, seen := flakyService(t, clock, time.Second, func(int, string) int { return status })
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

// TestDefaultRetries: by default, one file is tried for 2 minutes: the default waits, on a
// clock that moves only by them (answers that take no time), add up to exactly 2 minutes, the
// last one cut to fit.
func TestDefaultRetries(t *testing.T) {
	clock := testclock.New(clockStart)
	b := (&Submitter{}).retries(clock.Now)
	var total time.Duration
	var waits []time.Duration
	for {
		wait, stop := b.Next()
		if stop {
			break
		}
		if len(waits) > 100 {
			t.Fatalf("still waiting after %v: %v", total, waits)
		}
		waits = append(waits, wait)
		total += wait
		clock.Advance(wait)
	}
	if total != 2*time.Minute {
		t.Errorf("waits %v add up to %v, want 2m0s", waits, total)
	}
	if last := waits[len(waits)-1]; last > 20*time.Second*11/10 {
		t.Errorf("the last wait is %v, more than the 20 s cap", last)
	}
}
