package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

// The status page and export benchmarks read one database of benchPostmortems postmortems of
// benchItems items each (10,000 and 50,000: the sizes issue 10 measures pages at), seeded once
// per process as the insights benchmark seeds its own (seedBenchHistory: the store's intake
// statements, and the items' status history).

var (
	benchOnce sync.Once
	benchEnv  *env
	// benchCleanup closes the seeded server and removes its database when the test binary
	// exits (TestMain): the benchmarks share it, so no one benchmark may close it.
	benchCleanup []func()
)

// benchPages is the seeded server.
func benchPages(b *testing.B) *env {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "followthrough-web-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchCleanup = append(benchCleanup, func() { os.RemoveAll(dir) })
		e := buildEnv(b, dir, testConfig, nil, func(f func()) { benchCleanup = append(benchCleanup, f) })
		seedBenchHistory(b, e)
		benchEnv = e
	})
	if benchEnv == nil {
		b.Fatal("no seeded database")
	}
	return benchEnv
}

// seedMany takes n postmortems of k items each through the engine, 16 at a time, spread over
// three teams and two severities, signed off a minute apart.
func seedMany(tb testing.TB, e *env, n, k int) {
	tb.Helper()
	ctx := context.Background()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	teams := []string{"search", "checkout", "payments-ops"}
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				signed := start.Add(time.Duration(i) * time.Minute)
				d := &ft.Document{ID: fmt.Sprintf("PM-%05d", i), Title: fmt.Sprintf("Outage %d of the checkout path", i),
					Status: "finalized", Team: teams[i%len(teams)], Severity: []string{"SEV1", "SEV2"}[i%2],
					URL: fmt.Sprintf("https://wiki.acme.com/pm/%d", i), SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &signed}
				for j := range k {
					d.ActionItems = append(d.ActionItems, ft.ActionItem{ID: fmt.Sprintf("AI-%d", j+1),
						Title: fmt.Sprintf("Action %d of outage %d: add a circuit breaker", j+1, i), Owner: "bob@acme.com",
						Priority: ft.Priorities[j%4], Due: "2026-12-15", Tracker: &ft.Target{Kind: ft.GitHub, Repo: "acme/actions"}})
				}
				if _, err := e.engine.Intake(ctx, d); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if failed != nil {
		tb.Fatal(failed)
	}
}

// benchGet reads path whole b.N times and reports the bytes of one answer, the p50 and p99
// of the requests, and the CPU the process (server and client) spent per request: what a
// request costs, less the wait for a core that other work on a shared machine adds.
func benchGet(b *testing.B, path string) {
	e := benchPages(b)
	size := 0
	took := make([]time.Duration, 0, b.N)
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header = bearerHeader(testToken) // the API needs it; the public pages ignore it
		start, cpuStart := time.Now(), processCPU(b)
		resp, err := e.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took = append(took, time.Since(start))
		cpu += processCPU(b) - cpuStart
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d, %v", path, resp.StatusCode, err)
		}
		size = int(n)
	}
	b.StopTimer()
	slices.Sort(took)
	ms := func(q float64) float64 {
		return float64(took[min(len(took)-1, int(q*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(size), "bytes/op-body")
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(took)), "cpu-ms/op")
}

// BenchmarkStatusPage is GET / (the first page, 50 postmortems) with 10,000 postmortems.
func BenchmarkStatusPage(b *testing.B) { benchGet(b, "/") }

// BenchmarkStatusPageFiltered is the first page of postmortems of one team and severity (one
// in sixty of them).
func BenchmarkStatusPageFiltered(b *testing.B) { benchGet(b, "/?team=team-07&severity=SEV2") }

// BenchmarkStatusPageDeep is a page 5,000 postmortems into the list, reached by its cursor.
func BenchmarkStatusPageDeep(b *testing.B) {
	e := benchPages(b)
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	path := "/v1/postmortems?limit=500"
	for range 10 {
		r := e.get(path)
		if err := json.Unmarshal(r.body, &page); err != nil || page.NextCursor == "" {
			b.Fatalf("%s: %d %v", path, r.status, err)
		}
		path = "/v1/postmortems?limit=500&cursor=" + page.NextCursor
	}
	benchGet(b, "/?cursor="+page.NextCursor)
}

// BenchmarkPostmortemPage is GET /postmortems/{id}.
func BenchmarkPostmortemPage(b *testing.B) { benchGet(b, "/postmortems/PM-04242") }

// BenchmarkListAPI is GET /v1/postmortems (50 postmortems).
func BenchmarkListAPI(b *testing.B) { benchGet(b, "/v1/postmortems") }

// BenchmarkExportJSON is the full JSON export of 10,000 postmortems.
func BenchmarkExportJSON(b *testing.B) { benchGet(b, "/?format=json") }

// BenchmarkExportCSV is the full CSV export of 10,000 postmortems.
func BenchmarkExportCSV(b *testing.B) { benchGet(b, "/?format=csv") }

// TestMain runs the package's tests and benchmarks, then closes what the benchmarks shared.
func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(benchCleanup) - 1; i >= 0; i-- {
		benchCleanup[i]()
	}
	os.Exit(code)
}
