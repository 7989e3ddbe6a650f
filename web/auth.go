package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/internal/standardwebhooks"
)

// signatureTolerance is how far a webhook-timestamp may be from the server's clock, either way.
const signatureTolerance = 5 * time.Minute

// Standard Webhooks headers (standardwebhooks.com).
const (
	headerWebhookID        = standardwebhooks.HeaderID
	headerWebhookTimestamp = standardwebhooks.HeaderTimestamp
	headerWebhookSignature = standardwebhooks.HeaderSignature
)

// authenticator checks the API's credentials: bearer tokens from intake.tokens and, for intake,
// Standard Webhooks signatures keyed with intake.secret.
type authenticator struct {
	// tokens are SHA-256 digests: comparing digests in constant time does not leak the
	// tokens' lengths.
	tokens     [][sha256.Size]byte
	webhookKey []byte // nil: signatures are not accepted
	now        func() time.Time
}

func newAuthenticator(in config.Intake, now func() time.Time) (*authenticator, error) {
	a := &authenticator{now: now}
	for _, t := range in.Tokens {
		if t.Value() == "" {
			continue
		}
		a.tokens = append(a.tokens, sha256.Sum256([]byte(t.Value())))
	}
	if in.Secret.Value() != "" {
		key, err := in.Secret.WebhookKey()
		if err != nil {
			return nil, err
		}
		a.webhookKey = key
	}
	return a, nil
}

var (
	errNoBearer  = errors.New("missing bearer token: send Authorization: Bearer <token>")
	errBadBearer = errors.New("invalid bearer token")
)

// bearer checks the Authorization header.
func (a *authenticator) bearer(h http.Header) error {
	v := h.Get(echo.HeaderAuthorization)
	if v == "" {
		return errNoBearer
	}
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return errBadBearer
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match := 0
	for i := range a.tokens {
		// Every token is compared, so the time taken does not say which one matched.
		match |= subtle.ConstantTimeCompare(sum[:], a.tokens[i][:])
	}
	if match != 1 {
		return errBadBearer
	}
	return nil
}

// signature checks a Standard Webhooks signature over body: webhook-id, webhook-timestamp
// (seconds, within signatureTolerance of now) and webhook-signature, a space-separated list of
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" of which one valid is enough.
func (a *authenticator) signature(h http.Header, body []byte) error {
	if a.webhookKey == nil {
		return errors.New("signed requests are not accepted: no intake.secret is configured")
	}
	id, ts := h.Get(headerWebhookID), h.Get(headerWebhookTimestamp)
	sigs := strings.Join(h.Values(headerWebhookSignature), " ")
	switch {
	case id == "":
		return errors.New("missing webhook-id header")
	case ts == "":
		return errors.New("missing webhook-timestamp header")
	case sigs == "":
		return errors.New("missing webhook-signature header")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not a number of seconds")
	}
	if d := a.now().Sub(time.Unix(sec, 0)); d > signatureTolerance || d < -signatureTolerance {
		return errors.New("webhook-timestamp is more than 5 minutes away from the server's time")
	}
	want := standardwebhooks.MAC(a.webhookKey, id, ts, body)
	valid := false
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			valid = true
		}
	}
	if !valid {
		return errors.New("no valid signature in webhook-signature")
	}
	return nil
}

// intake accepts a request with either credential valid. The message says why the credentials
// that were sent failed, never what the right ones are.
func (a *authenticator) intake(h http.Header, body []byte) error {
	hasBearer := h.Get(echo.HeaderAuthorization) != ""
	hasSignature := h.Get(headerWebhookSignature) != "" || h.Get(headerWebhookID) != "" || h.Get(headerWebhookTimestamp) != ""
	if !hasBearer && !hasSignature {
		return unauthorized("missing credentials: send Authorization: Bearer <token> or a Standard Webhooks signature")
	}
	var bearerErr, sigErr error
	if hasBearer {
		if bearerErr = a.bearer(h); bearerErr == nil {
			return nil
		}
	}
	if hasSignature {
		if sigErr = a.signature(h, body); sigErr == nil {
			return nil
		}
		return unauthorized(sigErr.Error())
	}
	return unauthorized(bearerErr.Error())
}

// requireBearer guards the API's other endpoints, which take only the bearer token.
func (s *Server) requireBearer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.auth.bearer(c.Request().Header); err != nil {
			return unauthorized(err.Error())
		}
		return next(c)
	}
}
