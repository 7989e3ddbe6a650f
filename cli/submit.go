package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-retry"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/internal/sleep"
	"github.com/followthrough/followthrough/internal/standardwebhooks"
)

// RetryFor is how long submit keeps trying one file through network errors, 429 and 5xx
// answers: no attempt is in flight and no wait runs past it, counted from the first attempt.
const RetryFor = 2 * time.Minute

// Submitter sends postmortem files to a running service's intake, POST /v1/postmortems.
type Submitter struct {
	URL    string // the service's base URL, without /v1
	Token  string // bearer token; or
	Secret string // a Standard Webhooks secret (whsec_...): deliveries are signed instead
	Client *http.Client
	// Backoff makes the waits between attempts at one file; nil is exponential from one second,
	// at most 20 s apart. An answer's Retry-After makes a wait longer, never shorter.
	Backoff func() retry.Backoff
	Now     func() time.Time // the clock of signature timestamps, Retry-After and RetryFor; nil is time.Now
	// Sleep waits d or until ctx is done, whichever comes first; nil waits on a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Outcome is what became of one file at the service.
type Outcome struct {
	Result string // accepted, unchanged, revised, refused or failed
	Status int    // the HTTP status of the last answer, 0 when none came
	Error  string // refused: the service's error; failed: why nothing was accepted
	Fields []ft.FieldError
}

func defaultBackoff() retry.Backoff {
	b := retry.NewExponential(time.Second)
	b = retry.WithCappedDuration(20*time.Second, b)
	return retry.WithJitterPercent(10, b)
}

// errOutOfTime cuts an attempt still in flight when RetryFor ends.
var errOutOfTime = fmt.Errorf("cut at the %v limit", RetryFor)

// tried is how one attempt at a file went.
type tried struct {
	out        Outcome       // the answer; Status 0 when none came
	err        error         // why it is worth another attempt: no answer, 429 or 5xx; nil when final
	retryAfter time.Duration // how long the answer asks to wait, 0 when it does not
	cut        bool          // RetryFor ended while it was in flight
}

// Send posts one linted document. Network errors, 429 and 5xx answers are tried again, after
// the backoff's wait or the answer's Retry-After, whichever is later; a signed delivery keeps
// its webhook-id on every attempt (with a fresh timestamp), so the service can tell it is the
// same delivery. Send gives up once RetryFor has passed since the first attempt: a request
// still in flight then is cut, and a wait that would end past it is not begun.
func (s *Submitter) Send(ctx context.Context, r *Report) Outcome {
	var key []byte
	if s.Secret != "" {
		k, err := config.Secret(s.Secret).WebhookKey()
		if err != nil {
			return Outcome{Result: "failed", Error: "the secret " + err.Error()}
		}
		key = k
	}
	client, now, wait, backoff := s.Client, s.Now, s.Sleep, s.Backoff
	if client == nil {
		// A redirect is not followed: Go would follow a 301, 302 or 303 with a GET, whose
		// answer says nothing about the document.
		client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if now == nil {
		now = time.Now
	}
	if wait == nil {
		wait = sleep.For
	}
	if backoff == nil {
		backoff = defaultBackoff
	}
	waits := backoff()
	post := poster{
		client:    client,
		now:       now,
		endpoint:  strings.TrimRight(s.URL, "/") + "/v1/postmortems",
		token:     s.Token,
		key:       key,
		webhookID: newWebhookID(),
	}
	start := now()
	for n := 1; ; n++ {
		t := post.post(ctx, r, RetryFor-now().Sub(start))
		if t.err == nil {
			// A refusal quotes the service, or a proxy that may echo the credential.
			t.out.Error = s.redact(t.out.Error)
			for i := range t.out.Fields {
				t.out.Fields[i].Message = s.redact(t.out.Fields[i].Message)
			}
			return t.out
		}
		var why string
		switch {
		case ctx.Err() != nil:
			why = ": interrupted"
		case t.cut:
			why = fmt.Sprintf(": no answer came before the %v limit", RetryFor)
		default:
			next, stop := waits.Next()
			next = max(next, t.retryAfter)
			left := RetryFor - now().Sub(start)
			switch {
			case stop:
			case left <= 0:
				why = fmt.Sprintf(": the %v limit has passed", RetryFor)
			case next >= left && next == t.retryAfter:
				// Sooner than asked would be refused again: the service's time is the earliest.
				why = fmt.Sprintf(": the service asked to wait %v (Retry-After), more than the %v left of the %v limit",
					next, left.Round(time.Second), RetryFor)
			case next >= left:
				why = fmt.Sprintf(": the next wait, %v, would pass the %v limit", next.Round(time.Millisecond), RetryFor)
			default:
				if wait(ctx, next) == nil {
					continue
				}
				why = ": interrupted"
			}
		}
		took := now().Sub(start)
		if t.cut {
			took = RetryFor
		}
		msg := fmt.Sprintf("gave up after %s over %v%s; the last: %v", countOf(n, "attempt"), took.Round(time.Second), why, t.err)
		return Outcome{Result: "failed", Status: t.out.Status, Error: s.redact(msg)}
	}
}

// redact takes the credential out of a message that may quote the service or a proxy.
func (s *Submitter) redact(msg string) string {
	for _, secret := range []string{s.Token, s.Secret} {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	return msg
}

// poster makes the requests of one file's attempts.
type poster struct {
	client    *http.Client
	now       func() time.Time
	endpoint  string
	token     string
	key       []byte // signing key; nil: the bearer token instead
	webhookID string
}

// post posts the document once, for at most left.
func (p poster) post(ctx context.Context, r *Report, left time.Duration) tried {
	if left <= 0 {
		return tried{err: errOutOfTime, cut: true}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, left, errOutOfTime)
	defer cancel()
	noAnswer := func(err error) tried {
		if context.Cause(ctx) == errOutOfTime {
			return tried{err: err, cut: true}
		}
		return tried{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(r.Body))
	if err != nil {
		return tried{out: Outcome{Result: "failed", Error: err.Error()}}
	}
	req.Header.Set("Content-Type", r.Format.ContentType())
	if p.key != nil {
		ts := strconv.FormatInt(p.now().Unix(), 10)
		req.Header.Set(standardwebhooks.HeaderID, p.webhookID)
		req.Header.Set(standardwebhooks.HeaderTimestamp, ts)
		req.Header.Set(standardwebhooks.HeaderSignature, standardwebhooks.Sign(p.key, p.webhookID, ts, r.Body))
	} else {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return noAnswer(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	final := resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500
	if err != nil && !(final && resp.StatusCode >= 400) {
		return noAnswer(fmt.Errorf("reading the answer: %w", err))
	}
	out := answer(resp.StatusCode, resp.Header.Get("Location"), body)
	if final {
		// A 4xx is the service's answer even when its body breaks off: sent again, the same
		// document would be refused again.
		if err != nil {
			out.Error += fmt.Sprintf(" (the rest of the answer was lost: %v)", err)
		}
		return tried{out: out}
	}
	return tried{
		out:        out,
		err:        fmt.Errorf("the service answered %d: %s", resp.StatusCode, out.Error),
		retryAfter: retryAfter(resp.Header.Get("Retry-After"), p.now()),
	}
}

// retryAfter is how long a Retry-After header asks to wait from now: a number of seconds or an
// HTTP date. 0 when there is none, it cannot be read, or the date has passed.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	// Beyond any budget; kept from overflowing a Duration. Digits too many for a uint64
	// (ErrRange, secs the largest) ask for longer still, not for nothing.
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		return time.Duration(min(secs, 1<<32)) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0)
	}
	return 0
}

// answer reads the service's answer to one intake.
func answer(status int, location string, body []byte) Outcome {
	if status == http.StatusAccepted {
		return Outcome{Result: "accepted", Status: status}
	}
	if status == http.StatusOK {
		var a struct {
			Intake string `json:"intake"`
		}
		if json.Unmarshal(body, &a) == nil && slices.Contains([]string{"accepted", "unchanged", "revised"}, a.Intake) {
			return Outcome{Result: a.Intake, Status: status}
		}
		// A proxy's page, or another endpoint: nothing says the document was taken.
		return Outcome{Result: "refused", Status: status,
			Error: "the answer is not intake's (no \"intake\": accepted, unchanged or revised): is --url the service's base URL?"}
	}
	if status >= 300 && status < 400 {
		return Outcome{Result: "refused", Status: status,
			Error: fmt.Sprintf("redirected to %q: give --url the service's own base URL", location)}
	}
	var e struct {
		Error  string          `json:"error"`
		Fields []ft.FieldError `json:"fields"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(body[:min(len(body), 200)]))
		if e.Error == "" {
			e.Error = http.StatusText(status)
		}
	}
	return Outcome{Result: "refused", Status: status, Error: e.Error, Fields: e.Fields}
}

func newWebhookID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "msg_" + hex.EncodeToString(b)
}

// SubmitCommand is `followthrough submit [--url URL] [--token TOKEN | --secret whsec_...]
// [--dry-run] FILE...`: each file is linted, then sent (drafts are skipped), one line per file
// on stdout. Exit 0 when every file was accepted, unchanged, revised or skipped; 1 when any
// was refused or could not be sent; 2 for usage errors and lint problems.
func SubmitCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return submitCommand(ctx, args, stdout, stderr, getenv, Submitter{})
}

// submitCommand is SubmitCommand sending with the Backoff, Now and Sleep of with (nil: the
// defaults), so that tests can shorten the waits and drive the clock.
func submitCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, with Submitter) int {
	fs := newFlagSet("submit", stderr)
	base := fs.String("url", "", "the service's base URL, without /v1 (or FOLLOWTHROUGH_URL)")
	token := fs.String("token", "", "API bearer token (or FOLLOWTHROUGH_TOKEN)")
	secret := fs.String("secret", "", "sign deliveries with this Standard Webhooks secret, whsec_... (or FOLLOWTHROUGH_SECRET)")
	dryRun := fs.Bool("dry-run", false, "print the document each file becomes, one JSON line per file, and send nothing")
	files, formats, ok := parseFiles(fs, args, stderr)
	if !ok {
		return ExitProblem
	}
	s, err := submitter(*base, *token, *secret, getenv)
	if err != nil && !*dryRun {
		fmt.Fprintln(stderr, "followthrough submit:", err)
		return ExitProblem
	}
	if s != nil {
		s.Backoff, s.Now, s.Sleep = with.Backoff, with.Now, with.Sleep
	}
	code := ExitOK
	worse := func(c int) {
		if c == ExitProblem || code == ExitOK {
			code = c
		}
	}
	for i, name := range files {
		r := Linter{}.lintFile(name, formats[i])
		writeLines(stderr, r.format(r.Warnings))
		id := "-"
		if r.Document != nil && r.Document.ID != "" {
			id = r.Document.ID
		}
		if *dryRun {
			writeLines(stderr, r.format(r.Problems))
			if len(r.Problems) > 0 {
				worse(ExitProblem)
				continue
			}
			line, err := r.JSONLine()
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
				worse(ExitFailed)
				continue
			}
			fmt.Fprintf(stdout, "%s\n", line)
			continue
		}
		if len(r.Problems) > 0 {
			fmt.Fprintf(stdout, "%s: %s not sent: %s\n", name, id, countOf(len(r.Problems), "problem"))
			writeLines(stdout, r.format(r.Problems))
			worse(ExitProblem)
			continue
		}
		if st := r.Document.Status; st != "finalized" {
			if st == "" {
				st = "missing"
			}
			fmt.Fprintf(stdout, "%s: %s skipped: status is %s\n", name, id, st)
			continue
		}
		out := s.Send(ctx, r)
		switch out.Result {
		case "refused":
			fmt.Fprintf(stdout, "%s: %s refused (%d): %s\n", name, id, out.Status, out.Error)
			for _, f := range out.Fields {
				line, msg := fieldLine(r, f)
				fmt.Fprintf(stdout, "%s:%d: %s: %s\n", name, line, f.Field, msg)
			}
			worse(ExitFailed)
		case "failed":
			fmt.Fprintf(stdout, "%s: %s failed: %s\n", name, id, out.Error)
			worse(ExitFailed)
		default:
			fmt.Fprintf(stdout, "%s: %s %s\n", name, id, out.Result)
		}
	}
	return code
}

// submitter takes the URL and the credential from the flags, else from the environment.
func submitter(base, token, secret string, getenv func(string) string) (*Submitter, error) {
	if base == "" {
		base = getenv("FOLLOWTHROUGH_URL")
	}
	switch {
	case token != "" && secret != "":
		return nil, errors.New("give --token or --secret, not both")
	case token == "" && secret == "":
		token, secret = getenv("FOLLOWTHROUGH_TOKEN"), getenv("FOLLOWTHROUGH_SECRET")
		if token != "" && secret != "" {
			return nil, errors.New("FOLLOWTHROUGH_TOKEN and FOLLOWTHROUGH_SECRET are both set: keep one, or give --token or --secret")
		}
	}
	if base == "" {
		return nil, errors.New("no service: give --url or set FOLLOWTHROUGH_URL")
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url: must be the service's http or https base URL, such as https://ft.example.com")
	}
	if token == "" && secret == "" {
		return nil, errors.New("no credential: give --token or --secret, or set FOLLOWTHROUGH_TOKEN or FOLLOWTHROUGH_SECRET")
	}
	if secret != "" {
		if _, err := config.Secret(secret).WebhookKey(); err != nil {
			return nil, fmt.Errorf("--secret: %w", err)
		}
	}
	// A URL copied from the API's address still reaches it.
	base = strings.TrimSuffix(strings.TrimRight(base, "/"), "/v1")
	return &Submitter{URL: base, Token: token, Secret: secret}, nil
}

// fieldLine is where a refused field is: Markdown answers start with "line N: "; for JSON the
// file itself says.
func fieldLine(r *Report, f ft.FieldError) (int, string) {
	if rest, ok := strings.CutPrefix(f.Message, "line "); ok {
		if n, msg, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				return line, msg
			}
		}
	}
	return r.Line(f.Field), f.Message
}

// countOf is "1 problem" or "2 problems".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
