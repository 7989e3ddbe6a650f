package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// An @login that people does not know is kept as written, and the ticket gets no assignee:
// lint warns about it as about any other owner it cannot map (the contract's "Owners").
func TestLintWarnsAboutAnUnknownLogin(t *testing.T) {
	cfg := files(t, "followthrough.yaml", testConfigYAML)[0]
	md := files(t, "list.md", "---\nid: PM-L\ntitle: t\nstatus: finalized\nsigned_off_by: c@acme.com\nteam: payments\n---\n## Action Items\n\n| ID | Action Item | Owner |\n|---|---|---|\n| AI-1 | Fix it | @nobody |\n| AI-2 | Fix that | @bob-gh |\n| AI-3 | And this | bob@ |\n")[0]
	code, stdout, stderr := run(LintCommand, nil, "--config", cfg, md)
	want := []string{
		md + `:12: warning: owner "@nobody" is not an email and not in people: the ticket gets no assignee`,
		md + `:14: warning: owner "bob@" is not an email and not in people: the ticket gets no assignee`,
	}
	if code != 0 || !slices.Equal(lines(stdout), want) {
		t.Errorf("exit %d, stdout:\n%s\nwant\n%s\nstderr: %s", code, stdout, strings.Join(want, "\n"), stderr)
	}
}

// A --url that answers intake with a redirect (http to https, a moved host) makes Go's client
// follow a 301, 302 or 303 with a GET: the list's 200 then came from no intake, and the file
// was not accepted. submit must not count it as sent.
func TestSubmitRedirectIsNotAccepted(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		switch {
		case r.URL.Path == "/v1/postmortems" && r.Method == http.MethodPost:
			http.Redirect(w, r, "/new/v1/postmortems", http.StatusMovedPermanently)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"items":[],"next_cursor":""}`)
		}
	}))
	defer srv.Close()
	good := files(t, "good.md", goodMD)[0]
	code, stdout, stderr := submitWith(bounded(t), Submitter{Backoff: constantWaits(time.Millisecond)},
		"--url", srv.URL, "--token", testToken, good)
	if code != 1 || !strings.HasPrefix(stdout, good+": PM-CLI-1 refused (301)") {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nrequests %v\nwant exit 1, the redirect refused", code, stdout, stderr, got)
	}
	// A 200 that is not an intake's answer (a proxy's page) is not accepted either.
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>Sign in</html>")
	}))
	defer page.Close()
	code, stdout, stderr = submitWith(bounded(t), Submitter{Backoff: constantWaits(time.Millisecond)},
		"--url", page.URL, "--token", testToken, good)
	if code != 1 || !strings.HasPrefix(stdout, good+": PM-CLI-1 refused (200)") {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant exit 1, refused", code, stdout, stderr)
	}
}
