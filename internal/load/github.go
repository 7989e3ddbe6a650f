package load

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	ft "github.com/followthrough/followthrough"
)

// GitHub webhook bodies are built from these deliveries of ../shared/fixtures/github-webhooks
// (byte copies; see SOURCES.md there): octokit's issues "reopened" and "labeled" examples and
// its issue_comment "created" example, all about Codertocat/Hello-World#1.
var (
	//go:embed payloads/issues.reopened.payload.json
	githubIssuesFixture []byte
	//go:embed payloads/issues.labeled.payload.json
	githubLabeledFixture []byte
	//go:embed payloads/issue_comment.created.payload.json
	githubCommentFixture []byte
)

// fixtureRepo is the repository the GitHub fixtures are about.
const fixtureRepo = "Codertocat/Hello-World"

// labelInProgress is the label that makes an open GitHub issue in_progress (see the contract).
const labelInProgress = "in progress"

// GitHub event names (X-GitHub-Event).
const (
	GitHubIssues       = "issues"
	GitHubIssueComment = "issue_comment"
)

// GitHubIssueEvent is one issues delivery about an issue.
type GitHubIssueEvent struct {
	Repo      string // "owner/name"
	Number    int
	Prev      ft.Status // the status before, which picks the action
	Status    ft.Status // the status the delivery reports
	UpdatedAt time.Time // GitHub's issue.updated_at, whole seconds
	Title     string
	Body      string
}

// Action is the issues action GitHub sends for a change from Prev to Status.
func (e GitHubIssueEvent) Action() string {
	closed := func(s ft.Status) bool { return s.Finished() }
	switch {
	case closed(e.Status) && !closed(e.Prev):
		return "closed"
	case closed(e.Prev) && !closed(e.Status):
		return "reopened"
	case e.Status == ft.StatusInProgress && e.Prev != ft.StatusInProgress:
		return "labeled"
	case e.Prev == ft.StatusInProgress && e.Status != ft.StatusInProgress:
		return "unlabeled"
	}
	return "edited"
}

// GitHubPayloads builds GitHub webhook bodies in the fixtures' shape for any repository and
// issue. It is safe for concurrent use; each repository's template is compiled once.
type GitHubPayloads struct {
	mu       sync.Mutex
	issues   map[string]*jsonTemplate // by repository, see templateKey
	comments map[string]*jsonTemplate
	label    []byte // the "in progress" label object
}

// templateKey names a repository's template; a lean one is about an issue without assignees
// and milestone, as many issues are, which makes the delivery about 3 KB smaller.
func templateKey(repo string, lean bool) string {
	if lean {
		return repo + " lean"
	}
	return repo
}

// NewGitHubPayloads reads the embedded fixtures.
func NewGitHubPayloads() (*GitHubPayloads, error) {
	var labeled struct {
		Label map[string]any `json:"label"`
	}
	if err := json.Unmarshal(githubLabeledFixture, &labeled); err != nil || labeled.Label == nil {
		return nil, fmt.Errorf("github labeled fixture: no label: %v", err)
	}
	labeled.Label["name"] = labelInProgress
	labeled.Label["default"] = false
	labeled.Label["url"] = "https://api.github.com/repos/" + fixtureRepo + "/labels/in%20progress"
	label, err := json.Marshal(labeled.Label)
	if err != nil {
		return nil, err
	}
	p := &GitHubPayloads{issues: map[string]*jsonTemplate{}, comments: map[string]*jsonTemplate{}, label: label}
	// Compile once up front so that a broken fixture fails here, not in the middle of a run.
	if _, err := p.template(p.issues, githubIssuesFixture, fixtureRepo, false, issueSlots); err != nil {
		return nil, err
	}
	if _, err := p.template(p.comments, githubCommentFixture, fixtureRepo, false, commentSlots); err != nil {
		return nil, err
	}
	return p, nil
}

// The slots of the GitHub templates.
var (
	issueSlots = map[string]any{
		"action": slot("action"), "label": slot("label"),
		"issue.number": slot("number"), "issue.id": slot("issue_id"),
		"issue.url": slot("issue_url"), "issue.labels_url": slot("labels_url"),
		"issue.comments_url": slot("comments_url"), "issue.events_url": slot("events_url"),
		"issue.html_url": slot("html_url"), "issue.title": slot("title"), "issue.body": slot("body"),
		"issue.state": slot("state"), "issue.state_reason": slot("state_reason"), "issue.labels": slot("labels"),
		"issue.updated_at": slot("updated_at"), "issue.closed_at": slot("closed_at"),
	}
	commentSlots = map[string]any{
		"issue.number": slot("number"), "issue.id": slot("issue_id"),
		"issue.url": slot("issue_url"), "issue.labels_url": slot("labels_url"),
		"issue.comments_url": slot("comments_url"), "issue.events_url": slot("events_url"),
		"issue.html_url": slot("html_url"), "issue.title": slot("title"), "issue.body": slot("body"),
		"issue.updated_at": slot("updated_at"),
		"comment.id":       slot("comment_id"), "comment.url": slot("comment_url"),
		"comment.html_url": slot("comment_html_url"), "comment.issue_url": slot("issue_url"),
		"comment.body": slot("comment_body"), "comment.created_at": slot("updated_at"),
		"comment.updated_at": slot("updated_at"),
	}
)

// template is the compiled fixture for repo, compiling it on first use: every URL of the
// fixture's repository names repo instead.
func (p *GitHubPayloads) template(cache map[string]*jsonTemplate, fixture []byte, repo string, lean bool, slots map[string]any) (*jsonTemplate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := cache[templateKey(repo, lean)]; ok {
		return t, nil
	}
	owner, name, ok := strings.Cut(repo, "/")
	if !ok {
		return nil, fmt.Errorf("github payload: repository %q is not owner/name", repo)
	}
	var doc map[string]any
	if err := json.Unmarshal(fixture, &doc); err != nil {
		return nil, fmt.Errorf("github payload fixture: %w", err)
	}
	replaceInStrings(doc, fixtureRepo, repo)
	if err := setPaths(doc, map[string]any{
		"repository.name": name, "repository.full_name": repo, "repository.owner.login": owner,
	}); err != nil {
		return nil, err
	}
	if lean {
		if err := setPaths(doc, map[string]any{"issue.assignee": nil, "issue.assignees": []any{}, "issue.milestone": nil}); err != nil {
			return nil, err
		}
	}
	if err := setPaths(doc, slots); err != nil {
		return nil, err
	}
	t, err := compileTemplate(doc)
	if err != nil {
		return nil, err
	}
	cache[templateKey(repo, lean)] = t
	return t, nil
}

// replaceInStrings replaces old with new in every string of a decoded JSON document.
func replaceInStrings(v any, old, new string) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, old, new)
	case map[string]any:
		for k, e := range x {
			x[k] = replaceInStrings(e, old, new)
		}
	case []any:
		for i, e := range x {
			x[i] = replaceInStrings(e, old, new)
		}
	}
	return v
}

// issueValues are the slot values every GitHub template shares.
func issueValues(repo string, number int, title, body string, updated time.Time) map[string][]byte {
	n := strconv.Itoa(number)
	api := "https://api.github.com/repos/" + repo + "/issues/" + n
	return map[string][]byte{
		"number": []byte(n), "issue_id": []byte(strconv.Itoa(500000000 + number)),
		"issue_url": jsonText(api), "labels_url": jsonText(api + "/labels{/name}"),
		"comments_url": jsonText(api + "/comments"), "events_url": jsonText(api + "/events"),
		"html_url": jsonText("https://github.com/" + repo + "/issues/" + n),
		"title":    jsonText(title), "body": jsonText(body),
		"updated_at": jsonText(updated.UTC().Format(time.RFC3339)),
	}
}

// Issue is the body of an issues delivery (X-GitHub-Event: issues) for e.
func (p *GitHubPayloads) Issue(e GitHubIssueEvent) ([]byte, error) { return p.issue(e, false) }

func (p *GitHubPayloads) issue(e GitHubIssueEvent, lean bool) ([]byte, error) {
	t, err := p.template(p.issues, githubIssuesFixture, e.Repo, lean, issueSlots)
	if err != nil {
		return nil, err
	}
	v := issueValues(e.Repo, e.Number, e.Title, e.Body, e.UpdatedAt)
	v["action"] = jsonText(e.Action())
	v["labels"] = []byte("[]")
	v["state"], v["state_reason"], v["closed_at"] = jsonText("open"), []byte("null"), []byte("null")
	switch e.Status {
	case ft.StatusInProgress:
		v["labels"] = append(append([]byte("["), p.label...), ']')
	case ft.StatusDone, ft.StatusWontDo:
		reason := "completed"
		if e.Status == ft.StatusWontDo {
			reason = "not_planned"
		}
		v["state"], v["state_reason"], v["closed_at"] = jsonText("closed"), jsonText(reason), v["updated_at"]
	}
	if a := e.Action(); a == "labeled" || a == "unlabeled" {
		v["label"] = p.label
	}
	return t.render(nil, v), nil
}

// Comment is the body of an issue_comment "created" delivery on an open issue.
func (p *GitHubPayloads) Comment(repo string, number int, title, body, comment string, at time.Time) ([]byte, error) {
	return p.comment(repo, number, title, body, comment, at, false)
}

func (p *GitHubPayloads) comment(repo string, number int, title, body, comment string, at time.Time, lean bool) ([]byte, error) {
	t, err := p.template(p.comments, githubCommentFixture, repo, lean, commentSlots)
	if err != nil {
		return nil, err
	}
	v := issueValues(repo, number, title, body, at)
	id := strconv.FormatInt(900000000+at.UnixNano()%100000000, 10)
	v["comment_id"] = []byte(id)
	v["comment_url"] = jsonText("https://api.github.com/repos/" + repo + "/issues/comments/" + id)
	v["comment_html_url"] = jsonText("https://github.com/" + repo + "/issues/" + strconv.Itoa(number) + "#issuecomment-" + id)
	v["comment_body"] = jsonText(comment)
	return t.render(nil, v), nil
}

// Unfollowed payload sizes: an organisation-wide webhook's issue deliveries are about this big.
const (
	UnfollowedMinBytes = 8 << 10
	UnfollowedMaxBytes = 12 << 10
)

// unfollowedRepos is how many repositories the deliveries about unfollowed issues spread over.
const unfollowedRepos = 40

// Unfollowed is delivery seq of an organisation-wide webhook about an issue that followthrough
// does not follow: issues events (opened, edited, labeled, closed, reopened) and comments on
// issues of repositories "<org>/service-NN", about issues without assignees or milestone, each
// body padded to a size drawn between UnfollowedMinBytes and UnfollowedMaxBytes.
func (p *GitHubPayloads) Unfollowed(org string, seq int64, rnd *rand.Rand) (event string, body []byte, err error) {
	repo := fmt.Sprintf("%s/service-%02d", org, seq%unfollowedRepos)
	number := int(seq/unfollowedRepos) + 1
	at := time.Now().UTC().Truncate(time.Second)
	title := fmt.Sprintf("Flaky test in build %d", seq)
	target := UnfollowedMinBytes + rnd.IntN(UnfollowedMaxBytes-UnfollowedMinBytes+1)
	build := func(pad string) ([]byte, error) {
		if seq%10 < 3 {
			return p.comment(repo, number, title, "", "Seen again on main. "+pad, at, true)
		}
		statuses := []ft.Status{ft.StatusOpen, ft.StatusInProgress, ft.StatusDone, ft.StatusOpen, ft.StatusWontDo}
		prev, next := statuses[seq%5], statuses[(seq+1)%5]
		return p.issue(GitHubIssueEvent{Repo: repo, Number: number, Prev: prev, Status: next, UpdatedAt: at,
			Title: title, Body: "Steps to reproduce are in the build log. " + pad}, true)
	}
	event = GitHubIssues
	if seq%10 < 3 {
		event = GitHubIssueComment
	}
	body, err = build("")
	if err != nil || len(body) >= target {
		return event, body, err
	}
	body, err = build(filler(target - len(body)))
	return event, body, err
}

// filler is n bytes of plain text (JSON needs no escapes for it).
func filler(n int) string {
	const words = "the build failed on the integration runner after the cache was evicted; "
	var b strings.Builder
	b.Grow(n)
	for b.Len() < n {
		b.WriteString(words[:min(len(words), n-b.Len())])
	}
	return b.String()
}
