// Package openapitest checks HTTP exchanges against followthrough's OpenAPI document, so that
// the document cannot drift from the code: the web tests and the end-to-end tests send their
// requests through Transport, which validates each request and its answer with kin-openapi's
// openapi3filter and fails the test on any mismatch.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func init() {
	// Markdown intake is text; openapi3filter only knows text/plain as such.
	openapi3filter.RegisterBodyDecoder("text/markdown", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(body)
		return string(b), err
	})
}

// Load reads an OpenAPI document with kin-openapi's loader and validates it.
func Load(document []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	return doc, nil
}

// Checker validates exchanges against one OpenAPI document.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
	// described is the path prefixes whose every request must be a described operation.
	described []string
}

// New builds a checker of document. Requests whose path starts with one of described (e.g.
// "/v1/") must be operations of the document, or be answered 404 or 405 with an error body;
// other paths that the document does not describe are passed through unchecked (the status
// page, metrics).
func New(document []byte, described ...string) (*Checker, error) {
	doc, err := Load(document)
	if err != nil {
		return nil, err
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &Checker{doc: doc, router: router, described: described}, nil
}

// Transport wraps next (nil: http.DefaultTransport): every exchange with a described operation
// is checked, and a mismatch fails t. The answer reaches the caller unchanged.
func (c *Checker) Transport(t testing.TB, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{c: c, t: t, next: next}
}

type transport struct {
	c    *Checker
	t    testing.TB
	next http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		// A RoundTripper must not change the request: the copy carries the body.
		length := req.ContentLength
		req = req.Clone(req.Context())
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(reqBody)), length
	}
	resp, err := tr.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err != nil {
		return resp, nil // the caller sees the failed read as a short body; nothing to check
	}
	if problem := tr.c.Check(req, reqBody, resp, respBody); problem != "" {
		tr.t.Errorf("OpenAPI: %s %s → %d: %s\nrequest body: %s\nanswer: %s", req.Method, req.URL.RequestURI(), resp.StatusCode,
			problem, clip(reqBody), clip(respBody))
	}
	return resp, nil
}

// Check says what is wrong with one exchange, or "" when it matches the document: an answer
// must be one the operation describes, with a matching body and headers; a request the
// document does not allow must be refused (4xx); a request to a path the document does not
// describe under a described prefix must be 404 or 405 with an error body.
func (c *Checker) Check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) string {
	ctx := context.Background()
	route, pathParams, err := c.router.FindRoute(req)
	if err != nil {
		if !c.mustDescribe(req.URL.Path) {
			return ""
		}
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			return "the OpenAPI document describes no such operation (" + err.Error() + "), yet it was answered"
		}
		return c.checkErrorBody(resp, respBody)
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		SkipSettingDefaults:   true,
		MultiError:            true,
		AuthenticationFunc:    credentialsPresent,
	}
	input := &openapi3filter.RequestValidationInput{Request: withBody(req, reqBody), PathParams: pathParams, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(ctx, input)
	if reqErr != nil && resp.StatusCode < 400 {
		return "the OpenAPI document does not allow this request, yet it was answered " + resp.Status + ": " + reqErr.Error()
	}
	input.Request = withBody(req, reqBody)
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(respBody)),
		Options:                opts,
	})
	if err != nil {
		return "the answer does not match the OpenAPI document: " + err.Error()
	}
	return ""
}

func (c *Checker) mustDescribe(path string) bool {
	for _, p := range c.described {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// checkErrorBody checks an answer against the document's Error schema.
func (c *Checker) checkErrorBody(resp *http.Response, body []byte) string {
	schema := c.doc.Components.Schemas["Error"]
	if schema == nil {
		return "the OpenAPI document has no Error schema"
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "the error answer is not JSON: " + err.Error()
	}
	if err := schema.Value.VisitJSON(v); err != nil {
		return "the error answer does not match the Error schema: " + err.Error()
	}
	return ""
}

// credentialsPresent accepts a security scheme when its credential is in the request: the
// document says which credentials an operation takes; whether they are valid is the server's
// business, and the answer (401) is checked like any other.
func credentialsPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	s := in.SecurityScheme
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
		if ok && strings.EqualFold(scheme, "bearer") && strings.TrimSpace(token) != "" {
			return nil
		}
	case s.Type == "apiKey" && s.In == "header":
		if req.Header.Get(s.Name) != "" {
			return nil
		}
	case s.Type == "apiKey" && s.In == "query":
		if req.URL.Query().Has(s.Name) {
			return nil
		}
	default:
		return fmt.Errorf("security scheme %q of type %q is not checked by openapitest", in.SecuritySchemeName, s.Type)
	}
	return errors.New("no " + in.SecuritySchemeName + " credential")
}

// withBody is a copy of req that reads body, for one validation.
func withBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r
}

// clip shortens a body for a failure message.
func clip(b []byte) string {
	const max = 300
	if len(b) > max {
		return string(b[:max]) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return string(b)
}
