package jirafake

import (
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/followthrough/followthrough/connectors/internal/devweb"
)

// The web page of an issue, served with Options.ServeHTML at /browse/{KEY}: what a person
// opening an issue's link in Jira would read, without authentication, with buttons that act on
// the issue as that person (webactions.go). It is no API call: it takes no fault or latency
// and is not in the request log.

// webPath reports whether a request path is an issue's page, /browse/{KEY}. The API lives
// under /rest/, so the two never meet.
func webPath(path string) (key string, ok bool) {
	key, ok = strings.CutPrefix(path, "/browse/")
	if !ok || key == "" || strings.Contains(key, "/") {
		return "", false
	}
	return key, true
}

// webIssue is what the issue page shows.
type webIssue struct {
	Key, Project, IssueType, Summary string
	Status, StatusCategory           string
	Resolution                       string
	Labels                           []string
	Assignee, Reporter               webUser
	DueDate, Priority                string
	Description                      string
	Created, Updated                 string
	Comments                         []webComment
	RemoteLinks                      []RemoteLink
	Message                          string
	Actions                          []devweb.Button
	Webhook                          string // where clicks deliver webhooks; "" for none
	Actor                            webUser
	Deliveries                       []devweb.Delivery
	DeliveryHeader                   string
}

type webUser struct{ Name, ID string }

type webComment struct {
	ID     string
	Author webUser
	Time   string
	Body   string
}

// serveWeb answers an issue's page.
func (s *Server) serveWeb(w http.ResponseWriter, r *http.Request, key string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		s.serveWebAction(w, r, key)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeWeb(w, http.StatusMethodNotAllowed, webIssue{Summary: "Method not allowed", Message: "Use the page's buttons."})
		return
	}
	s.mu.Lock()
	is, ok := s.issueLocked(key)
	var page webIssue
	status := http.StatusOK
	if ok {
		page = s.webIssue(is)
	} else {
		status = http.StatusNotFound
		page = webIssue{Summary: "Issue not found", Message: "Issue " + key + " does not exist on this stand-in of Jira."}
	}
	s.mu.Unlock()
	writeWeb(w, status, page)
}

// webIssue builds the page of an issue. Callers hold s.mu.
func (s *Server) webIssue(is *issue) webIssue {
	p := webIssue{
		Key: is.Key, Project: is.Project, IssueType: is.IssueType, Summary: is.Summary,
		Status: is.Status, Resolution: is.Resolution, Labels: append([]string(nil), is.Labels...),
		Assignee: s.webUser(is.Assignee), Reporter: s.webUser(is.Reporter),
		DueDate: is.DueDate, Priority: is.Priority, Description: is.Description,
		Created: s.webTime(is.Created), Updated: s.webTime(is.Updated),
		RemoteLinks: append([]RemoteLink(nil), is.RemoteLinks...),
	}
	if st, _, ok := s.workflow.status(is.Status); ok {
		p.StatusCategory = st.Category
	}
	for _, c := range is.Comments {
		p.Comments = append(p.Comments, webComment{ID: c.ID, Author: s.webUser(c.Author), Time: s.webTime(c.Created), Body: c.Body})
	}
	p.Actions = s.webActions(is)
	p.Webhook, _ = s.hook.Target()
	p.Actor = s.webUser(webPerson)
	if is.Assignee != "" {
		p.Actor = p.Assignee
	}
	p.Deliveries = s.hook.Deliveries(is.Key)
	p.DeliveryHeader = "X-Atlassian-Webhook-Identifier"
	return p
}

// webUser names a user by display name when the site knows one. Callers hold s.mu.
func (s *Server) webUser(id string) webUser {
	if id == "" {
		return webUser{}
	}
	u := webUser{Name: id, ID: id}
	if known, ok := s.findUser(id); ok && known.DisplayName != "" {
		u.Name = known.DisplayName
	}
	return u
}

func (s *Server) webTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(s.loc()).Format("2006-01-02 15:04 MST")
}

func writeWeb(w http.ResponseWriter, status int, page webIssue) {
	devweb.WritePage(w, status, "text/html;charset=UTF-8", webTemplate, page)
}

var webTemplate = template.Must(template.Must(template.New("issue").Parse(devweb.Templates)).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{if .Key}}[{{.Key}}] {{end}}{{.Summary}}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #172b4d; }
.note { background: #fffae6; border: 1px solid #ffc40066; padding: .5em 1em; border-radius: 3px; font-size: .9em; }
.status { display: inline-block; padding: .1em .5em; border-radius: 3px; font-weight: 700; font-size: .85em; text-transform: uppercase; background: #dfe1e6; }
.status.indeterminate { background: #deebff; color: #0747a6; } .status.done { background: #e3fcef; color: #006644; }
.label { display: inline-block; padding: 0 .4em; border-radius: 3px; background: #f4f5f7; border: 1px solid #dfe1e6; margin-right: .3em; }
pre { white-space: pre-wrap; word-wrap: break-word; background: #f4f5f7; padding: 1em; border-radius: 3px; }
.comment { border-top: 1px solid #dfe1e6; padding: .5em 0; }
.comment pre { margin: .3em 0 0 0; }
dl { display: grid; grid-template-columns: max-content auto; gap: .3em 1.5em; }
dt { color: #6b778c; } dd { margin: 0; }
.muted { color: #6b778c; }
.actions form { display: inline-block; margin-right: .5em; }
button { font: inherit; padding: .3em 1em; border-radius: 3px; border: 1px solid #dfe1e6; background: #f4f5f7; cursor: pointer; }
.comment-form textarea { display: block; width: 100%; margin: .3em 0; font: inherit; }
.deliveries { border-collapse: collapse; font-size: .9em; } .deliveries td, .deliveries th { padding: .2em .6em; text-align: left; }
.deliveries .failed { color: #de350b; }
</style>
</head>
<body>
<p class="note">A stand-in of Jira (followthrough's jirafake).
{{- if .Key}} Each button acts on this issue as {{.Actor.Name}} would in Jira
{{- if .Webhook}} and delivers the signed webhook Jira would send to <code>{{.Webhook}}</code>.{{else}}; no webhook is configured, so nobody hears of it until they look.{{end}}{{end}}</p>
{{- if .Message}}
<h1>{{.Summary}}</h1>
<p>{{.Message}}</p>
{{- else}}
<p class="muted">{{.Project}} / <strong>{{.Key}}</strong> · {{.IssueType}}</p>
<h1>{{.Summary}}</h1>
<dl>
<dt>Status</dt><dd><span class="status {{.StatusCategory}}">{{.Status}}</span></dd>
<dt>Resolution</dt><dd>{{if .Resolution}}{{.Resolution}}{{else}}Unresolved{{end}}</dd>
<dt>Priority</dt><dd>{{if .Priority}}{{.Priority}}{{else}}<span class="muted">None</span>{{end}}</dd>
<dt>Labels</dt><dd>{{range .Labels}}<span class="label">{{.}}</span>{{else}}<span class="muted">None</span>{{end}}</dd>
<dt>Assignee</dt><dd>{{with .Assignee.ID}}{{$.Assignee.Name}}{{if ne $.Assignee.Name .}} <span class="muted">({{.}})</span>{{end}}{{else}}<span class="muted">Unassigned</span>{{end}}</dd>
<dt>Reporter</dt><dd>{{with .Reporter.ID}}{{$.Reporter.Name}}{{if ne $.Reporter.Name .}} <span class="muted">({{.}})</span>{{end}}{{else}}<span class="muted">None</span>{{end}}</dd>
<dt>Due date</dt><dd>{{if .DueDate}}{{.DueDate}}{{else}}<span class="muted">None</span>{{end}}</dd>
<dt>Created</dt><dd>{{.Created}}</dd>
<dt>Updated</dt><dd>{{.Updated}}</dd>
</dl>
{{- template "buttons" .Actions}}
<h2>Description</h2>
{{if .Description}}<pre class="description">{{.Description}}</pre>{{else}}<p class="muted">None</p>{{end}}
<h2>Web links</h2>
{{- if .RemoteLinks}}
<ul>
{{- range .RemoteLinks}}
<li><a href="{{.URL}}" rel="noopener noreferrer">{{if .Title}}{{.Title}}{{else}}{{.URL}}{{end}}</a></li>
{{- end}}
</ul>
{{- else}}
<p class="muted">None</p>
{{- end}}
<h2>Comments ({{len .Comments}})</h2>
{{- range .Comments}}
<section class="comment" id="comment-{{.ID}}">
<strong>{{.Author.Name}}</strong>{{if ne .Author.Name .Author.ID}} <span class="muted">({{.Author.ID}})</span>{{end}} <span class="muted">{{.Time}}</span>
<pre>{{.Body}}</pre>
</section>
{{- else}}
<p class="muted">There are no comments yet on this issue.</p>
{{- end}}
{{template "comment-form"}}
{{- template "deliveries" .}}
{{- end}}
</body>
</html>
`))

// issueLocked is the issue with key, whatever the case of the key as Jira opens it. s.mu must
// be held.
func (s *Server) issueLocked(key string) (*issue, bool) {
	if is, ok := s.issues[key]; ok {
		return is, true
	}
	is, ok := s.issues[strings.ToUpper(key)]
	return is, ok
}
