package load

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/followthrough/followthrough/internal/standardwebhooks"
)

// StandardKey is the HMAC key of a Standard Webhooks secret: the base64-decoded bytes after
// "whsec_".
func StandardKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New("the intake secret must start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("the intake secret is not whsec_<base64>: %w", err)
	}
	return key, nil
}

// StandardSignature is the webhook-signature header of a Standard Webhooks delivery:
// "v1," and the base64 HMAC-SHA256 of "id.timestamp.body" keyed with key.
func StandardSignature(key []byte, id string, timestamp int64, body []byte) string {
	return standardwebhooks.Sign(key, id, strconv.FormatInt(timestamp, 10), body)
}

// SignStandard sets the Standard Webhooks headers of a delivery of body with id, signed now.
func SignStandard(h http.Header, key []byte, id string, now time.Time, body []byte) {
	ts := now.Unix()
	h.Set(standardwebhooks.HeaderID, id)
	h.Set(standardwebhooks.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(standardwebhooks.HeaderSignature, StandardSignature(key, id, ts, body))
}

// HubSignature is GitHub's X-Hub-Signature-256 and Jira's X-Hub-Signature value for body:
// "sha256=" and the hex HMAC-SHA256 of the body keyed with the webhook secret.
func HubSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
