// Package jira is followthrough's Jira connector, for Jira Cloud (email and API token) and Jira
// Data Center (personal access token). It implements followthrough.Tracker with go-jira's
// client, REST v2 for issues and transitions (plain-text descriptions, valid on both) and, on
// Cloud, the enhanced /rest/api/3/search/jql search. It also turns Jira webhook deliveries into
// ticket events with the same status mapping.
package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors"
)

var (
	_ ft.Tracker    = (*Tracker)(nil)
	_ ft.SelfKnower = (*Tracker)(nil)
)

// Options are the connector's collaborators.
type Options struct {
	// Logger receives one line per Jira call; nil discards.
	Logger *slog.Logger
	// Transport is the base HTTP transport (tests point it anywhere); nil: http.DefaultTransport.
	Transport http.RoundTripper
	// Now is the clock, for Retry-After dates and search windows; nil: time.Now.
	Now func() time.Time
	// Timeout bounds one HTTP call; default 30s.
	Timeout time.Duration
}

// maxTransitions bounds the transitions SetStatus makes to reach a status.
const maxTransitions = 5

// Tracker is one Jira site, Cloud or Data Center.
type Tracker struct {
	cfg    *config.Jira
	base   string // the site URL, no trailing slash
	cloud  bool
	client *gojira.Client
	log    *slog.Logger
	now    func() time.Time
	people map[string]string // lower-cased email -> accountId or username

	// selfMu is held while Self is read, so that concurrent first callers share one call.
	selfMu   sync.Mutex
	mu       sync.Mutex
	self     string
	selfTZ   *time.Location
	lookedUp map[string]string // Cloud user search results by lower-cased email ("" = none)
}

// New builds the connector from its configuration and the people map. It makes no call.
func New(cfg *config.Jira, people []config.Person, opts Options) (*Tracker, error) {
	if cfg == nil {
		return nil, errors.New("jira: no configuration")
	}
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("jira: url %q is not an http(s) URL", cfg.URL)
	}
	cloud := false
	switch cfg.Deployment {
	case config.JiraCloud:
		cloud = true
	case config.JiraDataCenter:
	case "":
		cloud = strings.HasSuffix(strings.ToLower(u.Hostname()), ".atlassian.net")
	default:
		return nil, fmt.Errorf("jira: deployment %q is neither %q nor %q", cfg.Deployment, config.JiraCloud, config.JiraDataCenter)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var transport http.RoundTripper = &connectors.LoggingTransport{Tracker: ft.Jira, Logger: logger, Base: opts.Transport}
	if cloud {
		if cfg.Email == "" || cfg.APIToken.Value() == "" {
			return nil, errors.New("jira: Jira Cloud needs email and api_token")
		}
		transport = &gojira.BasicAuthTransport{Username: cfg.Email, Password: cfg.APIToken.Value(), Transport: transport}
	} else {
		if cfg.PAT.Value() == "" {
			return nil, errors.New("jira: Jira Data Center needs pat (a personal access token)")
		}
		transport = &gojira.BearerAuthTransport{Token: cfg.PAT.Value(), Transport: transport}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	base := strings.TrimRight(u.String(), "/")
	client, err := gojira.NewClient(&http.Client{Transport: transport, Timeout: timeout}, base+"/")
	if err != nil {
		return nil, fmt.Errorf("jira: client: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	t := &Tracker{
		cfg: cfg, base: base, cloud: cloud, client: client, log: logger, now: now,
		people: map[string]string{}, lookedUp: map[string]string{},
	}
	for _, p := range people {
		if p.Email != "" && p.Jira != "" {
			t.people[strings.ToLower(p.Email)] = p.Jira
		}
	}
	for name, s := range cfg.Statuses {
		if !ft.Status(s).Valid() {
			return nil, fmt.Errorf("jira: statuses[%q]: %q is not an item status", name, s)
		}
	}
	return t, nil
}

// Kind implements ft.Tracker.
func (t *Tracker) Kind() ft.TrackerKind { return ft.Jira }

// SettleTime implements ft.Tracker: jira.request_timeout, or jira.search_lag when longer, since
// FindByMarker searches and the search may miss a new issue that long.
func (t *Tracker) SettleTime() time.Duration { return max(t.cfg.SearchLag, t.cfg.RequestTimeout) }

// SearchLag implements ft.Tracker: jira.search_lag.
func (t *Tracker) SearchLag() time.Duration { return t.cfg.SearchLag }

// Mention implements ft.Tracker: [~accountid:ID] on Cloud, [~username] on Data Center, for an
// owner mapped in `people`.
func (t *Tracker) Mention(owner string) string {
	id, ok := t.people[strings.ToLower(strings.TrimSpace(owner))]
	switch {
	case !ok:
		return owner
	case t.cloud:
		return "[~accountid:" + id + "]"
	}
	return "[~" + id + "]"
}

// Ref is the reference of the ticket with this key, e.g. PROJ-7 at <url>/browse/PROJ-7.
func (t *Tracker) Ref(key string) ft.TicketRef {
	return ft.TicketRef{Kind: ft.Jira, Key: key, URL: t.base + "/browse/" + key}
}

// call makes one Jira REST call through go-jira's client and classifies its failure once.
// path is relative to the site (no leading slash needed). out, when not nil, receives the
// decoded JSON of a 2xx answer.
func (t *Tracker) call(ctx context.Context, op, ticket, method, path string, body, out any) error {
	req, err := t.client.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return &ft.TrackerError{Tracker: ft.Jira, Op: op, Ticket: ticket, Outcome: ft.OutcomeRefused,
			Message: "could not build the request: " + err.Error(), Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := t.client.Do(req, out)
	if resp == nil || resp.Response == nil {
		if err == nil {
			err = errors.New("no response")
		}
		return connectors.NetworkError(ft.Jira, op, ticket, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return t.statusError(op, ticket, resp.Response)
	}
	if err != nil && !(errors.Is(err, io.EOF) && resp.StatusCode == http.StatusNoContent) {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) {
			return &ft.TrackerError{Tracker: ft.Jira, Op: op, Ticket: ticket, StatusCode: resp.StatusCode,
				Message: fmt.Sprintf("%s: Jira's answer could not be read: %v", what(op, ticket), err), Err: err}
		}
		// The body broke off midway: the same as no answer.
		return connectors.NetworkError(ft.Jira, op, ticket, err)
	}
	return nil
}

// jiraError is Jira's error body.
type jiraError struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

// statusError classifies a non-2xx answer. go-jira leaves the body unread, so Jira's
// errorMessages and errors are read from it here. An answer in 4xx (429 included) is Jira
// refusing the call; after a 5xx the outcome is unknown.
func (t *Tracker) statusError(op, ticket string, resp *http.Response) *ft.TrackerError {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	detail := describeError(raw)
	code := resp.StatusCode
	te := &ft.TrackerError{Tracker: ft.Jira, Op: op, Ticket: ticket, StatusCode: code,
		Retryable: connectors.RetryableStatus(code), Outcome: connectors.OutcomeOf(code)}
	if te.Retryable {
		now := t.now()
		te.RetryAfter = connectors.RetryAfter(resp.Header, now)
		if te.RetryAfter > 0 {
			te.RetryAt = now.Add(te.RetryAfter)
		}
	}
	var sentence string
	switch {
	case code == http.StatusUnauthorized:
		if t.cloud {
			sentence = "Jira refused the credentials (check jira.email and jira.api_token)"
		} else {
			sentence = "Jira refused the credentials (check jira.pat)"
		}
	case code == http.StatusForbidden:
		sentence = "the Jira user has no permission for this"
	case code == http.StatusNotFound && ticket != "" && connectors.OnTicket(op):
		sentence = "the ticket does not exist in Jira (deleted, or not visible to the Jira user)"
	case code == http.StatusTooManyRequests:
		sentence = "Jira is rate limiting us"
	case code >= 500:
		sentence = "Jira failed to answer"
	default:
		sentence = "Jira refused the request"
	}
	msg := fmt.Sprintf("%s: %s (%d %s)", what(op, ticket), sentence, code, http.StatusText(code))
	if detail != "" {
		msg += ": " + detail
	}
	te.Message = msg
	if code == http.StatusNotFound && connectors.OnTicket(op) {
		te.Err = fmt.Errorf("jira %s %s: %w", op, ticket, ft.ErrTicketNotFound)
	} else {
		te.Err = fmt.Errorf("jira %s: status %d", op, code)
	}
	return te
}

// what names the operation and its ticket in words, for messages.
func what(op, ticket string) string {
	var verb string
	switch op {
	case "create":
		return "creating a ticket in Jira project " + ticket
	case "get":
		verb = "reading"
	case "update":
		verb = "updating"
	case "set_status":
		verb = "changing the status of"
	case "comment":
		verb = "commenting on"
	case "label":
		verb = "changing the labels of"
	case "adopt":
		verb = "linking"
	case "find", "list":
		return "searching Jira project " + ticket
	case "self":
		return "reading the Jira user followthrough acts as"
	default:
		verb = op
	}
	return verb + " Jira ticket " + ticket
}

// describeError turns Jira's error body into words: every errorMessage, then every field
// error as "field: message" (sorted); a body that is not Jira's JSON is quoted, shortened.
func describeError(raw []byte) string {
	var je jiraError
	if err := json.Unmarshal(raw, &je); err == nil && (len(je.ErrorMessages) > 0 || len(je.Errors) > 0) {
		parts := append([]string(nil), je.ErrorMessages...)
		keys := make([]string, 0, len(je.Errors))
		for k := range je.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, k+": "+je.Errors[k])
		}
		return strings.Join(parts, "; ")
	}
	s := strings.Join(strings.Fields(string(raw)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
