package githubfake

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/followthrough/followthrough/connectors/internal/devweb"
)

// The web page of an issue, served with Options.ServeHTML: what a person opening an issue's
// html_url on github.com would read, without authentication, with buttons that act on the
// issue as that person (webactions.go). It is no API call: it takes no fault, no latency and
// no rate limit, and it is not in the call log.

// webPath reports whether an escaped request path is an issue's web page,
// /{owner}/{repo}/issues/{n} (or /pull/{n}), and never an API path: with a PathPrefix every
// path under it is the API's, and without one no owner is named like a top-level API path.
func (s *Server) webPath(escapedPath string) (repoName string, number int, ok bool) {
	if s.opts.PathPrefix != "" && (escapedPath == s.opts.PathPrefix || strings.HasPrefix(escapedPath, s.opts.PathPrefix+"/")) {
		return "", 0, false
	}
	segs := splitPath(escapedPath)
	if len(segs) != 4 || (segs[2] != "issues" && segs[2] != "pull") {
		return "", 0, false
	}
	switch segs[0] {
	case "repos", "user", "users", "app", "search":
		return "", 0, false
	}
	n, err := strconv.Atoi(segs[3])
	if err != nil || n <= 0 || segs[0] == "" || segs[1] == "" {
		return "", 0, false
	}
	return segs[0] + "/" + segs[1], n, true
}

// webIssue is what the issue page shows.
type webIssue struct {
	Title, Repo, Kind, User  string
	Number                   int
	State, StateReason       string
	Labels, Assignees        []string
	Body                     string
	Created, Updated, Closed string
	ClosedBy                 string
	Comments                 []webComment
	Message                  string
	Actions                  []devweb.Button
	Webhook                  string // where clicks deliver webhooks; "" for none
	Deliveries               []devweb.Delivery
	DeliveryHeader           string
}

type webComment struct {
	ID         int64
	User, Time string
	Body       string
}

// serveWeb answers an issue's web page.
func (s *Server) serveWeb(w http.ResponseWriter, r *http.Request, repoName string, number int) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		s.serveWebAction(w, r, repoName, number)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeWeb(w, http.StatusMethodNotAllowed, webIssue{Title: "Method not allowed", Message: "Use the page's buttons."})
		return
	}
	s.mu.Lock()
	rp := s.repos[strings.ToLower(repoName)]
	var is *issue
	if rp != nil && number <= len(rp.issues) {
		is = rp.issues[number-1]
	}
	var page webIssue
	status := http.StatusOK
	switch {
	case is == nil:
		status = http.StatusNotFound
		page = webIssue{Title: "Page not found", Message: "There is no issue " + repoName + "#" + strconv.Itoa(number) + " on this stand-in of GitHub."}
	case is.deleted:
		status = http.StatusGone
		page = webIssue{Title: "Issue deleted", Message: "Issue " + rp.fullName + "#" + strconv.Itoa(number) + " was deleted."}
	default:
		page = s.webIssueLocked(rp, is)
	}
	s.mu.Unlock()
	writeWeb(w, status, page)
}

func (s *Server) webIssueLocked(rp *repo, is *issue) webIssue {
	p := webIssue{
		Title: is.title, Repo: rp.fullName, Kind: "Issue", User: is.user, Number: is.number,
		State: is.state, StateReason: is.stateReason, Body: is.body,
		Labels: append([]string(nil), is.labels...), Assignees: append([]string(nil), is.assignees...),
		Created: webTime(is.createdAt), Updated: webTime(is.updatedAt), Closed: webTime(is.closedAt), ClosedBy: is.closedBy,
	}
	if is.pullRequest {
		p.Kind = "Pull request"
	}
	for _, c := range is.comments {
		p.Comments = append(p.Comments, webComment{ID: c.ID, User: c.User, Time: webTime(c.CreatedAt), Body: c.Body})
	}
	p.Actions = webActionsLocked(is)
	p.Webhook, _ = s.hook.Target()
	p.Deliveries = s.hook.Deliveries(deliveryTicket(rp, is))
	p.DeliveryHeader = "X-GitHub-Delivery"
	return p
}

// deliveryTicket is the key of an issue's deliveries in s.hook: "owner/name#n" in lower case,
// whatever the case of the page's address.
func deliveryTicket(rp *repo, is *issue) string {
	return strings.ToLower(rp.fullName) + "#" + strconv.Itoa(is.number)
}

func webTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func writeWeb(w http.ResponseWriter, status int, page webIssue) {
	devweb.WritePage(w, status, "text/html; charset=utf-8", webTemplate, page)
}

var webTemplate = template.Must(template.Must(template.New("issue").Parse(devweb.Templates)).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}{{if .Number}} · {{.Repo}}#{{.Number}}{{end}}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #1f2328; }
.note { background: #fff8c5; border: 1px solid #d4a72c66; padding: .5em 1em; border-radius: 6px; font-size: .9em; }
.state { display: inline-block; padding: .2em .8em; border-radius: 2em; color: #fff; font-weight: 600; }
.open { background: #1f883d; } .closed { background: #8250df; } .not_planned { background: #6e7781; }
.label { display: inline-block; padding: 0 .6em; border-radius: 2em; background: #ededed; border: 1px solid #d0d7de; margin-right: .3em; }
pre { white-space: pre-wrap; word-wrap: break-word; background: #f6f8fa; padding: 1em; border-radius: 6px; }
.comment { border: 1px solid #d0d7de; border-radius: 6px; margin: 1em 0; }
.comment header { background: #f6f8fa; padding: .5em 1em; border-bottom: 1px solid #d0d7de; }
.comment pre { margin: 0; background: none; }
dt { font-weight: 600; } dd { margin: 0 0 .5em 0; }
.actions form { display: inline-block; margin-right: .5em; }
button { font: inherit; padding: .3em 1em; border-radius: 6px; border: 1px solid #d0d7de; background: #f6f8fa; cursor: pointer; }
.comment-form textarea { display: block; width: 100%; margin: .3em 0; font: inherit; }
.deliveries { border-collapse: collapse; font-size: .9em; } .deliveries td, .deliveries th { padding: .2em .6em; text-align: left; }
.deliveries .failed { color: #cf222e; }
</style>
</head>
<body>
<p class="note">A stand-in of GitHub (followthrough's githubfake).
{{- if .Number}} Each button acts on this issue as {{if .Assignees}}{{index .Assignees 0}}{{else}}octocat{{end}} would on github.com
{{- if .Webhook}} and delivers the signed webhook GitHub would send to <code>{{.Webhook}}</code>.{{else}}; no webhook is configured, so nobody hears of it until they look.{{end}}{{end}}</p>
{{- if .Message}}
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{- else}}
<p>{{.Repo}} · {{.Kind}}</p>
<h1>{{.Title}} <span>#{{.Number}}</span></h1>
<p><span class="state {{.State}}{{if eq .StateReason "not_planned"}} not_planned{{end}}">{{.State}}</span>
{{- if .StateReason}} <span class="state-reason">({{.StateReason}})</span>{{end}}
 · opened by <strong>{{.User}}</strong> at {{.Created}}
{{- if .Closed}} · closed{{if .ClosedBy}} by <strong>{{.ClosedBy}}</strong>{{end}} at {{.Closed}}{{end}}
 · updated {{.Updated}}</p>
<dl>
<dt>Labels</dt>
<dd>{{range .Labels}}<span class="label">{{.}}</span>{{else}}None yet{{end}}</dd>
<dt>Assignees</dt>
<dd>{{range $i, $a := .Assignees}}{{if $i}}, {{end}}{{$a}}{{else}}No one assigned{{end}}</dd>
</dl>
{{- template "buttons" .Actions}}
<h2>Description</h2>
{{if .Body}}<pre class="body">{{.Body}}</pre>{{else}}<p><em>No description provided.</em></p>{{end}}
<h2>Comments ({{len .Comments}})</h2>
{{- range .Comments}}
<section class="comment" id="issuecomment-{{.ID}}">
<header><strong>{{.User}}</strong> commented at {{.Time}}</header>
<pre>{{.Body}}</pre>
</section>
{{- else}}
<p><em>No comments.</em></p>
{{- end}}
{{- if .Actions}}{{template "comment-form"}}{{end}}
{{- template "deliveries" .}}
{{- end}}
</body>
</html>
`))
