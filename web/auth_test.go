package web

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestIntakeAuth(t *testing.T) {
	e := newEnv(t, testConfig)
	body := []byte(sampleJSON)
	now := e.clock.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	good := sign(testSecret, "msg_1", ts, body)
	otherSecret := "whsec_" + "c2VjcmV0LXRoYXQtaXMtbm90LW91cnMtMTIzNDU2Nzg="

	signed := func(mod func(h http.Header)) http.Header {
		h := signedHeader("msg_1", now, body)
		if mod != nil {
			mod(h)
		}
		return h
	}
	at := func(d time.Duration) http.Header {
		t := now.Add(d)
		return signedHeader("msg_1", t, body)
	}
	tests := []struct {
		name   string
		header http.Header
		ok     bool
	}{
		{"bearer", bearerHeader(testToken), true},
		{"second bearer token", bearerHeader(testToken2), true},
		{"bearer scheme in lower case", func() http.Header {
			h := jsonHeader()
			h.Set("Authorization", "bearer "+testToken)
			return h
		}(), true},
		{"no credentials", jsonHeader(), false},
		{"wrong bearer", bearerHeader("not-the-token"), false},
		{"bearer prefix of token", bearerHeader(testToken[:5]), false},
		{"bearer token plus more", bearerHeader(testToken + "x"), false},
		{"empty bearer", bearerHeader(""), false},
		{"basic auth", func() http.Header {
			h := jsonHeader()
			h.Set("Authorization", "Basic "+testToken)
			return h
		}(), false},
		{"signature", signed(nil), true},
		{"signature, 4 minutes old", at(-4 * time.Minute), true},
		{"signature, 4 minutes ahead", at(4 * time.Minute), true},
		{"signature, 6 minutes old", at(-6 * time.Minute), false},
		{"signature, 6 minutes ahead", at(6 * time.Minute), false},
		{"signature, wrong secret", signed(func(h http.Header) {
			h.Set("webhook-signature", sign(otherSecret, "msg_1", ts, body))
		}), false},
		{"signature over another id", signed(func(h http.Header) { h.Set("webhook-id", "msg_2") }), false},
		{"signature over another body", signed(func(h http.Header) {
			h.Set("webhook-signature", sign(testSecret, "msg_1", ts, []byte(`{}`)))
		}), false},
		{"several signatures, one valid", signed(func(h http.Header) {
			bad := sign(otherSecret, "msg_1", ts, body)
			h.Set("webhook-signature", "v1,Zm9v v2,abc "+bad+" "+good)
		}), true},
		{"several signatures, none valid", signed(func(h http.Header) {
			h.Set("webhook-signature", "v1,Zm9v "+sign(otherSecret, "msg_1", ts, body))
		}), false},
		{"valid signature under another version", signed(func(h http.Header) {
			h.Set("webhook-signature", "v1a,"+strings.TrimPrefix(good, "v1,"))
		}), false},
		{"signature not base64", signed(func(h http.Header) { h.Set("webhook-signature", "v1,!!!") }), false},
		{"missing webhook-id", signed(func(h http.Header) { h.Del("webhook-id") }), false},
		{"missing webhook-timestamp", signed(func(h http.Header) { h.Del("webhook-timestamp") }), false},
		{"missing webhook-signature", signed(func(h http.Header) { h.Del("webhook-signature") }), false},
		{"timestamp not a number", signed(func(h http.Header) { h.Set("webhook-timestamp", "yesterday") }), false},
		{"wrong bearer, valid signature", signed(func(h http.Header) { h.Set("Authorization", "Bearer nope") }), true},
		{"valid bearer, bad signature", signed(func(h http.Header) {
			h.Set("Authorization", "Bearer "+testToken)
			h.Set("webhook-signature", "v1,Zm9v")
		}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(body, tt.header)
			if tt.ok {
				if r.status != http.StatusAccepted && r.status != http.StatusOK {
					t.Fatalf("status = %d, want 200 or 202: %s", r.status, r.body)
				}
				return
			}
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401: %s", r.status, r.body)
			}
			r.errorBody(t)
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestReadsNeedBearer(t *testing.T) {
	e := newEnv(t, testConfig)
	if r := e.post([]byte(sampleJSON), nil); r.status != http.StatusAccepted {
		t.Fatalf("intake: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/v1/postmortems/PM-2026-042", "/v1/postmortems", "/v1/postmortems/unknown"} {
		for name, h := range map[string]http.Header{
			"none":      {},
			"wrong":     bearerHeader("nope"),
			"signature": signedHeader("msg_1", e.clock.Now(), nil),
		} {
			if r := e.do(http.MethodGet, path, nil, h); r.status != http.StatusUnauthorized {
				t.Errorf("GET %s with %s credentials: %d", path, name, r.status)
			}
		}
		if r := e.do(http.MethodGet, path, nil, bearerHeader(testToken2)); r.status == http.StatusUnauthorized {
			t.Errorf("GET %s with a bearer token: 401", path)
		}
	}
}

func TestIntakeWithoutSecret(t *testing.T) {
	e := newEnv(t, githubOnlyConfig)
	body := []byte(`{"id":"PM-1","title":"t","status":"finalized","signed_off_by":["a"],"action_items":[]}`)
	if r := e.post(body, signedHeader("msg_1", e.clock.Now(), body)); r.status != http.StatusUnauthorized {
		t.Errorf("signature with no intake.secret: %d", r.status)
	}
	if r := e.post(body, nil); r.status != http.StatusAccepted {
		t.Errorf("bearer: %d %s", r.status, r.body)
	}
}
