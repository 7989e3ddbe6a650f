package load

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/app"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

func TestStandardSignature(t *testing.T) {
	// The example of the Standard Webhooks specification (standardwebhooks.com), whose secret
	// is also the contract's notify example.
	key, err := StandardKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := StandardSignature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
	for _, bad := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!"} {
		if _, err := StandardKey(bad); err == nil {
			t.Errorf("StandardKey(%q) accepted it", bad)
		}
	}
}

func TestHubSignature(t *testing.T) {
	// GitHub's test vector from "Validating webhook deliveries" (see the fixtures' SOURCES.md).
	got := HubSignature("It's a Secret to Everybody", []byte("Hello, World!"))
	if want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

// inProcessServer starts followthrough with app.New on 127.0.0.1:0 and a temporary SQLite
// file, with stand-ins and the configuration bench uses.
func inProcessServer(t *testing.T) Target {
	t.Helper()
	gh := githubfake.New(githubfake.Options{})
	t.Cleanup(gh.Close)
	jr := jirafake.New(jirafake.Options{Mode: jirafake.Cloud})
	t.Cleanup(jr.Close)
	tgt := Target{
		IntakeSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Token: "ft_load_test_token",
		GitHubSecret: "load-github-secret", JiraSecret: "load-jira-secret",
	}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Database = config.Secret(filepath.Join(t.TempDir(), "ft.db"))
	cfg.Intake.Secret = config.Secret(tgt.IntakeSecret)
	cfg.Intake.Tokens = []config.Secret{config.Secret(tgt.Token)}
	g := config.DefaultGitHub()
	g.APIURL, g.Token, g.WebhookSecret, g.WriteInterval = gh.URL(), githubfake.DefaultToken, config.Secret(tgt.GitHubSecret), 0
	cfg.GitHub = g
	j := config.DefaultJira()
	j.URL, j.Deployment, j.Email, j.APIToken = jr.URL(), config.JiraCloud, "bot@example.com", "cloud-token"
	j.WebhookSecret = config.Secret(tgt.JiraSecret)
	cfg.Jira = j
	cfg.Routes = []config.Route{
		{When: config.RouteWhen{Team: JiraTeam}, To: config.RouteTarget{Kind: "jira", Project: BenchJiraProject, IssueType: "Task"}},
		{To: config.RouteTarget{Kind: "github", Repo: BenchRepo}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	tgt.URL = "http://" + a.Addr()
	return tgt
}

// post sends a request and returns the status and body.
func post(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The signers satisfy the server's own verification, and nothing else does: intake signed with
// Standard Webhooks headers, GitHub and Jira webhooks with their secrets; the webhooks are then
// applied as the events they describe.
func TestSignersAgainstTheServer(t *testing.T) {
	tgt := inProcessServer(t)
	key, err := StandardKey(tgt.IntakeSecret)
	if err != nil {
		t.Fatal(err)
	}
	base := SignOffBase(time.Now())
	intake := func(seq int64, key []byte) (int, string) {
		body := Postmortem("sign", seq, 1, base)
		req, _ := http.NewRequest(http.MethodPost, tgt.url("/v1/postmortems"), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		SignStandard(req.Header, key, "msg_"+strconv.FormatInt(seq, 10), time.Now(), body)
		return post(t, req)
	}
	if code, body := intake(0, []byte("another key")); code != http.StatusUnauthorized {
		t.Fatalf("intake signed with another key: %d %s, want 401", code, body)
	}
	for seq := range int64(2) { // one postmortem for each tracker
		if code, body := intake(seq, key); code != http.StatusAccepted {
			t.Fatalf("signed intake %d: %d %s, want 202", seq, code, body)
		}
	}
	var tickets []Ticket
	eventually(t, 20*time.Second, "both items linked", func() bool {
		tickets, err = Tickets(context.Background(), tgt)
		return err == nil && len(tickets) == 2
	})

	gh, err := NewGitHubPayloads()
	if err != nil {
		t.Fatal(err)
	}
	jr, err := NewJiraPayloads()
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().UTC().Truncate(time.Second).Add(2 * time.Second)
	want := map[string]ft.Status{"github": ft.StatusDone, "jira": ft.StatusWontDo}
	for i, tk := range tickets {
		send := func(tgt Target) (int, string) {
			req, err := webhookRequest(tgt, gh, jr, tk, deliveryID("sign", int64(i)), ft.StatusOpen, want[tk.Kind], later)
			if err != nil {
				t.Fatal(err)
			}
			return post(t, req)
		}
		wrong := tgt
		wrong.GitHubSecret, wrong.JiraSecret = "wrong", "wrong"
		if code, body := send(wrong); code != http.StatusUnauthorized {
			t.Errorf("%s webhook with the wrong secret: %d %s, want 401", tk.Kind, code, body)
		}
		code, body := send(tgt)
		var answer struct{ Status string }
		_ = json.Unmarshal([]byte(body), &answer)
		if code != http.StatusOK || answer.Status != "accepted" {
			t.Fatalf("signed %s webhook: %d %s, want 200 accepted", tk.Kind, code, body)
		}
	}
	eventually(t, 20*time.Second, "each item in the status its webhook reported", func() bool {
		matched := 0
		client := tgt.newClient()
		_, err := tgt.walkList(context.Background(), client, func(pm listPostmortem) {
			for _, it := range pm.Items {
				if it.Ticket != nil && ft.Status(it.Status) == want[it.Ticket.Kind] {
					matched++
				}
			}
		}, nil)
		return err == nil && matched == 2
	})
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
