// Package standardwebhooks signs webhook deliveries as Standard Webhooks (standardwebhooks.com)
// says, the one place of that signature: outbound notifications are signed with it and signed
// intake requests are checked against it.
package standardwebhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// The headers of a signed delivery.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// MAC is the HMAC-SHA256, keyed with key (the base64-decoded bytes after "whsec_"), of
// "id.timestamp.body": timestamp as it is sent, in Unix seconds.
func MAC(key []byte, id, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// Sign is the value of the webhook-signature header of a delivery: "v1," and the base64 of its
// MAC.
func Sign(key []byte, id, timestamp string, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(MAC(key, id, timestamp, body))
}
