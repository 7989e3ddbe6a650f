package followthrough

import (
	"strings"
	"testing"
)

func TestParseTicket(t *testing.T) {
	configured := TicketSites{GitHub: "https://github.com", Jira: "https://acme.atlassian.net"}
	enterprise := TicketSites{GitHub: "https://ghe.example.com", Jira: "https://jira.example.com/jira"}
	tests := []struct {
		name  string
		sites TicketSites
		ref   string
		want  TicketRef
		err   string // a part of the error; empty: no error
	}{
		{"github key", configured, "acme/checkout#12",
			TicketRef{Kind: GitHub, Key: "acme/checkout#12", URL: "https://github.com/acme/checkout/issues/12"}, ""},
		{"jira key", configured, "PAY-12",
			TicketRef{Kind: Jira, Key: "PAY-12", URL: "https://acme.atlassian.net/browse/PAY-12"}, ""},
		{"github url", configured, "https://github.com/acme/checkout/issues/12",
			TicketRef{Kind: GitHub, Key: "acme/checkout#12", URL: "https://github.com/acme/checkout/issues/12"}, ""},
		{"github url with a comment anchor and a slash", configured, "https://github.com/acme/checkout/issues/12/#issuecomment-1",
			TicketRef{Kind: GitHub, Key: "acme/checkout#12", URL: "https://github.com/acme/checkout/issues/12"}, ""},
		{"jira url", configured, "https://acme.atlassian.net/browse/PAY-12",
			TicketRef{Kind: Jira, Key: "PAY-12", URL: "https://acme.atlassian.net/browse/PAY-12"}, ""},
		{"enterprise github url", enterprise, "https://ghe.example.com/acme/x/issues/3",
			TicketRef{Kind: GitHub, Key: "acme/x#3", URL: "https://ghe.example.com/acme/x/issues/3"}, ""},
		{"jira under a context path", enterprise, "https://jira.example.com/jira/browse/OPS-7",
			TicketRef{Kind: Jira, Key: "OPS-7", URL: "https://jira.example.com/jira/browse/OPS-7"}, ""},
		{"jira url outside the context path", enterprise, "https://jira.example.com/browse/OPS-7", TicketRef{}, "not a ticket of a configured tracker"},
		{"pull request", configured, "https://github.com/acme/checkout/pull/12", TicketRef{}, "pull request"},
		{"github url on another host", configured, "https://gitlab.com/acme/checkout/issues/12", TicketRef{}, "https://github.com/<owner>/<repo>/issues/<n>"},
		{"jira url on another host", configured, "https://other.atlassian.net/browse/PAY-12", TicketRef{}, "https://acme.atlassian.net/browse/<KEY-n>"},
		{"github not configured", TicketSites{Jira: "https://acme.atlassian.net"}, "https://github.com/a/b/issues/1", TicketRef{}, "configured tracker"},
		{"any host takes github urls", TicketSites{AnyHost: true}, "https://ghe.corp/a/b/issues/9",
			TicketRef{Kind: GitHub, Key: "a/b#9", URL: "https://ghe.corp/a/b/issues/9"}, ""},
		{"any host takes jira urls", TicketSites{AnyHost: true}, "https://jira.corp/browse/X-1",
			TicketRef{Kind: Jira, Key: "X-1", URL: "https://jira.corp/browse/X-1"}, ""},
		{"n/a", configured, "n/a", TicketRef{}, "names no ticket"},
		{"bug number", configured, "Bug 5554823", TicketRef{}, "names no ticket"},
		{"lower-case jira key", configured, "pay-12", TicketRef{}, "names no ticket"},
		{"issue zero", configured, "acme/checkout#0", TicketRef{}, "names no ticket"},
		{"not a url scheme", configured, "ftp://github.com/a/b/issues/1", TicketRef{}, "names no ticket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sites.ParseTicket(tt.ref)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseTicket(%q) = %+v, %v; want an error about %q", tt.ref, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseTicket(%q) = %+v, %v; want %+v", tt.ref, got, err, tt.want)
			}
		})
	}
}

// TestTicketAndStatusOfItems checks the item fields of existing tickets: a URL and a key of the
// same ticket are the same document, a reference naming no ticket is a 422 naming the field,
// and only done and wont_do are statuses at sign-off.
func TestTicketAndStatusOfItems(t *testing.T) {
	sites := TicketSites{GitHub: "https://github.com", Jira: "https://acme.atlassian.net"}
	byURL, byKey := decodeValid(t), decodeValid(t)
	byURL.ActionItems[0].Ticket = " https://github.com/acme/checkout/issues/12 "
	byKey.ActionItems[0].Ticket = "acme/checkout#12"
	byURL.ActionItems[1].Ticket = "https://acme.atlassian.net/browse/PAY-7"
	byKey.ActionItems[1].Ticket = "PAY-7"
	byURL.Normalize(sites)
	byKey.Normalize(sites)
	if errs := byURL.Validate(); len(errs) != 0 {
		t.Fatalf("valid tickets refused: %v", errs)
	}
	if byURL.ActionItems[0].Ticket != "acme/checkout#12" || byURL.ActionItems[1].Ticket != "PAY-7" {
		t.Errorf("tickets not rewritten as keys: %q, %q", byURL.ActionItems[0].Ticket, byURL.ActionItems[1].Ticket)
	}
	if byURL.Hash() != byKey.Hash() {
		t.Error("a ticket named by its URL and by its key hash differently")
	}
	plain := decodeValid(t)
	if plain.Hash() == byKey.Hash() {
		t.Error("naming a ticket does not change the document")
	}
	open := decodeValid(t)
	open.ActionItems[0].Status = StatusOpen
	open.Normalize(sites)
	if open.Hash() != plain.Hash() {
		t.Error(`"status": "open" is not the same document as no status`)
	}

	tests := []struct {
		name   string
		mutate func(it *ActionItem)
		field  string
		msg    string
	}{
		{"pull request", func(it *ActionItem) { it.Ticket = "https://github.com/acme/checkout/pull/3" }, "action_items[0].ticket", "pull request"},
		{"other host", func(it *ActionItem) { it.Ticket = "https://gitlab.com/acme/checkout/issues/3" }, "action_items[0].ticket", "configured"},
		{"text", func(it *ActionItem) { it.Ticket = "n/a" }, "action_items[0].ticket", "names no ticket"},
		{"status open", func(it *ActionItem) { it.Status = StatusOpen }, "", ""},
		{"status in progress", func(it *ActionItem) { it.Status = StatusInProgress }, "", ""},
		{"status unknown", func(it *ActionItem) { it.Status = "finished" }, "action_items[0].status", `"done" or "wont_do"`},
		{"status done", func(it *ActionItem) { it.Status = StatusDone }, "", ""},
		{"status wont_do", func(it *ActionItem) { it.Status = StatusWontDo }, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decodeValid(t)
			tt.mutate(&d.ActionItems[0])
			d.Normalize(sites)
			errs := d.Validate()
			if tt.field == "" {
				if len(errs) != 0 {
					t.Fatalf("refused: %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tt.field || !strings.Contains(errs[0].Message, tt.msg) {
				t.Fatalf("problems = %v; want one on %s about %q", errs, tt.field, tt.msg)
			}
		})
	}
}

func TestDecodeTicketAndStatus(t *testing.T) {
	d, err := DecodeDocument([]byte(`{"action_items":[{"id":"a","ticket":"PAY-1","status":"done"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if it := d.ActionItems[0]; it.Ticket != "PAY-1" || it.Status != StatusDone {
		t.Fatalf("item = %+v", it)
	}
	_, err = DecodeDocument([]byte(`{"action_items":[{"ticket":12,"status":true}]}`))
	se, ok := err.(*ShapeError)
	if !ok || len(se.Fields) != 2 || se.Fields[0].Field != "action_items[0].ticket" || se.Fields[1].Field != "action_items[0].status" {
		t.Fatalf("wrong types: %v", err)
	}
}
