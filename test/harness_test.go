// Package test holds end-to-end tests: they build the real followthrough binary, run it against
// stand-ins of GitHub and Jira on loopback, and drive it only through the contract's interfaces
// (CLI, config file, HTTP API, webhooks).
package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the followthrough binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "followthrough-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "followthrough")
	build := exec.Command("go", "build", "-o", binary, "../cmd/followthrough")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build followthrough:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running followthrough process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	stdout *lockedBuffer
	stderr *lockedBuffer
	done   chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// start runs the binary with args and waits until /readyz answers 200.
func start(t *testing.T, addr string, args ...string) *server {
	t.Helper()
	s := &server{t: t, base: "http://" + addr, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	s.cmd.Env = append(os.Environ(), "FOLLOWTHROUGH_CONFIG=")
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("server stderr:\n%s", tail(s.stderr.String(), 60))
		}
	})
	s.waitReady()
	return s
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

func (s *server) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			s.t.Fatalf("server exited early: %s\n%s", s.cmd.ProcessState, tail(s.stderr.String(), 30))
		default:
		}
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("server not ready after 20s:\n%s", tail(s.stderr.String(), 30))
}

// kill ends the process at once, like a power cut for the process (SIGKILL).
func (s *server) kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-s.done
}

// stop sends SIGTERM and waits for a graceful exit.
func (s *server) stop() {
	s.t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.t.Fatal("server did not stop within 20s of SIGTERM")
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Fatalf("server exited %d after SIGTERM, want 0:\n%s", code, tail(s.stderr.String(), 20))
	}
	if !strings.Contains(s.stderr.String(), `"msg":"stopped"`) {
		s.t.Fatalf("server did not log its orderly stop:\n%s", tail(s.stderr.String(), 20))
	}
}

// do sends a request with the bearer token and returns status and body.
func (s *server) do(method, path, token string, body []byte) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// getJSON GETs path and decodes the body into v, failing on any status but 200.
func (s *server) getJSON(path, token string, v any) {
	s.t.Helper()
	code, body := s.do(http.MethodGet, path, token, nil)
	if code != http.StatusOK {
		s.t.Fatalf("GET %s = %d: %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		s.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// waitIdle waits until the server's outbox has no work left, as /metrics reports it.
func (s *server) waitIdle(within time.Duration) {
	s.t.Helper()
	eventually(s.t, within, "the outbox is empty", func() bool {
		code, body := s.do(http.MethodGet, "/metrics", "", nil)
		return code == http.StatusOK && strings.Contains(string(body), "\nfollowthrough_outbox_pending_jobs 0\n")
	})
}

// writeConfig writes a YAML config into a temp dir and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "followthrough.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// readLines reads the first n lines a process printed on stdout.
func readLines(t *testing.T, r io.Reader, n int) []string {
	t.Helper()
	sc := bufio.NewScanner(r)
	var lines []string
	for len(lines) < n && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < n {
		t.Fatalf("read %d of %d lines: %v", len(lines), n, sc.Err())
	}
	return lines
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
