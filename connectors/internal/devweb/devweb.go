// Package devweb is what the stand-ins' clickable ticket pages share: the check that a form
// post comes from the page itself, and the signed webhook delivery each click sends, as
// GitHub and Jira send theirs.
package devweb

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The actions of a ticket page's forms, the same on both stand-ins.
const (
	ActionStart   = "start"
	ActionDone    = "done"
	ActionWontDo  = "wont_do"
	ActionReopen  = "reopen"
	ActionComment = "comment"
)

// Button is one button of a ticket's page: the action its form posts and its label.
type Button struct{ Action, Label string }

// Templates are the parts of a ticket's page that both stand-ins show, to parse into each
// page's template: "buttons" (given the []Button), "comment-form", and "deliveries" (given the
// page, which has Deliveries []Delivery and DeliveryHeader, the name of the delivery id header).
const Templates = `
{{- define "buttons"}}{{if .}}
<div class="actions">
{{- range .}}
<form method="post"><input type="hidden" name="action" value="{{.Action}}"><button type="submit">{{.Label}}</button></form>
{{- end}}
</div>
{{- end}}{{end}}
{{- define "comment-form"}}
<form method="post" class="comment-form">
<input type="hidden" name="action" value="comment">
<label for="comment-body">Add a comment</label>
<textarea id="comment-body" name="body" rows="3" required></textarea>
<button type="submit">Comment</button>
</form>
{{- end}}
{{- define "deliveries"}}{{if .Deliveries}}
<h2>Webhook deliveries</h2>
<table class="deliveries">
<tr><th>when</th><th>event</th><th>{{.DeliveryHeader}}</th><th>answer</th></tr>
{{- range .Deliveries}}
<tr class="{{if .OK}}ok{{else}}failed{{end}}"><td>{{.At.Format "15:04:05"}}</td><td>{{.Event}}</td><td><code>{{.ID}}</code></td><td>{{if .Status}}{{.Status}} {{end}}<code>{{.Answer}}</code></td></tr>
{{- end}}
</table>
{{- end}}{{end}}
`

// WritePage answers a ticket's page: the page executed in t, as contentType (each stand-in
// writes its vendor's), with the headers that keep it to itself: no sniffing, no scripts, no
// caching, and forms that post only back to the stand-in.
func WritePage(w http.ResponseWriter, status int, contentType string, t *template.Template, page any) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = t.Execute(w, page)
}

// maxForm bounds a form post: a comment and a few fields.
const maxForm = 64 << 10

// crossOrigin refuses form posts that a browser sends from another site.
var crossOrigin = http.NewCrossOriginProtection()

// ParseForm checks that a form post may change a ticket and parses it. The stand-ins listen on
// loopback but are opened in a browser, so a page on any other site could post to them: a post
// is refused when the browser says it comes from another origin (Sec-Fetch-Site, Origin), and
// when the Host is not a loopback name, which a DNS-rebinding page on another name would have.
func ParseForm(w http.ResponseWriter, r *http.Request) error {
	if !loopbackHost(r.Host) {
		return errors.New("form posts are only taken on a loopback address (127.0.0.1, ::1 or localhost)")
	}
	if err := crossOrigin.Check(r); err != nil {
		return fmt.Errorf("cross-site form post refused: %w", err)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("reading the form: %w", err)
	}
	return nil
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// HubSignature is "sha256=<hex HMAC-SHA256 of body>", GitHub's X-Hub-Signature-256 and Jira's
// X-Hub-Signature.
func HubSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Delivery is one webhook sent, as the page lists it.
type Delivery struct {
	At     time.Time
	Event  string // e.g. "issues closed", "jira:issue_updated"
	ID     string // the delivery id header's value
	Status int    // the answer's status; 0 when there was none
	Answer string // the answer's body (clipped), or why there was none
}

// OK reports whether the receiver took the delivery.
func (d Delivery) OK() bool { return d.Status >= 200 && d.Status < 300 }

// Hook is where a stand-in delivers its webhooks. The zero Hook delivers nothing. It is safe
// for concurrent use.
type Hook struct {
	mu     sync.Mutex
	url    string
	secret string
	client *http.Client
	log    map[string][]Delivery // by ticket
}

// Set points the hook at url, signing with secret; an empty url turns delivery off.
func (h *Hook) Set(url, secret string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.url, h.secret = url, secret
	if h.client == nil {
		h.client = &http.Client{Timeout: 10 * time.Second}
	}
}

// Target is the URL deliveries go to ("" when off) and the signing secret.
func (h *Hook) Target() (url, secret string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.url, h.secret
}

// Deliver answers a button's form post once the ticket has changed: it sends payload as JSON
// with the headers that header makes of the body and the signing secret, records the outcome
// under ticket, and sends the browser back to the page. Nothing is sent when the hook is off.
func (h *Hook) Deliver(w http.ResponseWriter, r *http.Request, ticket, event, id string, payload any,
	header func(body []byte, secret string) http.Header) {
	body, err := json.Marshal(payload)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	url, secret := h.Target()
	if url != "" {
		h.send(r.Context(), url, ticket, Delivery{At: time.Now().UTC(), Event: event, ID: id}, header(body, secret), body)
	}
	http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
}

func (h *Hook) send(ctx context.Context, url, ticket string, d Delivery, header http.Header, body []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err == nil {
		req.Header = header
		var resp *http.Response
		if resp, err = h.client.Do(req); err == nil {
			answer, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			resp.Body.Close()
			d.Status, d.Answer = resp.StatusCode, strings.TrimSpace(string(answer))
		}
	}
	if err != nil {
		d.Answer = err.Error()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.log == nil {
		h.log = map[string][]Delivery{}
	}
	h.log[ticket] = append(h.log[ticket], d)
}

// Deliveries lists what was sent about ticket, newest first.
func (h *Hook) Deliveries(ticket string) []Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := h.log[ticket]
	out := make([]Delivery, len(list))
	for i, d := range list {
		out[len(list)-1-i] = d
	}
	return out
}
