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
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-retry"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/internal/standardwebhooks"
)

// RetryFor is how long submit keeps trying one file through network errors and 5xx answers.
const RetryFor = 2 * time.Minute

// Submitter sends postmortem files to a running service's intake, POST /v1/postmortems.
type Submitter struct {
	URL    string // the service's base URL, without /v1
	Token  string // bearer token; or
	Secret string // a Standard Webhooks secret (whsec_...): deliveries are signed instead
	Client *http.Client
	// Backoff makes the waits between attempts at one file; nil is exponential from one second,
	// at most 20 s apart. Whatever the waits, no attempt starts RetryFor or more after the first.
	Backoff func() retry.Backoff
	Now     func() time.Time // the clock of signature timestamps and of RetryFor; nil is time.Now
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

// retries makes the waits between the attempts at one file, on the clock now.
func (s *Submitter) retries(now func() time.Time) retry.Backoff {
	backoff := s.Backoff
	if backoff == nil {
		backoff = defaultBackoff
	}
	return withBudget(RetryFor, now, backoff())
}

// withBudget stops next once budget has passed on now since it was made, and cuts the last wait
// to fit: retry.WithMaxDuration, on a clock that tests can drive.
func withBudget(budget time.Duration, now func() time.Time, next retry.Backoff) retry.Backoff {
	start := now()
	return retry.BackoffFunc(func() (time.Duration, bool) {
		left := budget - now().Sub(start)
		if left <= 0 {
			return 0, true
		}
		wait, stop := next.Next()
		if stop {
			return 0, true
		}
		return min(wait, left), false
	})
}

// Send posts one linted document. Network errors and 5xx answers are tried again with backoff;
// a signed delivery keeps its webhook-id on every attempt (with a fresh timestamp), so the
// service can tell it is the same delivery.
func (s *Submitter) Send(ctx context.Context, r *Report) Outcome {
	var key []byte
	if s.Secret != "" {
		k, err := config.Secret(s.Secret).WebhookKey()
		if err != nil {
			return Outcome{Result: "failed", Error: "the secret " + err.Error()}
		}
		key = k
	}
	client, now := s.Client, s.Now
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	endpoint := strings.TrimRight(s.URL, "/") + "/v1/postmortems"
	webhookID := newWebhookID()
	var out Outcome
	err := retry.Do(ctx, s.retries(now), func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(r.Body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", r.Format.ContentType())
		if key != nil {
			ts := strconv.FormatInt(now().Unix(), 10)
			req.Header.Set(standardwebhooks.HeaderID, webhookID)
			req.Header.Set(standardwebhooks.HeaderTimestamp, ts)
			req.Header.Set(standardwebhooks.HeaderSignature, standardwebhooks.Sign(key, webhookID, ts, r.Body))
		} else {
			req.Header.Set("Authorization", "Bearer "+s.Token)
		}
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return retry.RetryableError(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if err != nil {
			return retry.RetryableError(fmt.Errorf("reading the answer: %w", err))
		}
		out = answer(resp.StatusCode, body)
		if resp.StatusCode >= 500 {
			return retry.RetryableError(fmt.Errorf("the service answered %d: %s", resp.StatusCode, out.Error))
		}
		return nil
	})
	if err != nil {
		return Outcome{Result: "failed", Status: out.Status, Error: err.Error()}
	}
	return out
}

// answer reads the service's answer to one intake.
func answer(status int, body []byte) Outcome {
	if status == http.StatusAccepted {
		return Outcome{Result: "accepted", Status: status}
	}
	if status == http.StatusOK {
		var a struct {
			Intake string `json:"intake"`
		}
		if json.Unmarshal(body, &a) != nil || a.Intake == "" {
			a.Intake = "ok"
		}
		return Outcome{Result: a.Intake, Status: status}
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

// submitCommand is SubmitCommand sending with the Backoff and Now of with (nil: the defaults),
// so that tests can shorten the waits and drive the clock.
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
		s.Backoff, s.Now = with.Backoff, with.Now
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
