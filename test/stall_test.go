package test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/followthrough/followthrough/connectors/githubfake"
)

// The test in this file checks stalls end to end with the real binary and second-long
// intervals: items stall (overdue at once, inactive after seconds), the postmortem reopens with
// one comment and the `stalled` label per stalled ticket, its own ticket is reopened, notify
// receivers hear of it; finishing the items completes it; a restart repeats nothing.

const stallSecret = "whsec_ZTJlLXN0YWxsLXJlY2VpdmVyLXNlY3JldC0wMTIzNDU2Nzg5"

// eventReceiver is a notify URL that checks Standard Webhooks signatures and timestamps.
type eventReceiver struct {
	t      *testing.T
	key    []byte
	mu     sync.Mutex
	types  []string
	srv    *httptest.Server
	badSig int
}

func newEventReceiver(t *testing.T) *eventReceiver {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(stallSecret, "whsec_"))
	r := &eventReceiver{t: t, key: key}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		mac := hmac.New(sha256.New, r.key)
		fmt.Fprintf(mac, "%s.%s.", id, ts)
		mac.Write(body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		valid := false
		for _, sig := range strings.Fields(req.Header.Get("webhook-signature")) {
			valid = valid || hmac.Equal([]byte(sig), []byte(want))
		}
		if err != nil || !valid || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
			r.mu.Lock()
			r.badSig++
			r.mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &ev)
		r.mu.Lock()
		r.types = append(r.types, ev.Type)
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *eventReceiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.badSig > 0 {
		r.t.Errorf("%d notify deliveries with a bad signature", r.badSig)
	}
	return append([]string(nil), r.types...)
}

func TestStallsReopenAndCompleteEndToEnd(t *testing.T) {
	gh := githubfake.New(githubfake.Options{})
	t.Cleanup(gh.Close)
	recv := newEventReceiver(t)
	own, err := gh.CreateIssue("acme/pm", githubfake.NewIssue{Title: "PM-S postmortem", User: "carol-gh"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.CloseIssue("acme/pm", own.Number, "completed", "carol-gh"); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	db := filepath.Join(t.TempDir(), "ft.db")
	cfg := writeConfig(t, fmt.Sprintf(`listen: %s
database: %s
public_url: https://ft.example.com
intake:
  tokens: [%q]
github:
  api_url: %s
  token: %s
  write_interval: 0s
routes:
  - to: { kind: github, repo: acme/actions }
people:
  - { email: bob@acme.com, github: bob-gh }
  - { email: alice@acme.com, github: alice-gh }
reconcile:
  every: 1h
stall:
  scan_every: 1s
  overdue_grace: 1s
  inactive_after: { P2: 3s }
notify:
  - url: %s
    secret: %s
    events: [postmortem.reopened, postmortem.resumed, postmortem.completed]
`, addr, db, testToken, gh.URL(), githubfake.DefaultToken, recv.srv.URL, stallSecret))
	s := start(t, addr, "serve", "--config", cfg)

	signed := time.Now().UTC().Format(time.RFC3339)
	doc := fmt.Sprintf(`{"id":"PM-S","title":"Stalls","status":"finalized","signed_off_by":["carol@acme.com"],
		"signed_off_at":%q,"tracker":{"kind":"github","repo":"acme/pm","number":%d},"action_items":[
		{"id":"AI-1","title":"Long overdue","owner":"bob@acme.com","priority":"P1","due":"2020-01-01"},
		{"id":"AI-2","title":"Goes quiet","owner":"alice@acme.com","priority":"P2"}]}`, signed, own.Number)
	if code, body := s.do(http.MethodPost, "/v1/postmortems", testToken, []byte(doc)); code != http.StatusAccepted {
		t.Fatalf("intake = %d: %s", code, body)
	}

	type item struct {
		ID            string
		Stalled       bool
		StalledReason *string `json:"stalled_reason"`
		Ticket        *struct{ Key string }
	}
	type view struct {
		State         string
		ReopenedCount int `json:"reopened_count"`
		Items         []item
	}
	get := func() view {
		var v view
		s.getJSON("/v1/postmortems/PM-S", testToken, &v)
		return v
	}
	issue := func(key string) githubfake.Issue {
		repo, num, _ := strings.Cut(key, "#")
		n, _ := strconv.Atoi(num)
		is, _ := gh.Issue(repo, n)
		return is
	}
	botComments := func(is githubfake.Issue) int {
		n := 0
		for _, c := range is.Comments {
			if c.User == githubfake.DefaultLogin {
				n++
			}
		}
		return n
	}
	hasStalled := func(is githubfake.Issue) bool {
		for _, l := range is.Labels {
			if l == "stalled" {
				return true
			}
		}
		return false
	}

	var v view
	eventually(t, 20*time.Second, "AI-1 overdue and AI-2 inactive, each with one comment and the label", func() bool {
		v = get()
		if len(v.Items) != 2 || v.Items[0].Ticket == nil || v.Items[1].Ticket == nil {
			return false
		}
		for _, it := range v.Items {
			is := issue(it.Ticket.Key)
			if !it.Stalled || botComments(is) != 1 || !hasStalled(is) {
				return false
			}
		}
		return true
	})
	if v.State != "reopened" || v.ReopenedCount != 1 || *v.Items[0].StalledReason != "overdue" || *v.Items[1].StalledReason != "inactive" {
		t.Fatalf("reopened: %+v", v)
	}
	eventually(t, 10*time.Second, "own ticket reopened with a comment, postmortem.reopened sent", func() bool {
		is, _ := gh.Issue("acme/pm", own.Number)
		return is.State == "open" && botComments(is) == 1 && len(recv.got()) == 1
	})

	// A restart, and a few scans: nothing is repeated.
	s.stop()
	s = start(t, addr, "serve", "--config", cfg)
	time.Sleep(3 * time.Second) // three scans: the absence of repeats can only be waited for
	for _, it := range get().Items {
		if is := issue(it.Ticket.Key); botComments(is) != 1 {
			t.Errorf("%s has %d comments after a restart; want 1", it.ID, botComments(is))
		}
	}
	if is, _ := gh.Issue("acme/pm", own.Number); botComments(is) != 1 || len(recv.got()) != 1 {
		t.Errorf("after a restart: own ticket %d comments, events %v", botComments(is), recv.got())
	}

	// Both items done through the API: completed, labels off, own ticket closed with a summary.
	for _, id := range []string{"AI-1", "AI-2"} {
		if code, body := s.do(http.MethodPatch, "/v1/postmortems/PM-S/items/"+id, testToken, []byte(`{"status":"done"}`)); code != http.StatusOK {
			t.Fatalf("PATCH %s = %d: %s", id, code, body)
		}
	}
	eventually(t, 20*time.Second, "completed, labels off, own ticket closed with a summary", func() bool {
		v = get()
		if v.State != "completed" {
			return false
		}
		for _, it := range v.Items {
			if is := issue(it.Ticket.Key); hasStalled(is) || is.State != "closed" {
				return false
			}
		}
		is, _ := gh.Issue("acme/pm", own.Number)
		return is.State == "closed" && botComments(is) == 2
	})
	eventually(t, 10*time.Second, "postmortem.completed sent", func() bool {
		got := recv.got()
		return len(got) == 2 && got[1] == "postmortem.completed"
	})
}
