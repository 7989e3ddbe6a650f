package github

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors"
)

// finalError is a failure found before any call: a bad key or repository name. Nothing was
// sent, so it is a refusal.
func finalError(op, ticket string, err error) *ft.TrackerError {
	return &ft.TrackerError{Tracker: ft.GitHub, Op: op, Ticket: ticket, Outcome: ft.OutcomeRefused, Message: err.Error(), Err: err}
}

// notSent classifies a failure met before the call was sent (its pacing, its context ended
// while waiting for its turn) as a refusal: the call did nothing.
func (t *Tracker) notSent(op, ticket string, err error) error {
	c := t.classify(op, ticket, err)
	var te *ft.TrackerError
	if errors.As(c, &te) && te.Outcome != ft.OutcomeRefused {
		r := *te
		r.Outcome = ft.OutcomeRefused
		return &r
	}
	return c
}

// retag gives an error classified for one operation (Self) the operation that needed it.
func retag(err error, op, ticket string) error {
	var te *ft.TrackerError
	if errors.As(err, &te) {
		c := *te
		c.Op, c.Ticket = op, ticket
		return &c
	}
	return err
}

// classify turns any error of a call into an *ft.TrackerError, once: network errors, 5xx, 429
// and GitHub's rate limits are retryable (with the wait GitHub asked for); other answers are
// final, with GitHub's own words in Message. Every answer in 4xx (the rate limits included) is
// a refusal: GitHub did nothing. No answer, or a 5xx, leaves the outcome unknown.
func (t *Tracker) classify(op, ticket string, err error) error {
	if err == nil {
		return nil
	}
	var te *ft.TrackerError
	if errors.As(err, &te) {
		return te
	}
	now := t.now()
	e := &ft.TrackerError{Tracker: ft.GitHub, Op: op, Ticket: ticket, Err: err}
	where := "GitHub"
	if ticket != "" {
		where = "GitHub (" + ticket + ")"
	}

	var rle *gh.RateLimitError
	var are *gh.AbuseRateLimitError
	var er *gh.ErrorResponse
	var ihe *ghinstallation.HTTPError
	var held *heldError
	switch {
	case errors.As(err, &held):
		// Our own pacing held the call back: nothing was sent; it is the call's turn then.
		e.Outcome = ft.OutcomeRefused
		e.Paced = true
		e.Retryable = true
		e.RetryAfter = max(held.until.Sub(now), time.Millisecond)
		e.RetryAt = held.until
		e.Message = held.reason
	case errors.As(err, &rle):
		e.StatusCode = statusOf(rle.Response, http.StatusForbidden)
		e.Outcome = ft.OutcomeRefused
		e.Retryable = true
		if !rle.Rate.Reset.Time.IsZero() && rle.Rate.Reset.Time.After(now) {
			e.RetryAfter = rle.Rate.Reset.Time.Sub(now)
		}
		if ra := headerRetryAfter(rle.Response, now); ra > e.RetryAfter {
			e.RetryAfter = ra
		}
		e.Message = fmt.Sprintf("%s rate limit exceeded: %s", where, strings.TrimSpace(rle.Message))
	case errors.As(err, &are):
		e.StatusCode = statusOf(are.Response, http.StatusForbidden)
		e.Outcome = ft.OutcomeRefused
		e.Retryable = true
		if are.RetryAfter != nil && *are.RetryAfter > 0 {
			e.RetryAfter = *are.RetryAfter
		} else {
			e.RetryAfter = headerRetryAfter(are.Response, now)
		}
		e.Message = fmt.Sprintf("%s secondary rate limit: %s", where, strings.TrimSpace(are.Message))
	case errors.As(err, &er) && er.Response != nil:
		code := er.Response.StatusCode
		e.StatusCode = code
		e.Outcome = connectors.OutcomeOf(code)
		msg := describe(er)
		switch {
		case code == http.StatusForbidden && (er.Response.Header.Get("X-RateLimit-Remaining") == "0" || secondaryLimit(er.Message)):
			e.Retryable = true
			e.RetryAfter = connectors.RetryAfter(er.Response.Header, now)
			e.Message = fmt.Sprintf("%s rate limit: %s", where, msg)
		case connectors.RetryableStatus(code):
			e.Retryable = true
			e.RetryAfter = connectors.RetryAfter(er.Response.Header, now)
			e.Message = fmt.Sprintf("%s answered %d %s: %s", where, code, http.StatusText(code), msg)
		case (code == http.StatusNotFound || code == http.StatusGone) && connectors.OnTicket(op):
			e.Err = fmt.Errorf("%w: %w", ft.ErrTicketNotFound, err)
			e.Message = fmt.Sprintf("GitHub issue %s does not exist or was deleted (%s)", ticket, msg)
		case code == http.StatusNotFound:
			e.Message = fmt.Sprintf("%s: not found, or the credentials cannot see it (%s)", where, msg)
		case code == http.StatusUnauthorized:
			e.Message = fmt.Sprintf("GitHub rejected the credentials: %s", msg)
		case code == http.StatusForbidden:
			e.Message = fmt.Sprintf("%s: permission denied: %s", where, msg)
		case code == http.StatusUnprocessableEntity:
			e.Message = fmt.Sprintf("%s rejected the request: %s", where, msg)
		default:
			e.Message = fmt.Sprintf("%s answered %d %s: %s", where, code, http.StatusText(code), msg)
		}
	case errors.As(err, &ihe) && ihe.Response != nil:
		// The installation token could not be fetched: GitHub answered, but not with a token,
		// and the call itself was never sent.
		code := ihe.Response.StatusCode
		e.StatusCode = code
		e.Outcome = ft.OutcomeRefused
		e.Retryable = connectors.RetryableStatus(code) || code == http.StatusForbidden && ihe.Response.Header.Get("X-RateLimit-Remaining") == "0"
		e.RetryAfter = connectors.RetryAfter(ihe.Response.Header, now)
		e.Message = fmt.Sprintf("GitHub App installation %d: no installation token (%d %s)", ihe.InstallationID, code, http.StatusText(code))
	default:
		return connectors.NetworkError(ft.GitHub, op, ticket, err)
	}
	if e.RetryAfter > 0 && e.RetryAt.IsZero() {
		e.RetryAt = now.Add(e.RetryAfter)
	}
	return e
}

func statusOf(r *http.Response, def int) int {
	if r != nil && r.StatusCode != 0 {
		return r.StatusCode
	}
	return def
}

func headerRetryAfter(r *http.Response, now time.Time) time.Duration {
	if r == nil {
		return 0
	}
	return connectors.RetryAfter(r.Header, now)
}

// secondaryLimit recognises GitHub's secondary (abuse) rate limit by its message.
func secondaryLimit(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "secondary rate limit") || strings.Contains(m, "abuse")
}

// describe renders GitHub's error body in words: its message, then each errors[] entry.
func describe(er *gh.ErrorResponse) string {
	msg := strings.TrimSpace(er.Message)
	if msg == "" {
		msg = http.StatusText(er.Response.StatusCode)
	}
	var parts []string
	for _, x := range er.Errors {
		switch {
		case x.Message != "":
			parts = append(parts, x.Message)
		case x.Field != "":
			s := x.Field + " " + strings.ReplaceAll(x.Code, "_", " ")
			if x.Resource != "" {
				s = x.Resource + " " + s
			}
			parts = append(parts, s)
		case x.Code != "":
			parts = append(parts, x.Code)
		}
	}
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	return msg
}
