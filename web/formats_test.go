package web

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestEveryPageAnswersJSON: every status page answers ?format=json, and Accept:
// application/json, as application/json that parses.
func TestEveryPageAnswersJSON(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	for _, path := range []string{"/", "/postmortems/PM-1", "/owners", "/owners/bob@acme.com", "/insights"} {
		for _, tc := range []struct{ name, path, accept string }{
			{"format", path + "?format=json", ""},
			{"accept", path, "application/json"},
		} {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				r := e.page(tc.path, "Accept", tc.accept)
				if r.status != http.StatusOK {
					t.Fatalf("%d %s", r.status, r.body)
				}
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("Content-Type %q", ct)
				}
				var v map[string]any
				if err := json.Unmarshal(r.body, &v); err != nil {
					t.Fatalf("%v: %s", err, r.body)
				}
				if len(v) == 0 {
					t.Fatalf("an empty object: %s", r.body)
				}
			})
		}
	}
}

// TestPostmortemPageJSON: /postmortems/{id}?format=json is the GET /v1 body plus each item's
// status history.
func TestPostmortemPageJSON(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	decode := func(r response) map[string]any {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var v map[string]any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatalf("%v: %s", err, r.body)
		}
		return v
	}
	api := decode(e.do(http.MethodGet, "/v1/postmortems/PM-1", nil, bearerHeader(testToken)))
	page := decode(e.page("/postmortems/PM-1?format=json"))
	histories := map[string][]any{}
	pageItems, _ := page["items"].([]any)
	for i, it := range pageItems {
		item := it.(map[string]any)
		h, ok := item["history"].([]any)
		if !ok {
			t.Fatalf("item %d has no history list: %v", i, item)
		}
		histories[item["id"].(string)] = h
		delete(item, "history")
	}
	if !reflect.DeepEqual(api, page) {
		t.Fatalf("the page without histories is not the API's body:\napi  %v\npage %v", api, page)
	}
	// seedOwners: I1 was done on 11-09, I2 never changed.
	if h := histories["I1"]; len(h) != 1 || h[0].(map[string]any)["to"] != "done" {
		t.Errorf("history of I1: %v", h)
	}
	if h, ok := histories["I2"]; !ok || len(h) != 0 {
		t.Errorf("history of I2: %v (%v)", h, ok)
	}
	if n := len(histories); n != len(api["items"].([]any)) || !slices.Contains(slices.Collect(maps.Keys(histories)), "I5") {
		t.Errorf("histories of %d items", n)
	}
}
