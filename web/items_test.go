package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
	ftsync "github.com/followthrough/followthrough/sync"
)

// Compile-time checks: the engine and the store are what the server drives and reads.
var (
	_ Engine = (*ftsync.Engine)(nil)
	_ Reader = (*store.Store)(nil)
)

// newSyncEnv is a server with sampleJSON accepted.
func newSyncEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, testConfig)
	if r := e.post([]byte(sampleJSON), nil); r.status != http.StatusAccepted {
		t.Fatalf("intake: %d %s", r.status, r.body)
	}
	return e
}

// link gives an item a ticket, as the worker does after creating it.
func (e *env) link(pmID, itemID string, ref ft.TicketRef) {
	e.t.Helper()
	ctx := context.Background()
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		_, err := store.LinkTicket(ctx, tx, pmID, itemID, ft.Ticket{Ref: ref, Status: ft.StatusOpen}, ref.Scope(), e.clock.Now())
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) patch(path, body string, h http.Header) response {
	e.t.Helper()
	return e.do(http.MethodPatch, path, strings.NewReader(body), h)
}

func TestPatchItem(t *testing.T) {
	e := newSyncEnv(t)
	const pm = "/v1/postmortems/PM-2026-042"
	e.link("PM-2026-042", "AI-1", ft.TicketRef{Kind: ft.GitHub, Key: "acme/checkout#12", URL: "https://github.com/acme/checkout/issues/12"})

	withType := func(ct string) http.Header {
		h := bearerHeader(testToken)
		h.Set("Content-Type", ct)
		return h
	}
	tests := []struct {
		name   string
		path   string
		body   string
		header http.Header
		status int
		errHas string
		fields []string
	}{
		{"no token", pm + "/items/AI-1", `{"status": "done"}`, jsonHeader(), 401, "bearer", nil},
		{"wrong token", pm + "/items/AI-1", `{"status": "done"}`, bearerHeader("nope"), 401, "bearer", nil},
		{"unknown postmortem", "/v1/postmortems/PM-nope/items/AI-1", `{"status": "done"}`, nil, 404, "", nil},
		{"unknown item", pm + "/items/AI-9", `{"status": "done"}`, nil, 404, "", nil},
		{"no ticket yet", pm + "/items/AI-2", `{"status": "done"}`, nil, 409, "no ticket yet", nil},
		{"unknown status", pm + "/items/AI-1", `{"status": "finished"}`, nil, 422, "", []string{"status"}},
		{"status case", pm + "/items/AI-1", `{"status": "Done"}`, nil, 422, "", []string{"status"}},
		{"no status", pm + "/items/AI-1", `{}`, nil, 422, "", []string{"status"}},
		{"null status", pm + "/items/AI-1", `{"status": null}`, nil, 422, "", []string{"status"}},
		{"status not a string", pm + "/items/AI-1", `{"status": 3}`, nil, 422, "", []string{"status"}},
		{"unknown field", pm + "/items/AI-1", `{"status": "done", "owner": "x"}`, nil, 422, "", []string{"owner"}},
		{"array", pm + "/items/AI-1", `["done"]`, nil, 422, "", nil},
		{"malformed", pm + "/items/AI-1", `{"status": "done"`, nil, 400, "malformed", nil},
		{"empty", pm + "/items/AI-1", ``, nil, 400, "empty", nil},
		{"trailing data", pm + "/items/AI-1", `{"status": "done"} {}`, nil, 400, "after", nil},
		{"invalid utf-8", pm + "/items/AI-1", "{\"status\": \"d\xffne\"}", nil, 400, "UTF-8", nil},
		{"text/plain", pm + "/items/AI-1", `{"status": "done"}`, withType("text/plain"), 415, "", nil},
		{"too large", pm + "/items/AI-1", `{"status": "done"}` + strings.Repeat(" ", MaxAPIBody), nil, 413, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.patch(tt.path, tt.body, tt.header)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			eb := r.errorBody(t)
			if !strings.Contains(strings.ToLower(eb.Error), strings.ToLower(tt.errHas)) {
				t.Errorf("error = %q, want it to mention %q", eb.Error, tt.errHas)
			}
			var fields []string
			for _, f := range eb.Fields {
				fields = append(fields, f.Field)
				if f.Message == "" {
					t.Errorf("field %s without a message", f.Field)
				}
			}
			if strings.Join(fields, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields = %+v, want %v", eb.Fields, tt.fields)
			}
		})
	}
	// Nothing above changed anything.
	if it := itemOf(t, e.get(pm).postmortem(t), "AI-1"); it.Status != ft.StatusOpen {
		t.Fatalf("AI-1 is %s after refused changes", it.Status)
	}

	r := e.patch(pm+"/items/AI-1", `{"status": "done"}`, nil)
	if r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	// The answer is the bare item.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["items"]; ok {
		t.Errorf("the answer is not the bare item: %s", r.body)
	}
	var it ft.ItemView
	if err := json.Unmarshal(r.body, &it); err != nil {
		t.Fatal(err)
	}
	if it.ID != "AI-1" || it.Status != ft.StatusDone || it.Ticket == nil || it.Ticket.Key != "acme/checkout#12" {
		t.Errorf("item = %+v", it)
	}
	got := e.get(pm).postmortem(t)
	if got.Completion.Done != 1 || itemOf(t, got, "AI-1").Status != ft.StatusDone {
		t.Errorf("after PATCH: completion %+v, AI-1 %s", got.Completion, itemOf(t, got, "AI-1").Status)
	}
	// The move of the ticket is queued (with the three create jobs of the intake).
	if pending, _, err := e.store.JobCounts(context.Background()); err != nil || pending != 4 {
		t.Errorf("pending jobs = %d, %v; want 4", pending, err)
	}
	// The same status again is 200 and queues nothing.
	if r := e.patch(pm+"/items/AI-1", `{"status": "done"}`, nil); r.status != http.StatusOK {
		t.Fatalf("PATCH again: %d %s", r.status, r.body)
	}
	if pending, _, _ := e.store.JobCounts(context.Background()); pending != 4 {
		t.Errorf("pending jobs after the same status = %d, want 4", pending)
	}
}

func TestPatchRemovedItem(t *testing.T) {
	e := newSyncEnv(t)
	e.link("PM-2026-042", "AI-3", ft.TicketRef{Kind: ft.Jira, Key: "PAY-7", URL: "https://acme.atlassian.net/browse/PAY-7"})
	doc := sample(t)
	doc["action_items"] = items(doc)[:2]
	if r := e.post(encode(t, doc), nil); r.status != http.StatusOK {
		t.Fatalf("revision: %d %s", r.status, r.body)
	}
	r := e.patch("/v1/postmortems/PM-2026-042/items/AI-3", `{"status": "open"}`, nil)
	if r.status != http.StatusConflict {
		t.Fatalf("PATCH of a removed item: %d %s", r.status, r.body)
	}
	if eb := r.errorBody(t); !strings.Contains(eb.Error, "removed") {
		t.Errorf("error = %q", eb.Error)
	}
}

func TestRetry(t *testing.T) {
	e := newSyncEnv(t)
	ctx := context.Background()
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		return store.SetItemSyncFailed(ctx, tx, "PM-2026-042", "AI-2", "jira said 400: project OPS does not exist", e.clock.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	if it := itemOf(t, e.get("/v1/postmortems/PM-2026-042").postmortem(t), "AI-2"); it.Sync != ft.SyncFailed {
		t.Fatalf("AI-2 sync = %s before retry", it.Sync)
	}

	for _, tt := range []struct {
		name   string
		path   string
		header http.Header
		status int
	}{
		{"no token", "/v1/postmortems/PM-2026-042/retry", jsonHeader(), 401},
		{"unknown postmortem", "/v1/postmortems/PM-nope/retry", nil, 404},
		{"GET is not allowed", "", nil, 405},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if tt.path == "" {
				r = e.get("/v1/postmortems/PM-2026-042/retry")
			} else {
				r = e.do(http.MethodPost, tt.path, nil, tt.header)
			}
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			r.errorBody(t)
		})
	}

	r := e.do(http.MethodPost, "/v1/postmortems/PM-2026-042/retry", nil, bearerHeader(testToken))
	if r.status != http.StatusOK {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	pm := r.postmortem(t)
	if pm.ID != "PM-2026-042" || len(pm.Items) != 3 {
		t.Fatalf("retry answered %s", r.body)
	}
	if it := itemOf(t, pm, "AI-2"); it.Sync != ft.SyncPending || it.LastError != nil {
		t.Errorf("AI-2 after retry: sync %s, last_error %v", it.Sync, it.LastError)
	}
}

func TestWriteEndpointsWithoutSync(t *testing.T) {
	e := newEnvWith(t, testConfig, func(o *Options) { o.Engine = nil })
	r := e.patch("/v1/postmortems/PM-1/items/AI-1", `{"status": "done"}`, nil)
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("PATCH without an engine: %d %s", r.status, r.body)
	}
	r = e.do(http.MethodPost, "/v1/postmortems/PM-1/retry", io.NopCloser(bytes.NewReader(nil)), nil)
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("retry without an engine: %d %s", r.status, r.body)
	}
}

func itemOf(t testing.TB, pm ft.PostmortemView, id string) ft.ItemView {
	t.Helper()
	for _, it := range pm.Items {
		if it.ID == id {
			return it
		}
	}
	t.Fatalf("no item %s in %s", id, pm.ID)
	return ft.ItemView{}
}
