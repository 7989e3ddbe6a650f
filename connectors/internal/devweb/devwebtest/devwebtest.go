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

	"github.com/followthrough/followthrough/connectors/internal/devweb"
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

// Refusal is a form post that a ticket's page refuses with Status, changing nothing and
// delivering nothing.
type Refusal struct {
	Name   string
	Form   url.Values
	Header []string // Click's header pairs
	Status int
}

// Refusals are the posts every ticket page refuses: from another site as the browser reports
// it (Sec-Fetch-Site, or Origin alone), to a host name that is not loopback (DNS rebinding),
// an action the ticket does not offer now (notOffered), an action no page has, and a comment
// without words.
func Refusals(notOffered string) []Refusal {
	done := url.Values{"action": {devweb.ActionDone}}
	return []Refusal{
		{"cross-site", done, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same-site", done, []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"other origin", done, []string{"Sec-Fetch-Site", "", "Origin", "http://evil.example"}, http.StatusForbidden},
		{"rebound host name", done, []string{"Host", "evil.example"}, http.StatusForbidden},
		{"rebound host name and port", done, []string{"Host", "evil.example:80"}, http.StatusForbidden},
		{"not offered", url.Values{"action": {notOffered}}, nil, http.StatusConflict},
		{"unknown", url.Values{"action": {"delete"}}, nil, http.StatusConflict},
		{"blank comment", url.Values{"action": {devweb.ActionComment}, "body": {"  "}}, nil, http.StatusConflict},
		{"comment without a body", url.Values{"action": {devweb.ActionComment}}, nil, http.StatusConflict},
	}
}

// CheckRefusals clicks each of Refusals(notOffered) on pageURL, a ticket's page whose clicks
// deliver to rec, as a subtest: each must be answered with its status, leave rec without a
// delivery, and pass unchanged, which fails the subtest when the ticket changed.
func CheckRefusals(t *testing.T, pageURL, notOffered string, rec *Recorder, unchanged func(t *testing.T)) {
	t.Helper()
	for _, tc := range Refusals(notOffered) {
		t.Run(tc.Name, func(t *testing.T) {
			if code, body := Click(t, pageURL, tc.Form, tc.Header...); code != tc.Status {
				t.Fatalf("%d, want %d: %s", code, tc.Status, body)
			}
			unchanged(t)
			if reqs, _ := rec.Deliveries(); len(reqs) != 0 {
				t.Errorf("%d deliveries", len(reqs))
			}
		})
	}
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
