package devweb

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.1": true, "[::1]:8080": true, "localhost:1234": true, "LOCALHOST": true,
		"127.1.2.3:80": true, "evil.example:8080": false, "evil.example": false, "10.0.0.1:8080": false,
		"localhost.evil.example:8080": false, "": false,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestWritePage: a ticket's page is sent as the stand-in's content type, with the headers that
// keep a browser from sniffing, running scripts, caching it, or posting its forms elsewhere.
func TestWritePage(t *testing.T) {
	w := httptest.NewRecorder()
	WritePage(w, http.StatusConflict, "text/html;charset=UTF-8", template.Must(template.New("p").Parse("<p>{{.}}</p>")), "<b>")
	want := map[string]string{
		"Content-Type":            "text/html;charset=UTF-8",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
		"Cache-Control":           "no-store",
	}
	for k, v := range want {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if w.Code != http.StatusConflict || w.Body.String() != "<p>&lt;b&gt;</p>" {
		t.Errorf("%d %q", w.Code, w.Body.String())
	}
}
