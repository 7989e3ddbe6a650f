package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
)

// TestHealthAndReady: /readyz checks the database, whichever it is.
func TestHealthAndReady(t *testing.T) {
	pgtest.ForEach(t, func(t *testing.T, db pgtest.Backend) {
		testHealthAndReady(t, buildEnvOn(t, db.Database(t), t.TempDir(), testConfig, nil, t.Cleanup))
	})
}

func testHealthAndReady(t *testing.T, e *env) {
	if r := e.do(http.MethodGet, "/healthz", nil, http.Header{}); r.status != http.StatusOK {
		t.Errorf("healthz: %d", r.status)
	}
	if r := e.do(http.MethodGet, "/readyz", nil, http.Header{}); r.status != http.StatusOK {
		t.Errorf("readyz: %d %s", r.status, r.body)
	}
	e.store.Close()
	r := e.do(http.MethodGet, "/readyz", nil, http.Header{})
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database closed: %d", r.status)
	}
	r.errorBody(t)
	if r := e.do(http.MethodGet, "/healthz", nil, http.Header{}); r.status != http.StatusOK {
		t.Errorf("healthz with the database closed: %d", r.status)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, testConfig)
	e.post([]byte(sampleJSON), nil)
	e.post([]byte(sampleJSON), nil)
	e.post([]byte(`{"id":"x"}`), nil)
	e.get("/v1/postmortems/PM-2026-042")
	e.get("/v1/postmortems/missing")
	e.get("/no/such/path/1")
	e.get("/no/such/path/2")
	r := e.do(http.MethodGet, "/metrics", nil, http.Header{})
	if r.status != http.StatusOK {
		t.Fatalf("metrics: %d", r.status)
	}
	text := string(r.body)
	for _, want := range []string{
		`followthrough_intake_total{outcome="created"} 1`,
		`followthrough_intake_total{outcome="unchanged"} 1`,
		`followthrough_intake_total{outcome="revised"} 0`,
		`followthrough_intake_total{outcome="invalid"} 1`,
		`followthrough_http_requests_total{code="202",method="POST",route="/v1/postmortems"} 1`,
		`followthrough_http_requests_total{code="422",method="POST",route="/v1/postmortems"} 1`,
		`followthrough_http_requests_total{code="200",method="GET",route="/v1/postmortems/:id"} 1`,
		`followthrough_http_requests_total{code="404",method="GET",route="/v1/postmortems/:id"} 1`,
		`followthrough_http_requests_total{code="404",method="GET",route="unmatched"} 2`,
		`followthrough_http_request_duration_seconds_count{method="POST",route="/v1/postmortems"} 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestRequestLog checks the one line per request: fixed keys, and never a header, body or query
// string.
func TestRequestLog(t *testing.T) {
	e := newEnv(t, testConfig)
	body := []byte(sampleJSON)
	h := signedHeader("msg_secret_id", e.clock.Now(), body)
	h.Set("X-Request-Id", "req-123")
	e.post(body, h)
	e.get("/v1/postmortems?team=secret-team-query&cursor=")
	e.post([]byte(`{"id": "leaky-body"}`), bearerHeader("wrong-token-value"))
	e.do(http.MethodGet, "/healthz", nil, http.Header{"X-Request-Id": {"bad id with spaces"}})

	logs := e.logs.String()
	for _, secret := range []string{testToken, "wrong-token-value", "msg_secret_id", h.Get("webhook-signature"),
		"secret-team-query", "leaky-body", "carol@acme.com", "bad id", testSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q:\n%s", secret, logs)
		}
	}
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 4 {
		t.Fatalf("%d request lines, want 4:\n%s", len(lines), logs)
	}
	wantKeys := []string{"duration_ms", "level", "method", "msg", "remote", "request_id", "route", "status", "time"}
	for _, l := range lines {
		if got := slices.Sorted(maps.Keys(l)); !slices.Equal(got, wantKeys) {
			t.Errorf("keys = %v, want %v", got, wantKeys)
		}
		if l["remote"] != "127.0.0.1" {
			t.Errorf("remote = %v", l["remote"])
		}
	}
	first, second, last := lines[0], lines[1], lines[3]
	if first["request_id"] != "req-123" || first["route"] != "/v1/postmortems" || first["status"] != float64(202) || first["method"] != "POST" {
		t.Errorf("first line = %v", first)
	}
	if second["route"] != "/v1/postmortems" || second["method"] != "GET" {
		t.Errorf("second line = %v", second)
	}
	if id, _ := last["request_id"].(string); len(id) != 32 {
		t.Errorf("generated request id = %q", id)
	}
}

// TestErrorMapping covers the one place where errors become statuses, including errors that no
// endpoint returns yet (409 comes with PATCH).
func TestErrorMapping(t *testing.T) {
	tests := []struct {
		err    error
		status int
		fields int
	}{
		{badRequest("x"), 400, 0},
		{fmt.Errorf("decode: %w", ft.ErrMalformed), 400, 0},
		{ft.ErrBadCursor, 400, 0},
		{unauthorized("x"), 401, 0},
		{fmt.Errorf("postmortem x: %w", ft.ErrNotFound), 404, 0},
		{echo.ErrNotFound, 404, 0},
		{echo.ErrMethodNotAllowed, 405, 0},
		{fmt.Errorf("item x/y: %w", ft.ErrConflict), 409, 0},
		{tooLarge(10), 413, 0},
		{&http.MaxBytesError{Limit: 10}, 413, 0},
		{unsupportedType("x"), 415, 0},
		{invalid("x", []ft.FieldError{{Field: "id", Message: "required"}}), 422, 1},
		{&ft.ShapeError{Message: "x", Fields: []ft.FieldError{{Field: "id", Message: "must be a string"}}}, 422, 1},
		{unavailable("x"), 503, 0},
		{context.Canceled, 503, 0},
		{errors.New("disk on fire"), 500, 0},
	}
	for _, tt := range tests {
		status, body := errorResponse(tt.err)
		if status != tt.status || len(body.Fields) != tt.fields || body.Error == "" {
			t.Errorf("%v: %d %+v, want %d with %d fields", tt.err, status, body, tt.status, tt.fields)
		}
		if status == 500 && strings.Contains(body.Error, "disk") {
			t.Errorf("internal error leaked: %q", body.Error)
		}
	}
}

func TestPanicIs500(t *testing.T) {
	e := newEnv(t, testConfig)
	e.srv.Echo().GET("/boom", func(echo.Context) error { panic("kaboom") })
	r := e.do(http.MethodGet, "/boom", nil, http.Header{})
	if r.status != http.StatusInternalServerError {
		t.Fatalf("status = %d", r.status)
	}
	if eb := r.errorBody(t); strings.Contains(eb.Error, "kaboom") {
		t.Errorf("panic leaked to the client: %q", eb.Error)
	}
	if !strings.Contains(e.logs.String(), "kaboom") {
		t.Error("panic not logged")
	}
}
