package load

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for PostgreSQL columns

	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

// Where bench's configuration sends tickets: items of team JiraTeam to Jira BenchJiraProject,
// the rest to GitHub BenchRepo.
const (
	BenchRepo        = "acme/postmortem-actions"
	BenchJiraProject = "PAY"
)

// benchPeople maps Owners to logins and accounts, so that no ticket needs a user lookup.
var benchPeople = []string{
	"{ email: bob@acme.com, github: bob-gh, jira: acc-bob }",
	"{ email: alice@acme.com, github: alice-gh, jira: acc-alice }",
	"{ email: carol@acme.com, github: carol-gh, jira: acc-carol }",
}

// Column is what one column of bench measures: a binary, the database its servers keep their
// state in, and how many serve processes share it.
type Column struct {
	Binary string
	// Postgres gives each phase a fresh schema of BenchOptions.Postgres instead of a SQLite file.
	Postgres bool
	Replicas int // serve processes on the one database [1]; more than one needs Postgres
}

// ParseColumn reads a --binary value: PATH (SQLite), PATH@postgres (one process on
// PostgreSQL) or PATH@postgres:N (N processes sharing one PostgreSQL schema).
func ParseColumn(v string) (Column, error) {
	path, db, hasDB := strings.Cut(v, "@")
	c := Column{Binary: path, Replicas: 1}
	if path == "" {
		return c, fmt.Errorf("bench: %q names no binary", v)
	}
	if !hasDB {
		return c, nil
	}
	name, replicas, hasReplicas := strings.Cut(db, ":")
	if name != "postgres" {
		return c, fmt.Errorf("bench: %q: the database after @ must be postgres", v)
	}
	c.Postgres = true
	if hasReplicas {
		n, err := strconv.Atoi(replicas)
		if err != nil || n < 1 || n > 16 {
			return c, fmt.Errorf("bench: %q: replicas must be a number from 1 to 16", v)
		}
		c.Replicas = n
	}
	return c, nil
}

func (c Column) String() string {
	switch {
	case !c.Postgres:
		return c.Binary
	case c.Replicas > 1:
		return fmt.Sprintf("%s@postgres:%d", c.Binary, c.Replicas)
	default:
		return c.Binary + "@postgres"
	}
}

// server is the followthrough processes of one phase of bench, with their own zero-latency
// GitHub and Jira stand-ins, configuration and database: a SQLite file in a temporary
// directory, or a fresh PostgreSQL schema that every process shares.
type server struct {
	Target
	col    Column
	dir    string
	db     string  // the SQLite file, or the PostgreSQL URL of the schema
	schema string  // the PostgreSQL schema, dropped at stop ("" on SQLite)
	admin  *sql.DB // PostgreSQL: creates, measures and drops the schema
	gh     *githubfake.Server
	jr     *jirafake.Server
	procs  []*process
}

// process is one `serve` process.
type process struct {
	url  string
	cmd  *exec.Cmd
	log  string // the path of its stderr
	done chan struct{}
}

// startServer starts the stand-ins, prepares the database, writes one configuration per
// process and runs `binary serve` for each until its /readyz answers 200. Clients spread over
// the processes (Target.Replicas).
func startServer(ctx context.Context, col Column, postgres string) (s *server, err error) {
	dir, err := os.MkdirTemp("", "ftload-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	s = &server{col: col, dir: dir, db: filepath.Join(dir, "ft.db")}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if col.Postgres {
		if err := s.createSchema(ctx, postgres); err != nil {
			return nil, err
		}
	} else if col.Replicas > 1 {
		return nil, fmt.Errorf("bench: %s: several processes need PostgreSQL (one process owns a SQLite file)", col)
	}
	// No rate limit can be reached in a benchmark: every call is served.
	s.gh = githubfake.New(githubfake.Options{RateLimit: 1 << 30, SearchRateLimit: 1 << 30})
	s.jr = jirafake.New(jirafake.Options{Mode: jirafake.Cloud})
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	s.Target = Target{
		IntakeSecret: "whsec_" + base64.StdEncoding.EncodeToString(secret),
		Token:        "ft_" + randomHex(16),
		GitHubSecret: randomHex(16),
		JiraSecret:   randomHex(16),
	}
	for i := range max(1, col.Replicas) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		if i == 0 {
			s.URL = "http://" + addr
		} else {
			s.Replicas = append(s.Replicas, "http://"+addr)
		}
		p, err := s.startProcess(ctx, i, addr)
		if err != nil {
			return nil, err
		}
		s.procs = append(s.procs, p)
	}
	return s, nil
}

// createSchema makes a fresh schema for this phase on the PostgreSQL server at base, and the
// URL that sets it as the servers' search path.
func (s *server) createSchema(ctx context.Context, base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("bench: --postgres must be a postgres:// URL")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return fmt.Errorf("bench: open PostgreSQL: %w", err)
	}
	s.admin = admin
	schema := "ftload_" + randomHex(6)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return fmt.Errorf("bench: create schema on %s: %w", u.Redacted(), err)
	}
	s.schema = schema
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s.db = u.String()
	return nil
}

// startProcess writes process i's configuration and starts it.
func (s *server) startProcess(ctx context.Context, i int, addr string) (*process, error) {
	cfg := filepath.Join(s.dir, fmt.Sprintf("followthrough-%d.yaml", i))
	if err := os.WriteFile(cfg, []byte(s.config(addr)), 0o600); err != nil {
		return nil, fmt.Errorf("bench: write config: %w", err)
	}
	p := &process{url: "http://" + addr, log: filepath.Join(s.dir, fmt.Sprintf("server-%d.log", i)), done: make(chan struct{})}
	logFile, err := os.Create(p.log)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	p.cmd = exec.Command(s.col.Binary, "serve", "--config", cfg)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	// A server must not outlive the benchmark, even one killed with SIGKILL.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", s.col.Binary, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p, p.waitReady(ctx, s.col.Binary, 30*time.Second)
}

// config is the YAML of a server that uses the stand-ins with pacing off: no pause between
// creates and an hourly write budget that is never reached. Reconcile and stall scans run
// hourly, so that they stay out of the measurements.
func (s *server) config(addr string) string {
	return fmt.Sprintf(`listen: %s
database: %q
public_url: %s
intake:
  secret: %s
  tokens: [%q]
github:
  api_url: %s
  token: %s
  webhook_secret: %s
  write_interval: 0s
  writes_per_hour: 1000000000
jira:
  url: %s
  deployment: cloud
  email: bot@example.com
  api_token: cloud-token
  webhook_secret: %s
routes:
  - when: { team: %s }
    to: { kind: jira, project: %s, issue_type: Task }
  - to: { kind: github, repo: %s }
people:
  - %s
reconcile:
  every: 1h
stall:
  scan_every: 1h
`, addr, s.db, s.URL, s.IntakeSecret, s.Token, s.gh.URL(), githubfake.DefaultToken, s.GitHubSecret,
		s.jr.URL(), s.JiraSecret, JiraTeam, BenchJiraProject, BenchRepo, strings.Join(benchPeople, "\n  - "))
}

func (p *process) waitReady(ctx context.Context, binary string, within time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("bench: %s exited before it was ready: %s\n%s", binary, p.cmd.ProcessState, p.logTail(20))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("bench: %s not ready within %s:\n%s", binary, within, p.logTail(20))
}

// stop ends the processes (SIGTERM, SIGKILL after 20 s), the stand-ins, and removes the
// directory and the schema.
func (s *server) stop() {
	for _, p := range s.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range s.procs {
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if s.gh != nil {
		s.gh.Close()
	}
	if s.jr != nil {
		s.jr.Close()
	}
	if s.admin != nil {
		if s.schema != "" {
			_, _ = s.admin.Exec("DROP SCHEMA " + s.schema + " CASCADE")
		}
		s.admin.Close()
	}
	os.RemoveAll(s.dir)
}

// serverAlive is an error when a process has exited, with its last log lines.
func (s *server) serverAlive() error {
	for _, p := range s.procs {
		select {
		case <-p.done:
			return fmt.Errorf("the server at %s exited: %s\n%s", p.url, p.cmd.ProcessState, p.logTail(20))
		default:
		}
	}
	return nil
}

// logTail is the last lines the process logged.
func (p *process) logTail(lines int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	parts := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(parts[max(0, len(parts)-lines):], "\n")
}

// tickets is the number of tickets on both stand-ins.
func (s *server) tickets() int { return s.gh.IssueCount() + s.jr.IssueCount() }

// calls is the number of calls both stand-ins received.
func (s *server) calls() int { return s.gh.CallCount() + s.jr.CallCount() }

// dbBytes is the size of the database: the SQLite file and its write-ahead log, or the
// schema's tables with their indexes and TOAST on PostgreSQL.
func (s *server) dbBytes(ctx context.Context) (int64, error) {
	if s.admin != nil {
		var n int64
		err := s.admin.QueryRowContext(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)
			FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
			WHERE ns.nspname = $1 AND c.relkind IN ('r', 'm')`, s.schema).Scan(&n)
		return n, err
	}
	var n int64
	for _, f := range []string{s.db, s.db + "-wal"} {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n, nil
}

// rss is the resident set size of each process at the end (and its peak), e.g.
// "72 MB (76 MB)" or "72 + 70 MB (76 + 74 MB)" for two.
func (s *server) rss() (string, error) {
	var now, peaks []string
	for _, p := range s.procs {
		peak, current, err := procRSS(p.cmd.Process.Pid)
		if err != nil {
			return "", err
		}
		now = append(now, fmt.Sprintf("%.0f", float64(current)/1e6))
		peaks = append(peaks, fmt.Sprintf("%.0f", float64(peak)/1e6))
	}
	return fmt.Sprintf("%s MB (%s MB)", strings.Join(now, " + "), strings.Join(peaks, " + ")), nil
}

// procRSS reads VmHWM and VmRSS of a process from /proc/PID/status.
func procRSS(pid int) (peak, current int64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		fields := strings.Fields(value) // "52340 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, 0, fmt.Errorf("read RSS: unexpected %s line %q", name, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("read RSS: %w", err)
		}
		if name == "VmHWM" {
			peak = kb << 10
		} else {
			current = kb << 10
		}
	}
	if peak == 0 || current == 0 {
		return 0, 0, fmt.Errorf("read RSS: no VmHWM or VmRSS in /proc/%d/status", pid)
	}
	return peak, current, sc.Err()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// Machine describes the machine a benchmark ran on.
type Machine struct {
	CPUs  int
	Model string
}

// ThisMachine reads the CPU count and model.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Model: "unknown CPU"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m.Model = strings.TrimSpace(value)
				break
			}
		}
	}
	return m
}
