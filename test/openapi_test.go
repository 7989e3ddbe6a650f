package test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/followthrough/followthrough/internal/openapitest"
)

// apiChecker checks exchanges with /v1 and the tracker webhooks against web/openapi.yaml, the
// document the binary embeds and serves (TestOpenAPIServed).
var apiChecker = sync.OnceValues(func() (*openapitest.Checker, error) {
	doc, err := os.ReadFile("../web/openapi.yaml")
	if err != nil {
		return nil, err
	}
	return openapitest.New(doc, "/v1/", "/webhooks/")
})

// checkedTransport is the transport of every request these tests send to followthrough: each
// exchange with /v1 or a webhook endpoint is checked against the OpenAPI document.
func checkedTransport(t testing.TB) http.RoundTripper {
	c, err := apiChecker()
	if err != nil {
		t.Fatal(err)
	}
	return c.Transport(t, nil)
}

// TestOpenAPIServed checks that the binary serves web/openapi.yaml at /openapi.yaml, without
// credentials.
func TestOpenAPIServed(t *testing.T) {
	want, err := os.ReadFile("../web/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfg := writeConfig(t, "listen: "+addr+"\ndatabase: "+t.TempDir()+"/ft.db\nintake:\n  tokens: [t]\nstatus_page:\n  public: false\n")
	s := start(t, addr, "serve", "--config", cfg)
	resp, err := http.Get(s.base + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Fatalf("GET /openapi.yaml = %d, %d bytes; want 200 and web/openapi.yaml (%d bytes)", resp.StatusCode, len(got), len(want))
	}
}
