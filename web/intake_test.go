package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	ft "github.com/followthrough/followthrough"
)

func TestIntakeCreatedThenGet(t *testing.T) {
	e := newEnv(t, testConfig)
	resp := e.post([]byte(sampleJSON), nil)
	if resp.status != http.StatusAccepted {
		t.Fatalf("status = %d, want 202: %s", resp.status, resp.body)
	}
	if loc := resp.header.Get("Location"); loc != "/v1/postmortems/PM-2026-042" {
		t.Errorf("Location = %q", loc)
	}
	pm := resp.postmortem(t)
	if pm.ID != "PM-2026-042" || pm.State != ft.StateTracking || pm.Revision != 1 || len(pm.Items) != 3 {
		t.Fatalf("postmortem = %+v", pm)
	}
	if pm.Completion != (ft.Completion{Done: 0, Total: 3, Percent: 0}) {
		t.Errorf("completion = %+v", pm.Completion)
	}
	want := map[string]ft.Target{
		"AI-1": {Kind: ft.GitHub, Repo: "acme/checkout"},            // its own tracker
		"AI-2": {Kind: ft.Jira, Project: "OPS", IssueType: "Story"}, // its own tracker
		"AI-3": {Kind: ft.Jira, Project: "PAY", IssueType: "Task"},  // routed by team, default issue type
	}
	for _, it := range pm.Items {
		if it.Target != want[it.ID] {
			t.Errorf("item %s target = %+v, want %+v", it.ID, it.Target, want[it.ID])
		}
		if it.Status != ft.StatusOpen || it.Sync != ft.SyncPending || it.Ticket != nil {
			t.Errorf("item %s = %+v, want open, pending, no ticket", it.ID, it)
		}
	}
	if pm.Items[1].Priority != "P2" {
		t.Errorf("default priority = %q", pm.Items[1].Priority)
	}

	got := e.get("/v1/postmortems/PM-2026-042")
	if got.status != http.StatusOK {
		t.Fatalf("GET status = %d: %s", got.status, got.body)
	}
	// The intake answer is GET's body with what the intake did beside the postmortem's fields.
	wantAnswer := append(bytes.TrimSuffix(bytes.TrimSpace(got.body), []byte("}")), `,"intake":"accepted"}`...)
	if !bytes.Equal(bytes.TrimSpace(resp.body), wantAnswer) {
		t.Errorf("the intake answer is not GET's body with \"intake\": \"accepted\":\n%s\n%s", got.body, resp.body)
	}
	if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestIntakeRedeliveryAndRevision(t *testing.T) {
	e := newEnv(t, testConfig)
	if r := e.post([]byte(sampleJSON), nil); r.status != http.StatusAccepted {
		t.Fatalf("first: %d %s", r.status, r.body)
	}

	// The same postmortem in other bytes: keys reordered (Go sorts map keys), indented, an
	// unknown field, an equivalent time in another zone, the default priority spelled out,
	// padding spaces. Equal after parsing: 200 and nothing new.
	m := sample(t)
	m["signed_off_at"] = "2026-11-22T11:00:00+01:00"
	m["generator"] = map[string]any{"name": "some-pm-tool", "version": 3}
	item(m, 1)["priority"] = "P2"
	item(m, 2)["owner"] = "  erin@acme.com "
	same, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	r := e.post(same, nil)
	if r.status != http.StatusOK {
		t.Fatalf("redelivery: %d %s", r.status, r.body)
	}
	if pm := r.postmortem(t); pm.Revision != 1 {
		t.Errorf("redelivery made revision %d", pm.Revision)
	}

	// A changed item title is a revision: 200 and revision 2.
	item(m, 0)["title"] = "Add a circuit breaker and a timeout to the tax client"
	r = e.post(encode(t, m), nil)
	if r.status != http.StatusOK {
		t.Fatalf("revision: %d %s", r.status, r.body)
	}
	pm := r.postmortem(t)
	if pm.Revision != 2 || pm.Items[0].Title != "Add a circuit breaker and a timeout to the tax client" {
		t.Errorf("revision = %d, item = %+v", pm.Revision, pm.Items[0])
	}

	// A revision that drops an item keeps it, removed.
	m["action_items"] = items(m)[:2]
	r = e.post(encode(t, m), nil)
	if r.status != http.StatusOK {
		t.Fatalf("removal: %d %s", r.status, r.body)
	}
	pm = r.postmortem(t)
	if pm.Revision != 3 || len(pm.Items) != 3 {
		t.Fatalf("after removal: revision %d, %d items", pm.Revision, len(pm.Items))
	}
	for _, it := range pm.Items {
		if it.ID == "AI-3" && (!it.Removed || it.Status != ft.StatusWontDo) {
			t.Errorf("removed item = %+v", it)
		}
	}
}

func TestIntakeSignedRedelivery(t *testing.T) {
	e := newEnv(t, testConfig)
	body := []byte(sampleJSON)
	now := e.clock.Now()
	r := e.post(body, signedHeader("msg_1", now, body))
	if r.status != http.StatusAccepted {
		t.Fatalf("signed: %d %s", r.status, r.body)
	}
	// The sender retries a minute later: same id, new timestamp, new signature.
	later := now.Add(60e9)
	e.clock.Set(later)
	r = e.post(body, signedHeader("msg_1", later, body))
	if r.status != http.StatusOK {
		t.Fatalf("signed redelivery: %d %s", r.status, r.body)
	}
	if pm := r.postmortem(t); pm.Revision != 1 {
		t.Errorf("revision = %d", pm.Revision)
	}
}

func TestIntakeEmptyActionItemsCompletes(t *testing.T) {
	e := newEnv(t, testConfig)
	m := sample(t)
	m["action_items"] = []any{}
	r := e.post(encode(t, m), nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("%d %s", r.status, r.body)
	}
	pm := r.postmortem(t)
	if pm.State != ft.StateCompleted || pm.Completion.Percent != 100 || len(pm.Items) != 0 {
		t.Errorf("postmortem = %+v", pm)
	}
	if !strings.Contains(string(r.body), `"items":[]`) {
		t.Errorf("items is not an empty array: %s", r.body)
	}
}

// TestIntakeValidation sends each rule's violation through the API: 422, every problem named.
func TestIntakeValidation(t *testing.T) {
	e := newEnv(t, testConfig)
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		fields []string
	}{
		{"no id", func(m map[string]any) { delete(m, "id") }, []string{"id"}},
		{"bad id", func(m map[string]any) { m["id"] = "PM 42/x" }, []string{"id"}},
		{"long id", func(m map[string]any) { m["id"] = strings.Repeat("x", 129) }, []string{"id"}},
		{"no title", func(m map[string]any) { m["title"] = "  " }, []string{"title"}},
		{"draft", func(m map[string]any) { m["status"] = "draft" }, []string{"status"}},
		{"no status", func(m map[string]any) { delete(m, "status") }, []string{"status"}},
		{"unsigned", func(m map[string]any) { m["signed_off_by"] = []any{} }, []string{"signed_off_by"}},
		{"no signers", func(m map[string]any) { delete(m, "signed_off_by") }, []string{"signed_off_by"}},
		{"no action_items", func(m map[string]any) { delete(m, "action_items") }, []string{"action_items"}},
		{"null action_items", func(m map[string]any) { m["action_items"] = nil }, []string{"action_items"}},
		{"item no id", func(m map[string]any) { delete(item(m, 1), "id") }, []string{"action_items[1].id"}},
		{"item bad id", func(m map[string]any) { item(m, 1)["id"] = "AI 2" }, []string{"action_items[1].id"}},
		{"item duplicate id", func(m map[string]any) { item(m, 2)["id"] = "AI-1" }, []string{"action_items[2].id"}},
		{"item no title", func(m map[string]any) { delete(item(m, 0), "title") }, []string{"action_items[0].title"}},
		{"item no owner", func(m map[string]any) { delete(item(m, 2), "owner") }, []string{"action_items[2].owner"}},
		{"priority", func(m map[string]any) { item(m, 0)["priority"] = "urgent" }, []string{"action_items[0].priority"}},
		{"due", func(m map[string]any) { item(m, 0)["due"] = "15/12/2026" }, []string{"action_items[0].due"}},
		{"item tracker kind", func(m map[string]any) { item(m, 0)["tracker"] = map[string]any{"kind": "gitlab"} }, []string{"action_items[0].tracker.kind"}},
		{"item github repo", func(m map[string]any) { item(m, 0)["tracker"] = map[string]any{"kind": "github", "repo": "checkout"} }, []string{"action_items[0].tracker.repo"}},
		{"item jira project", func(m map[string]any) { item(m, 1)["tracker"] = map[string]any{"kind": "jira"} }, []string{"action_items[1].tracker.project"}},
		{"own github number", func(m map[string]any) { m["tracker"] = map[string]any{"kind": "github", "repo": "acme/pm"} }, []string{"tracker.number"}},
		{"own jira key", func(m map[string]any) { m["tracker"] = map[string]any{"kind": "jira", "key": "nope"} }, []string{"tracker.key"}},
		{"wrong types", func(m map[string]any) { m["id"] = 42; item(m, 1)["labels"] = "x" }, []string{"id", "action_items[1].labels"}},
		{"bad time", func(m map[string]any) { m["signed_off_at"] = "Tuesday" }, []string{"signed_off_at"}},
		{"everything at once", func(m map[string]any) {
			m["status"] = "draft"
			m["signed_off_by"] = nil
			delete(item(m, 0), "owner")
			item(m, 2)["due"] = "soon"
		}, []string{"status", "signed_off_by", "action_items[0].owner", "action_items[2].due"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sample(t)
			tt.mutate(m)
			r := e.post(encode(t, m), nil)
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422: %s", r.status, r.body)
			}
			eb := r.errorBody(t)
			var got []string
			for _, f := range eb.Fields {
				if f.Message == "" {
					t.Errorf("field %s has no message", f.Field)
				}
				got = append(got, f.Field)
			}
			if !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %q, want %q", got, tt.fields)
			}
		})
	}
	// None of them created anything.
	if r := e.get("/v1/postmortems/PM-2026-042"); r.status != http.StatusNotFound {
		t.Errorf("a rejected postmortem was stored: %d %s", r.status, r.body)
	}
}

func TestIntakeRouting(t *testing.T) {
	t.Run("no route names the item", func(t *testing.T) {
		e := newEnv(t, testConfig)
		m := sample(t)
		m["team"], m["severity"] = "search", "SEV3"
		r := e.post(encode(t, m), nil)
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("status = %d: %s", r.status, r.body)
		}
		eb := r.errorBody(t)
		if len(eb.Fields) != 1 || eb.Fields[0].Field != "action_items[2].tracker" || !strings.Contains(eb.Fields[0].Message, `"AI-3"`) {
			t.Errorf("fields = %+v", eb.Fields)
		}
	})
	t.Run("item team and labels route", func(t *testing.T) {
		e := newEnv(t, testConfig)
		m := sample(t)
		m["team"], m["severity"] = "search", "SEV3"
		item(m, 2)["labels"] = []any{"Security"}
		m["action_items"] = append(items(m), map[string]any{"id": "AI-4", "title": "t", "owner": "o", "team": "payments"})
		r := e.post(encode(t, m), nil)
		if r.status != http.StatusAccepted {
			t.Fatalf("status = %d: %s", r.status, r.body)
		}
		pm := r.postmortem(t)
		if got := pm.Items[2].Target; got != (ft.Target{Kind: ft.GitHub, Repo: "acme/security"}) {
			t.Errorf("label route: %+v", got)
		}
		if got := pm.Items[3].Target; got != (ft.Target{Kind: ft.Jira, Project: "PAY", IssueType: "Task"}) {
			t.Errorf("item team route: %+v", got)
		}
	})
	t.Run("severity route", func(t *testing.T) {
		e := newEnv(t, testConfig)
		m := sample(t)
		m["team"] = "search"
		r := e.post(encode(t, m), nil)
		if r.status != http.StatusAccepted {
			t.Fatalf("status = %d: %s", r.status, r.body)
		}
		if got := r.postmortem(t).Items[2].Target; got != (ft.Target{Kind: ft.GitHub, Repo: "acme/sev1"}) {
			t.Errorf("severity route: %+v", got)
		}
	})
	t.Run("unconfigured tracker", func(t *testing.T) {
		e := newEnv(t, githubOnlyConfig)
		r := e.post([]byte(sampleJSON), nil)
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("status = %d: %s", r.status, r.body)
		}
		eb := r.errorBody(t)
		if len(eb.Fields) != 1 || eb.Fields[0].Field != "action_items[1].tracker" || !strings.Contains(eb.Fields[0].Message, "Jira") {
			t.Errorf("fields = %+v", eb.Fields)
		}
	})
	t.Run("default route", func(t *testing.T) {
		e := newEnv(t, githubOnlyConfig)
		m := sample(t)
		delete(item(m, 1), "tracker")
		r := e.post(encode(t, m), nil)
		if r.status != http.StatusAccepted {
			t.Fatalf("status = %d: %s", r.status, r.body)
		}
		if got := r.postmortem(t).Items[1].Target; got != (ft.Target{Kind: ft.GitHub, Repo: "acme/actions"}) {
			t.Errorf("default route: %+v", got)
		}
	})
}

func TestIntakeRequestErrors(t *testing.T) {
	e := newEnv(t, testConfig)
	withType := func(ct string) http.Header {
		h := bearerHeader(testToken)
		if ct == "" {
			h.Del("Content-Type")
		} else {
			h.Set("Content-Type", ct)
		}
		return h
	}
	big := append([]byte(sampleJSON), bytes.Repeat([]byte(" "), MaxAPIBody)...)
	exact := append([]byte(sampleJSON), bytes.Repeat([]byte(" "), MaxAPIBody-len(sampleJSON))...)
	tests := []struct {
		name   string
		body   io.Reader
		header http.Header
		status int
	}{
		{"malformed", strings.NewReader(`{"id": "PM-1",`), nil, 400},
		{"not json", strings.NewReader(`id=PM-1`), nil, 400},
		{"empty", strings.NewReader(``), nil, 400},
		{"trailing data", strings.NewReader(sampleJSON + `{}`), nil, 400},
		{"trailing garbage", strings.NewReader(sampleJSON + `x`), nil, 400},
		{"invalid utf-8", strings.NewReader(strings.Replace(sampleJSON, "Checkout", "Check\xffout", 1)), nil, 400},
		{"array", strings.NewReader(`[]`), nil, 422},
		{"no content type", strings.NewReader(sampleJSON), withType(""), 415},
		{"text/plain", strings.NewReader(sampleJSON), withType("text/plain"), 415},
		{"form", strings.NewReader(sampleJSON), withType("application/x-www-form-urlencoded"), 415},
		{"latin1", strings.NewReader(sampleJSON), withType("application/json; charset=iso-8859-1"), 415},
		{"garbled type", strings.NewReader(sampleJSON), withType("application/json;;="), 415},
		{"415 before auth", strings.NewReader(sampleJSON), http.Header{"Content-Type": {"text/plain"}}, 415},
		{"charset utf-8", strings.NewReader(sampleJSON), withType("application/json; charset=UTF-8"), 202},
		{"too large", bytes.NewReader(big), nil, 413},
		{"too large, chunked", io.MultiReader(bytes.NewReader(big)), nil, 413},
		{"413 before auth", bytes.NewReader(big), jsonHeader(), 413},
		{"exactly 1 MiB", bytes.NewReader(exact), nil, 200},
		{"unauthenticated malformed body is 401, not 400", strings.NewReader(`{`), jsonHeader(), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/v1/postmortems", tt.body, tt.header)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if r.status >= 400 {
				eb := r.errorBody(t)
				if len(eb.Fields) != 0 && r.status != 422 {
					t.Errorf("fields on a %d: %+v", r.status, eb.Fields)
				}
			}
		})
	}
}

func TestNotFoundAndMethod(t *testing.T) {
	e := newEnv(t, testConfig)
	r := e.get("/v1/postmortems/PM-nope")
	if r.status != http.StatusNotFound {
		t.Fatalf("unknown postmortem: %d %s", r.status, r.body)
	}
	if eb := r.errorBody(t); !strings.Contains(eb.Error, "PM-nope") {
		t.Errorf("error = %q", eb.Error)
	}
	if r := e.get("/v1/nothing-here"); r.status != http.StatusNotFound {
		t.Errorf("unknown route: %d", r.status)
	} else {
		r.errorBody(t)
	}
	r = e.do(http.MethodDelete, "/v1/postmortems", nil, nil)
	if r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", r.status)
	} else {
		r.errorBody(t)
	}
}

// TestIntakeConcurrentSame sends one postmortem many times at once: exactly one 202, the rest
// 200, one revision.
func TestIntakeConcurrentSame(t *testing.T) {
	e := newEnv(t, testConfig)
	const n = 12
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/postmortems", strings.NewReader(sampleJSON))
			req.Header = bearerHeader(testToken)
			resp, err := e.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusAccepted] != 1 || count[http.StatusOK] != n-1 {
		t.Errorf("statuses = %v, want one 202 and %d 200", count, n-1)
	}
	if pm := e.get("/v1/postmortems/PM-2026-042").postmortem(t); pm.Revision != 1 {
		t.Errorf("revision = %d", pm.Revision)
	}
}

func TestIntakeWakesWorker(t *testing.T) {
	e := newEnv(t, testConfig)
	m := sample(t)
	e.post(encode(t, m), nil) // created
	e.post(encode(t, m), nil) // unchanged: nothing queued
	item(m, 0)["owner"] = "frank@acme.com"
	e.post(encode(t, m), nil) // revised
	if got := e.engine.Wakes(); got != 2 {
		t.Errorf("Wake called %d times, want 2", got)
	}
}

// TestRevisionAfterRoutesEdit is the regression test of a revision refused with 422 because an
// item the postmortem already had matched no route once the routes were edited: existing items
// keep their target, and only new items need a route.
func TestRevisionAfterRoutesEdit(t *testing.T) {
	e := newEnv(t, testConfig)
	m := sample(t)
	if r := e.post(encode(t, m), nil); r.status != http.StatusAccepted {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	// The payments route that sent AI-3 to Jira PAY is edited away.
	e.srv.cfg.Routes = e.srv.cfg.Routes[1:]
	item(m, 2)["title"] = "Write the runbook, with the tax provider's contacts"
	r := e.post(encode(t, m), nil)
	if r.status != http.StatusOK {
		t.Fatalf("revision: %d %s; want 200", r.status, r.body)
	}
	pm := r.postmortem(t)
	if got := pm.Items[2]; got.Title != item(m, 2)["title"] || got.Target != (ft.Target{Kind: ft.Jira, Project: "PAY", IssueType: "Task"}) {
		t.Errorf("AI-3 after the revision: %+v", got)
	}
	// A new item still needs a route (SEV3: the SEV1 route does not take it).
	m["severity"] = "SEV3"
	m["action_items"] = append(items(m), map[string]any{"id": "AI-4", "title": "t", "owner": "o"})
	r = e.post(encode(t, m), nil)
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("new item without a route: %d %s; want 422", r.status, r.body)
	}
	if eb := r.errorBody(t); len(eb.Fields) != 1 || eb.Fields[0].Field != "action_items[3].tracker" {
		t.Errorf("fields = %+v", eb.Fields)
	}
}
