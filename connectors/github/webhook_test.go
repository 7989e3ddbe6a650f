package github

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"

	ft "github.com/followthrough/followthrough"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/webhooks/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// edit changes a fixture's JSON through fn and returns the new payload.
func edit(t *testing.T, data []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseWebhookFixtures(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	hello := "Codertocat/Hello-World#1"
	cases := []struct {
		file, event string
		want        ft.TicketEvent
	}{
		{"opened.payload.json", "issues", ft.TicketEvent{Ref: ref(hello), Status: ft.StatusOpen, Actor: "Codertocat", UpdatedAt: at("2019-05-15T15:20:18Z")}},
		{"opened.with-empty-body.payload.json", "issues", ft.TicketEvent{Ref: ref(hello), Status: ft.StatusOpen, Actor: "Codertocat", UpdatedAt: at("2019-05-15T15:20:18Z")}},
		{"edited.payload.json", "issues", ft.TicketEvent{Ref: ref(hello), Status: ft.StatusOpen, Activity: true, Actor: "Codertocat", UpdatedAt: at("2019-05-15T15:20:18Z")}},
		{"issues.edited.json", "issues", ft.TicketEvent{Ref: ft.TicketRef{Kind: ft.GitHub, Key: "mageroni/TestRepo#62", URL: "https://github.com/mageroni/TestRepo/issues/62"}, Status: ft.StatusDone, Activity: true, Actor: "mageroni", UpdatedAt: at("2023-03-19T03:39:06Z")}},
		{"issues.closed.json", "issues", ft.TicketEvent{Ref: ft.TicketRef{Kind: ft.GitHub, Key: "codinasion/codinasion-bot#2", URL: "https://github.com/codinasion/codinasion-bot/issues/2"}, Status: ft.StatusDone, Activity: true, Actor: "harshraj8843", UpdatedAt: at("2022-07-08T13:54:56Z")}},
		{"reopened.payload.json", "issues", ft.TicketEvent{Ref: ref(hello), Status: ft.StatusOpen, Activity: true, Actor: "Codertocat", UpdatedAt: at("2021-10-11T16:40:56Z")}},
		{"assigned.payload.json", "issues", ft.TicketEvent{Ref: ref(hello), Status: ft.StatusOpen, Activity: true, Actor: "Codertocat", UpdatedAt: at("2019-05-15T15:20:18Z")}},
		{"unassigned.payload.json", "issues", ft.TicketEvent{Ref: ref(hello), Status: ft.StatusOpen, Activity: true, Actor: "Codertocat", UpdatedAt: at("2019-05-15T15:20:25Z")}},
		{"labeled.payload.json", "issues", ft.TicketEvent{Ref: ref(hello), Status: ft.StatusOpen, Activity: true, Actor: "Codertocat", UpdatedAt: at("2019-05-15T15:20:18Z")}},
		{"deleted.payload.json", "issues", ft.TicketEvent{Ref: ref(hello), Status: ft.StatusDone, Deleted: true, Actor: "Codertocat", UpdatedAt: at("2021-10-11T16:40:56Z")}},
		{"comment-created.payload.json", "issue_comment", ft.TicketEvent{Ref: ref(hello), Status: ft.StatusOpen, Activity: true, Actor: "Codertocat", UpdatedAt: at("2019-05-15T15:20:21Z")}},
		{"issue_comment.created.json", "issue_comment", ft.TicketEvent{Ref: ft.TicketRef{Kind: ft.GitHub, Key: "mageroni/TestRepo#60", URL: "https://github.com/mageroni/TestRepo/issues/60"}, Status: ft.StatusOpen, Activity: true, Actor: "mageroni", UpdatedAt: at("2023-03-19T02:56:35Z")}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			ev, relevant, err := parseWebhook(c.event, fixture(t, c.file))
			if err != nil || !relevant {
				t.Fatalf("relevant %v err %v", relevant, err)
			}
			if !ev.UpdatedAt.Equal(c.want.UpdatedAt) {
				t.Errorf("UpdatedAt %v, want %v", ev.UpdatedAt, c.want.UpdatedAt)
			}
			ev.UpdatedAt = c.want.UpdatedAt
			if ev != c.want {
				t.Errorf("got  %+v\nwant %+v", ev, c.want)
			}
		})
	}
}

func ref(key string) ft.TicketRef {
	return ft.TicketRef{Kind: ft.GitHub, Key: key, URL: "https://github.com/Codertocat/Hello-World/issues/1"}
}

func TestParseWebhookMarkerAndStatus(t *testing.T) {
	base := fixture(t, "labeled.payload.json")
	cases := []struct {
		name string
		fn   func(issue map[string]any)
		want ft.Status
	}{
		{"in progress label", func(is map[string]any) {
			is["labels"] = []any{map[string]any{"name": "postmortem"}, map[string]any{"name": "in progress"}}
		}, ft.StatusInProgress},
		{"closed not planned", func(is map[string]any) { is["state"] = "closed"; is["state_reason"] = "not_planned" }, ft.StatusWontDo},
		{"closed duplicate", func(is map[string]any) { is["state"] = "closed"; is["state_reason"] = "duplicate" }, ft.StatusWontDo},
		{"closed completed", func(is map[string]any) { is["state"] = "closed"; is["state_reason"] = "completed" }, ft.StatusDone},
		{"closed with no reason", func(is map[string]any) { is["state"] = "closed"; is["state_reason"] = nil }, ft.StatusDone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			payload := edit(t, base, func(m map[string]any) {
				is := m["issue"].(map[string]any)
				is["body"] = "Fix it.\r\n\r\n<!-- followthrough:PM-2026-042/AI-1 -->"
				c.fn(is)
			})
			ev, relevant, err := parseWebhook("issues", payload)
			if err != nil || !relevant {
				t.Fatal(relevant, err)
			}
			if ev.Status != c.want || ev.Marker != "followthrough:PM-2026-042/AI-1" {
				t.Errorf("status %s marker %q", ev.Status, ev.Marker)
			}
		})
	}
}

func TestParseWebhookIrrelevant(t *testing.T) {
	onPR := edit(t, fixture(t, "comment-created.payload.json"), func(m map[string]any) {
		m["issue"].(map[string]any)["pull_request"] = map[string]any{"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
	})
	pinned := edit(t, fixture(t, "labeled.payload.json"), func(m map[string]any) { m["action"] = "pinned" })
	commentEdited := edit(t, fixture(t, "comment-created.payload.json"), func(m map[string]any) { m["action"] = "edited" })
	cases := []struct {
		name, event string
		payload     []byte
	}{
		{"ping", "ping", fixture(t, "ping.payload.json")},
		{"pull_request", "pull_request", []byte(`{"action":"opened"}`)},
		{"push", "push", []byte(`{}`)},
		{"comment on a pull request", "issue_comment", onPR},
		{"pinned", "issues", pinned},
		{"comment edited", "issue_comment", commentEdited},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, relevant, err := parseWebhook(c.event, c.payload)
			if relevant || err != nil {
				t.Errorf("relevant %v err %v", relevant, err)
			}
		})
	}
	if _, relevant, err := parseWebhook("issues", []byte(`{"action":`)); err == nil || relevant {
		t.Errorf("malformed: relevant %v err %v", relevant, err)
	}
}

// TestRealIssueAnswer maps a real GET issue answer (closed, assigned, and a pull request).
func TestRealIssueAnswer(t *testing.T) {
	data, err := os.ReadFile("testdata/github_issue.json")
	if err != nil {
		t.Fatal(err)
	}
	var is gh.Issue
	if err := json.Unmarshal(data, &is); err != nil {
		t.Fatal(err)
	}
	tk := toTicket("artsy/emission", &is)
	if tk.Ref.Key != "artsy/emission#327" || tk.Status != ft.StatusDone || tk.Assignee == "" || tk.Ref.URL == "" || tk.UpdatedAt.IsZero() {
		t.Errorf("ticket = %+v", tk)
	}
	if !is.IsPullRequest() {
		t.Error("the fixture is a pull request; lists must skip it")
	}
}

func TestBodyParts(t *testing.T) {
	body := composeBody("Text\n**Due date:** 2026-12-15", ownerNote("dave@acme.com", ""), "followthrough:PM-1/AI-1")
	p := parseBody(body)
	if p.marker != "followthrough:PM-1/AI-1" || p.due != "2026-12-15" || p.note == "" || p.text != "Text\n**Due date:** 2026-12-15" {
		t.Errorf("parsed %+v", p)
	}
	if got := setDueLine(p.text, "2027-01-01"); got != "Text\n**Due date:** 2027-01-01" {
		t.Errorf("setDueLine = %q", got)
	}
	if got := removeDueLine(p.text); got != "Text" {
		t.Errorf("removeDueLine = %q", got)
	}
	if MarkerOf("no marker <!-- something else -->") != "" {
		t.Error("found a marker that is not ours")
	}
	if MarkerOf("x <!-- followthrough:PM-1/AI-10 -->") != "followthrough:PM-1/AI-10" {
		t.Error("marker not found")
	}
}

// BenchmarkParseWebhook reads a real issues delivery (about 7 KB), as RecordWebhook does on
// every request and the worker again when it applies it.
func BenchmarkParseWebhook(b *testing.B) {
	data, err := os.ReadFile("testdata/webhooks/issues.edited.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, relevant, err := parseWebhook("issues", data); err != nil || !relevant {
			b.Fatal(relevant, err)
		}
	}
}
