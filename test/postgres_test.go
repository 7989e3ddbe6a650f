package test

// End-to-end tests of what PostgreSQL adds: several serve processes sharing one database,
// copy-db between SQLite and PostgreSQL, and the database URL kept secret.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/followthrough/followthrough/internal/pgtest"
)

// tryDo is server.do for a server that may be gone: it reports a failed request instead of
// failing the test, so goroutines may call it.
func (s *server) tryDo(method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// periodicMetrics is what a process's /metrics says of the periodic work.
type periodicMetrics struct {
	leader            bool
	process           string
	reconciles, scans float64
}

// periodic reads the periodic work's metrics; ok is false when the server does not answer.
func (s *server) periodic() (m periodicMetrics, ok bool) {
	code, body, err := s.tryDo(http.MethodGet, "/metrics", nil)
	if err != nil || code != http.StatusOK {
		return m, false
	}
	for _, line := range strings.Split(string(body), "\n") {
		name, value, found := strings.Cut(line, " ")
		if !found || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, `followthrough_periodic_leader{process="`):
			m.leader = v == 1
			m.process = strings.TrimSuffix(strings.TrimPrefix(name, `followthrough_periodic_leader{process="`), `"}`)
		case name == `followthrough_periodic_runs_total{work="reconcile"}`:
			m.reconciles = v
		case name == `followthrough_periodic_runs_total{work="stall"}`:
			m.scans = v
		}
	}
	return m, true
}

// TestTwoReplicasShareOnePostgres: two serve processes on one PostgreSQL schema, clients
// spreading 200 postmortems over both (a load balancer's retry sends a request the first
// could not answer to the other) while GitHub answers slowly; the leader of the periodic work
// is SIGKILLed mid-burst and nothing is restarted. Every acknowledged postmortem is there,
// every item ends with exactly one ticket, the survivor takes the dead one's leased jobs after
// their lease, and reconciliation and stall scans run on one process at a time throughout:
// their runs are counted from both processes' /metrics, and GitHub's reconcile calls do not
// double with two processes. The same postmortem posted to both at once gets one 202 and one
// 200.
func TestTwoReplicasShareOnePostgres(t *testing.T) {
	e := newTrackerEnv(t, envOptions{backend: postgresBackend, reconcile: "1s", stall: []string{"scan_every: 1s"}})
	a := e.start()
	eventually(t, 10*time.Second, "the first process leads the periodic work", func() bool {
		m, _ := a.periodic()
		return m.leader && m.reconciles > 0 && m.scans > 0
	})
	addrB := freeAddr(t)
	b := start(t, addrB, "serve", "--config", e.cfg, "--listen", addrB)

	// Every 100 ms, both processes' periodic work: never two leaders, and the runs of each.
	type sample struct {
		at         time.Time
		a, b       periodicMetrics
		aOK, bOK   bool
		aliveA     bool
		bothLeader bool
	}
	var (
		samplesMu sync.Mutex
		samples   []sample
		aDead     atomic.Bool
	)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			s := sample{at: time.Now(), aliveA: !aDead.Load()}
			if s.aliveA {
				s.a, s.aOK = a.periodic()
			}
			s.b, s.bOK = b.periodic()
			s.bothLeader = s.a.leader && s.b.leader
			samplesMu.Lock()
			samples = append(samples, s)
			samplesMu.Unlock()
		}
	}()

	// One ticket to reconcile; then a quiet spell with both processes up: GitHub is asked about
	// the repository about once a second, not twice.
	e.s = b
	e.post(newPM("PM-WARM", "Warm up", aiDoc{ID: "AI-1", Title: "Warm up", Owner: "bob@acme.com", Priority: "P2"}), http.StatusAccepted)
	e.waitLinked("PM-WARM", 20*time.Second)
	// The same postmortem posted to both processes at once: one 202 and one 200.
	twice := postmortemJSON("PM-TWICE", 2)
	codes := make(chan int, 2)
	for _, s := range []*server{a, b} {
		go func() {
			code, body, err := s.tryDo(http.MethodPost, "/v1/postmortems", twice)
			if err != nil {
				t.Errorf("POST PM-TWICE: %v", err)
			} else if code != http.StatusAccepted && code != http.StatusOK {
				t.Errorf("POST PM-TWICE = %d: %s", code, body)
			}
			codes <- code
		}()
	}
	if c1, c2 := <-codes, <-codes; c1+c2 != http.StatusAccepted+http.StatusOK {
		t.Errorf("the same postmortem posted to both processes at once: %d and %d, want one 202 and one 200", c1, c2)
	}
	e.waitLinked("PM-TWICE", 20*time.Second)
	listPath := "/repos/" + defaultRepo + "/issues"
	e.gh.ResetCalls()
	const quiet = 5 * time.Second
	time.Sleep(quiet)
	if n := e.gh.Calls(http.MethodGet, listPath); n > int(quiet/time.Second)+2 {
		t.Errorf("%d calls to list %s in %s with reconcile.every 1s and two processes: more than one process reconciles", n, defaultRepo, quiet)
	} else {
		t.Logf("%d reconcile calls to GitHub in %s with two processes and reconcile.every 1s", n, quiet)
	}

	// The burst, with creates answered slowly so that jobs are leased when the kill lands.
	e.gh.SetLatency(300 * time.Millisecond)
	const n = 200
	var (
		mu    sync.Mutex
		acked = map[string]int{}
	)
	killAt := make(chan struct{})
	var killOnce sync.Once
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			id := fmt.Sprintf("PM-REPLICA-%03d", i)
			items := 1 + i%3
			body := postmortemJSON(id, items)
			first, second := a, b
			if i%2 == 1 {
				first, second = b, a
			}
			code, resp, err := first.tryDo(http.MethodPost, "/v1/postmortems", body)
			if err != nil {
				// The process is gone: the load balancer sends the request to the other.
				code, resp, err = second.tryDo(http.MethodPost, "/v1/postmortems", body)
			}
			if err != nil || (code != http.StatusAccepted && code != http.StatusOK) {
				t.Errorf("POST %s = %d %v: %s", id, code, err, resp)
				return
			}
			mu.Lock()
			acked[id] = items
			if len(acked) == n/2 {
				killOnce.Do(func() { close(killAt) })
			}
			mu.Unlock()
		}()
	}
	<-killAt
	// Half the burst is acknowledged: the kill lands as soon as the first process holds a
	// lease, so that there is claimed work to pass on.
	host, _ := os.Hostname()
	deadOwner := fmt.Sprintf("%s/%d/", host, a.cmd.Process.Pid)
	conn := openDatabase(t, e.db)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var held int
		if err := conn.QueryRow(`SELECT COUNT(*) FROM outbox WHERE lease_owner LIKE $1 AND done_at IS NULL AND failed_at IS NULL`,
			deadOwner+"%").Scan(&held); err != nil {
			t.Fatal(err)
		}
		if held > 0 {
			break
		}
	}
	a.kill()
	aDead.Store(true)
	killedAt := time.Now()
	// The jobs the dead process had leased, straight from the database.
	type leasedJob struct {
		id    int64
		until time.Time
	}
	var leased []leasedJob
	rows, err := conn.Query(`SELECT id, lease_until FROM outbox
		WHERE lease_owner LIKE $1 AND done_at IS NULL AND failed_at IS NULL`, deadOwner+"%")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var j leasedJob
		var until string
		if err := rows.Scan(&j.id, &until); err != nil {
			t.Fatal(err)
		}
		if j.until, err = time.Parse(time.RFC3339Nano, until); err != nil {
			t.Fatal(err)
		}
		leased = append(leased, j)
	}
	rows.Close()
	wg.Wait()
	if len(acked) != n {
		t.Fatalf("%d of %d postmortems acknowledged", len(acked), n)
	}
	if len(leased) == 0 {
		t.Fatal("the killed process held no lease when it died: slow the stand-ins down")
	}
	t.Logf("killed the leader with %d jobs leased to it, after half of %d postmortems were acknowledged", len(leased), n)

	// The survivor finishes everything, the dead one's leased jobs after their leases.
	e.gh.SetLatency(0)
	eventually(t, 120*time.Second, "every postmortem's items linked", func() bool { return allLinked(t, b, acked) })
	b.waitIdle(60 * time.Second)
	for _, j := range leased {
		var done string
		if err := conn.QueryRow(`SELECT COALESCE(done_at, '') FROM outbox WHERE id = $1`, j.id).Scan(&done); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, done)
		if err != nil {
			t.Errorf("job %d, leased to the killed process, is not done: %q", j.id, done)
			continue
		}
		if at.Before(j.until) {
			t.Errorf("job %d was done at %s, before the killed process's lease ended at %s", j.id, at, j.until)
		}
		// CONTRACT: a dead process's claimed work passes to the others within 60 s.
		if passed := at.Sub(killedAt); passed > 60*time.Second {
			t.Errorf("job %d, leased to the killed process, was done %s after the kill; the contract says within 60 s", j.id, passed)
		}
	}

	// Every postmortem in the database (acknowledged, and any the kill cut off before it was
	// answered) has each item linked to exactly one ticket, and GitHub has no other.
	var list struct {
		Postmortems []struct{ ID string }
	}
	b.getJSON("/v1/postmortems?limit=500", testToken, &list)
	present := map[string]bool{}
	for _, pm := range list.Postmortems {
		present[pm.ID] = true
	}
	items := 0
	for id := range present {
		v := e.get(id)
		for _, it := range v.Items {
			if it.Sync != "linked" || it.Ticket == nil {
				t.Errorf("%s/%s: sync %s, ticket %v", id, it.ID, it.Sync, it.Ticket)
			}
			items++
		}
	}
	for id := range acked {
		if !present[id] {
			t.Errorf("acknowledged %s is not there", id)
		}
	}
	markers := map[string]int{}
	issues := e.gh.Issues(defaultRepo)
	for _, is := range issues {
		markers[is.Title]++
	}
	for title, c := range markers {
		if c > 1 {
			t.Errorf("%d GitHub issues titled %q", c, title)
		}
	}
	if len(issues) != items {
		t.Errorf("%d issues at GitHub for %d items", len(issues), items)
	}

	// The periodic work: one leader at a time throughout; the survivor took over after the kill.
	close(stopSampling)
	<-sampled
	var aRunsAtKill, bRunsBeforeKill float64
	tookOver := time.Time{}
	for _, s := range samples {
		if s.bothLeader {
			t.Errorf("at %s both processes lead the periodic work", s.at.Format(time.RFC3339Nano))
		}
		if s.aliveA && s.bOK {
			bRunsBeforeKill = max(bRunsBeforeKill, s.b.reconciles+s.b.scans)
		}
		if s.aliveA && s.aOK {
			aRunsAtKill = max(aRunsAtKill, s.a.reconciles+s.a.scans)
		}
		if !s.aliveA && s.b.leader && tookOver.IsZero() {
			tookOver = s.at
		}
	}
	final, _ := b.periodic()
	t.Logf("periodic runs: the killed process %.0f before the kill, the survivor %.0f before and %.0f reconciles + %.0f scans in all (took over %s after the kill)",
		aRunsAtKill, bRunsBeforeKill, final.reconciles, final.scans, tookOver.Sub(killedAt).Round(time.Millisecond))
	if aRunsAtKill == 0 {
		t.Error("the first process never ran the periodic work")
	}
	if bRunsBeforeKill != 0 {
		t.Errorf("the second process ran the periodic work %.0f times while the first led it", bRunsBeforeKill)
	}
	if tookOver.IsZero() || tookOver.Sub(killedAt) > 60*time.Second || final.reconciles == 0 || final.scans == 0 {
		t.Errorf("the survivor did not take the periodic work over within 60 s: took over %v after, %+v", tookOver.Sub(killedAt), final)
	}
	if got := strings.Count(b.stderr.String(), `"msg":"leading the periodic work"`); got != 1 {
		t.Errorf("the survivor logged taking the lead %d times, want once", got)
	}
	if got := strings.Count(a.stderr.String(), `"msg":"leading the periodic work"`); got != 1 {
		t.Errorf("the killed process logged taking the lead %d times, want once", got)
	}
}

// asOf is the time a page's figures were computed.
var asOf = regexp.MustCompile(`"as_of":"[^"]*"`)

// TestCopyDBRoundTrip: a SQLite database copied to PostgreSQL and back to SQLite gives the same
// API answers for every postmortem, and its pages' figures.
func TestCopyDBRoundTrip(t *testing.T) {
	e := newTrackerEnv(t, envOptions{})
	e.start()
	var ids []string
	for i := range 6 {
		id := fmt.Sprintf("PM-COPY-%d", i)
		ids = append(ids, id)
		doc := newPM(id, "Copy "+id,
			aiDoc{ID: "AI-1", Title: "GitHub work of " + id, Owner: "bob@acme.com", Priority: "P1", Due: "2027-01-15"},
			aiDoc{ID: "AI-2", Title: "Jira work of " + id, Owner: "alice@acme.com", Priority: "P2", Team: "payments"})
		e.post(doc, http.StatusAccepted)
		e.waitLinked(id, 20*time.Second)
	}
	// Some history: statuses set through the API.
	for _, c := range []struct{ pm, item, status string }{{ids[0], "AI-1", "done"}, {ids[1], "AI-2", "in_progress"}, {ids[2], "AI-1", "wont_do"}} {
		if code, body := e.s.do(http.MethodPatch, "/v1/postmortems/"+c.pm+"/items/"+c.item, testToken,
			[]byte(fmt.Sprintf(`{"status":%q}`, c.status))); code != http.StatusOK {
			t.Fatalf("PATCH %s/%s = %d: %s", c.pm, c.item, code, body)
		}
	}
	e.s.waitIdle(20 * time.Second)
	answers := func(s *server) map[string]string {
		out := map[string]string{}
		paths := []string{"/v1/postmortems?limit=500", "/insights?format=json", "/owners?format=json"}
		for _, id := range ids {
			paths = append(paths, "/v1/postmortems/"+id, "/postmortems/"+id+"?format=json")
		}
		for _, p := range paths {
			code, body := s.do(http.MethodGet, p, testToken, nil)
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d: %s", p, code, body)
			}
			// The figures say when they were computed; nothing else may differ.
			out[p] = asOf.ReplaceAllString(string(body), `"as_of":"(now)"`)
		}
		return out
	}
	want := answers(e.s)
	e.s.stop()

	copyDB := func(from, to string) {
		t.Helper()
		out, err := exec.Command(binary, "copy-db", "--from", from, "--to", to).CombinedOutput()
		if err != nil {
			t.Fatalf("copy-db --from %s --to %s: %v\n%s", from, to, err, out)
		}
		if !strings.Contains(string(out), "the row counts of all") {
			t.Fatalf("copy-db said:\n%s", out)
		}
	}
	pg := pgtest.URL(t)
	back := filepath.Join(t.TempDir(), "back.db")
	for _, hop := range [][2]string{{e.db, pg}, {pg, back}} {
		copyDB(hop[0], hop[1])
		s := start(t, e.addr, "serve", "--config", e.cfg, "--db", hop[1])
		got := answers(s)
		for p, body := range want {
			if got[p] != body {
				t.Errorf("after copying to %s, GET %s answers\n%s\nwant\n%s", hop[1], p, got[p], body)
			}
		}
		s.stop()
	}
	// Again into the PostgreSQL copy, which has rows now: refused with exit 1; and without a
	// target: a usage error.
	out, err := exec.Command(binary, "copy-db", "--from", e.db, "--to", pg).CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "not empty") {
		t.Errorf("copy-db into a database with rows: %v, want exit 1 saying it is not empty:\n%s", err, out)
	}
	if out, err := exec.Command(binary, "copy-db", "--from", e.db).CombinedOutput(); exitCode(err) != 2 {
		t.Errorf("copy-db without --to: %v, want exit 2:\n%s", err, out)
	}
}

// TestDatabasePasswordNeverPrinted: a database URL with a password, given in the file or
// through database_file, is accepted by check-config; a server, migrate and copy-db that cannot
// connect with it fail without printing the password, and so does check-config on a URL that
// cannot be read.
func TestDatabasePasswordNeverPrinted(t *testing.T) {
	const password = "e2e-db-Secret-pw"
	dir := t.TempDir()
	unreachable := "postgres://ft:" + password + "@127.0.0.1:1/ft?sslmode=disable&connect_timeout=2"
	if err := os.WriteFile(filepath.Join(dir, "db-url"), []byte(unreachable+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inline := writeConfig(t, fmt.Sprintf("listen: %s\ndatabase: %q\nintake:\n  tokens: [t]\n", freeAddr(t), unreachable))
	fromFile := filepath.Join(dir, "ft.yaml")
	if err := os.WriteFile(fromFile, []byte("listen: "+freeAddr(t)+"\ndatabase_file: db-url\nintake:\n  tokens: [t]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badURL := writeConfig(t, "database: 'postgres://ft:"+password+"@db.example.com:port/ft'\nintake:\n  tokens: [t]\n")
	// A source to copy from, so that the copy gets as far as the target.
	source := filepath.Join(dir, "source.db")
	if out, err := exec.Command(binary, "migrate", "--db", source).CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"check-config accepts a URL", []string{"check-config", "--config", inline}, 0},
		{"check-config accepts database_file", []string{"check-config", "--config", fromFile}, 0},
		{"check-config on a URL that cannot be read", []string{"check-config", "--config", badURL}, 2},
		{"serve", []string{"serve", "--config", inline}, 1},
		{"serve, database_file", []string{"serve", "--config", fromFile}, 1},
		{"serve --db", []string{"serve", "--config", inline, "--db", unreachable}, 1},
		{"migrate", []string{"migrate", "--db", unreachable}, 1},
		{"copy-db from", []string{"copy-db", "--from", unreachable, "--to", filepath.Join(dir, "to.db")}, 1},
		{"copy-db to", []string{"copy-db", "--from", source, "--to", unreachable}, 1},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, binary, c.args...)
		cmd.Env = append(os.Environ(), "FOLLOWTHROUGH_CONFIG=")
		out, err := cmd.CombinedOutput()
		cancel()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if code != c.code {
			t.Errorf("%s: exit %d, want %d:\n%s", c.name, code, c.code, out)
		}
		if strings.Contains(string(out), password) || strings.Contains(string(out), url.QueryEscape(password)) {
			t.Errorf("%s prints the database password:\n%s", c.name, out)
		}
		if c.code != 0 && len(out) == 0 {
			t.Errorf("%s: failed without a word", c.name)
		}
	}
}
