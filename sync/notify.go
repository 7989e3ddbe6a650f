package sync

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/internal/standardwebhooks"
	"github.com/followthrough/followthrough/store"
)

// HTTPDoer sends outbound notifications; *http.Client is one.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

func defaultHTTPClient() HTTPDoer { return &http.Client{Timeout: 10 * time.Second} }

// StatusChange is data.change of item.status_changed.
type StatusChange struct {
	From   ft.Status `json:"from"`
	To     ft.Status `json:"to"`
	Source string    `json:"source"`
}

// eventData is the postmortem as GET shows it, with the item and change for item events.
type eventData struct {
	ft.PostmortemView
	Item   *ft.ItemView  `json:"item,omitempty"`
	Change *StatusChange `json:"change,omitempty"`
}

type eventBody struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      eventData `json:"data"`
}

// notifyPayload is a notify job's payload: everything needed to send the same event again.
type notifyPayload struct {
	URL       string          `json:"url"`
	WebhookID string          `json:"webhook_id"`
	Body      json.RawMessage `json:"body"`
}

// queueEvent queues an outbound event for every notify URL that subscribes to it, in the
// caller's transaction. pm is the postmortem as the change left it: the caller has it already,
// so no event reads it again. itemID and change are for item.status_changed only.
func queueEvent(ctx context.Context, tx *store.Tx, notify []config.Notify, eventType string, pm ft.PostmortemView, itemID string, change *StatusChange, now time.Time) error {
	var receivers []string
	for _, n := range notify {
		if slices.Contains(n.Events, eventType) {
			receivers = append(receivers, n.URL)
		}
	}
	if len(receivers) == 0 {
		return nil
	}
	body := eventBody{Type: eventType, Timestamp: now.UTC(), Data: eventData{PostmortemView: pm, Change: change}}
	if itemID != "" {
		for i := range pm.Items {
			if pm.Items[i].ID == itemID {
				body.Data.Item = &pm.Items[i]
			}
		}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	for _, url := range receivers {
		payload, _ := json.Marshal(notifyPayload{URL: url, WebhookID: newWebhookID(), Body: raw})
		// ItemID orders the events of one receiver without holding up other work. It is logged,
		// and a receiver's URL may hold its credential: a digest names the receiver instead.
		digest := sha256.Sum256([]byte(url))
		if err := store.Enqueue(ctx, tx, store.Job{Kind: jobNotify, PostmortemID: pm.ID, ItemID: "notify:" + hex.EncodeToString(digest[:8]),
			Payload: payload}, now); err != nil {
			return err
		}
	}
	return nil
}

func newWebhookID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "msg_" + hex.EncodeToString(b)
}

// redactURL is a receiver's URL as logs and errors show it: scheme and host only.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "a notify URL"
	}
	return u.Scheme + "://" + u.Host
}

// deliver POSTs one event to one receiver, signed, with the same webhook-id on every retry.
func (e *Engine) deliver(ctx context.Context, job store.Job) error {
	var p notifyPayload
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return final(fmt.Errorf("notify: bad payload: %w", err))
	}
	var secret config.Secret
	found := false
	for _, n := range e.opts.Config.Notify {
		if n.URL == p.URL {
			secret, found = n.Secret, true
		}
	}
	if !found {
		// The receiver left the configuration: nothing to send it.
		return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
	}
	key, err := secret.WebhookKey()
	if err != nil {
		return final(fmt.Errorf("notify %s: %w", redactURL(p.URL), err))
	}
	now := e.opts.Clock.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(p.Body))
	if err != nil {
		return final(fmt.Errorf("notify %s: not a usable URL", redactURL(p.URL)))
	}
	req.Header.Set("Content-Type", "application/json")
	timestamp := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set(standardwebhooks.HeaderID, p.WebhookID)
	req.Header.Set(standardwebhooks.HeaderTimestamp, timestamp)
	req.Header.Set(standardwebhooks.HeaderSignature, standardwebhooks.Sign(key, p.WebhookID, timestamp, p.Body))
	resp, err := e.opts.HTTPClient.Do(req)
	if err != nil {
		// Receivers are retried whatever went wrong: the event must arrive.
		// The URL itself may hold a credential (many receivers put one in the path or query):
		// errors name only its scheme and host.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("notify %s: %w", redactURL(p.URL), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("notify %s: the receiver answered %s", redactURL(p.URL), resp.Status)
	}
	return e.opts.Store.CompleteJob(ctx, job.ID, e.opts.Clock.Now(), nil)
}
