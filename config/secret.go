package config

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"strings"
)

const redacted = "[redacted]"

// LogValue keeps the value out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// GoString keeps the value out of %#v.
func (s Secret) GoString() string { return "config.Secret(" + `"` + s.String() + `"` + ")" }

// MarshalJSON keeps the value out of JSON: a set secret is written as "[redacted]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML keeps the value out of YAML: a set secret is written as "[redacted]".
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// webhookPrefix starts every Standard Webhooks secret.
const webhookPrefix = "whsec_"

// WebhookKey is the HMAC key of a Standard Webhooks secret: the base64-decoded bytes after
// "whsec_". Its errors never contain the secret.
func (s Secret) WebhookKey() ([]byte, error) {
	v, ok := strings.CutPrefix(string(s), webhookPrefix)
	if !ok {
		return nil, errors.New("must be whsec_ followed by base64")
	}
	if v == "" {
		return nil, errors.New("must be whsec_ followed by base64, and nothing follows whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		// Some generators drop the padding.
		key, err = base64.RawStdEncoding.DecodeString(v)
	}
	if err != nil {
		return nil, errors.New("must be whsec_ followed by base64, and the part after whsec_ is not base64")
	}
	return key, nil
}

// parseRSAKey reads a PEM RSA private key in PKCS #1 or PKCS #8 form, as GitHub hands them out.
// Its errors never contain the key.
func parseRSAKey(pemData []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return nil, errors.New("not a PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("PEM block is not a private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("private key is not RSA")
	}
	return rk, nil
}
