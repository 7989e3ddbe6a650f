package jirafake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/followthrough/followthrough/connectors/internal/devweb"
)

// The buttons of an issue's page (Options.ServeHTML): each click changes the issue as a person
// in Jira would, and, once SetWebhook has named a receiver, delivers the webhook a Jira admin
// webhook with a secret sends for it: X-Hub-Signature and X-Atlassian-Webhook-Identifier, and
// the payload of ../shared/fixtures/jira-webhooks (jira:issue_updated with its changelog, or
// comment_created) built from the issue as it is now.

// wontDo is the status and the resolution that say an issue will not be done.
const wontDo = "Won't Do"

// webPerson clicks on issues that have no assignee; otherwise the assignee does.
const webPerson = "5c5f880629be9642ba529340"

// SetWebhook makes every click on an issue page deliver Jira's webhook to url (e.g.
// followthrough's /webhooks/jira), signed with secret. An empty url stops deliveries.
func (s *Server) SetWebhook(url, secret string) { s.hook.Set(url, secret) }

// webTarget is the status and resolution an action moves the issue to. ok is false when the
// workflow has no such status or the issue is there already. Callers hold s.mu.
func (s *Server) webTarget(is *issue, action string) (st Status, resolution string, ok bool) {
	cur, _, _ := s.workflow.status(is.Status)
	find := func(match func(Status) bool) (Status, bool) {
		for _, st := range s.workflow.Statuses {
			if match(st) {
				return st, true
			}
		}
		return Status{}, false
	}
	switch action {
	case devweb.ActionStart:
		if cur.Category != CategoryNew {
			return Status{}, "", false
		}
		st, ok = find(func(st Status) bool { return st.Category == CategoryIndeterminate })
	case devweb.ActionDone:
		if cur.Category == CategoryDone {
			return Status{}, "", false
		}
		if st, ok = find(func(st Status) bool { return st.Name == "Done" && st.Category == CategoryDone }); !ok {
			st, ok = find(func(st Status) bool { return st.Category == CategoryDone && st.Name != wontDo })
		}
		resolution = "Done"
	case devweb.ActionWontDo:
		if cur.Category == CategoryDone {
			return Status{}, "", false
		}
		if st, ok = find(func(st Status) bool { return st.Name == wontDo }); !ok {
			st, ok = find(func(st Status) bool { return st.Category == CategoryDone })
		}
		resolution = wontDo
	case devweb.ActionReopen:
		if cur.Category != CategoryDone {
			return Status{}, "", false
		}
		st, _, ok = s.workflow.status(s.workflow.Initial)
	}
	return st, resolution, ok
}

// webActions are the buttons an issue's page offers. Callers hold s.mu.
func (s *Server) webActions(is *issue) []devweb.Button {
	var out []devweb.Button
	for _, b := range []devweb.Button{
		{Action: devweb.ActionStart, Label: "Start progress"}, {Action: devweb.ActionDone, Label: "Close as done"},
		{Action: devweb.ActionWontDo, Label: "Close as won't do"}, {Action: devweb.ActionReopen, Label: "Reopen"},
	} {
		if _, _, ok := s.webTarget(is, b.Action); ok {
			out = append(out, b)
		}
	}
	return out
}

// serveWebAction answers a button's form post: it changes the issue, delivers the webhook and
// sends the browser back to the page.
func (s *Server) serveWebAction(w http.ResponseWriter, r *http.Request, key string) {
	if err := devweb.ParseForm(w, r); err != nil {
		writeWeb(w, http.StatusForbidden, webIssue{Summary: "Forbidden", Message: err.Error()})
		return
	}
	action := r.PostFormValue("action")
	comment := strings.TrimSpace(r.PostFormValue("body"))
	s.mu.Lock()
	is, ok := s.issueLocked(key)
	if !ok {
		s.mu.Unlock()
		writeWeb(w, http.StatusNotFound, webIssue{Summary: "Issue not found", Message: "Issue " + key + " does not exist on this stand-in of Jira."})
		return
	}
	actor := webPerson
	if is.Assignee != "" {
		actor = is.Assignee
	}
	payload := map[string]any{"timestamp": s.now().UnixMilli()}
	if action == devweb.ActionComment && comment != "" {
		c := s.addComment(is, actor, comment)
		payload["webhookEvent"] = "comment_created"
		payload["comment"] = s.commentJSON(is, c)
		// Jira Cloud sends an abbreviated issue with a comment.
		payload["issue"] = s.issueJSON(is, map[string]bool{"summary": true, "issuetype": true, "project": true, "assignee": true, "priority": true, "status": true}, false)
	} else {
		st, resolution, ok := s.webTarget(is, action)
		if !ok {
			s.mu.Unlock()
			writeWeb(w, http.StatusConflict, webIssue{Summary: "Nothing to do", Message: fmt.Sprintf(
				"%q cannot be done on %s as it is now (%s), or the comment is empty. Go back and reload the page.", action, is.Key, is.Status)})
			return
		}
		fromStatus, fromResolution := is.Status, is.Resolution
		s.enter(is, st, resolution)
		s.touch(is)
		payload["webhookEvent"] = "jira:issue_updated"
		payload["issue_event_type_name"] = "issue_generic"
		payload["user"] = s.userJSON(actor)
		payload["issue"] = s.issueJSON(is, nil, false)
		payload["changelog"] = s.changelog(fromStatus, fromResolution, is)
	}
	ticket := is.Key
	s.mu.Unlock()

	id := newIdentifier()
	s.hook.Deliver(w, r, ticket, payload["webhookEvent"].(string), id, payload, func(body []byte, secret string) http.Header {
		h := http.Header{}
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("User-Agent", "Atlassian Webhook HTTP Client")
		h.Set("X-Atlassian-Webhook-Identifier", id)
		h.Set("X-Hub-Signature", devweb.HubSignature(secret, body))
		return h
	})
}

// changelog is a jira:issue_updated changelog of a move from one status and resolution to the
// issue's present ones. Callers hold s.mu.
func (s *Server) changelog(fromStatus, fromResolution string, is *issue) map[string]any {
	text := func(name string) any {
		if name == "" {
			return nil
		}
		return name
	}
	resolutionID := func(name string) any {
		if name == "" {
			return nil
		}
		return s.resolutionJSON(name).(map[string]any)["id"]
	}
	item := func(field string, from, fromString, to, toString any) map[string]any {
		return map[string]any{"field": field, "fieldtype": "jira", "fieldId": field,
			"from": from, "fromString": fromString, "to": to, "toString": toString}
	}
	var items []any
	if fromResolution != is.Resolution {
		items = append(items, item("resolution", resolutionID(fromResolution), text(fromResolution), resolutionID(is.Resolution), text(is.Resolution)))
	}
	items = append(items, item("status", s.statusJSON(fromStatus)["id"], fromStatus, s.statusJSON(is.Status)["id"], is.Status))
	s.nextChangelog++
	return map[string]any{"id": strconv.Itoa(s.nextChangelog), "items": items}
}

// newIdentifier is a delivery id like X-Atlassian-Webhook-Identifier's.
func newIdentifier() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
