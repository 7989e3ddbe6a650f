package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/followthrough/followthrough/internal/pgtest"
)

// A full disk: writes answer 503 with Retry-After (not 500), the episode is logged once,
// /readyz is 503 until a write succeeds again, and writes are taken again by themselves when
// room returns. The full disk is SQLite's own: the database may not grow (max_page_count).
func TestFullDiskAnswers503UntilAWriteSucceeds(t *testing.T) {
	e := newEnv(t, testConfig)
	ctx := context.Background()
	doc := func(n int) []byte {
		return []byte(strings.Replace(sampleJSON, `"id": "PM-2026-042"`, fmt.Sprintf(`"id": "PM-FULL-%03d"`, n), 1))
	}
	if r := e.post(doc(0), nil); r.status != http.StatusAccepted {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	if err := e.store.LimitPages(ctx, 1); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for n := 1; n <= 40 && refused < 3; n++ {
		r := e.post(doc(n), nil)
		switch r.status {
		case http.StatusAccepted:
			continue // it fitted in the pages the database has
		case http.StatusServiceUnavailable:
			refused++
			if r.header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After: %s", r.body)
			}
		default:
			t.Fatalf("with the disk full: %d %s\n%s", r.status, r.body, e.logs.String())
		}
	}
	if refused < 3 {
		t.Fatalf("only %d writes refused with the database full", refused)
	}
	ready := func() int {
		t.Helper()
		r := e.get("/readyz")
		if r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") == "" {
			t.Fatalf("/readyz 503 without Retry-After")
		}
		return r.status
	}
	if s := ready(); s != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d while writes are refused", s)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "the database refuses writes"); n != 1 {
		t.Fatalf("the episode logged %d times, want once:\n%s", n, logs)
	}
	if strings.Contains(logs, "request failed") {
		t.Fatalf("refused writes logged per request:\n%s", logs)
	}
	// Room returns; a commit that stores nothing proves nothing, so /readyz waits for a write.
	if err := e.store.LimitPages(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if s := ready(); s != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d before any write succeeded", s)
	}
	if r := e.post(doc(99), nil); r.status != http.StatusAccepted {
		t.Fatalf("after room returned: %d %s", r.status, r.body)
	}
	if s := ready(); s != http.StatusOK {
		t.Fatalf("/readyz = %d after a write succeeded", s)
	}
	if n := strings.Count(e.logs.String(), "the database accepts writes again"); n != 1 {
		t.Fatalf("the end of the episode logged %d times", n)
	}
}

// A PostgreSQL failover: while the server cannot be reached, reads (the API, the status page)
// and writes answer 503 with Retry-After, not 500; the episode is logged once, not once per
// request; /readyz is not ready; and once the server is back everything answers again.
func TestDatabaseOutOfReachAnswers503(t *testing.T) {
	database := pgtest.URL(t)
	relay, viaRelay := pgtest.NewRelay(t, database)
	dir := t.TempDir()
	e := buildEnvOn(t, viaRelay, dir, testConfig, nil, t.Cleanup)
	if r := e.post([]byte(sampleJSON), nil); r.status != http.StatusAccepted {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	paths := []string{"/v1/postmortems/PM-2026-042", "/v1/postmortems", "/postmortems/PM-2026-042", "/"}
	relay.Cut()
	for _, path := range paths {
		r := e.get(path)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("GET %s while out of reach: %d (Retry-After %q) %s", path, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	doc := []byte(strings.Replace(sampleJSON, `"id": "PM-2026-042"`, `"id": "PM-2026-043"`, 1))
	if r := e.post(doc, nil); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("intake while out of reach: %d (Retry-After %q) %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if r := e.get("/readyz"); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz while out of reach: %d", r.status)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "out of reach"); n != 1 {
		t.Errorf("the episode logged %d times, want once:\n%s", n, logs)
	}
	if strings.Contains(logs, "request failed") {
		t.Errorf("requests that met the database out of reach logged one by one:\n%s", logs)
	}
	relay.Listen(relay.Addr)
	if r := e.post(doc, nil); r.status != http.StatusAccepted {
		t.Fatalf("intake once the database is back: %d %s", r.status, r.body)
	}
	for _, path := range paths {
		if r := e.get(path); r.status != http.StatusOK {
			t.Errorf("GET %s once the database is back: %d %s", path, r.status, r.body)
		}
	}
}
