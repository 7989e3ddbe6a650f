package jira

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jiraTimeOf(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(timeFormat, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func webhookTrackers(t *testing.T) (cloud, dc *Tracker) {
	t.Helper()
	cloud, err := New(&config.Jira{URL: "https://acme.atlassian.net/", Email: "bot@acme.com", APIToken: "x"}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dc, err = New(&config.Jira{URL: "https://jira.acme.com/jira", PAT: "x"}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cloud, dc
}

func TestParseWebhookFixtures(t *testing.T) {
	cloud, dc := webhookTrackers(t)
	const admin = "5c5f880629be9642ba529340"
	cases := []struct {
		file     string
		tr       *Tracker
		relevant bool
		want     ft.TicketEvent
	}{
		{"webhook-issue-updated-resolved.json", cloud, true, ft.TicketEvent{Status: ft.StatusDone, Activity: true, Actor: admin,
			UpdatedAt: jiraTimeOf(t, "2019-02-15T19:15:40.477-0800"), Ref: ft.TicketRef{Key: "TES-41"}}},
		{"webhook-issue-updated-started-working.json", cloud, true, ft.TicketEvent{Status: ft.StatusInProgress, Activity: true, Actor: admin,
			UpdatedAt: jiraTimeOf(t, "2019-02-15T19:14:22.002-0800"), Ref: ft.TicketRef{Key: "TES-41"}}},
		{"webhook-issue-updated-reopened.json", cloud, true, ft.TicketEvent{Status: ft.StatusOpen, Activity: true, Actor: admin,
			UpdatedAt: jiraTimeOf(t, "2019-02-15T19:17:06.501-0800"), Ref: ft.TicketRef{Key: "TES-41"}}},
		{"webhook-issue-updated-assigned.json", cloud, true, ft.TicketEvent{Status: ft.StatusOpen, Activity: true, Actor: admin,
			UpdatedAt: jiraTimeOf(t, "2019-02-15T19:18:01.707-0800"), Ref: ft.TicketRef{Key: "TES-41"}}},
		{"webhook-issue-updated-edited.json", cloud, true, ft.TicketEvent{Status: ft.StatusOpen, Activity: true, Actor: admin,
			UpdatedAt: jiraTimeOf(t, "2019-02-15T19:10:01.805-0800"), Ref: ft.TicketRef{Key: "TES-41"}}},
		{"webhook-issue-updated-labels.json", cloud, true, ft.TicketEvent{Status: ft.StatusOpen, Activity: true, Actor: admin,
			UpdatedAt: jiraTimeOf(t, "2019-02-16T13:12:10.037-0800"), Ref: ft.TicketRef{Key: "TES-41"}}},
		{"webhook-issue-deleted.json", cloud, true, ft.TicketEvent{Status: ft.StatusOpen, Deleted: true, Actor: admin,
			UpdatedAt: time.UnixMilli(1562177136176), Ref: ft.TicketRef{Key: "IDT-19"}}},
		{"webhook-cloud-comment-created.json", cloud, true, ft.TicketEvent{Status: ft.StatusOpen, Activity: true, Actor: admin,
			UpdatedAt: jiraTimeOf(t, "2019-02-15T19:11:18.321-0800"), Ref: ft.TicketRef{Key: "TES-41"}}},
		{"webhook-cloud-comment-updated.json", cloud, false, ft.TicketEvent{}},
		{"webhook-cloud-comment-deleted.json", cloud, false, ft.TicketEvent{}},
		{"webhook-issue-created.json", cloud, false, ft.TicketEvent{}},
		{"webhook-cloud-issue-created-many-fields.json", cloud, false, ft.TicketEvent{}},
		{"webhook-server-comment-created.json", dc, false, ft.TicketEvent{}},
		{"webhook-server-issue-updated-commented-2.json", dc, true, ft.TicketEvent{Status: ft.StatusOpen, Activity: true, Actor: "TestUser",
			UpdatedAt: jiraTimeOf(t, "2019-06-28T21:32:16.057+0000"), Ref: ft.TicketRef{Key: "PRJA-42"}}},
		{"webhook-server-issue-updated-resolved.json", dc, true, ft.TicketEvent{Status: ft.StatusDone, Activity: true, Actor: "admin",
			UpdatedAt: jiraTimeOf(t, "2019-08-13T07:23:01.993+0800"), Ref: ft.TicketRef{Key: "TES-4"}}},
		{"webhook-server-issue-updated-closed.json", dc, true, ft.TicketEvent{Status: ft.StatusDone, Activity: true, Actor: "admin",
			UpdatedAt: jiraTimeOf(t, "2019-08-14T11:07:58.354+0800"), Ref: ft.TicketRef{Key: "TES-4"}}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			ev, relevant, err := c.tr.ParseWebhook("", fixture(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if relevant != c.relevant {
				t.Fatalf("relevant = %v", relevant)
			}
			if !relevant {
				return
			}
			want := c.want
			want.Ref.Kind = ft.Jira
			want.Ref.URL = c.tr.base + "/browse/" + want.Ref.Key
			if !ev.UpdatedAt.Equal(want.UpdatedAt) {
				t.Errorf("updated = %v, want %v", ev.UpdatedAt, want.UpdatedAt)
			}
			ev.UpdatedAt, want.UpdatedAt = time.Time{}, time.Time{}
			if ev != want {
				t.Errorf("event\n got %+v\nwant %+v", ev, want)
			}
		})
	}
}

func TestParseWebhookURLs(t *testing.T) {
	cloud, dc := webhookTrackers(t)
	ev, _, _ := cloud.ParseWebhook("", fixture(t, "webhook-issue-updated-resolved.json"))
	if ev.Ref.URL != "https://acme.atlassian.net/browse/TES-41" {
		t.Errorf("cloud url %s", ev.Ref.URL)
	}
	ev, _, _ = dc.ParseWebhook("", fixture(t, "webhook-server-issue-updated-closed.json"))
	if ev.Ref.URL != "https://jira.acme.com/jira/browse/TES-4" {
		t.Errorf("dc url %s", ev.Ref.URL)
	}
}

func TestParseWebhookOwnChangesAndOverrides(t *testing.T) {
	cloud, _ := webhookTrackers(t)
	cloud.self = "5c5f880629be9642ba529340" // as if Self had been read
	ev, relevant, err := cloud.ParseWebhook("", fixture(t, "webhook-issue-updated-labels.json"))
	if err != nil || !relevant || ev.Activity {
		t.Errorf("own change: %+v %v %v", ev, relevant, err)
	}

	// Without a Tracker, Activity is the kind of change; the caller compares Actor.
	ev, _, _ = parseWebhook(fixture(t, "webhook-issue-updated-labels.json"), "https://acme.atlassian.net", nil, true, "")
	if !ev.Activity || ev.Actor != "5c5f880629be9642ba529340" {
		t.Errorf("without a tracker: %+v", ev)
	}

	// jira.statuses overrides the category.
	ev, _, _ = parseWebhook(fixture(t, "webhook-server-issue-updated-resolved.json"), "https://jira.acme.com", map[string]string{"Resolved": "in_progress"}, true, "")
	if ev.Status != ft.StatusInProgress {
		t.Errorf("override: %s", ev.Status)
	}
}

func TestParseWebhookMarker(t *testing.T) {
	cloud, _ := webhookTrackers(t)
	var m map[string]any
	if err := json.Unmarshal(fixture(t, "webhook-issue-updated-edited.json"), &m); err != nil {
		t.Fatal(err)
	}
	fields := m["issue"].(map[string]any)["fields"].(map[string]any)
	fields["description"] = "Wrap the tax client.\n\nfollowthrough:PM-2026-042/AI-1"
	b, _ := json.Marshal(m)
	ev, _, err := cloud.ParseWebhook("", b)
	if err != nil || ev.Marker != "followthrough:PM-2026-042/AI-1" {
		t.Errorf("marker %q, %v", ev.Marker, err)
	}
}

func TestParseWebhookBad(t *testing.T) {
	cloud, _ := webhookTrackers(t)
	for _, body := range []string{`{`, `{}`, `{"webhookEvent":"jira:issue_updated"}`, `{"webhookEvent":"jira:issue_updated","issue":{"fields":{"updated":"yesterday"}}}`} {
		if _, relevant, err := cloud.ParseWebhook("", []byte(body)); err == nil || relevant {
			t.Errorf("%s: relevant=%v err=%v", body, relevant, err)
		}
	}
}
