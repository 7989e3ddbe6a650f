// Package selftest checks, for the connectors' tests, how a connector tells its own identity in
// its tracker: KnownSelf must answer at once while the first Self call is in flight (the engine
// asks it as a webhook delivery arrives, where it must not wait on the tracker), and tell the
// identity without a call once Self has read it.
package selftest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

// Tracker is a connector that can tell its identity without a call.
type Tracker interface {
	ft.Tracker
	ft.SelfKnower
}

// CheckKnownSelfDoesNotWait runs a stand-in whose only route is GET path, answering body (the
// identity want) once the check lets it, and the connector newTracker makes on the stand-in's
// URL: KnownSelf is not known and does not wait while the first Self is in flight, and is want
// after it, with one call in all.
func CheckKnownSelfDoesNotWait(t *testing.T, path, body, want string, newTracker func(url string) (Tracker, error)) {
	t.Helper()
	var calls atomic.Int32
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 || r.Method != http.MethodGet || r.URL.Path != path {
			t.Errorf("unexpected call %s %s", r.Method, r.URL.Path)
			http.Error(w, "unexpected", http.StatusNotFound)
			return
		}
		close(arrived)
		select { // the answer is held until the check releases it
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before srv.Close
	tr, err := newTracker(srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	type answer struct {
		self string
		err  error
	}
	selfDone := make(chan answer, 1)
	go func() {
		self, err := tr.Self(context.Background())
		selfDone <- answer{self, err}
	}()
	select {
	case <-arrived:
	case got := <-selfDone:
		t.Fatalf("Self = %q, %v without calling GET %s", got.self, got.err, path)
	case <-time.After(5 * time.Second):
		t.Fatalf("Self did not call GET %s", path)
	}
	type knownAnswer struct {
		self string
		ok   bool
	}
	known := make(chan knownAnswer, 1)
	go func() {
		self, ok := tr.KnownSelf()
		known <- knownAnswer{self, ok}
	}()
	select {
	case got := <-known:
		if got != (knownAnswer{}) {
			t.Fatalf("KnownSelf while GET %s is in flight = %q, %v; want not known", path, got.self, got.ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("KnownSelf waited for the GET %s in flight", path)
	}

	releaseOnce.Do(func() { close(release) })
	if got := <-selfDone; got.self != want || got.err != nil {
		t.Fatalf("Self = %q, %v; want %q", got.self, got.err, want)
	}
	if self, ok := tr.KnownSelf(); self != want || !ok {
		t.Errorf("KnownSelf after Self = %q, %v; want %q, true", self, ok, want)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1 (GET %s)", n, path)
	}
}
