package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/githubfake"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

// Dev is what `serve --dev` runs beside the service: stand-ins of GitHub and Jira on loopback
// and a configuration that points at them. The stand-ins' ticket pages have buttons that act
// on a ticket and deliver the signed webhook GitHub or Jira would (see SetPublicURL).
type Dev struct {
	Config *config.Config
	Token  string
	GitHub *githubfake.Server
	Jira   *jirafake.Server
	tmpDir string
}

// Dev-mode stand-in credentials: they open nothing but the stand-ins on loopback.
const (
	devJiraEmail = "bot@example.com"
	devJiraToken = "dev-jira-token"
)

// devWebhookSecret signs the stand-ins' webhooks, as GitHub and Jira sign theirs when the
// webhook has a secret. Dev mode configures no webhook secret, so the service takes tracker
// webhooks unsigned (as the contract says of --dev) and anyone can post their own.
const devWebhookSecret = "followthrough-dev-webhook-secret"

// The sample people's Jira accountIds.
const (
	devBobJira   = "5b10ac8d82e05b22cc7d4ef5"
	devAliceJira = "5b10a2844c20165700ede21g"
)

// NewDev starts the stand-ins and builds a configuration for them: SQLite in a temporary
// directory (or db), a fresh random API token, payments items to Jira PAY, the rest to GitHub.
func NewDev(listen, db string) (*Dev, error) {
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	d := &Dev{Token: token}
	if db == "" {
		d.tmpDir, err = os.MkdirTemp("", "followthrough-dev-")
		if err != nil {
			return nil, fmt.Errorf("dev database: %w", err)
		}
		db = filepath.Join(d.tmpDir, "followthrough.db")
	}
	// ServeHTML: the tickets' links on the status page (html_url, <url>/browse/KEY) open a
	// page of the ticket on the stand-in itself, whose buttons act on it (SetPublicURL).
	d.GitHub = githubfake.New(githubfake.Options{ServeHTML: true})
	d.Jira = jirafake.New(jirafake.Options{Mode: jirafake.Cloud, Email: devJiraEmail, APIToken: devJiraToken, ServeHTML: true,
		Users: []jirafake.User{
			{AccountID: devBobJira, Email: "bob@acme.com", DisplayName: "Bob"},
			{AccountID: devAliceJira, Email: "alice@acme.com", DisplayName: "Alice"},
		}})

	cfg := config.Default()
	cfg.Listen = listen
	cfg.Database = config.Secret(db)
	cfg.Intake.Tokens = []config.Secret{config.Secret(token)}
	gh := config.DefaultGitHub()
	gh.APIURL = d.GitHub.URL()
	gh.Token = config.Secret(githubfake.DefaultToken)
	// The stand-in has no limits: the app runs its GitHub connector unpaced in dev mode
	// (app.Options.Dev), whatever write_interval and writes_per_hour say.
	cfg.GitHub = gh
	j := config.DefaultJira()
	j.URL = d.Jira.URL()
	j.Deployment = config.JiraCloud
	j.Email = devJiraEmail
	j.APIToken = config.Secret(devJiraToken)
	j.SearchLag = time.Second
	cfg.Jira = j
	cfg.Routes = []config.Route{
		{When: config.RouteWhen{Team: "payments"}, To: config.RouteTarget{Kind: "jira", Project: "PAY", IssueType: "Task"}},
		{To: config.RouteTarget{Kind: "github", Repo: "acme/postmortem-actions"}},
	}
	cfg.People = []config.Person{
		{Email: "bob@acme.com", GitHub: "bob-gh", Jira: devBobJira},
		{Email: "alice@acme.com", GitHub: "alice-gh", Jira: devAliceJira},
	}
	cfg.Reconcile.Every = 30 * time.Second
	// Often, so that the overdue sample reopens its postmortem moments after it is loaded.
	cfg.Stall.ScanEvery = 5 * time.Second
	if err := cfg.Validate(); err != nil {
		d.Close()
		return nil, fmt.Errorf("dev config: %w", err)
	}
	d.Config = cfg
	return d, nil
}

// SetPublicURL points links written into tickets at the running server, and the stand-ins'
// webhooks at its /webhooks/github and /webhooks/jira.
func (d *Dev) SetPublicURL(url string) {
	d.Config.PublicURL = url
	d.GitHub.SetWebhook(url+"/webhooks/github", devWebhookSecret)
	d.Jira.SetWebhook(url+"/webhooks/jira", devWebhookSecret)
}

// Close stops the stand-ins and removes the temporary database.
func (d *Dev) Close() {
	d.GitHub.Close()
	d.Jira.Close()
	if d.tmpDir != "" {
		os.RemoveAll(d.tmpDir)
	}
}

// SamplePostmortem is the postmortem dev mode loads, and the body of the printed curl command.
func SamplePostmortem() []byte {
	return []byte(`{"id":"PM-2026-042","title":"Checkout outage 2026-11-20","url":"https://wiki.example.com/pm/42",` +
		`"status":"finalized","severity":"SEV1","team":"payments",` +
		`"incident":{"id":"INC-981","started_at":"2026-11-20T09:12:00Z","resolved_at":"2026-11-20T11:40:00Z"},` +
		`"signed_off_by":["carol@acme.com"],"signed_off_at":"2026-11-22T10:00:00Z",` +
		`"action_items":[` +
		`{"id":"AI-1","title":"Add a circuit breaker to the tax client","description":"Tax calls hung for 40 minutes.",` +
		`"owner":"bob@acme.com","priority":"P1","due":"2026-12-15","type":"prevent","labels":["reliability"]},` +
		`{"id":"AI-2","title":"Alert on checkout error rate","owner":"alice@acme.com","priority":"P2","type":"mitigate",` +
		`"tracker":{"kind":"github","repo":"acme/checkout"}},` +
		`{"id":"AI-3","title":"Run a game day for tax provider failure","owner":"bob@acme.com","priority":"P3","type":"process"}]}`)
}

// CurlCommand is a ready intake command for the printed banner.
func CurlCommand(apiURL, token string) string {
	return fmt.Sprintf("curl -sS -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' --data '%s' %s/postmortems",
		token, string(SamplePostmortem()), apiURL)
}

// OverdueSample is the second postmortem dev mode loads: signed off two months before now, with
// one item ten days past its due date, so that the first stall scan reopens it and comments on
// that item's ticket.
func OverdueSample(now time.Time) []byte {
	day := func(days int) string { return now.UTC().AddDate(0, 0, days).Format(time.DateOnly) }
	return []byte(`{"id":"PM-2026-031","title":"Login latency spike ` + day(-62) + `","url":"https://wiki.example.com/pm/31",` +
		`"status":"finalized","severity":"SEV2","team":"identity",` +
		`"signed_off_by":["dana@acme.com"],"signed_off_at":"` + day(-60) + `T15:00:00Z",` +
		`"action_items":[` +
		`{"id":"AI-1","title":"Cache session lookups","owner":"alice@acme.com","priority":"P1","due":"` + day(-10) + `","type":"prevent"},` +
		`{"id":"AI-2","title":"Alert on login latency","owner":"bob@acme.com","priority":"P2","due":"` + day(14) + `","type":"mitigate"}]}`)
}

// LoadSample sends the sample postmortems through the server's own intake API: the one of the
// printed curl command and the overdue one.
func LoadSample(ctx context.Context, apiURL, token string) error {
	for _, doc := range [][]byte{SamplePostmortem(), OverdueSample(time.Now())} {
		if err := postSample(ctx, apiURL, token, doc); err != nil {
			return err
		}
	}
	return nil
}

func postSample(ctx context.Context, apiURL, token string, doc []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"/postmortems", bytes.NewReader(doc))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("load sample postmortem: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		return fmt.Errorf("load sample postmortem: %s: %s", resp.Status, e.Error)
	}
	return nil
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return "ft_" + hex.EncodeToString(b), nil
}
