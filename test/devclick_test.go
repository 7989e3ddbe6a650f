package test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// devServer is a running `serve --dev`.
type devServer struct {
	*server
	token string
}

// startDev runs `serve --dev` on a free port and reads its banner.
func startDev(t *testing.T) *devServer {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--dev", "--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "dev.db"))
	cmd.Env = append(os.Environ(), "FOLLOWTHROUGH_CONFIG=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("dev stderr:\n%s", tail(stderr.String(), 40))
		}
	})
	lines := readLines(t, stdout, 3)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	base := strings.TrimSuffix(strings.TrimPrefix(lines[0], "status page: "), "/")
	return &devServer{server: &server{t: t, base: base, stderr: stderr}, token: strings.TrimPrefix(lines[2], "token: ")}
}

// devItem is what these tests read of an item.
type devItem struct {
	ID            string
	Status        string
	Stalled       bool
	StalledReason *string `json:"stalled_reason"`
	Ticket        *struct{ Kind, Key, URL string }
}

// postmortem reads a postmortem's state and items through the API.
func (d *devServer) postmortem(id string) (string, map[string]devItem) {
	d.t.Helper()
	var pm struct {
		State string
		Items []devItem
	}
	code, body := d.do(http.MethodGet, "/v1/postmortems/"+id, d.token, nil)
	if code != http.StatusOK {
		return "", nil
	}
	if err := jsonUnmarshal(body, &pm); err != nil {
		d.t.Fatal(err)
	}
	items := map[string]devItem{}
	for _, it := range pm.Items {
		items[it.ID] = it
	}
	return pm.State, items
}

// waitItem waits until the item has a ticket and cond holds, and returns it.
func (d *devServer) waitItem(pmID, itemID, what string, cond func(state string, it devItem) bool) devItem {
	d.t.Helper()
	var it devItem
	eventually(d.t, 20*time.Second, pmID+"/"+itemID+" "+what, func() bool {
		state, items := d.postmortem(pmID)
		it = items[itemID]
		return it.Ticket != nil && cond(state, it)
	})
	return it
}

// ticketPage reads a ticket's page on a stand-in.
func ticketPage(t *testing.T, pageURL string) string {
	t.Helper()
	resp, err := http.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d:\n%s", pageURL, resp.StatusCode, b)
	}
	return string(b)
}

// press submits a button's form on a ticket's page, as the browser would, and returns the page
// it is sent back to.
func press(t *testing.T, pageURL string, form url.Values) string {
	t.Helper()
	resp, err := http.PostForm(pageURL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Request.Method != http.MethodGet || resp.Request.URL.String() != pageURL {
		t.Fatalf("POST %s %v ended at %s %s = %d:\n%s", pageURL, form, resp.Request.Method, resp.Request.URL, resp.StatusCode, b)
	}
	return string(b)
}

// TestDevModeClickThrough is what the README's first section tells a newcomer to do: the
// overdue sample postmortem is reopened with a stall comment on its ticket; the ticket pages'
// buttons move tickets on both stand-ins, and the signed webhooks they send move the items.
func TestDevModeClickThrough(t *testing.T) {
	d := startDev(t)

	stalled := d.waitItem("PM-2026-031", "AI-1", "stalled as overdue in a reopened postmortem", func(state string, it devItem) bool {
		return state == "reopened" && it.Stalled && it.StalledReason != nil && *it.StalledReason == "overdue"
	})
	eventually(t, 20*time.Second, "a stall comment on "+stalled.Ticket.Key, func() bool {
		return strings.Contains(ticketPage(t, stalled.Ticket.URL), "this action item has stalled")
	})

	// Jira (the payments route): start, comment, close as done.
	jiraItem := d.waitItem("PM-2026-042", "AI-1", "linked", func(string, devItem) bool { return true })
	if jiraItem.Ticket.Kind != "jira" {
		t.Fatalf("PM-2026-042/AI-1 went to %s, want jira", jiraItem.Ticket.Kind)
	}
	for _, step := range []struct{ action, want string }{{"start", "in_progress"}, {"done", "done"}} {
		page := press(t, jiraItem.Ticket.URL, url.Values{"action": {step.action}})
		if !strings.Contains(page, "Webhook deliveries") || !strings.Contains(page, `{&#34;status&#34;:&#34;accepted&#34;}`) {
			t.Fatalf("%s: the page shows no accepted delivery:\n%s", step.action, page)
		}
		d.waitItem("PM-2026-042", "AI-1", step.want, func(_ string, it devItem) bool { return it.Status == step.want })
	}
	if page := press(t, jiraItem.Ticket.URL, url.Values{"action": {"comment"}, "body": {"shipped behind a flag"}}); !strings.Contains(page, "shipped behind a flag") {
		t.Errorf("the comment is not on the page:\n%s", page)
	}

	// GitHub: closing the stalled item resumes its postmortem.
	press(t, stalled.Ticket.URL, url.Values{"action": {"done"}})
	d.waitItem("PM-2026-031", "AI-1", "done, its postmortem tracking again", func(state string, it devItem) bool {
		return it.Status == "done" && !it.Stalled && state == "tracking"
	})
}
