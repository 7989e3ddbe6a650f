package githubfake

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/followthrough/followthrough/connectors/internal/devweb"
)

// The buttons of an issue's page (Options.ServeHTML): each click changes the issue as a person
// on github.com would, and, once SetWebhook has named a receiver, delivers the webhook GitHub
// would send for it: the same headers, signed with the secret, and the payload of
// ../shared/fixtures/github-webhooks built from the issue as it is now.

// inProgressLabel is the label that says work has started (followthrough reads it as
// in_progress).
const inProgressLabel = "in progress"

// webPerson clicks on issues that have no assignee; otherwise the first assignee does.
const webPerson = "octocat"

// hookID is the id of the fake's one webhook, in X-GitHub-Hook-ID.
const hookID = "460817210"

// SetWebhook makes every click on an issue page deliver GitHub's webhook to url (e.g.
// followthrough's /webhooks/github), signed with secret. An empty url stops deliveries.
func (s *Server) SetWebhook(url, secret string) { s.hook.Set(url, secret) }

// webActionsLocked are the buttons an issue's page offers, as GitHub's page would: close or
// start an open issue, reopen a closed one, comment on any.
func webActionsLocked(is *issue) []devweb.Button {
	if is.deleted || is.pullRequest {
		return nil
	}
	var out []devweb.Button
	if is.state == "open" {
		if indexFold(is.labels, inProgressLabel) < 0 {
			out = append(out, devweb.Button{Action: devweb.ActionStart, Label: "Start (label “in progress”)"})
		}
		out = append(out, devweb.Button{Action: devweb.ActionDone, Label: "Close as done"},
			devweb.Button{Action: devweb.ActionWontDo, Label: "Close as won't do"})
	} else {
		out = append(out, devweb.Button{Action: devweb.ActionReopen, Label: "Reopen"})
	}
	return out
}

// serveWebAction answers a button's form post: it changes the issue, delivers the webhook and
// sends the browser back to the page.
func (s *Server) serveWebAction(w http.ResponseWriter, r *http.Request, repoName string, number int) {
	if err := devweb.ParseForm(w, r); err != nil {
		writeWeb(w, http.StatusForbidden, webIssue{Title: "Forbidden", Message: err.Error()})
		return
	}
	action := r.PostFormValue("action")
	s.mu.Lock()
	rp, is, err := s.findLocked(repoName, number)
	if err != nil || is.pullRequest {
		s.mu.Unlock()
		writeWeb(w, http.StatusNotFound, webIssue{Title: "Page not found", Message: "There is no issue " + repoName + "#" + strconv.Itoa(number) + " on this stand-in of GitHub."})
		return
	}
	allowed := action == devweb.ActionComment
	for _, a := range webActionsLocked(is) {
		allowed = allowed || a.Action == action
	}
	comment := strings.TrimSpace(r.PostFormValue("body"))
	if !allowed || (action == devweb.ActionComment && comment == "") {
		s.mu.Unlock()
		writeWeb(w, http.StatusConflict, webIssue{Title: "Nothing to do", Message: fmt.Sprintf(
			"%q cannot be done on %s#%d as it is now (%s), or the comment is empty. Go back and reload the page.", action, rp.fullName, number, is.state)})
		return
	}
	actor := webPerson
	if len(is.assignees) > 0 {
		actor = is.assignees[0]
	}
	now := s.nowLocked()
	event, payload := "issues", map[string]any{}
	switch action {
	case devweb.ActionStart:
		s.ensureLabelLocked(rp, inProgressLabel)
		l := rp.labels[strings.ToLower(inProgressLabel)]
		is.labels = append(is.labels, l.name)
		payload["action"] = "labeled"
		payload["label"] = s.labelsJSONLocked(rp, []string{l.name})[0]
	case devweb.ActionDone, devweb.ActionWontDo:
		reason := "completed"
		if action == devweb.ActionWontDo {
			reason = "not_planned"
		}
		setStateLocked(is, "closed", reason, actor, now)
		payload["action"] = "closed"
	case devweb.ActionReopen:
		setStateLocked(is, "open", "", "", now)
		payload["action"] = "reopened"
	case devweb.ActionComment:
		c := s.commentLocked(is, actor, comment)
		event = "issue_comment"
		payload["action"] = "created"
		payload["comment"] = s.commentJSONLocked(rp, is, c)
	}
	is.updatedAt = now
	payload["issue"] = s.issueJSONLocked(rp, is)
	payload["repository"] = s.repoJSONLocked(rp)
	payload["sender"] = s.userJSONLocked(actor)
	repoID, ticket := rp.id, deliveryTicket(rp, is)
	s.mu.Unlock()

	delivery := newGUID()
	s.hook.Deliver(w, r, ticket, event+" "+payload["action"].(string), delivery, payload,
		func(body []byte, secret string) http.Header {
			h := http.Header{}
			h.Set("Content-Type", "application/json")
			h.Set("User-Agent", "GitHub-Hookshot/githubfake")
			h.Set("X-GitHub-Event", event)
			h.Set("X-GitHub-Delivery", delivery)
			h.Set("X-GitHub-Hook-ID", hookID)
			h.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
			h.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(repoID, 10))
			h.Set("X-Hub-Signature-256", devweb.HubSignature(secret, body))
			// GitHub still sends the legacy SHA-1 signature beside it.
			mac := hmac.New(sha1.New, []byte(secret))
			mac.Write(body)
			h.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(mac.Sum(nil)))
			return h
		})
}

// newGUID is a delivery id like GitHub's, a random UUID.
func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// repoJSONLocked is a repository as webhook payloads carry it.
func (s *Server) repoJSONLocked(rp *repo) map[string]any {
	api := s.apiURL("/repos/" + rp.fullName)
	owner, name, _ := strings.Cut(rp.fullName, "/")
	// The fake keeps no repository times: the repository is as old as its first issue.
	since := s.nowLocked()
	if len(rp.issues) > 0 {
		since = rp.issues[0].createdAt
	}
	out := map[string]any{
		"id":                          rp.id,
		"node_id":                     nodeID("R", rp.id),
		"name":                        name,
		"full_name":                   rp.fullName,
		"private":                     false,
		"owner":                       s.userJSONLocked(owner),
		"html_url":                    s.opts.HTMLBase + "/" + rp.fullName,
		"description":                 nil,
		"fork":                        false,
		"url":                         api,
		"homepage":                    nil,
		"size":                        0,
		"stargazers_count":            0,
		"watchers_count":              0,
		"language":                    nil,
		"has_issues":                  true,
		"has_projects":                true,
		"has_downloads":               true,
		"has_wiki":                    true,
		"has_pages":                   false,
		"forks_count":                 0,
		"mirror_url":                  nil,
		"archived":                    false,
		"disabled":                    false,
		"open_issues_count":           0,
		"license":                     nil,
		"forks":                       0,
		"open_issues":                 0,
		"watchers":                    0,
		"default_branch":              "main",
		"git_url":                     "git://" + strings.TrimPrefix(strings.TrimPrefix(s.opts.HTMLBase, "https://"), "http://") + "/" + rp.fullName + ".git",
		"ssh_url":                     "git@" + strings.TrimPrefix(strings.TrimPrefix(s.opts.HTMLBase, "https://"), "http://") + ":" + rp.fullName + ".git",
		"clone_url":                   s.opts.HTMLBase + "/" + rp.fullName + ".git",
		"svn_url":                     s.opts.HTMLBase + "/" + rp.fullName,
		"created_at":                  ts(since),
		"updated_at":                  ts(since),
		"pushed_at":                   ts(since),
		"allow_forking":               true,
		"is_template":                 false,
		"web_commit_signoff_required": false,
		"topics":                      []string{},
		"visibility":                  "public",
		"custom_properties":           map[string]any{},
	}
	for _, u := range []struct{ key, path string }{
		{"forks_url", "/forks"}, {"keys_url", "/keys{/key_id}"}, {"collaborators_url", "/collaborators{/collaborator}"},
		{"teams_url", "/teams"}, {"hooks_url", "/hooks"}, {"issue_events_url", "/issues/events{/number}"},
		{"events_url", "/events"}, {"assignees_url", "/assignees{/user}"}, {"branches_url", "/branches{/branch}"},
		{"tags_url", "/tags"}, {"blobs_url", "/git/blobs{/sha}"}, {"git_tags_url", "/git/tags{/sha}"},
		{"git_refs_url", "/git/refs{/sha}"}, {"trees_url", "/git/trees{/sha}"}, {"statuses_url", "/statuses/{sha}"},
		{"languages_url", "/languages"}, {"stargazers_url", "/stargazers"}, {"contributors_url", "/contributors"},
		{"subscribers_url", "/subscribers"}, {"subscription_url", "/subscription"}, {"commits_url", "/commits{/sha}"},
		{"git_commits_url", "/git/commits{/sha}"}, {"comments_url", "/comments{/number}"},
		{"issue_comment_url", "/issues/comments{/number}"}, {"contents_url", "/contents/{+path}"},
		{"compare_url", "/compare/{base}...{head}"}, {"merges_url", "/merges"}, {"archive_url", "/{archive_format}{/ref}"},
		{"downloads_url", "/downloads"}, {"issues_url", "/issues{/number}"}, {"pulls_url", "/pulls{/number}"},
		{"milestones_url", "/milestones{/number}"}, {"notifications_url", "/notifications{?since,all,participating}"},
		{"labels_url", "/labels{/name}"}, {"releases_url", "/releases{/id}"}, {"deployments_url", "/deployments"},
	} {
		out[u.key] = api + u.path
	}
	return out
}
