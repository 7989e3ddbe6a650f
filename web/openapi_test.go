package web

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/followthrough/followthrough/internal/openapitest"
)

// apiChecker checks exchanges with /v1 and the tracker webhooks against the served OpenAPI
// document. Every test client of this package goes through it (newEnvWith).
var apiChecker = sync.OnceValues(func() (*openapitest.Checker, error) {
	return openapitest.New(openAPIDocument, "/v1/", "/webhooks/")
})

// checkedTransport is next behind the OpenAPI checker. Benchmarks keep next as it is: they
// measure the server, not the checker.
func checkedTransport(t testing.TB, next http.RoundTripper) http.RoundTripper {
	if _, ok := t.(*testing.B); ok {
		return next
	}
	c, err := apiChecker()
	if err != nil {
		t.Fatal(err)
	}
	return c.Transport(t, next)
}

// TestOpenAPIDocument loads the document with kin-openapi's validation on, serves it without
// credentials (even when the status page is private), and finds every /v1 and webhook route of
// the server in it.
func TestOpenAPIDocument(t *testing.T) {
	if _, err := openapitest.Load(openAPIDocument); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, testConfig+"status_page:\n  public: false\n")
	r := e.do(http.MethodGet, "/openapi.yaml", nil, http.Header{})
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/yaml") ||
		!bytes.Equal(r.body, openAPIDocument) {
		t.Fatalf("GET /openapi.yaml = %d %q, %d bytes; want 200 application/yaml with the embedded document",
			r.status, r.header.Get("Content-Type"), len(r.body))
	}

	doc, err := openapitest.Load(openAPIDocument)
	if err != nil {
		t.Fatal(err)
	}
	described := 0
	for _, rt := range e.srv.Echo().Routes() {
		if !strings.HasPrefix(rt.Path, "/v1/") && !strings.HasPrefix(rt.Path, "/webhooks/") {
			continue
		}
		// Echo's :name is OpenAPI's {name}.
		segs := strings.Split(rt.Path, "/")
		for i, s := range segs {
			if name, ok := strings.CutPrefix(s, ":"); ok {
				segs[i] = "{" + name + "}"
			}
		}
		path := strings.Join(segs, "/")
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("%s %s is served but not in openapi.yaml", rt.Method, path)
			continue
		}
		described++
	}
	if want := doc.Paths.Len(); described < want {
		t.Errorf("%d routes found in openapi.yaml, which has %d paths: it describes something the server does not serve", described, want)
	}
}
