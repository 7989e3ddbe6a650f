package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLoggingTransportLogsOneLinePerCallWithoutSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	var buf bytes.Buffer
	client := &http.Client{Transport: &LoggingTransport{Tracker: "github", Logger: slog.New(slog.NewJSONHandler(&buf, nil))}}
	req, _ := http.NewRequestWithContext(WithOp(context.Background(), "create"), http.MethodPost,
		srv.URL+"/repos/acme/x/issues?access_token=s3cret", nil)
	req.Header.Set("Authorization", "Bearer ghp_s3cret")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1: %s", len(lines), buf.String())
	}
	if strings.Contains(lines[0], "s3cret") {
		t.Fatalf("a secret reached the log: %s", lines[0])
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{"tracker": "github", "op": "create", "method": "POST", "path": "/repos/acme/x/issues", "status": float64(418)} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if _, ok := got["duration"]; !ok {
		t.Error("no duration")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"http date", http.Header{"Retry-After": {now.Add(90 * time.Second).UTC().Format(http.TimeFormat)}}, 90 * time.Second},
		{"rate limit reset", http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1700000060"}}, time.Minute},
		{"budget left: no wait", http.Header{"X-Ratelimit-Remaining": {"5"}, "X-Ratelimit-Reset": {"1700000060"}}, 0},
		{"nothing said", http.Header{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RetryAfter(tc.header, now); got != tc.want {
				t.Fatalf("RetryAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRetryableStatus(t *testing.T) {
	for code, want := range map[int]bool{400: false, 401: false, 403: false, 404: false, 408: true, 409: false,
		410: false, 422: false, 425: true, 429: true, 500: true, 502: true, 503: true, 504: true} {
		if got := RetryableStatus(code); got != want {
			t.Errorf("RetryableStatus(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestOnTicket(t *testing.T) {
	for op, want := range map[string]bool{"get": true, "update": true, "set_status": true, "comment": true, "label": true,
		"create": false, "find": false, "list": false, "link": false, "self": false} {
		if got := OnTicket(op); got != want {
			t.Errorf("OnTicket(%q) = %v, want %v", op, got, want)
		}
	}
}
