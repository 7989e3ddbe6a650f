// Package devwebtest helps the stand-ins' tests click their pages' buttons and look at the
// webhooks the clicks deliver.
package devwebtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
)

// Recorder is a webhook receiver on loopback that keeps every delivery and answers 200.
type Recorder struct {
	URL    string
	mu     sync.Mutex
	got    []*http.Request
	bodies [][]byte
}

// NewRecorder starts a Recorder, closed when the test ends.
func NewRecorder(t testing.TB) *Recorder {
	r := &Recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got, r.bodies = append(r.got, req), append(r.bodies, body)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Deliveries are the requests received so far and their bodies.
func (r *Recorder) Deliveries() ([]*http.Request, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.got...), append([][]byte(nil), r.bodies...)
}

// Click posts a button's form to pageURL as a browser on the page would (same-origin), without
// following the redirect, and returns the status and the Location header followed by the body.
// header pairs are set on the request ("Host" sets the Host).
func Click(t testing.TB, pageURL string, form url.Values, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, pageURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location") + string(body)
}

// Keys are the keys of a JSON object and of each object in it, by the key holding it ("" for
// the top level): the shape of a payload, to compare with a fixture's.
func Keys(t testing.TB, data []byte) map[string]map[string]bool {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	out := map[string]map[string]bool{"": {}}
	for k, v := range m {
		out[""][k] = true
		if obj, ok := v.(map[string]any); ok {
			out[k] = map[string]bool{}
			for kk := range obj {
				out[k][kk] = true
			}
		}
	}
	return out
}

// FileKeys is Keys of a file.
func FileKeys(t testing.TB, path string) map[string]map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Keys(t, data)
}
