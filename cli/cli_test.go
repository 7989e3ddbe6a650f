package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-retry"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/app"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/githubfake"
)

const (
	testToken  = "cli-test-token-0123456789"
	testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// goodMD is a finalized postmortem whose items all fit the test configuration.
const goodMD = `---
id: PM-CLI-1
title: Search outage
status: finalized
team: payments
signed_off_by: carol@acme.com
---
# Search outage

## Action Items

| ID | Action Item | Owner | Priority |
|----|-------------|-------|----------|
| AI-1 | Cache the search index | bob-gh | P1 |
| AI-2 | Page on index lag | alice@acme.com | P2 |
`

// testConfigYAML routes everything to GitHub and knows bob and alice.
const testConfigYAML = `
intake:
  tokens: [` + testToken + `]
github:
  token: ghp_x
routes:
  - when: { team: payments }
    to: { kind: github, repo: acme/payments }
  - when: { severity: SEV1 }
    to: { kind: github, repo: acme/sev1 }
people:
  - { email: bob@acme.com, github: bob-gh }
  - { email: alice@acme.com, github: alice-gh }
`

// files writes the named files into a temp dir and returns their paths, in the order given.
func files(t *testing.T, contents ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := 0; i+1 < len(contents); i += 2 {
		p := filepath.Join(dir, contents[i])
		if err := os.WriteFile(p, []byte(contents[i+1]), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// run runs a command and returns its exit code, stdout and stderr.
func run(cmd func(args []string, stdout, stderr io.Writer, getenv func(string) string) int, env map[string]string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := cmd(args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

func submitCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return SubmitCommand(context.Background(), args, stdout, stderr, getenv)
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestLintCommand(t *testing.T) {
	cfg := files(t, "followthrough.yaml", testConfigYAML)[0]
	badCfg := files(t, "followthrough.yaml", "routes: 3\n")[0]
	paths := files(t,
		"good.md", goodMD,
		"draft.md", strings.Replace(strings.Replace(goodMD, "finalized", "draft", 1), "signed_off_by: carol@acme.com\n", "", 1),
		"bad.md", strings.Replace(strings.Replace(strings.Replace(goodMD, "| P1 |", "| High |", 1), "| bob-gh |", "| Bob Smith |", 1), "team: payments", "team: search", 1),
		"bad.json", "{\n  \"id\": \"PM-J\",\n  \"title\": \"t\",\n  \"status\": \"finalized\",\n  \"signed_off_by\": [\"c\"],\n  \"action_items\": [\n    {\"id\": \"a\", \"title\": \"t\", \"owner\": \"o@acme.com\",\n     \"due\": \"soon\", \"ticket\": \"https://github.com/a/b/pull/1\"}\n  ]\n}\n",
		"broken.json", "{\n  \"id\": \"x\",\n  oops\n}\n",
		"list.md", "---\nid: PM-L\ntitle: t\nstatus: finalized\nsigned_off_by: c@acme.com\nowner: bob-gh\nseverity: SEV1\n---\n## Follow-ups\n\n- Fix it P1\n- Fix it\n",
	)
	good, draft, bad, badJSON, broken, list := paths[0], paths[1], paths[2], paths[3], paths[4], paths[5]
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // exactly; nil: nothing, unless anyStdout
		stderr string   // a part of it
		// anyStdout leaves stdout to other cases.
		anyStdout bool
	}{
		{"a good file with a configuration", []string{"--config", cfg, good}, 0, nil, "", false},
		{"flags after files", []string{good, "--config", cfg}, 0, nil, "", false},
		{"without a configuration: a warning", []string{good}, 0, []string{
			good + ":1: warning: no configuration (--config): owners are not mapped through people, ticket URLs are not checked against the trackers' hosts, and routes are not checked",
		}, "", false},
		{"a draft without sign-off is only warned about", []string{"--config", cfg, draft}, 0, []string{
			draft + ":1: warning: signed_off_by: required: at least one person must sign off (intake refuses the document until it is finalized and signed off)",
			draft + `:4: warning: status: must be "finalized", not "draft": only finalized postmortems are accepted (intake refuses the document until it is finalized and signed off)`,
		}, "", false},
		{"problems and warnings in the order of the file", []string{"--config", cfg, bad}, 2, []string{
			bad + ":14: action_items[0].priority: must be one of P0, P1, P2, P3, not \"High\"",
			bad + `:14: action_items[0].tracker: no route for action item "AI-1": give it a tracker, or add a route for team "search", severity "" or its labels`,
			bad + `:14: warning: owner "Bob Smith" is not an email and not in people: the ticket gets no assignee`,
			bad + `:15: action_items[1].tracker: no route for action item "AI-2": give it a tracker, or add a route for team "search", severity "" or its labels`,
		}, "", false},
		{"JSON problems on their lines", []string{"--config", cfg, badJSON}, 2, []string{
			badJSON + `:8: action_items[0].due: must be a date as YYYY-MM-DD, not "soon"`,
			badJSON + `:8: action_items[0].ticket: "https://github.com/a/b/pull/1" is a pull request, not a ticket: name an issue`,
		}, "", false},
		{"JSON that is not JSON", []string{"--config", cfg, broken}, 2, []string{
			broken + ":3: document: malformed JSON: invalid character 'o' looking for beginning of object key string",
		}, "", false},
		{"derived ids are warned about, one per item", []string{"--config", cfg, list}, 0, []string{
			list + `:11: warning: id "fix-it" is derived from the title: renaming the item closes its ticket and opens a new one (an ID column keeps ids stable)`,
			list + `:12: warning: id "fix-it-2" is derived from the title: renaming the item closes its ticket and opens a new one (an ID column keeps ids stable)`,
		}, "", false},
		{"every file is checked; one problem is enough", []string{"--config", cfg, good, bad}, 2, nil, "", true},
		{"a file that cannot be read", []string{"--config", cfg, filepath.Join(t.TempDir(), "gone.md")}, 2, nil, "", true},
		{"a file of another kind is a usage error", []string{"--config", cfg, good, "notes.txt"}, 2, nil, "notes.txt: not a postmortem file", false},
		{"no file", []string{"--config", cfg}, 2, nil, "give at least one FILE", false},
		{"a configuration with problems", []string{"--config", badCfg, good}, 2, nil, "routes", false},
		{"an unknown flag", []string{"--strict", good}, 2, nil, "flag provided but not defined", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			code, stdout, stderr := run(LintCommand, env, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			if !tt.anyStdout && !slices.Equal(lines(stdout), tt.stdout) {
				t.Errorf("stdout:\n%s\nwant\n%s", stdout, strings.Join(tt.stdout, "\n"))
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderr)
			}
		})
	}
	// The configuration may come from FOLLOWTHROUGH_CONFIG.
	if code, stdout, _ := run(LintCommand, map[string]string{"FOLLOWTHROUGH_CONFIG": cfg}, good); code != 0 || stdout != "" {
		t.Errorf("with FOLLOWTHROUGH_CONFIG: exit %d, %q", code, stdout)
	}
	// The missing file names itself once and says why.
	gone := filepath.Join(t.TempDir(), "gone.md")
	if _, stdout, _ := run(LintCommand, nil, gone); !strings.HasPrefix(stdout, gone+":1: document: cannot read: no such file or directory") {
		t.Errorf("missing file: %q", stdout)
	}
}

func TestSubmitDryRun(t *testing.T) {
	paths := files(t,
		"good.md", goodMD,
		"draft.md", strings.Replace(goodMD, "finalized", "draft", 1),
		"pm.json", `{"id":"PM-J","title":"t","status":"finalized","signed_off_by":["c"],"action_items":[{"id":"a","title":" t ","owner":"o"}]}`,
	)
	code, stdout, stderr := run(submitCmd, nil, append([]string{"--dry-run"}, paths...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	got := lines(stdout)
	if len(got) != 3 {
		t.Fatalf("stdout has %d lines, want one per file:\n%s", len(got), stdout)
	}
	var docs []ft.Document
	for _, l := range got {
		var d ft.Document
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("not a line of JSON: %q: %v", l, err)
		}
		docs = append(docs, d)
	}
	want0 := ft.Document{ID: "PM-CLI-1", Title: "Search outage", Status: "finalized", Team: "payments", SignedOffBy: []string{"carol@acme.com"},
		ActionItems: []ft.ActionItem{
			{ID: "AI-1", Title: "Cache the search index", Owner: "bob-gh", Priority: "P1"},
			{ID: "AI-2", Title: "Page on index lag", Owner: "alice@acme.com", Priority: "P2"},
		}}
	if docs[0].Hash() != want0.Hash() {
		t.Errorf("good.md became %s", got[0])
	}
	if docs[1].Status != "draft" || docs[2].ActionItems[0].Title != "t" || docs[2].ActionItems[0].Priority != "P2" {
		t.Errorf("draft and JSON became\n%s\n%s", got[1], got[2])
	}
	// A file with problems prints none on stdout, its problems on stderr, and exits 2.
	bad := files(t, "bad.md", strings.Replace(goodMD, "| P1 |", "| High |", 1))[0]
	code, stdout, stderr = run(submitCmd, nil, "--dry-run", bad, paths[0])
	if code != 2 || len(lines(stdout)) != 1 || !strings.Contains(stderr, bad+":14: action_items[0].priority") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestSubmitUsage(t *testing.T) {
	good := files(t, "good.md", goodMD)[0]
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		stderr string
	}{
		{"no URL", nil, []string{"--token", "t", good}, "--url"},
		{"no credential", map[string]string{"FOLLOWTHROUGH_URL": "http://127.0.0.1:1"}, []string{good}, "no credential"},
		{"both credentials", nil, []string{"--url", "http://x", "--token", "t", "--secret", testSecret, good}, "not both"},
		{"both in the environment", map[string]string{"FOLLOWTHROUGH_URL": "http://x", "FOLLOWTHROUGH_TOKEN": "t", "FOLLOWTHROUGH_SECRET": testSecret}, []string{good}, "both set"},
		{"a bad secret", nil, []string{"--url", "http://x", "--secret", "whsec_not base64!", good}, "--secret: must be whsec_"},
		{"a bad URL", nil, []string{"--url", "ft.example.com", "--token", "t", good}, "--url"},
		{"a file of another kind", nil, []string{"--url", "http://x", "--token", "t", "postmortem.txt"}, "not a postmortem file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(submitCmd, tt.env, tt.args...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, tt.stderr)
			}
			if strings.Contains(stderr, "whsec_not") {
				t.Errorf("the secret was printed: %q", stderr)
			}
		})
	}
}

// startService runs the whole service in this process on 127.0.0.1:0 with a temporary SQLite
// database and a GitHub stand-in, and returns its base URL.
func startService(t *testing.T) string {
	t.Helper()
	gh := githubfake.New(githubfake.Options{})
	t.Cleanup(gh.Close)
	dir := t.TempDir()
	yaml := `listen: 127.0.0.1:0
database: ` + filepath.Join(dir, "ft.db") + `
intake:
  secret: ` + testSecret + `
  tokens: [` + testToken + `]
github:
  api_url: ` + gh.URL() + `
  token: ` + githubfake.DefaultToken + `
  write_interval: 0s
routes:
  - when: { team: payments }
    to: { kind: github, repo: acme/payments }
  - when: { severity: SEV1 }
    to: { kind: github, repo: acme/sev1 }
people:
  - { email: bob@acme.com, github: bob-gh }
`
	cfg, err := config.Parse(filepath.Join(dir, "followthrough.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service: %v", err)
		}
	})
	return "http://" + a.Addr()
}

// TestSubmitToService sends files to a real service, signed with --secret and with a token from
// the environment, and prints one line per file.
func TestSubmitToService(t *testing.T) {
	base := startService(t)
	revised := strings.Replace(goodMD, "Page on index lag", "Page on index lag and errors", 1)
	paths := files(t,
		"good.md", goodMD,
		"draft.md", strings.Replace(strings.Replace(goodMD, "finalized", "draft", 1), "PM-CLI-1", "PM-CLI-2", 1),
		"refused.md", strings.Replace(strings.Replace(goodMD, "PM-CLI-1", "PM-CLI-3", 1), "team: payments", "team: search", 1),
		"duplicate.md", strings.Replace(strings.Replace(goodMD, "PM-CLI-1", "PM-CLI-4", 1), "| AI-2 |", "| AI-1 |", 1),
		"pm.json", `{"id":"PM-CLI-J","title":"t","status":"finalized","team":"payments","signed_off_by":["c"],"action_items":[{"id":"a","title":"t","owner":"o@acme.com"}]}`,
		"revised.md", revised,
	)
	good, draft, refused, duplicate, pmJSON, rev := paths[0], paths[1], paths[2], paths[3], paths[4], paths[5]

	// Signed with the secret. The service routes nothing of team search, which lint without a
	// configuration cannot know: it refuses that file, naming the lines. A duplicate id is
	// found before sending.
	code, stdout, stderr := run(submitCmd, nil, "--url", base, "--secret", testSecret, good, draft, refused, duplicate, pmJSON)
	want := []string{
		good + ": PM-CLI-1 accepted",
		draft + ": PM-CLI-2 skipped: status is draft",
		refused + ": PM-CLI-3 refused (422): some action items have nowhere to go",
		refused + `:14: action_items[0].tracker: no route for action item "AI-1": give it a tracker, or add a route for team "search", severity "" or its labels`,
		refused + `:15: action_items[1].tracker: no route for action item "AI-2": give it a tracker, or add a route for team "search", severity "" or its labels`,
		duplicate + ": PM-CLI-4 not sent: 1 problem",
		duplicate + `:15: action_items[1].id: duplicate: "AI-1" is also the id of action_items[0]`,
		pmJSON + ": PM-CLI-J accepted",
	}
	if code != 2 || !slices.Equal(lines(stdout), want) {
		t.Fatalf("exit %d\nstdout:\n%s\nwant\n%s\nstderr:\n%s", code, stdout, strings.Join(want, "\n"), stderr)
	}
	if !strings.Contains(stderr, draft+`:4: warning: status: must be "finalized"`) {
		t.Errorf("the draft's warning is not on stderr:\n%s", stderr)
	}
	// A refusal alone exits 1.
	if code, _, _ := run(submitCmd, nil, "--url", base, "--secret", testSecret, refused); code != 1 {
		t.Errorf("refused: exit %d, want 1", code)
	}

	env := map[string]string{"FOLLOWTHROUGH_URL": base + "/v1/", "FOLLOWTHROUGH_TOKEN": testToken}
	code, stdout, stderr = run(submitCmd, env, good, pmJSON)
	if code != 0 || !slices.Equal(lines(stdout), []string{good + ": PM-CLI-1 unchanged", pmJSON + ": PM-CLI-J unchanged"}) {
		t.Fatalf("again: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = run(submitCmd, env, rev)
	if code != 0 || stdout != rev+": PM-CLI-1 revised\n" {
		t.Fatalf("revised: exit %d %q", code, stdout)
	}
	code, stdout, _ = run(submitCmd, map[string]string{"FOLLOWTHROUGH_URL": base, "FOLLOWTHROUGH_TOKEN": "wrong"}, good)
	if code != 1 || !strings.HasPrefix(stdout, good+": PM-CLI-1 refused (401): ") {
		t.Fatalf("bad token: exit %d %q", code, stdout)
	}
}

// TestSubmitRetries: 5xx answers and network errors are tried again with backoff; a signed
// delivery keeps its webhook-id (with a fresh timestamp and signature); a 4xx is final.
func TestSubmitRetries(t *testing.T) {
	var mu sync.Mutex
	var ids, stamps []string
	answers := []int{http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusAccepted}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, r.Header.Get("webhook-id"))
		stamps = append(stamps, r.Header.Get("webhook-timestamp"))
		if r.Header.Get("webhook-signature") == "" || r.Header.Get("Content-Type") != "text/markdown; charset=utf-8" {
			t.Errorf("unsigned or mistyped delivery: %v", r.Header)
		}
		status := answers[min(len(ids), len(answers))-1]
		w.WriteHeader(status)
		if status >= 500 {
			io.WriteString(w, `{"error":"try later"}`)
		}
	}))
	defer srv.Close()
	fast := func() retry.Backoff { return retry.WithMaxRetries(5, retry.NewConstant(time.Millisecond)) }
	clock := time.Unix(1_800_000_000, 0)
	s := &Submitter{URL: srv.URL, Secret: testSecret, Backoff: fast, Now: func() time.Time { clock = clock.Add(time.Second); return clock }}
	r := Linter{}.Lint("good.md", Markdown, []byte(goodMD))
	if out := s.Send(context.Background(), r); out.Result != "accepted" {
		t.Fatalf("outcome %+v", out)
	}
	if len(ids) != 3 || ids[0] == "" || ids[0] != ids[1] || ids[1] != ids[2] || stamps[0] == stamps[2] {
		t.Errorf("webhook-ids %q, timestamps %q: want one id over three attempts, fresh timestamps", ids, stamps)
	}

	// A 422 is not tried again.
	answers, ids = []int{http.StatusUnprocessableEntity}, nil
	if out := s.Send(context.Background(), r); out.Result != "refused" || out.Status != 422 || len(ids) != 1 {
		t.Errorf("422: outcome %+v after %d attempts", out, len(ids))
	}
	// 5xx until the backoff gives up: failed, with the last answer.
	answers, ids = []int{http.StatusInternalServerError}, nil
	if out := s.Send(context.Background(), r); out.Result != "failed" || !strings.Contains(out.Error, "500: try later") || len(ids) != 6 {
		t.Errorf("500s: outcome %+v after %d attempts", out, len(ids))
	}
	// Nobody listening: failed, naming why.
	srv.Close()
	if out := s.Send(context.Background(), r); out.Result != "failed" || !strings.Contains(out.Error, "connect") {
		t.Errorf("no service: %+v", out)
	}
}

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
