package test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

const testToken = "e2e-token-0123456789"

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listen: 127.0.0.1:1\nbogus: 1\ngithub:\n  token: ${FT_E2E_UNSET_VAR}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noAuth := filepath.Join(dir, "noauth.yaml")
	if err := os.WriteFile(noAuth, []byte("listen: 127.0.0.1:0\ndatabase: "+filepath.Join(dir, "x.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := writeConfig(t, "database: "+filepath.Join(dir, "cfg.db")+"\nintake:\n  tokens: [t]\n")
	overridden := writeConfig(t, "database: "+filepath.Join(dir, "never.db")+"\nintake:\n  tokens: [t]\n")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name      string
		env       string // FOLLOWTHROUGH_CONFIG
		args      []string
		code      int
		stdout    []string // each must appear
		combined  []string
		everyLine string   // a pattern every stdout line matches
		files     []string // exist afterwards
		absent    []string // do not
	}{
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"followthrough"}},
		{name: "no command", args: nil, code: 2},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2},
		{name: "bad flag", args: []string{"serve", "--nope"}, code: 2},
		{name: "check-config problems", args: []string{"check-config", "--config", bad}, code: 2,
			stdout:    []string{bad + ": bogus: ", bad + ": github.token: ", "FT_E2E_UNSET_VAR"},
			everyLine: `^` + regexp.QuoteMeta(bad) + `: [a-z_]+(\.[a-z_]+)*: \S.*$`},
		{name: "check-config from FOLLOWTHROUGH_CONFIG", env: bad, args: []string{"check-config"}, code: 2,
			stdout: []string{bad + ": bogus: "}},
		{name: "check-config ok", args: []string{"check-config", "--config", good}, code: 0, stdout: []string{good}},
		{name: "no config anywhere", args: []string{"check-config"}, code: 2, combined: []string{"FOLLOWTHROUGH_CONFIG"}},
		{name: "serve refuses an open API", args: []string{"serve", "--config", noAuth}, code: 2, combined: []string{"intake"}},
		{name: "check-config reports an open API", args: []string{"check-config", "--config", noAuth}, code: 2,
			stdout: []string{noAuth + ": intake: set tokens or secret"}},
		{name: "version takes no flags", args: []string{"version", "--x"}, code: 2},
		{name: "missing config file", args: []string{"check-config", "--config", filepath.Join(dir, "nope.yaml")}, code: 2},
		{name: "bad --listen", args: []string{"serve", "--dev", "--listen", "nonsense"}, code: 2, combined: []string{"--listen"}},
		{name: "--dev with --config", args: []string{"serve", "--dev", "--config", bad}, code: 2, combined: []string{"--config"}},
		{name: "migrate", args: []string{"migrate", "--db", filepath.Join(dir, "m.db")}, code: 0,
			files: []string{filepath.Join(dir, "m.db")}},
		{name: "migrate from FOLLOWTHROUGH_CONFIG", env: good, args: []string{"migrate"}, code: 0,
			files: []string{filepath.Join(dir, "cfg.db")}},
		{name: "migrate --db overrides database", env: overridden, args: []string{"migrate", "--db", filepath.Join(dir, "over.db")},
			code: 0, files: []string{filepath.Join(dir, "over.db")}, absent: []string{filepath.Join(dir, "never.db")}},
		{name: "migrate runtime failure", args: []string{"migrate", "--db", filepath.Join(dir, "no", "such", "m.db")}, code: 1},
		{name: "serve runtime failure", args: []string{"serve", "--config", good, "--listen", busy.Addr().String()}, code: 1,
			combined: []string{busy.Addr().String()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary, tc.args...)
			cmd.Env = append(os.Environ(), "FOLLOWTHROUGH_CONFIG="+tc.env)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if got := exitCode(err); got != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", got, tc.code, stdout.String(), stderr.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tc.combined {
				if !strings.Contains(stdout.String()+stderr.String(), want) {
					t.Errorf("output lacks %q:\n%s%s", want, stdout.String(), stderr.String())
				}
			}
			if tc.everyLine != "" {
				re := regexp.MustCompile(tc.everyLine)
				for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
					if !re.MatchString(line) {
						t.Errorf("stdout line %q does not match %s", line, tc.everyLine)
					}
				}
			}
			for _, f := range tc.files {
				if _, err := os.Stat(f); err != nil {
					t.Errorf("want %s: %v", f, err)
				}
			}
			for _, f := range tc.absent {
				if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("want no %s: %v", f, err)
				}
			}
		})
	}
}

// TestServeFlagsOverrideConfig starts serve with its config from FOLLOWTHROUGH_CONFIG, and
// --listen and --db in place of the config's listen and database.
func TestServeFlagsOverrideConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := writeConfig(t, fmt.Sprintf("listen: %s\ndatabase: %s\nintake:\n  tokens: [%q]\n",
		busy.Addr(), filepath.Join(dir, "config.db"), testToken))
	addr, db := freeAddr(t), filepath.Join(dir, "flag.db")
	s := startEnv(t, addr, cfg, "serve", "--listen", addr, "--db", db)
	var list struct{ Postmortems []struct{ ID string } }
	s.getJSON("/v1/postmortems", testToken, &list) // the config's token: the config was read
	if _, err := os.Stat(db); err != nil {
		t.Errorf("--db %s: %v", db, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the config's database was opened despite --db: %v", err)
	}
}

func TestDevModeLoadsSampleWithTickets(t *testing.T) {
	db := filepath.Join(t.TempDir(), "dev.db")
	cmd := exec.Command(binary, "serve", "--dev", "--listen", "127.0.0.1:0", "--db", db)
	cmd.Env = append(os.Environ(), "FOLLOWTHROUGH_CONFIG=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("stderr:\n%s", tail(stderr.String(), 40))
		}
	})
	lines := readLines(t, stdout, 4)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	for i, prefix := range []string{"status page: http", "api: http", "token: ", "curl: curl "} {
		if !strings.HasPrefix(lines[i], prefix) {
			t.Fatalf("line %d = %q, want prefix %q", i+1, lines[i], prefix)
		}
	}
	// Port 0 prints the port the server got.
	if !regexp.MustCompile(`^status page: http://127\.0\.0\.1:[1-9][0-9]*/$`).MatchString(lines[0]) {
		t.Fatalf("line 1 = %q, want the status page on the real port", lines[0])
	}
	api := strings.TrimPrefix(lines[1], "api: ")
	token := strings.TrimPrefix(lines[2], "token: ")
	s := &server{t: t, base: strings.TrimSuffix(api, "/v1")}
	var pm struct {
		State string
		Items []struct {
			ID     string
			Title  string
			Sync   string
			Ticket *struct{ Kind, Key, URL string }
		}
	}
	eventually(t, 20*time.Second, "every sample item linked to a ticket", func() bool {
		code, body := s.do(http.MethodGet, "/v1/postmortems/PM-2026-042", token, nil)
		if code != http.StatusOK {
			return false
		}
		if err := jsonUnmarshal(body, &pm); err != nil {
			t.Fatal(err)
		}
		for _, it := range pm.Items {
			if it.Sync != "linked" || it.Ticket == nil {
				return false
			}
		}
		return len(pm.Items) == 3
	})
	kinds := map[string]int{}
	for _, it := range pm.Items {
		kinds[it.Ticket.Kind]++
	}
	if kinds["jira"] != 2 || kinds["github"] != 1 {
		t.Fatalf("tickets by tracker = %v; want 2 jira (payments route) and 1 github (own tracker)", kinds)
	}
	// Each ticket's link opens a page of the ticket on the stand-in, without credentials.
	for _, it := range pm.Items {
		resp, err := http.Get(it.Ticket.URL)
		if err != nil {
			t.Fatalf("%s ticket %s: %v", it.ID, it.Ticket.URL, err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if it.Title == "" || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(page), it.Title) {
			t.Errorf("%s ticket %s = %d %q, want a page with %q:\n%s", it.ID, it.Ticket.URL, resp.StatusCode,
				resp.Header.Get("Content-Type"), it.Title, page)
		}
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("--dev --db %s: %v", db, err)
	}
	// The status page answers too.
	resp, err := http.Get(s.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status page = %d", resp.StatusCode)
	}
	// The outbox drains, and /metrics says so.
	eventually(t, 20*time.Second, "the outbox is empty on /metrics", func() bool {
		code, body := s.do(http.MethodGet, "/metrics", "", nil)
		return code == http.StatusOK && strings.Contains(string(body), "followthrough_outbox_pending_jobs 0") &&
			strings.Contains(string(body), "followthrough_outbox_failed_jobs 0")
	})
	// So does what the database's writer did for all that.
	tx, commits := s.metric("followthrough_db_transactions_total"), s.metric("followthrough_db_commits_total")
	busy, committing := s.metric("followthrough_db_writer_busy_seconds_total"), s.metric("followthrough_db_writer_commit_seconds_total")
	if tx < 1 || commits < 1 || committing <= 0 || busy < committing {
		t.Errorf("/metrics: %v transactions in %v commits, writer busy %vs of which committing %vs; want transactions, commits, and time committing within the writer's",
			tx, commits, busy, committing)
	}
}

// TestKillAfterAcknowledgedBurst SIGKILLs the server right after a burst of 202s and checks that
// every acknowledged postmortem and its outbox entries are in the database, and served after a
// restart.
func TestKillAfterAcknowledgedBurst(t *testing.T) { forEachBackend(t, testKillAfterAcknowledgedBurst) }

func testKillAfterAcknowledgedBurst(t *testing.T, b backend) {
	e := newTrackerEnv(t, envOptions{backend: b})
	gh := e.gh
	// Slow trackers keep the worker busy, so the kill lands while tickets are still queued.
	gh.SetLatency(200 * time.Millisecond)
	s := e.start()

	const n = 120
	var mu sync.Mutex
	acked := map[string]int{} // postmortem id -> item count
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			id := fmt.Sprintf("PM-KILL-%03d", i)
			items := 1 + i%3
			code, body := s.do(http.MethodPost, "/v1/postmortems", testToken, postmortemJSON(id, items))
			if code != http.StatusAccepted {
				t.Errorf("POST %s = %d: %s", id, code, body)
				return
			}
			mu.Lock()
			acked[id] = items
			mu.Unlock()
		}()
	}
	wg.Wait()
	s.kill()
	if len(acked) != n {
		t.Fatalf("%d of %d acknowledged", len(acked), n)
	}

	// Straight from the database the killed process left.
	conn := openDatabase(t, e.db)
	for id, items := range acked {
		var pms, jobs int
		if err := conn.QueryRow(`SELECT COUNT(*) FROM postmortems WHERE id = $1`, id).Scan(&pms); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(`SELECT COUNT(*) FROM outbox WHERE postmortem_id = $1 AND kind = 'create_ticket'`, id).Scan(&jobs); err != nil {
			t.Fatal(err)
		}
		if pms != 1 || jobs != items {
			t.Errorf("%s: %d rows, %d create jobs; want 1 and %d", id, pms, jobs, items)
		}
	}
	conn.Close()

	// And through the API after a restart; the queued tickets are then made exactly once.
	gh.SetLatency(0)
	s2 := e.start()
	var list struct {
		Postmortems []struct{ ID string }
		NextCursor  string `json:"next_cursor"`
	}
	s2.getJSON("/v1/postmortems?limit=500", testToken, &list)
	if len(list.Postmortems) != n {
		t.Fatalf("after restart the list has %d postmortems, want %d", len(list.Postmortems), n)
	}
	total := 0
	for _, items := range acked {
		total += items
	}
	eventually(t, 60*time.Second, "every item has exactly one ticket", func() bool {
		return len(gh.Issues(defaultRepo)) >= total && allLinked(t, s2, acked)
	})
	if issues := gh.Issues(defaultRepo); len(issues) != total {
		seen := map[string]int{}
		for _, is := range issues {
			seen[is.Title]++
		}
		for title, n := range seen {
			if n > 1 {
				t.Errorf("%d issues titled %q", n, title)
			}
		}
		t.Fatalf("%d issues at GitHub, want exactly %d", len(issues), total)
	}
	s2.stop()
}

func allLinked(t *testing.T, s *server, ids map[string]int) bool {
	for id := range ids {
		var pm struct{ Items []struct{ Sync string } }
		s.getJSON("/v1/postmortems/"+id, testToken, &pm)
		for _, it := range pm.Items {
			if it.Sync != "linked" {
				return false
			}
		}
	}
	return true
}

// postmortemJSON is a finalized postmortem with n action items.
func postmortemJSON(id string, n int) []byte {
	var items []string
	for i := 1; i <= n; i++ {
		items = append(items, fmt.Sprintf(`{"id":"AI-%d","title":"Action %d of %s","owner":"bob@acme.com","priority":"P1","due":"2026-12-15"}`, i, i, id))
	}
	return []byte(fmt.Sprintf(`{"id":%q,"title":"Outage %s","status":"finalized","severity":"SEV2","team":"core",
		"signed_off_by":["carol@acme.com"],"signed_off_at":"2026-11-22T10:00:00Z","action_items":[%s]}`,
		id, id, strings.Join(items, ",")))
}

// TestSIGTERMFinishesInFlightRequests stops the server while clients are posting: it exits 0,
// no request is answered with a server error, and every acknowledged postmortem is there after
// a restart.
func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	forEachBackend(t, testSIGTERMFinishesInFlightRequests)
}

func testSIGTERMFinishesInFlightRequests(t *testing.T, b backend) {
	e := newTrackerEnv(t, envOptions{backend: b})
	s := e.start()

	var mu sync.Mutex
	var acked []string
	var serverErrors []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: checkedTransport(t)}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("PM-TERM-%d-%d", w, i)
				req, _ := http.NewRequest(http.MethodPost, s.base+"/v1/postmortems", strings.NewReader(string(postmortemJSON(id, 2))))
				req.Header.Set("Authorization", "Bearer "+testToken)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					continue // refused once the server stopped listening
				}
				resp.Body.Close()
				mu.Lock()
				switch {
				case resp.StatusCode == http.StatusAccepted:
					acked = append(acked, id)
				case resp.StatusCode >= 500:
					serverErrors = append(serverErrors, fmt.Sprintf("%s: %d", id, resp.StatusCode))
				}
				mu.Unlock()
			}
		}()
	}
	eventually(t, 20*time.Second, "some postmortems acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 40
	})
	s.stop() // SIGTERM while the clients keep posting; exit 0 and an orderly stop
	close(stop)
	wg.Wait()
	if len(serverErrors) > 0 {
		t.Fatalf("server errors during shutdown: %v", serverErrors)
	}
	s2 := e.start()
	for _, id := range acked {
		if code, body := s2.do(http.MethodGet, "/v1/postmortems/"+id, testToken, nil); code != http.StatusOK {
			t.Fatalf("acknowledged %s is gone after the restart: %d %s", id, code, body)
		}
	}
	t.Logf("%d postmortems acknowledged before and during the stop, all kept", len(acked))
}
