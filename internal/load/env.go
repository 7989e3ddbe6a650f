package load

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

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

// server is one followthrough process started by bench, with its own zero-latency GitHub and
// Jira stand-ins, configuration and SQLite file in a temporary directory.
type server struct {
	Target
	binary string
	dir    string
	db     string
	gh     *githubfake.Server
	jr     *jirafake.Server
	cmd    *exec.Cmd
	log    *os.File // the server's stderr
	done   chan struct{}
}

// startServer starts the stand-ins, writes the configuration and runs `binary serve` until
// /readyz answers 200.
func startServer(ctx context.Context, binary string) (s *server, err error) {
	dir, err := os.MkdirTemp("", "ftload-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	s = &server{binary: binary, dir: dir, db: filepath.Join(dir, "ft.db"), done: make(chan struct{})}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
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
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + addr
	cfg := filepath.Join(dir, "followthrough.yaml")
	if err := os.WriteFile(cfg, []byte(s.config(addr)), 0o600); err != nil {
		return nil, fmt.Errorf("bench: write config: %w", err)
	}
	if s.log, err = os.Create(filepath.Join(dir, "server.log")); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	s.cmd = exec.Command(binary, "serve", "--config", cfg)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// A server must not outlive the benchmark, even one killed with SIGKILL.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", binary, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	return s, s.waitReady(ctx, 30*time.Second)
}

// config is the YAML of a server that uses the stand-ins with pacing off: no pause between
// creates and an hourly write budget that is never reached. Reconcile and stall scans run
// hourly, so that they stay out of the measurements.
func (s *server) config(addr string) string {
	return fmt.Sprintf(`listen: %s
database: %s
public_url: http://%s
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
`, addr, s.db, addr, s.IntakeSecret, s.Token, s.gh.URL(), githubfake.DefaultToken, s.GitHubSecret,
		s.jr.URL(), s.JiraSecret, JiraTeam, BenchJiraProject, BenchRepo, strings.Join(benchPeople, "\n  - "))
}

func (s *server) waitReady(ctx context.Context, within time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("bench: %s exited before it was ready: %s\n%s", s.binary, s.cmd.ProcessState, s.logTail(20))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("bench: %s not ready within %s:\n%s", s.binary, within, s.logTail(20))
}

// stop ends the server (SIGTERM, SIGKILL after 20 s), the stand-ins, and removes the
// directory.
func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	if s.log != nil {
		s.log.Close()
	}
	if s.gh != nil {
		s.gh.Close()
	}
	if s.jr != nil {
		s.jr.Close()
	}
	os.RemoveAll(s.dir)
}

// exited says whether the server process has ended.
func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// logTail is the last lines the server logged.
func (s *server) logTail(lines int) string {
	b, err := os.ReadFile(filepath.Join(s.dir, "server.log"))
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

// dbBytes is the size of the SQLite file and its write-ahead log.
func (s *server) dbBytes() int64 {
	var n int64
	for _, f := range []string{s.db, s.db + "-wal"} {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// rss reads the server's peak and current resident set size, in bytes, from /proc.
func (s *server) rss() (peak, current int64, err error) {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0, 0, errors.New("no server process")
	}
	return procRSS(s.cmd.Process.Pid)
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
