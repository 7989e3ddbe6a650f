// Package github is followthrough's GitHub connector: it implements ft.Tracker on GitHub's REST
// API with go-github, authenticating with a token or as a GitHub App installation, pacing its
// writes under GitHub's secondary limits, and classifying every failure once into an
// *ft.TrackerError. ParseWebhook turns GitHub's issues and issue_comment deliveries into
// ft.TicketEvents.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"
	// ghinstallation's own go-github, for the type of its token request's options.
	ghinstall "github.com/google/go-github/v88/github"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors"
)

// The labels the connector relies on.
const (
	// LabelPostmortem marks every ticket followthrough creates; ListChanged filters on it.
	LabelPostmortem = "postmortem"
	// LabelInProgress on an open issue means in_progress.
	LabelInProgress = "in progress"
)

// DefaultAPIURL is GitHub.com's API, used when the configuration names none.
const DefaultAPIURL = "https://api.github.com/"

// findPages bounds how far FindByMarker lists back: the ticket it looks for was most often
// created just before, so it is among the newest.
const findPages = 5

// searchPages bounds FindByMarker's search, when the listing did not reach back far enough.
// GitHub serves the first 1000 results of a search at most.
const searchPages = 10

var (
	_ ft.Tracker    = (*Tracker)(nil)
	_ ft.SelfKnower = (*Tracker)(nil)
)

// Options carries what the connector takes from its surroundings rather than from config.
type Options struct {
	Logger *slog.Logger // nil: slog.Default()
	// HTTPClient, when set, is the client whose Transport carries the calls (tests). Its
	// Timeout is kept. Nil: a client with a 30 s timeout over Transport.
	HTTPClient *http.Client
	// Transport is the base round tripper under logging and authentication (nil: the
	// HTTPClient's transport, else http.DefaultTransport).
	Transport http.RoundTripper
	// Now is the clock for pacing and Retry-After arithmetic [time.Now].
	Now func() time.Time
	// Sleep waits d or until ctx ends, for pacing [a timer]. Tests with a fake clock pass one
	// that advances the clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Unpaced turns pacing off whatever write_interval and writes_per_hour say: dev mode's
	// stand-in has no limits to stay under.
	Unpaced bool
}

// Tracker is the GitHub connector. It is safe for concurrent use.
type Tracker struct {
	client *gh.Client
	app    *gh.Client // authenticated as the App itself (JWT); nil with token auth
	logins map[string]string
	// timeout is github.request_timeout: a create whose answer was lost may land that long
	// after it was sent.
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
	pace    *pacer

	// selfMu is held while Self is read, so that concurrent first callers share one call;
	// self is apart from it, so that KnownSelf does not wait behind that call.
	selfMu sync.Mutex
	self   atomic.Pointer[string] // nil until read

	etagMu sync.Mutex
	etags  map[string]listETag // list URL -> its last 200
}

// New builds the connector from its configuration and the people list (email -> login).
// With cfg.App set it authenticates as that App's installation, else with cfg.Token.
func New(cfg *config.GitHub, people []config.Person, opts Options) (*Tracker, error) {
	if cfg == nil {
		return nil, errors.New("github: no configuration")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	apiURL := cfg.APIURL
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	base, err := url.Parse(apiURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("github: api_url %q is not an absolute URL", apiURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}

	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	rt := opts.Transport
	if rt == nil {
		rt = client.Transport
	}
	logged := &connectors.LoggingTransport{Tracker: ft.GitHub, Logger: logger, Base: rt}

	t := &Tracker{
		timeout: cfg.RequestTimeout,
		logins:  map[string]string{},
		log:     logger,
		now:     now,
		pace:    newPacer(cfg.WriteInterval, cfg.WritesPerHour, now, opts.Sleep),
		etags:   map[string]listETag{},
	}
	if opts.Unpaced {
		t.pace = newPacer(0, 0, now, opts.Sleep)
	}
	for _, p := range people {
		if p.Email != "" && p.GitHub != "" {
			t.logins[strings.ToLower(strings.TrimSpace(p.Email))] = p.GitHub
		}
	}

	var auth http.RoundTripper
	switch {
	case cfg.App != nil:
		pemBytes := []byte(cfg.App.PrivateKey.Value())
		itr, err := ghinstallation.New(logged, cfg.App.AppID, cfg.App.InstallationID, pemBytes)
		if err != nil {
			return nil, fmt.Errorf("github: app private key: %w", err)
		}
		itr.BaseURL = strings.TrimSuffix(base.String(), "/")
		// Unset, the token request's body is JSON null; GitHub's API description takes an
		// object, and {} asks for the installation's own permissions and repositories.
		itr.InstallationTokenOptions = &ghinstall.InstallationTokenOptions{}
		auth = itr
		atr, err := ghinstallation.NewAppsTransport(logged, cfg.App.AppID, pemBytes)
		if err != nil {
			return nil, fmt.Errorf("github: app private key: %w", err)
		}
		atr.BaseURL = itr.BaseURL
		appHTTP := *client
		appHTTP.Transport = atr
		t.app = gh.NewClient(&appHTTP)
		t.app.BaseURL = base
	case cfg.Token.Value() != "":
		auth = tokenTransport{token: cfg.Token.Value(), base: logged}
	default:
		return nil, errors.New("github: neither token nor app is configured")
	}
	httpClient := *client
	httpClient.Transport = auth
	t.client = gh.NewClient(&httpClient)
	t.client.BaseURL = base
	t.client.UserAgent = "followthrough"
	if t.app != nil {
		t.app.UserAgent = "followthrough"
	}
	return t, nil
}

// tokenTransport authenticates every call with a personal access or installation token.
type tokenTransport struct {
	token string
	base  http.RoundTripper
}

func (tt tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+tt.token)
	return tt.base.RoundTrip(req)
}

// Kind implements ft.Tracker.
func (t *Tracker) Kind() ft.TrackerKind { return ft.GitHub }

// Self implements ft.Tracker: the token's login (GET /user), or "<app-slug>[bot]" for an App
// (GET /app with the App's JWT). The answer is kept: KnownSelf tells it from then on.
func (t *Tracker) Self(ctx context.Context) (string, error) {
	ctx = connectors.WithOp(ctx, "self")
	t.selfMu.Lock()
	defer t.selfMu.Unlock()
	if self, ok := t.KnownSelf(); ok {
		return self, nil
	}
	if t.app != nil {
		app, _, err := t.app.Apps.Get(ctx, "")
		if err != nil {
			return "", t.classify("self", "", err)
		}
		if app.GetSlug() == "" {
			return "", &ft.TrackerError{Tracker: ft.GitHub, Op: "self", Message: "GitHub answered GET /app without a slug"}
		}
		self := app.GetSlug() + "[bot]"
		t.self.Store(&self)
		return self, nil
	}
	u, _, err := t.client.Users.Get(ctx, "")
	if err != nil {
		return "", t.classify("self", "", err)
	}
	if u.GetLogin() == "" {
		return "", &ft.TrackerError{Tracker: ft.GitHub, Op: "self", Message: "GitHub answered GET /user without a login"}
	}
	self := u.GetLogin()
	t.self.Store(&self)
	return self, nil
}

// KnownSelf implements ft.SelfKnower: Self once read. It never waits for a Self in flight.
func (t *Tracker) KnownSelf() (string, bool) {
	if self := t.self.Load(); self != nil {
		return *self, true
	}
	return "", false
}

// SettleTime implements ft.Tracker: github.request_timeout. GitHub lists new issues at once
// (FindByMarker lists before it searches), so only the request may still land.
func (t *Tracker) SettleTime() time.Duration { return t.timeout }

// SearchLag implements ft.Tracker: ListChanged lists issues, which shows changes at once.
func (t *Tracker) SearchLag() time.Duration { return 0 }

// Mention implements ft.Tracker: @login, for an owner mapped in `people`.
func (t *Tracker) Mention(owner string) string {
	if login := t.loginFor(owner); login != "" {
		return "@" + login
	}
	return owner
}

// loginFor maps an owner's email to a GitHub login, case-insensitively; "" when unmapped.
func (t *Tracker) loginFor(email string) string {
	return t.logins[strings.ToLower(strings.TrimSpace(email))]
}

// Create implements ft.Tracker with exactly one POST /repos/{o}/{r}/issues carrying title,
// body with the marker, labels and assignee; GitHub's answer is the whole issue, so nothing is
// read back. A create that pacing holds back is a refusal (ft.TrackerError.Paced) whose
// RetryAfter is its turn.
func (t *Tracker) Create(ctx context.Context, nt ft.NewTicket) (ft.Ticket, error) {
	ctx = connectors.WithOp(ctx, "create")
	owner, name, err := splitRepo(nt.Target.Repo)
	if err != nil {
		return ft.Ticket{}, finalError("create", nt.Target.Repo, err)
	}
	login := t.loginFor(nt.Owner)
	// The body is the caller's text, the due date in a line of its own, the unassigned note
	// when needed, and the marker.
	text := bodyText(nt.Body, nt.Text)
	if nt.Due != "" {
		text = setDueLine(text, nt.Due)
	}
	body := composeBody(text, ownerNote(nt.Owner, login), nt.Marker)
	labels := []string{LabelPostmortem}
	for _, l := range nt.Labels {
		if l = strings.TrimSpace(l); l != "" && !containsFold(labels, l) {
			labels = append(labels, l)
		}
	}
	assignees := []string{}
	if login != "" {
		assignees = append(assignees, login)
	}
	req := &gh.IssueRequest{Title: gh.String(nt.Title), Body: gh.String(body), Labels: &labels, Assignees: &assignees}
	if err := t.pace.wait(ctx); err != nil {
		return ft.Ticket{}, t.notSent("create", nt.Target.Repo, err)
	}
	is, _, err := t.client.Issues.Create(ctx, owner, name, req)
	if err != nil {
		return ft.Ticket{}, t.classify("create", nt.Target.Repo, err)
	}
	return toTicket(nt.Target.Repo, is), nil
}

// Get implements ft.Tracker; a deleted or missing issue is ft.ErrTicketNotFound. A pull
// request, which GitHub's issues API also answers for, is not a ticket: a final error says so.
func (t *Tracker) Get(ctx context.Context, key string) (ft.Ticket, error) {
	ctx = connectors.WithOp(ctx, "get")
	repo, owner, name, num, err := parseKey(key)
	if err != nil {
		return ft.Ticket{}, finalError("get", key, err)
	}
	is, _, err := t.client.Issues.Get(ctx, owner, name, num)
	if err != nil {
		return ft.Ticket{}, t.classify("get", key, err)
	}
	if is.IsPullRequest() {
		return ft.Ticket{}, &ft.TrackerError{Tracker: ft.GitHub, Op: "get", Ticket: key,
			Message: key + " is a pull request, not an issue: name an issue"}
	}
	return toTicket(repo, is), nil
}

// Adopt implements ft.Tracker: the postmortem label when the issue lacks it (one POST), and
// the owner's login as its assignee when it has none (one PATCH that sends the assignees
// only, never the title or body). An owner `people` does not map leaves it unassigned.
func (t *Tracker) Adopt(ctx context.Context, tk ft.Ticket, a ft.Adoption) error {
	ctx = connectors.WithOp(ctx, "adopt")
	key := tk.Ref.Key
	_, owner, name, num, err := parseKey(key)
	if err != nil {
		return finalError("adopt", key, err)
	}
	if !containsFold(tk.Labels, LabelPostmortem) {
		if err := t.pace.wait(ctx); err != nil {
			return t.classify("adopt", key, err)
		}
		if _, err := t.addLabels(ctx, owner, name, num, LabelPostmortem); err != nil {
			return t.classify("adopt", key, err)
		}
	}
	login := t.loginFor(a.Owner)
	if tk.Assignee != "" || login == "" {
		return nil
	}
	if err := t.pace.wait(ctx); err != nil {
		return t.classify("adopt", key, err)
	}
	_, _, err = t.client.Issues.Edit(ctx, owner, name, num, &gh.IssueRequest{Assignees: &[]string{login}})
	return t.classify("adopt", key, err)
}

// Update implements ft.Tracker: title, body (the marker kept), due date (a line in the body,
// GitHub having no due field: a new body without one keeps the line the issue had) and
// assignee, in one PATCH after reading the issue.
func (t *Tracker) Update(ctx context.Context, key string, u ft.TicketUpdate) (ft.Ticket, error) {
	ctx = connectors.WithOp(ctx, "update")
	repo, owner, name, num, err := parseKey(key)
	if err != nil {
		return ft.Ticket{}, finalError("update", key, err)
	}
	cur, _, err := t.client.Issues.Get(ctx, owner, name, num)
	if err != nil {
		return ft.Ticket{}, t.classify("update", key, err)
	}
	old := parseBody(cur.GetBody())
	base := old.text
	if u.Body != "" || u.Text != nil {
		base = bodyText(u.Body, u.Text)
		// A new body without a due line keeps the due date the ticket had.
		if u.Due == "" && !u.ClearDue && old.due != "" && !hasDueLine(base) {
			base = setDueLine(base, old.due)
		}
	}
	switch {
	case u.ClearDue:
		base = removeDueLine(base)
	case u.Due != "":
		base = setDueLine(base, u.Due)
	}
	note := old.note
	req := &gh.IssueRequest{}
	if u.Owner != "" {
		login := t.loginFor(u.Owner)
		note = ownerNote(u.Owner, login)
		assignees := []string{}
		if login != "" {
			assignees = append(assignees, login)
		}
		req.Assignees = &assignees
	}
	marker := u.Marker
	if marker == "" {
		marker = old.marker
	}
	if u.Title != "" {
		req.Title = gh.String(u.Title)
	}
	newBody := composeBody(base, note, marker)
	if newBody != cur.GetBody() {
		req.Body = gh.String(newBody)
	}
	if req.Title == nil && req.Body == nil && req.Assignees == nil {
		return toTicket(repo, cur), nil
	}
	if err := t.pace.wait(ctx); err != nil {
		return ft.Ticket{}, t.classify("update", key, err)
	}
	is, _, err := t.client.Issues.Edit(ctx, owner, name, num, req)
	if err != nil {
		return ft.Ticket{}, t.classify("update", key, err)
	}
	return toTicket(repo, is), nil
}

// SetStatus implements ft.Tracker as the contract's table says: open reopens and removes the
// "in progress" label, in_progress opens and adds it, done closes as completed, wont_do closes
// as not planned. Calls that would change nothing are not made.
func (t *Tracker) SetStatus(ctx context.Context, key string, s ft.Status) (ft.Ticket, error) {
	ctx = connectors.WithOp(ctx, "set_status")
	const op = "set_status"
	if !s.Valid() {
		return ft.Ticket{}, finalError(op, key, fmt.Errorf("unknown status %q", s))
	}
	repo, owner, name, num, err := parseKey(key)
	if err != nil {
		return ft.Ticket{}, finalError(op, key, err)
	}
	is, _, err := t.client.Issues.Get(ctx, owner, name, num)
	if err != nil {
		return ft.Ticket{}, t.classify(op, key, err)
	}
	edit := func(req *gh.IssueRequest) error {
		if err := t.pace.wait(ctx); err != nil {
			return err
		}
		out, _, err := t.client.Issues.Edit(ctx, owner, name, num, req)
		if err == nil {
			is = out
		}
		return err
	}
	closed := is.GetState() == "closed"
	hasLabel := issueHasLabel(is, LabelInProgress)
	switch s {
	case ft.StatusOpen, ft.StatusInProgress:
		if closed {
			if err := edit(&gh.IssueRequest{State: gh.String("open")}); err != nil {
				return ft.Ticket{}, t.classify(op, key, err)
			}
		}
		var labels []*gh.Label
		switch {
		case s == ft.StatusOpen && hasLabel:
			if err := t.pace.wait(ctx); err != nil {
				return ft.Ticket{}, t.classify(op, key, err)
			}
			if _, err := t.client.Issues.RemoveLabelForIssue(ctx, owner, name, num, LabelInProgress); err != nil && !absentLabel(err) {
				return ft.Ticket{}, t.classify(op, key, err)
			}
			labels = withoutLabel(is.Labels, LabelInProgress)
		case s == ft.StatusInProgress && !hasLabel:
			if err := t.pace.wait(ctx); err != nil {
				return ft.Ticket{}, t.classify(op, key, err)
			}
			got, err := t.addLabels(ctx, owner, name, num, LabelInProgress)
			if err != nil {
				return ft.Ticket{}, t.classify(op, key, err)
			}
			labels = got
		default:
			return toTicket(repo, is), nil
		}
		// The label call moved the issue's updated_at; read it back rather than guess it.
		if fresh, _, err := t.client.Issues.Get(ctx, owner, name, num); err == nil {
			return toTicket(repo, fresh), nil
		}
		tk := toTicket(repo, is)
		tk.Labels = labelNames(labels)
		tk.Status = s
		return tk, nil
	default:
		reason := "completed"
		if s == ft.StatusWontDo {
			reason = "not_planned"
		}
		if mapStatus(is) != s {
			if err := edit(&gh.IssueRequest{State: gh.String("closed"), StateReason: gh.String(reason)}); err != nil {
				return ft.Ticket{}, t.classify(op, key, err)
			}
		}
		return toTicket(repo, is), nil
	}
}

// LinkPostmortem implements ft.Tracker. GitHub has no separate link field: the issue body
// already links the postmortem, so there is nothing to do.
func (t *Tracker) LinkPostmortem(ctx context.Context, key string, pm ft.PostmortemLink) error {
	return nil
}

// Comment implements ft.Tracker: it lists the issue's comments since since (all of them when
// since is zero) and, unless one by Self created at or after since already carries
// "<!-- id -->", posts body with that HTML comment at its end, invisible on github.com. A first
// comment costs GET and POST (and GET /user once per process, for Self); a retry costs a GET
// per 100 comments made since since.
func (t *Tracker) Comment(ctx context.Context, key, id, body string, since time.Time) error {
	ctx = connectors.WithOp(ctx, "comment")
	_, owner, name, num, err := parseKey(key)
	if err != nil {
		return finalError("comment", key, err)
	}
	if !ft.ValidCommentID(id) {
		return finalError("comment", key, fmt.Errorf("comment id %q is empty or not one word", id))
	}
	self, err := t.Self(ctx)
	if err != nil {
		return retag(err, "comment", key)
	}
	found, err := t.hasComment(ctx, owner, name, num, self, id, since)
	if err != nil {
		return t.classify("comment", key, err)
	}
	if found {
		t.log.Info("comment already on the ticket, not posted again", slog.String("ticket", key), slog.String("comment_id", id))
		return nil
	}
	if err := t.pace.wait(ctx); err != nil {
		return t.classify("comment", key, err)
	}
	_, _, err = t.client.Issues.CreateComment(ctx, owner, name, num, &gh.IssueComment{Body: gh.String(withCommentID(body, id))})
	return t.classify("comment", key, err)
}

// commentPages bounds how many pages of 100 comments Comment reads looking for one it may have
// posted already. More comments than that since since is unheard of; Comment then fails,
// retryably, rather than post a second copy.
const commentPages = 50

// hasComment reports whether a comment by self carrying id, created at or after since, is on
// the issue. GitHub's since keeps the comments updated at or after it, which includes every
// comment created since then (oldest first); all their pages are read. GitHub's timestamps
// are in whole seconds, so since is compared at that precision.
func (t *Tracker) hasComment(ctx context.Context, owner, name string, num int, self, id string, since time.Time) (bool, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	if !since.IsZero() {
		since = since.Truncate(time.Second)
		opts.Since = &since
	}
	for read := 0; ; read++ {
		if read == commentPages {
			return false, &ft.TrackerError{Tracker: ft.GitHub, Op: "comment", Ticket: fmt.Sprintf("%s/%s#%d", owner, name, num), Retryable: true,
				Message: fmt.Sprintf("more than %d comments since %s: cannot tell whether this comment was posted already", commentPages*100, since.UTC().Format(time.RFC3339))}
		}
		list, resp, err := t.client.Issues.ListComments(ctx, owner, name, num, opts)
		if err != nil {
			return false, err
		}
		for _, c := range list {
			if !since.IsZero() && c.GetCreatedAt().Before(since) {
				continue // edited since, but created before: not from an attempt of this comment
			}
			if ownCommentWithID(c, self, id) {
				return true, nil
			}
		}
		if resp.NextPage == 0 {
			return false, nil
		}
		opts.Page = resp.NextPage
	}
}

func ownCommentWithID(c *gh.IssueComment, self, id string) bool {
	return strings.EqualFold(c.GetUser().GetLogin(), self) && CommentIDOf(c.GetBody()) == id
}

// AddLabel implements ft.Tracker.
func (t *Tracker) AddLabel(ctx context.Context, key, label string) error {
	ctx = connectors.WithOp(ctx, "label")
	_, owner, name, num, err := parseKey(key)
	if err != nil {
		return finalError("label", key, err)
	}
	if err := t.pace.wait(ctx); err != nil {
		return t.classify("label", key, err)
	}
	_, err = t.addLabels(ctx, owner, name, num, label)
	return t.classify("label", key, err)
}

// addLabels adds labels to an issue with the body GitHub's API description gives,
// {"labels": [...]}. (go-github v60's AddLabelsToIssue sends a bare array, a form the
// description no longer lists.)
func (t *Tracker) addLabels(ctx context.Context, owner, name string, num int, labels ...string) ([]*gh.Label, error) {
	u := fmt.Sprintf("repos/%s/%s/issues/%d/labels", url.PathEscape(owner), url.PathEscape(name), num)
	req, err := t.client.NewRequest(http.MethodPost, u, struct {
		Labels []string `json:"labels"`
	}{labels})
	if err != nil {
		return nil, err
	}
	var out []*gh.Label
	if _, err := t.client.Do(ctx, req, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// RemoveLabel implements ft.Tracker; GitHub's 404 "Label does not exist" is success.
func (t *Tracker) RemoveLabel(ctx context.Context, key, label string) error {
	ctx = connectors.WithOp(ctx, "label")
	_, owner, name, num, err := parseKey(key)
	if err != nil {
		return finalError("label", key, err)
	}
	if err := t.pace.wait(ctx); err != nil {
		return t.classify("label", key, err)
	}
	_, err = t.client.Issues.RemoveLabelForIssue(ctx, owner, name, num, label)
	if absentLabel(err) {
		return nil
	}
	return t.classify("label", key, err)
}

// FindByMarker implements ft.Tracker. GitHub's search index lags behind new issues, so it first
// lists the repository's issues created by Self (whatever their labels: people may remove
// ours), newest first, and reads their bodies, at most findPages pages back. When the listing
// went further back than that without finding the marker (Self created many issues since, e.g.
// a create retried days later), it searches the repository's issue bodies for the marker as a
// phrase, at most searchPages pages: the index has old issues. Either way only an issue by
// Self whose body carries exactly this marker is taken (search matches loosely). A search that
// GitHub answered with incomplete results, and found nothing, is a retryable error rather than
// "not found".
func (t *Tracker) FindByMarker(ctx context.Context, target ft.Target, marker string) (ft.Ticket, bool, error) {
	ctx = connectors.WithOp(ctx, "find")
	owner, name, err := splitRepo(target.Repo)
	if err != nil {
		return ft.Ticket{}, false, finalError("find", target.Repo, err)
	}
	if marker == "" {
		return ft.Ticket{}, false, finalError("find", target.Repo, errors.New("no marker to look for"))
	}
	self, err := t.Self(ctx)
	if err != nil {
		return ft.Ticket{}, false, retag(err, "find", target.Repo)
	}
	opts := &gh.IssueListByRepoOptions{
		State: "all", Sort: "created", Direction: "desc",
		Creator: self, ListOptions: gh.ListOptions{PerPage: 100},
	}
	for page := 1; ; page++ {
		list, resp, err := t.client.Issues.ListByRepo(ctx, owner, name, opts)
		if err != nil {
			return ft.Ticket{}, false, t.classify("find", target.Repo, err)
		}
		if is := ownIssueWithMarker(list, self, marker); is != nil {
			return toTicket(target.Repo, is), true, nil
		}
		if resp.NextPage == 0 {
			return ft.Ticket{}, false, nil // every issue by Self was read
		}
		if page == findPages {
			break
		}
		opts.Page = resp.NextPage
	}
	return t.searchMarker(ctx, target.Repo, self, marker)
}

// searchMarker looks for the marker through GitHub's issue search, for FindByMarker.
func (t *Tracker) searchMarker(ctx context.Context, repo, self, marker string) (ft.Ticket, bool, error) {
	// The marker is one phrase (its ':' '/' '.' '-' '_' would otherwise split it or read as a
	// qualifier). A phrase cannot hold a quote; the exact comparison below still applies.
	phrase := strings.ReplaceAll(marker, `"`, " ")
	q := fmt.Sprintf(`"%s" repo:%s in:body is:issue`, phrase, repo)
	opts := &gh.SearchOptions{Sort: "created", Order: "desc", ListOptions: gh.ListOptions{PerPage: 100}}
	incomplete := false
	for page := 1; page <= searchPages; page++ {
		res, resp, err := t.client.Search.Issues(ctx, q, opts)
		if err != nil {
			return ft.Ticket{}, false, t.classify("find", repo, err)
		}
		incomplete = incomplete || res.GetIncompleteResults()
		if is := ownIssueWithMarker(res.Issues, self, marker); is != nil {
			return toTicket(repo, is), true, nil
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if incomplete {
		return ft.Ticket{}, false, &ft.TrackerError{
			Tracker: ft.GitHub, Op: "find", Ticket: repo, Retryable: true,
			Message: "GitHub's search answered with incomplete results and did not find " + marker + "; it may be there",
		}
	}
	return ft.Ticket{}, false, nil
}

// ownIssueWithMarker returns the first issue (not pull request) created by self whose body
// carries exactly the marker.
func ownIssueWithMarker(list []*gh.Issue, self, marker string) *gh.Issue {
	for _, is := range list {
		if is.IsPullRequest() || !strings.EqualFold(is.GetUser().GetLogin(), self) {
			continue
		}
		if parseBody(is.GetBody()).marker == marker {
			return is
		}
	}
	return nil
}

// ListChanged implements ft.Tracker. Page one's URL never changes, so it is sent with the
// ETag of its last 200: GitHub answers 304 (free of rate limit) when nothing changed, and
// ListChanged returns no tickets. The ETag is sent only when the caller's Since shows it kept
// what that 200 returned (Since at or after its newest change): a caller that failed to record
// them is answered in full again, not with a 304 that would hide them. Further pages are read
// only while they may still hold issues updated at or after q.Since.
func (t *Tracker) ListChanged(ctx context.Context, q ft.ChangeQuery) ([]ft.Ticket, error) {
	ctx = connectors.WithOp(ctx, "list")
	owner, name, err := splitRepo(q.Target.Repo)
	if err != nil {
		return nil, finalError("list", q.Target.Repo, err)
	}
	first := fmt.Sprintf("repos/%s/%s/issues?labels=%s&state=all&sort=updated&direction=desc&per_page=100",
		url.PathEscape(owner), url.PathEscape(name), url.QueryEscape(LabelPostmortem))
	out := []ft.Ticket{}
	u := first
	firstTag := ""
	for page := 1; ; page++ {
		req, err := t.client.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, finalError("list", q.Target.Repo, err)
		}
		if page == 1 {
			t.etagMu.Lock()
			if last, ok := t.etags[first]; ok && last.tag != "" && !q.Since.Before(last.newest) {
				req.Header.Set("If-None-Match", last.tag)
			}
			t.etagMu.Unlock()
		}
		var list []*gh.Issue
		resp, err := t.client.Do(ctx, req, &list)
		if err != nil {
			if page == 1 && notModified(err) {
				return []ft.Ticket{}, nil
			}
			return nil, t.classify("list", q.Target.Repo, err)
		}
		if page == 1 {
			firstTag = resp.Header.Get("ETag")
		}
		done := false
		for _, is := range list {
			if !q.Since.IsZero() && is.GetUpdatedAt().Time.Before(q.Since) {
				done = true
				continue
			}
			if is.IsPullRequest() {
				continue
			}
			out = append(out, toTicket(q.Target.Repo, is))
		}
		if done || resp.NextPage == 0 || len(list) == 0 {
			// Remembered only once the whole list was read, so that a failure on a later
			// page does not hide these changes behind a 304 next time.
			newest := q.Since
			for _, tk := range out {
				if tk.UpdatedAt.After(newest) {
					newest = tk.UpdatedAt
				}
			}
			t.rememberETag(first, listETag{tag: firstTag, newest: newest})
			return out, nil
		}
		u = fmt.Sprintf("%s&page=%d", first, resp.NextPage)
	}
}

// listETag is what a list's last 200 was: its ETag, and the newest change it returned.
type listETag struct {
	tag    string
	newest time.Time
}

func (t *Tracker) rememberETag(u string, e listETag) {
	if e.tag == "" {
		return
	}
	t.etagMu.Lock()
	defer t.etagMu.Unlock()
	t.etags[u] = e
}

// notModified recognises go-github's error for a 304 answer.
func notModified(err error) bool {
	var er *gh.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotModified
}

// absentLabel recognises GitHub's 404 for removing a label the issue does not carry.
func absentLabel(err error) bool {
	var er *gh.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound &&
		strings.Contains(strings.ToLower(er.Message), "label")
}

// ---- keys, tickets and statuses ----

// splitRepo splits "owner/name".
func splitRepo(repo string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("repository %q is not owner/name", repo)
	}
	return owner, name, nil
}

// parseKey splits a ticket key "owner/repo#N".
func parseKey(key string) (repo, owner, name string, number int, err error) {
	repo, num, ok := strings.Cut(key, "#")
	if !ok {
		return "", "", "", 0, fmt.Errorf("ticket key %q is not owner/repo#number", key)
	}
	owner, name, err = splitRepo(repo)
	if err != nil {
		return "", "", "", 0, fmt.Errorf("ticket key %q: %w", key, err)
	}
	number, err = strconv.Atoi(num)
	if err != nil || number <= 0 {
		return "", "", "", 0, fmt.Errorf("ticket key %q has no issue number", key)
	}
	return repo, owner, name, number, nil
}

// Key is the ticket key of issue number n in repository "owner/name".
func Key(repo string, n int) string { return repo + "#" + strconv.Itoa(n) }

func toTicket(repo string, is *gh.Issue) ft.Ticket {
	tk := ft.Ticket{
		Ref:       ft.TicketRef{Kind: ft.GitHub, Key: Key(repo, is.GetNumber()), URL: is.GetHTMLURL()},
		Title:     is.GetTitle(),
		Status:    mapStatus(is),
		Labels:    labelNames(is.Labels),
		Marker:    parseBody(is.GetBody()).marker,
		CreatedAt: is.GetCreatedAt().Time,
		UpdatedAt: is.GetUpdatedAt().Time,
	}
	if len(is.Assignees) > 0 {
		tk.Assignee = is.Assignees[0].GetLogin()
	} else if is.Assignee != nil {
		tk.Assignee = is.Assignee.GetLogin()
	}
	return tk
}

// mapStatus maps GitHub's state to an item status: open is open (in_progress with the "in
// progress" label); closed as completed or with no reason is done; closed as not planned or
// duplicate is wont_do.
func mapStatus(is *gh.Issue) ft.Status {
	if is.GetState() == "closed" {
		switch is.GetStateReason() {
		case "not_planned", "duplicate":
			return ft.StatusWontDo
		}
		return ft.StatusDone
	}
	if issueHasLabel(is, LabelInProgress) {
		return ft.StatusInProgress
	}
	return ft.StatusOpen
}

func issueHasLabel(is *gh.Issue, name string) bool {
	for _, l := range is.Labels {
		if strings.EqualFold(l.GetName(), name) {
			return true
		}
	}
	return false
}

func labelNames(ls []*gh.Label) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, l.GetName())
	}
	return out
}

func withoutLabel(ls []*gh.Label, name string) []*gh.Label {
	var out []*gh.Label
	for _, l := range ls {
		if !strings.EqualFold(l.GetName(), name) {
			out = append(out, l)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
