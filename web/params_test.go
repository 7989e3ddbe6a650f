package web

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/followthrough/followthrough/internal/pgtest"
)

// TestUnstorableParameters: a path parameter or filter that no stored text can equal (bytes
// that are not UTF-8, or a NUL, which PostgreSQL's text refuses) is answered as the same
// request with any other unknown value would be, on both databases: an unknown id is 404, a
// filter that cannot be text is 400 naming it. Never a 500: these pages are public, and each
// 500 is an error in the log.
func TestUnstorableParameters(t *testing.T) {
	pgtest.ForEach(t, func(t *testing.T, db pgtest.Backend) {
		e := buildEnvOn(t, db.Database(t), t.TempDir(), testConfig, nil, t.Cleanup)
		if r := e.post([]byte(sampleJSON), nil); r.status != http.StatusAccepted {
			t.Fatalf("intake: %d %s", r.status, r.body)
		}
		for _, bad := range []string{"%FF", "a%00b"} {
			for _, c := range []struct {
				method, path string
				status       int
				names        string // what a 400's message must name
			}{
				{http.MethodGet, "/v1/postmortems/" + bad, http.StatusNotFound, ""},
				{http.MethodPatch, "/v1/postmortems/" + bad + "/items/AI-1", http.StatusNotFound, ""},
				{http.MethodPatch, "/v1/postmortems/PM-2026-042/items/" + bad, http.StatusNotFound, ""},
				{http.MethodPost, "/v1/postmortems/" + bad + "/retry", http.StatusNotFound, ""},
				{http.MethodGet, "/postmortems/" + bad, http.StatusNotFound, ""},
				{http.MethodGet, "/postmortems/" + bad + "?format=json", http.StatusNotFound, ""},
				{http.MethodGet, "/v1/postmortems?team=" + bad, http.StatusBadRequest, "team"},
				{http.MethodGet, "/v1/postmortems?severity=" + bad, http.StatusBadRequest, "severity"},
				{http.MethodGet, "/?team=" + bad, http.StatusBadRequest, "team"},
				{http.MethodGet, "/?format=json&severity=" + bad, http.StatusBadRequest, "severity"},
				{http.MethodGet, "/?format=csv&team=" + bad, http.StatusBadRequest, "team"},
				{http.MethodGet, "/insights?team=" + bad, http.StatusBadRequest, "team"},
				{http.MethodGet, "/insights?format=json&severity=" + bad, http.StatusBadRequest, "severity"},
				{http.MethodGet, "/owners/" + bad, http.StatusBadRequest, "email"},
				{http.MethodGet, "/owners/" + bad + "?format=json", http.StatusBadRequest, "email"},
			} {
				var body *strings.Reader
				if c.method == http.MethodPatch {
					body = strings.NewReader(`{"status":"done"}`)
				} else {
					body = strings.NewReader("")
				}
				r := e.do(c.method, c.path, body, nil)
				if r.status != c.status {
					t.Errorf("%s %s: %d %s, want %d", c.method, c.path, r.status, r.body, c.status)
					continue
				}
				if c.names != "" && !strings.Contains(string(r.body), c.names) {
					t.Errorf("%s %s: %s does not name %s", c.method, c.path, r.body, c.names)
				}
			}
		}
		if strings.Contains(e.logs.String(), `"level":"ERROR"`) {
			t.Errorf("errors logged:\n%s", e.logs.String())
		}
	})
}

// TestUnstorableDeliveryIDs: a verified delivery whose id cannot be stored text (a header that
// is not UTF-8, or a Jira issue key with a NUL when the id is made of it) is a 400 that names
// the id, on both databases; a 500 would have the tracker send it again and again.
func TestUnstorableDeliveryIDs(t *testing.T) {
	pgtest.ForEach(t, func(t *testing.T, db pgtest.Backend) {
		e := buildEnvOn(t, db.Database(t), t.TempDir(), webhookConfig, nil, t.Cleanup)
		issue := []byte(`{"action":"closed","issue":{"number":7,"state":"closed"},"repository":{"full_name":"acme/actions"}}`)
		r := e.hook("/webhooks/github", bytes.NewReader(issue), githubHeader("issues", "d\xff1", githubHookSecret, issue))
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), headerGitHubDelivery) {
			t.Errorf("GitHub delivery id not UTF-8: %d %s", r.status, r.body)
		}
		updated := []byte(`{"webhookEvent":"jira:issue_updated","timestamp":1550286940507,"issue":{"key":"TES-41\u0000"}}`)
		r = e.hook("/webhooks/jira", bytes.NewReader(updated), jiraHeader("", jiraHookSecret, updated))
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "delivery id") {
			t.Errorf("Jira issue key with NUL, no identifier: %d %s", r.status, r.body)
		}
		r = e.hook("/webhooks/jira", bytes.NewReader(updated), jiraHeader("wh-\xff", jiraHookSecret, updated))
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "delivery id") {
			t.Errorf("Jira identifier not UTF-8: %d %s", r.status, r.body)
		}
		if n := e.stored(); n != 0 {
			t.Errorf("%d deliveries stored", n)
		}
		if strings.Contains(e.logs.String(), `"level":"ERROR"`) {
			t.Errorf("errors logged:\n%s", e.logs.String())
		}
	})
}
