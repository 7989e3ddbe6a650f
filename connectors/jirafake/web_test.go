package jirafake

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// browse fetches a page with the client's credentials, or none.
func (c *client) browse(path string, auth bool) (int, http.Header, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.s.URL()+path, nil)
	if auth {
		c.auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestBrowsePage(t *testing.T) {
	c := newClient(t, Options{ServeHTML: true, Users: []User{{AccountID: "acc-bob", DisplayName: "Bob <B>"}}})
	key := c.create("PAY", "<script>x</script>")
	if code := c.do("POST", "/rest/api/2/issue/"+key+"/remotelink", map[string]any{
		"globalId": "followthrough:PM-1",
		"object":   map[string]any{"url": "https://wiki.example.com/pm/1?a=1&b=2", "title": "Postmortem <PM-1>"},
	}, nil); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("remote link: %d", code)
	}
	if err := c.s.Edit(key, func(is *Issue) {
		is.Assignee, is.DueDate, is.Priority = "acc-bob", "2026-12-15", "High"
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.s.AddComment(key, "acc-bob", "on it & <b>soon</b>"); err != nil {
		t.Fatal(err)
	}
	if err := c.s.Transition(key, "Won't Do", ""); err != nil {
		t.Fatal(err)
	}
	c.s.ResetCalls()

	code, hdr, page := c.browse("/browse/"+key, false)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("page = %d %q:\n%s", code, hdr.Get("Content-Type"), page)
	}
	for _, want := range []string{
		key, "&lt;script&gt;x&lt;/script&gt;", "Won&#39;t Do", "Bob &lt;B&gt;", "acc-bob", "2026-12-15", "High",
		"postmortem", "pm-pm-1", "line 1\nline 2\n\nfollowthrough:PM-1/AI-1", "on it &amp; &lt;b&gt;soon&lt;/b&gt;",
		`href="https://wiki.example.com/pm/1?a=1&amp;b=2"`, "Postmortem &lt;PM-1&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	for _, bad := range []string{"<script>x", "<b>soon", "<B>", "<PM-1>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page has unescaped %q", bad)
		}
	}
	if n := len(c.s.Requests()); n != 0 {
		t.Errorf("page view in the request log: %v", c.s.Requests())
	}
	if code, _, page := c.browse("/browse/"+strings.ToLower(key), false); code != http.StatusOK || !strings.Contains(page, "&lt;script&gt;") {
		t.Errorf("lower-case key = %d", code)
	}
	if code, hdr, _ := c.browse("/browse/PAY-999", false); code != http.StatusNotFound || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Errorf("unknown key = %d %q, want a 404 page", code, hdr.Get("Content-Type"))
	}
	// The API still wants credentials.
	if code, _, _ := c.browse("/rest/api/2/issue/"+key, false); code != http.StatusUnauthorized {
		t.Errorf("API without credentials = %d, want 401", code)
	}
}

func TestBrowsePageOff(t *testing.T) {
	c := newClient(t, Options{})
	key := c.create("PAY", "No page")
	if code, hdr, body := c.browse("/browse/"+key, true); code != http.StatusNotFound || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Errorf("GET /browse/%s = %d %q %s, want the API's 404", key, code, hdr.Get("Content-Type"), body)
	}
	if code, _, _ := c.browse("/browse/"+key, false); code != http.StatusUnauthorized {
		t.Errorf("without credentials = %d, want the API's 401", code)
	}
}
