package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	ft "github.com/followthrough/followthrough"
)

// MaxWebhookBody is the largest tracker webhook body read (GitHub's own cap on payloads); larger
// ones get 413.
const MaxWebhookBody = 25 << 20

// maxDeliveryID bounds the delivery ids that are stored; GitHub's are 36-character GUIDs.
const maxDeliveryID = 512

// Tracker webhook headers.
const (
	headerGitHubEvent     = "X-GitHub-Event"
	headerGitHubDelivery  = "X-GitHub-Delivery"
	headerGitHubSignature = "X-Hub-Signature-256"
	headerJiraSignature   = "X-Hub-Signature"
	headerJiraIdentifier  = "X-Atlassian-Webhook-Identifier"
)

// The events that are stored for the sync worker; every other event is acknowledged and
// dropped.
var (
	githubEvents = map[string]bool{"issues": true, "issue_comment": true}
	jiraEvents   = map[string]bool{"jira:issue_updated": true, "jira:issue_deleted": true, "comment_created": true}
)

// webhookAnswer is the body of every 200 to a tracker: accepted (stored for the worker),
// ignored (with the reason) or pong.
type webhookAnswer struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// githubWebhook is POST /webhooks/github. In order: the secret must be configured (outside dev
// mode), the content type be JSON, the body fit in MaxWebhookBody; the body's
// X-Hub-Signature-256 is checked before anything reads it; then the delivery is stored with
// its id, and only then acknowledged. Applying it is the worker's job.
func (s *Server) githubWebhook(c echo.Context) error {
	r := c.Request()
	secret := ""
	if s.cfg.GitHub != nil {
		secret = s.cfg.GitHub.WebhookSecret.Value()
	}
	// GitHub hooks can be set to send form-encoded payloads; only JSON is read here.
	body, err := s.webhookBody(c, "github", secret,
		": set the GitHub webhook's content type to application/json (form-encoded payloads are not accepted)",
		func(secret string, body []byte) error {
			return checkHubSignature(headerGitHubSignature, r.Header.Get(headerGitHubSignature), secret, body)
		})
	if err != nil {
		return err
	}
	event := r.Header.Get(headerGitHubEvent)
	if event == "" {
		return badRequest("missing %s header", headerGitHubEvent)
	}
	if event == "ping" {
		return c.JSON(http.StatusOK, webhookAnswer{Status: "pong"})
	}
	delivery := r.Header.Get(headerGitHubDelivery)
	switch {
	case delivery == "":
		return badRequest("missing %s header", headerGitHubDelivery)
	case len(delivery) > maxDeliveryID:
		return badRequest("%s is longer than %d characters", headerGitHubDelivery, maxDeliveryID)
	case !ft.StorableText(delivery):
		return badRequest("%s must be UTF-8 text without NUL characters", headerGitHubDelivery)
	}
	if !githubEvents[event] {
		return s.webhookIgnored(c, ft.SourceGitHub, event, delivery, ft.WebhookNotUsed)
	}
	if err := requireJSONObject(body); err != nil {
		return err
	}
	return s.recordWebhook(c, ft.SourceGitHub, delivery, event, body)
}

// webhookBody takes a tracker webhook's request as far as its verified body, in the order both
// webhooks share: refuse every request when the tracker has no webhook secret (outside dev
// mode), check the content type (typeHint is added to a 415's message), read at most
// MaxWebhookBody, then verify the body with the secret when there is one. Nothing reads the body
// before verify has accepted it.
func (s *Server) webhookBody(c echo.Context, tracker, secret, typeHint string, verify func(secret string, body []byte) error) ([]byte, error) {
	if secret == "" && !s.dev {
		return nil, unauthorized(tracker + " webhooks are refused: no " + tracker + ".webhook_secret is configured")
	}
	if err := requireJSON(c.Request()); err != nil {
		if typeHint != "" {
			return nil, unsupportedType(err.Error() + typeHint)
		}
		return nil, err
	}
	body, err := readBody(c, MaxWebhookBody)
	if err != nil {
		return nil, err
	}
	if secret != "" {
		if err := verify(secret, body); err != nil {
			return nil, unauthorized(err.Error())
		}
	}
	return body, nil
}

// jiraEnvelope is the part of a Jira webhook that is read here: enough to tell the event and
// to identify a delivery that came without X-Atlassian-Webhook-Identifier.
type jiraEnvelope struct {
	WebhookEvent string          `json:"webhookEvent"`
	Timestamp    json.RawMessage `json:"timestamp"` // milliseconds, a number
	Issue        *struct {
		Key string `json:"key"`
	} `json:"issue"`
	Comment *struct {
		ID json.RawMessage `json:"id"`
	} `json:"comment"`
}

// jiraWebhook is POST /webhooks/jira. The secret must be configured (outside dev mode), the
// content type be JSON and the body fit in MaxWebhookBody; the request must carry a valid
// X-Hub-Signature or a ?secret= equal to jira.webhook_secret before the body is parsed. Only
// the envelope is parsed; the delivery is stored, then acknowledged.
func (s *Server) jiraWebhook(c echo.Context) error {
	r := c.Request()
	secret := ""
	if s.cfg.Jira != nil {
		secret = s.cfg.Jira.WebhookSecret.Value()
	}
	body, err := s.webhookBody(c, "jira", secret, "", func(secret string, body []byte) error {
		return checkJiraCredentials(r, secret, body)
	})
	if err != nil {
		return err
	}
	if !utf8.Valid(body) {
		return badRequest("malformed JSON: the body is not valid UTF-8")
	}
	var env jiraEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return badRequest("not a Jira webhook: %s", ft.JSONMessage(err))
	}
	if env.WebhookEvent == "" {
		return badRequest("not a Jira webhook: no webhookEvent")
	}
	delivery := r.Header.Get(headerJiraIdentifier)
	if !jiraEvents[env.WebhookEvent] {
		return s.webhookIgnored(c, ft.SourceJira, env.WebhookEvent, delivery, ft.WebhookNotUsed)
	}
	if delivery == "" {
		if delivery, err = env.deliveryID(); err != nil {
			return err
		}
	}
	if len(delivery) > maxDeliveryID {
		return badRequest("the delivery id is longer than %d characters", maxDeliveryID)
	}
	if !ft.StorableText(delivery) {
		return badRequest("the delivery id (%s, else the issue key, event and timestamp) must be UTF-8 text without NUL characters", headerJiraIdentifier)
	}
	return s.recordWebhook(c, ft.SourceJira, delivery, env.WebhookEvent, body)
}

// deliveryID identifies a Jira delivery that came without X-Atlassian-Webhook-Identifier, as
// "<issue key>|<webhookEvent>|<timestamp>": a redelivery repeats all three. A Data Center
// comment_created may carry no issue; its comment id stands in for the key then
// ("comment:<id>"), so that two comments made in the same millisecond stay apart.
func (env *jiraEnvelope) deliveryID() (string, error) {
	ts := rawText(env.Timestamp)
	if ts == "" {
		return "", badRequest("not a Jira webhook: no timestamp and no %s header", headerJiraIdentifier)
	}
	key := ""
	if env.Issue != nil {
		key = env.Issue.Key
	}
	if key == "" && env.Comment != nil {
		if id := rawText(env.Comment.ID); id != "" {
			key = "comment:" + id
		}
	}
	return key + "|" + env.WebhookEvent + "|" + ts, nil
}

// rawText is a JSON scalar as text: a string without its quotes, a number as written; "" for
// null or absent.
func rawText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	t := strings.TrimSpace(string(raw))
	if t == "null" || strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		return ""
	}
	return t
}

// recordWebhook has the engine store a verified delivery and queue its processing in one
// transaction (it wakes its worker), and only then acknowledges it.
func (s *Server) recordWebhook(c echo.Context, source, delivery, event string, body []byte) error {
	if s.engine == nil {
		return errNoEngine
	}
	ignored, err := s.engine.RecordWebhook(c.Request().Context(), source, delivery, event, body)
	if err != nil {
		return err
	}
	if ignored != "" {
		return s.webhookIgnored(c, source, event, delivery, ignored)
	}
	s.logger.LogAttrs(c.Request().Context(), slog.LevelInfo, "webhook accepted",
		slog.String("request_id", requestIDOf(c)), slog.String("source", source),
		slog.String("event", event), slog.String("delivery_id", delivery))
	return c.JSON(http.StatusOK, webhookAnswer{Status: "accepted"})
}

// webhookIgnored acknowledges a delivery that is not stored, so that the tracker does not
// retry it.
func (s *Server) webhookIgnored(c echo.Context, source, event, delivery, reason string) error {
	s.logger.LogAttrs(c.Request().Context(), slog.LevelDebug, "webhook ignored",
		slog.String("request_id", requestIDOf(c)), slog.String("source", source),
		slog.String("event", event), slog.String("delivery_id", delivery), slog.String("reason", reason))
	return c.JSON(http.StatusOK, webhookAnswer{Status: "ignored", Reason: reason})
}

// requireJSONObject accepts one well-formed UTF-8 JSON object.
func requireJSONObject(body []byte) error {
	raw, err := ft.DecodeJSON(body)
	if err != nil {
		return err
	}
	if raw[0] != '{' {
		return badRequest("the body must be a JSON object")
	}
	return nil
}

// checkHubSignature checks a "sha256=<hex>" signature of body, sent in header, in constant
// time. The error says what was wrong with what was sent, never what was expected.
func checkHubSignature(header, value, secret string, body []byte) error {
	if value == "" {
		return fmt.Errorf("missing %s header", header)
	}
	algo, sig, ok := strings.Cut(value, "=")
	if !ok || !strings.EqualFold(algo, "sha256") {
		return fmt.Errorf("%s must be sha256=<hex HMAC-SHA256 of the body>", header)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%s must be sha256=<hex HMAC-SHA256 of the body>", header)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%s does not match the body and the webhook secret", header)
	}
	return nil
}

// checkJiraCredentials accepts a Jira request with a valid X-Hub-Signature or a ?secret= equal
// to the webhook secret (for Jira versions that cannot sign); either one valid is enough.
func checkJiraCredentials(r *http.Request, secret string, body []byte) error {
	sig := r.Header.Get(headerJiraSignature)
	given, hasQuery := r.URL.Query()["secret"]
	if sig == "" && !hasQuery {
		return fmt.Errorf("missing credentials: send %s or a ?secret= query parameter", headerJiraSignature)
	}
	var sigErr error
	if sig != "" {
		if sigErr = checkHubSignature(headerJiraSignature, sig, secret, body); sigErr == nil {
			return nil
		}
	}
	if hasQuery {
		// Digests compare in constant time whatever the lengths.
		want := sha256.Sum256([]byte(secret))
		for _, g := range given {
			got := sha256.Sum256([]byte(g))
			if hmac.Equal(got[:], want[:]) {
				return nil
			}
		}
		if sigErr == nil {
			return errors.New("the ?secret= query parameter does not match jira.webhook_secret")
		}
	}
	return sigErr
}
