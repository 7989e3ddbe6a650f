package web

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
)

// BenchmarkIntakeConcurrent POSTs new postmortems in parallel over loopback to a real server
// with a temporary SQLite database, and reports how many intake transactions share one commit
// (one fsync) thanks to the store's group commit.
func BenchmarkIntakeConcurrent(b *testing.B) {
	e := newEnv(b, testConfig)
	e.client.Transport.(*http.Transport).MaxIdleConnsPerHost = 256
	var n atomic.Int64
	tx0, commits0 := e.store.WriteStats()
	// Like many clients at once, whatever GOMAXPROCS is.
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := sample(b)
			m["id"] = fmt.Sprintf("PM-bench-%d", n.Add(1))
			r := e.post(encode(b, m), nil)
			if r.status != http.StatusAccepted {
				b.Errorf("status %d: %s", r.status, r.body)
				return
			}
		}
	})
	b.StopTimer()
	tx, commits := e.store.WriteStats()
	if commits > commits0 {
		b.ReportMetric(float64(tx-tx0)/float64(commits-commits0), "requests/fsync")
	}
}

// BenchmarkGitHubWebhooks POSTs signed GitHub issues deliveries (11 KB, each with its own
// delivery id) in parallel over loopback: the signature check, the body's checks and the
// delivery's record in the group commit, as a tracker's burst of webhooks meets them.
func BenchmarkGitHubWebhooks(b *testing.B) {
	e := newEnv(b, webhookConfig)
	e.client.Transport.(*http.Transport).MaxIdleConnsPerHost = 256
	body := fixture(b, "github-webhooks/issues.closed.json")
	var n atomic.Int64
	b.SetParallelism(16)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h := githubHeader("issues", fmt.Sprintf("bench-%d", n.Add(1)), githubHookSecret, body)
			r := e.hook("/webhooks/github", bytes.NewReader(body), h)
			if r.status != http.StatusOK {
				b.Errorf("status %d: %s", r.status, r.body)
				return
			}
		}
	})
}
