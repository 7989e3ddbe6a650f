package test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

// BenchmarkServeMemory measures what deploy/ sizes its resource requests from: the image's
// binary serving from SQLite, against the GitHub and Jira stand-ins (their memory is not
// counted: they run in the test process), while clients post b.N postmortems of 5 items each
// (half routed to Jira; GitHub's write pacing off) and read them back, 8 at a time, until
// every ticket exists. It reports
// the server's resident memory when idle after start, its peak (VmHWM), its CPU time per
// postmortem, and the size of its database (with the WAL). Linux only (/proc).
//
//	go test -run '^$' -bench ServeMemory -benchtime 1000x ./test
func BenchmarkServeMemory(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("reads /proc: Linux only")
	}
	gh := githubfake.New(githubfake.Options{})
	defer gh.Close()
	jr := jirafake.New(jirafake.Options{Mode: jirafake.Cloud})
	defer jr.Close()
	dir := b.TempDir()
	ln := freeAddr(b)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: %s
database: %s
public_url: http://%s
intake:
  tokens: [%q]
github:
  api_url: %s
  token: %s
  webhook_secret: s
  write_interval: 0s
  writes_per_hour: 1000000
jira:
  url: %s
  deployment: cloud
  email: bot@example.com
  api_token: cloud-token
  webhook_secret: s
routes:
  - when: { team: payments }
    to: { kind: jira, project: PAY }
  - to: { kind: github, repo: acme/actions }
`, ln, filepath.Join(dir, "ft.db"), ln, testToken, gh.URL(), githubfake.DefaultToken, jr.URL())), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "--config", cfg)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	base := "http://" + ln
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	get := func(path string) int {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(5 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				b.Fatalf("not within 5m: %s\n%s", what, tail(stderr.String(), 20))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("ready", func() bool { return get("/readyz") == http.StatusOK })
	idle := procStatus(b, cmd.Process.Pid, "VmRSS")
	cpu0 := procCPU(b, cmd.Process.Pid)

	var n atomic.Int64
	b.SetParallelism(4) // 8 clients on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			id := fmt.Sprintf("PM-MEM-%d", i)
			team := "core"
			if i%2 == 0 {
				team = "payments"
			}
			var items []string
			for j := 1; j <= 5; j++ {
				items = append(items, fmt.Sprintf(`{"id":"AI-%d","title":"Action %d of %s","description":"%s","owner":"bob@acme.com","priority":"P%d","due":"2027-01-15"}`,
					j, j, id, strings.Repeat("Details of the action. ", 20), j%4))
			}
			body := fmt.Sprintf(`{"id":%q,"title":"Outage %s","status":"finalized","severity":"SEV2","team":%q,"signed_off_by":["carol@acme.com"],"signed_off_at":"2026-11-22T10:00:00Z","action_items":[%s]}`,
				id, id, team, strings.Join(items, ","))
			req, _ := http.NewRequest(http.MethodPost, base+"/v1/postmortems", bytes.NewReader([]byte(body)))
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != http.StatusAccepted {
				b.Errorf("intake %s: %v %v", id, resp, err)
				return
			}
			resp.Body.Close()
			if get("/v1/postmortems/"+id) != http.StatusOK || get("/v1/postmortems?limit=50") != http.StatusOK || get("/") != http.StatusOK {
				b.Errorf("reading %s back failed", id)
				return
			}
		}
	})
	waitFor("every ticket made", func() bool {
		req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return strings.Contains(buf.String(), "\nfollowthrough_outbox_pending_jobs 0\n")
	})
	b.StopTimer()
	b.ReportMetric(float64(idle)/1024, "idle-RSS-MiB")
	b.ReportMetric(float64(procStatus(b, cmd.Process.Pid, "VmHWM"))/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(procCPU(b, cmd.Process.Pid)-cpu0)*10/float64(b.N), "cpu-ms/postmortem")
	var dbSize int64
	for _, f := range []string{"ft.db", "ft.db-wal"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil {
			dbSize += st.Size()
		}
	}
	b.ReportMetric(float64(dbSize)/(1<<20), "db-MiB")
}

// procStatus reads one kB figure (VmRSS, VmHWM) of /proc/<pid>/status.
func procStatus(b *testing.B, pid int, key string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb
		}
	}
	b.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

// procCPU is the process's user and system time in clock ticks (USER_HZ, 100 a second).
func procCPU(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return utime + stime
}
