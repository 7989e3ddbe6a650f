package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// acceptCases are Accept headers with the format they get on GET / (HTML, JSON or CSV) and on
// every other page (HTML or JSON). When Accept allows none of a page's formats, the page is
// answered in its default, HTML, as if it were not negotiated.
var acceptCases = []struct {
	accept     string
	list, page string
}{
	{"", "html", "html"},
	{"*/*", "html", "html"},
	{"text/html", "html", "html"},
	{"application/json", "json", "json"},
	{"text/csv", "csv", "html"},
	// The defect: a CSV-first client that also takes HTML got 400 on pages without CSV.
	{"text/csv, text/html;q=0.5", "csv", "html"},
	{"text/csv, application/json;q=0.5", "csv", "json"},
	{"text/csv;q=0.9, application/json", "json", "json"},
	{"text/csv;q=0.001", "csv", "html"},
	// q=0 is "not acceptable", and the most specific range decides.
	{"text/html;q=0", "html", "html"},
	{"text/html;q=0, application/json;q=0, text/csv;q=0", "html", "html"},
	{"text/html;q=0, */*", "json", "json"},
	{"text/csv;q=0, text/*", "html", "html"},
	{"*/*;q=0.1, text/csv", "csv", "html"},
	{"text/*;q=0.5, application/json", "json", "json"},
	{"*/*;q=0", "html", "html"},
	// Wildcards.
	{"text/*", "html", "html"},
	{"application/*", "json", "json"},
	{"application/xml", "html", "html"},
	{"image/png, */*;q=0.8", "html", "html"},
	{"*; q=.2", "html", "html"}, // a bare *, as old Java clients send
	// Equal q: a type named beats one reached by a wildcard, then the first named wins.
	{"application/json, text/plain, */*", "json", "json"},
	{"*/*, text/csv", "csv", "html"},
	{"application/json, text/html", "json", "json"},
	{"text/html, application/json", "html", "html"},
	{"text/csv;q=0.5, application/json;q=0.5", "csv", "json"},
	{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", "html", "html"},
	{"application/xhtml+xml", "html", "html"},
	// Parameters: UTF-8 is the only charset; others neither narrow nor widen.
	{"application/json; charset=utf-8", "json", "json"},
	{`application/json;charset="UTF-8";q=0.9, text/html;q=0.8`, "json", "json"},
	{"text/html; charset=iso-8859-1", "html", "html"},
	{"text/html;charset=iso-8859-1, application/json;q=0.1", "json", "json"},
	{"text/html;level=1", "html", "html"},
	{"text/csv;header=present, text/html;q=0.3", "csv", "html"},
	// Spaces, case and empty list elements.
	{"  TEXT/CSV ; Q=1 ,  Text/HTML ; q=0.5  ", "csv", "html"},
	{"Application/JSON", "json", "json"},
	{",, text/csv ,,text/html;q=0.2,", "csv", "html"},
	// What cannot be read is left out; nothing readable is as no Accept.
	{"text/csv;q=abc, application/json", "json", "json"},
	{"text/csv;q=2, text/html;q=0.5", "html", "html"},
	{"nonsense", "html", "html"},
	{"*/json", "html", "html"},
}

// TestPageFormat is the negotiation alone, on both kinds of page.
func TestPageFormat(t *testing.T) {
	for _, tc := range acceptCases {
		for _, kind := range []struct {
			offers []string
			want   string
		}{{listFormats, tc.list}, {pageFormats, tc.page}} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.accept != "" {
				r.Header.Set("Accept", tc.accept)
			}
			got, err := pageFormat(r, kind.offers)
			if err != nil {
				t.Fatalf("Accept %q, offers %v: %v", tc.accept, kind.offers, err)
			}
			if got != kind.want {
				t.Errorf("Accept %q, offers %v: %s, want %s", tc.accept, kind.offers, got, kind.want)
			}
		}
	}

	// Accept over several header lines is one list.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Add("Accept", "text/html;q=0.5")
	r.Header.Add("Accept", "application/json")
	if got, err := pageFormat(r, pageFormats); err != nil || got != formatJSON {
		t.Errorf("two Accept lines: %q %v", got, err)
	}
}

// TestPagesNegotiate: every page answers each Accept of acceptCases with the format it names,
// as its Content-Type; ?format= wins over Accept.
func TestPagesNegotiate(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	contentTypes := map[string]string{"html": "text/html", "json": "application/json", "csv": "text/csv"}
	for _, page := range []struct {
		path string
		list bool // offers CSV
	}{
		{"/", true},
		{"/postmortems/PM-1", false},
		{"/owners", false},
		{"/owners/bob@acme.com", false},
		{"/insights", false},
	} {
		t.Run(page.path, func(t *testing.T) {
			for _, tc := range acceptCases {
				want := tc.page
				if page.list {
					want = tc.list
				}
				r := e.page(page.path, "Accept", tc.accept)
				if vary := r.header.Values("Vary"); !strings.Contains(strings.Join(vary, ","), "Accept") {
					t.Errorf("Accept %q: Vary %q", tc.accept, vary)
				}
				if ct := r.header.Get("Content-Type"); r.status != http.StatusOK || !strings.HasPrefix(ct, contentTypes[want]) {
					t.Errorf("Accept %q: %d %s, want 200 %s", tc.accept, r.status, ct, contentTypes[want])
				}
			}

			// ?format= wins over Accept, whatever Accept says.
			for _, accept := range []string{"text/csv", "text/html;q=0", "image/png"} {
				r := e.page(page.path+"?format=json", "Accept", accept)
				if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
					t.Errorf("?format=json with Accept %q: %d %s", accept, r.status, r.header.Get("Content-Type"))
				}
				r = e.page(page.path+"?format=html", "Accept", accept)
				if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
					t.Errorf("?format=html with Accept %q: %d %s", accept, r.status, r.header.Get("Content-Type"))
				}
			}
			r := e.page(page.path+"?format=csv", "Accept", "text/csv")
			if page.list != (r.status == http.StatusOK) {
				t.Errorf("?format=csv: %d", r.status)
			}
		})
	}
}

// TestPageErrorsFollowNegotiation: an error answer is an HTML page when the page would have
// been HTML, JSON otherwise.
func TestPageErrorsFollowNegotiation(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	for _, tc := range []struct {
		path, accept string
		status       int
		html         bool
	}{
		// Negotiated to HTML, the page has no CSV: an HTML 404.
		{"/postmortems/PM-NOPE", "text/csv, text/html;q=0.5", 404, true},
		{"/postmortems/PM-NOPE", "text/csv, application/json;q=0.5", 404, false},
		{"/insights?since=nope", "text/csv, text/html;q=0.5", 400, true},
		{"/?state=nope", "text/csv, text/html;q=0.5", 400, false}, // / is CSV here
		{"/?format=xml", "application/json", 400, true},
		{"/insights?format=csv", "", 400, true},
	} {
		r := e.page(tc.path, "Accept", tc.accept)
		if r.status != tc.status || tc.html != strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s with Accept %q: %d %s, want %d html %v", tc.path, tc.accept, r.status,
				r.header.Get("Content-Type"), tc.status, tc.html)
		}
	}
}
