package jira

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

// TestCommentIdempotent: a comment whose answer is lost is not posted again when retried with
// the same id; another id is another comment; the id is the comment's plain last line.
func TestCommentIdempotent(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		ctx := context.Background()
		tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
		if err != nil {
			t.Fatal(err)
		}
		key := tk.Ref.Key
		if _, err := e.tr.Self(ctx); err != nil { // cached from here on
			t.Fatal(err)
		}
		path := "/rest/api/2/issue/" + key + "/comment"
		const id = "followthrough-comment:7-1767225600000"

		e.fake.LoseNextResponse(http.MethodPost, path)
		err = e.tr.Comment(ctx, key, id, "This item is stalled.", time.Time{})
		if retry, _ := ft.Retryable(err); !retry {
			t.Fatalf("lost answer: %v, want a retryable error", err)
		}
		if gets, posts := e.fake.Calls(http.MethodGet, path), e.fake.Calls(http.MethodPost, path); gets != 1 || posts != 1 {
			t.Errorf("first attempt: %d GET, %d POST; want 1 and 1", gets, posts)
		}
		person := "acc-carol"
		if mode == jirafake.DataCenter {
			person = "dave"
		}
		if err := e.fake.AddComment(key, person, "on it"); err != nil {
			t.Fatal(err)
		}
		if err := e.tr.Comment(ctx, key, id, "This item is stalled.", time.Time{}); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if gets, posts := e.fake.Calls(http.MethodGet, path), e.fake.Calls(http.MethodPost, path); gets != 2 || posts != 1 {
			t.Errorf("after the retry: %d GET, %d POST; want 2 and 1", gets, posts)
		}
		is, _ := e.fake.Issue(key)
		if len(is.Comments) != 2 || is.Comments[0].Body != "This item is stalled.\n\n"+id {
			t.Fatalf("comments = %+v, want ours once (id on its last line) and the person's", is.Comments)
		}

		// Another id is another comment, even with the same text.
		if err := e.tr.Comment(ctx, key, "followthrough-comment:8-1767225600001", "This item is stalled.", time.Time{}); err != nil {
			t.Fatal(err)
		}
		// A person's comment that ends with an id is not ours.
		const other = "followthrough-comment:9-1767225600002"
		if err := e.fake.AddComment(key, person, "quoting:\n\n"+other); err != nil {
			t.Fatal(err)
		}
		if err := e.tr.Comment(ctx, key, other, "Stalled.", time.Time{}); err != nil {
			t.Fatal(err)
		}
		is, _ = e.fake.Issue(key)
		if len(is.Comments) != 5 || is.Comments[4].Body != "Stalled.\n\n"+other {
			t.Errorf("comments = %+v, want a second and a third of ours", is.Comments)
		}

		// An id that cannot be embedded is refused before any call.
		before := len(e.fake.Requests())
		for _, bad := range []string{"", "two words", "a\nb"} {
			err := e.tr.Comment(ctx, key, bad, "x", time.Time{})
			if retry, _ := ft.Retryable(err); err == nil || retry {
				t.Errorf("id %q: %v, want a final error", bad, err)
			}
		}
		if len(e.fake.Requests()) != before {
			t.Errorf("a bad id made calls")
		}
	})
}

// commentThread is an issue whose comment lookups a test counts: 300 comments by a person, one
// of ours (old) posted before them, and helpers to add more and count our copies.
type commentThread struct {
	t      *testing.T
	e      *env
	key    string
	path   string
	person string
}

func newCommentThread(t *testing.T, e *env, mode jirafake.Mode) *commentThread {
	t.Helper()
	tk, err := e.tr.Create(context.Background(), newTicket("PM-1", "AI-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	c := &commentThread{t: t, e: e, key: tk.Ref.Key, path: "/rest/api/2/issue/" + tk.Ref.Key + "/comment", person: "acc-carol"}
	if mode == jirafake.DataCenter {
		c.person = "dave"
	}
	return c
}

// add adds n comments by the person, a second apart.
func (c *commentThread) add(n int) {
	c.t.Helper()
	for i := range n {
		c.e.clock.Advance(time.Second)
		if err := c.e.fake.AddComment(c.key, c.person, "note "+strconv.Itoa(i)); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *commentThread) copies(id string) int {
	is, _ := c.e.fake.Issue(c.key)
	n := 0
	for _, cm := range is.Comments {
		if commentIDOf(cm.Body) == id {
			n++
		}
	}
	return n
}

func (c *commentThread) gets() int { return c.e.fake.Calls(http.MethodGet, c.path) }

// TestCommentBoundedBySince: a retry reads the comments newest first back to since, however
// many came after the lost post, and none before: pages stop where since is passed, and a
// comment of ours from before since is not taken for this one.
func TestCommentBoundedBySince(t *testing.T) {
	bothModes(t, func(t *testing.T, mode jirafake.Mode) {
		e := newEnv(t, mode, nil)
		ctx := context.Background()
		c := newCommentThread(t, e, mode)
		const old, id = "followthrough-comment:1-1", "followthrough-comment:2-2"
		if err := e.tr.Comment(ctx, c.key, old, "Stalled.", time.Time{}); err != nil {
			t.Fatal(err)
		}
		c.add(300)
		e.clock.Advance(time.Hour)
		queued := e.clock.Now()

		e.fake.LoseNextResponse(http.MethodPost, c.path)
		if err := e.tr.Comment(ctx, c.key, id, "Stalled.", queued); err == nil {
			t.Fatal("the lost answer was not an error")
		}
		c.add(250) // newest first, ours is the 251st: on the third page
		gets := c.gets()
		if err := e.tr.Comment(ctx, c.key, id, "Stalled.", queued.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := c.gets() - gets; got != 3 {
			t.Errorf("the retry read %d pages, want 3", got)
		}
		if n := c.copies(id); n != 1 {
			t.Errorf("%d copies of the comment after the retry, want 1", n)
		}

		// Our comment from before since is not looked at: reading stops on the third page, the
		// first with a comment from before queued, and the same id posts again, which cannot
		// happen in practice: since is before every attempt of a comment.
		gets = c.gets()
		if err := e.tr.Comment(ctx, c.key, old, "Stalled.", queued); err != nil {
			t.Fatal(err)
		}
		if got := c.gets() - gets; got != 3 {
			t.Errorf("read %d pages, want 3 of the 6", got)
		}
		if n := c.copies(old); n != 2 {
			t.Errorf("%d copies of the old comment, want 2: the one before since is not read", n)
		}
		// With no since, nothing is too old: a new comment reads all 6 pages before it posts.
		gets = c.gets()
		if err := e.tr.Comment(ctx, c.key, "followthrough-comment:3-3", "x", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got := c.gets() - gets; got != 6 {
			t.Errorf("read %d pages, want all 6", got)
		}
	})
}

// TestCommentWithoutOrderBy: a Jira that ignores orderBy answers oldest first; Comment notices
// and reads every page, still matching only comments since since.
func TestCommentWithoutOrderBy(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, nil)
	tr, err := New(e.cfg, people, Options{Now: e.clock.Now, Timeout: 5 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		q := r.URL.Query()
		q.Del("orderBy")
		r.URL.RawQuery = q.Encode()
		return http.DefaultTransport.RoundTrip(r)
	})})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := newCommentThread(t, e, jirafake.Cloud)
	const old, id = "followthrough-comment:1-1", "followthrough-comment:2-2"
	if err := tr.Comment(ctx, c.key, old, "Stalled.", time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.add(300)
	e.clock.Advance(time.Hour)
	queued := e.clock.Now()
	e.fake.LoseNextResponse(http.MethodPost, c.path)
	if err := tr.Comment(ctx, c.key, id, "Stalled.", queued); err == nil {
		t.Fatal("the lost answer was not an error")
	}
	c.add(250)
	gets := c.gets()
	if err := tr.Comment(ctx, c.key, id, "Stalled.", queued.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := c.gets() - gets; got != 4 {
		t.Errorf("the retry read %d pages, want 4: oldest first, ours is the 302nd", got)
	}
	if n := c.copies(id); n != 1 {
		t.Errorf("%d copies of the comment after the retry, want 1", n)
	}
	gets = c.gets()
	if err := tr.Comment(ctx, c.key, old, "Stalled.", queued); err != nil {
		t.Fatal(err)
	}
	if got := c.gets() - gets; got != 6 {
		t.Errorf("read %d pages, want all 6", got)
	}
	if n := c.copies(old); n != 2 {
		t.Errorf("%d copies of the old comment, want 2: the one before since is not matched", n)
	}
}

// TestCommentTooManySince: with more comments since since than Comment reads, it fails
// retryably and posts nothing rather than risk a second copy.
func TestCommentTooManySince(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, func(o *jirafake.Options) { o.PageSize = 2 })
	c := newCommentThread(t, e, jirafake.Cloud)
	since := e.clock.Now()
	c.add(commentPages*2 + 1)
	err := e.tr.Comment(context.Background(), c.key, "followthrough-comment:1", "Stalled.", since)
	if retry, _ := ft.Retryable(err); !retry {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if gets, posts := c.gets(), e.fake.Calls(http.MethodPost, c.path); gets != commentPages || posts != 0 {
		t.Errorf("%d GET, %d POST; want %d and 0", gets, posts, commentPages)
	}
}
