package web

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
)

// linkOwners are owners, as authors may write them (validate.go allows any text without NUL),
// whose links a browser could take elsewhere if they were not escaped with care.
var linkOwners = []string{
	"..", ".", "...", "%2e%2e", ".%2E", "%2E.", "%2e",
	"../..", "../admin", "./x", "a/../b", `..\..`, `\`,
	"a/b", "?x", "#frag", "x?y#z", "50%", "50%25off@acme.com", "%",
	"tab\there", "new\nline", "spaced out@acme.com", "ümlaut@exämple.com", "bob@acme.com",
	"javascript:alert(1)", "//evil.example/x", "&amp;",
}

// TestOwnerLinksResolveToOwner: every owner link, on every page that has them, resolved as a
// browser resolves it against the page's URL, leads to that owner's page.
func TestOwnerLinksResolveToOwner(t *testing.T) {
	e := newEnv(t, testConfig)
	doc := &ft.Document{ID: "PM-LINKS", Title: "Odd owners", Status: "finalized",
		SignedOffBy: []string{"carol@acme.com"}, SignedOffAt: &pageNow}
	for i, owner := range linkOwners {
		doc.ActionItems = append(doc.ActionItems, ft.ActionItem{ID: fmt.Sprintf("I%d", i+1), Title: "Fix",
			Owner: owner, Priority: "P1", Due: "2026-12-31"})
	}
	engineIntake(t, e, doc, pageNow)

	anchor := regexp.MustCompile(`<a href="([^"]*)"[^>]*>([^<]*)</a>`)
	for _, page := range []string{"/owners", "/postmortems/PM-LINKS"} {
		t.Run(page, func(t *testing.T) {
			r := e.page(page)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			hrefs := map[string]string{} // owner: href
			for _, m := range anchor.FindAllStringSubmatch(string(r.body), -1) {
				hrefs[html.UnescapeString(m[2])] = html.UnescapeString(m[1])
			}
			base, err := url.Parse(e.url + page)
			if err != nil {
				t.Fatal(err)
			}
			for _, owner := range linkOwners {
				// The owners list shows emails lower-cased, as owners compare.
				shown := owner
				if page == "/owners" {
					shown = strings.ToLower(owner)
				}
				href, ok := hrefs[shown]
				if !ok {
					t.Errorf("no link for owner %q", owner)
					continue
				}
				target := resolveLikeBrowser(t, base, href)
				got := ownerAt(t, e, target)
				if got.Email != strings.ToLower(owner) || len(got.Items) != 1 || got.Items[0].PostmortemID != "PM-LINKS" {
					t.Errorf("owner %q: href %q resolves to %s, the page of %q with %d items", owner, href, target, got.Email, len(got.Items))
				}
			}
		})
	}
}

// TestOwnerHrefForms: an owner that is a whole dot segment is linked by query; any other by
// path, as before.
func TestOwnerHrefForms(t *testing.T) {
	for owner, want := range map[string]string{
		"bob@acme.com": "/owners/bob@acme.com",
		"..":           "/owners?email=..",
		".":            "/owners?email=.",
		"...":          "/owners/...",
		"a/b":          "/owners/a%2Fb",
	} {
		if got := ownerHref(owner); got != want {
			t.Errorf("ownerHref(%q) = %q, want %q", owner, got, want)
		}
	}
}

// TestOwnerByQuery: /owners?email= is that owner's page, in HTML and JSON, like /owners/{email};
// an empty email is the list.
func TestOwnerByQuery(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	byPath := e.page("/owners/Bob@Acme.com?format=json")
	byQuery := e.page("/owners?email=Bob%40Acme.com&format=json")
	if byQuery.status != http.StatusOK || string(byQuery.body) != string(byPath.body) {
		t.Fatalf("by query %d %s\nby path %s", byQuery.status, byQuery.body, byPath.body)
	}
	r := e.page("/owners?email=bob@acme.com")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `<span class="owner-email">bob@acme.com</span>`) {
		t.Fatalf("HTML by query: %d %s", r.status, r.body)
	}
	if r := e.page("/owners?email=&format=json"); !strings.Contains(string(r.body), `"owners":[`) {
		t.Fatalf("an empty email: %s", r.body)
	}
	if r := e.page("/owners?email=%FF"); r.status != http.StatusBadRequest {
		t.Fatalf("an email that is not UTF-8: %d", r.status)
	}
}

// resolveLikeBrowser resolves href against base as the WHATWG URL standard does for http(s),
// where Go's ResolveReference differs: tabs and newlines are dropped, a backslash is a slash,
// and %2e is a dot in a dot segment (".%2E" is "..").
func resolveLikeBrowser(t *testing.T, base *url.URL, href string) *url.URL {
	t.Helper()
	href = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(strings.TrimSpace(href))
	href, _, _ = strings.Cut(href, "#") // the fragment does not choose the page
	path, query, hasQuery := strings.Cut(href, "?")
	segs := strings.Split(strings.ReplaceAll(path, `\`, "/"), "/")
	for i, s := range segs {
		switch strings.ToLower(s) {
		case "%2e":
			segs[i] = "."
		case ".%2e", "%2e.", "%2e%2e":
			segs[i] = ".."
		}
	}
	href = strings.Join(segs, "/")
	if hasQuery {
		href += "?" + query
	}
	ref, err := url.Parse(href)
	if err != nil {
		t.Fatalf("href %q: %v", href, err)
	}
	return base.ResolveReference(ref)
}

// ownerAt GETs an owner page's JSON at target.
func ownerAt(t *testing.T, e *env, target *url.URL) ownerJSON {
	t.Helper()
	u := *target
	q := u.Query()
	q.Set("format", "json")
	u.RawQuery = q.Encode()
	resp, err := e.client.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got ownerJSON
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		// Not an owner page (the list, say): what it is shows in the caller's message.
		return ownerJSON{Email: fmt.Sprintf("(%d, not an owner page)", resp.StatusCode)}
	}
	return got
}
