package web

import (
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
