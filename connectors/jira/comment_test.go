package jira

import (
	"context"
	"net/http"
	"strconv"
	"testing"

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
		err = e.tr.Comment(ctx, key, id, "This item is stalled.")
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
		if err := e.tr.Comment(ctx, key, id, "This item is stalled."); err != nil {
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
		if err := e.tr.Comment(ctx, key, "followthrough-comment:8-1767225600001", "This item is stalled."); err != nil {
			t.Fatal(err)
		}
		// A person's comment that ends with an id is not ours.
		const other = "followthrough-comment:9-1767225600002"
		if err := e.fake.AddComment(key, person, "quoting:\n\n"+other); err != nil {
			t.Fatal(err)
		}
		if err := e.tr.Comment(ctx, key, other, "Stalled."); err != nil {
			t.Fatal(err)
		}
		is, _ = e.fake.Issue(key)
		if len(is.Comments) != 5 || is.Comments[4].Body != "Stalled.\n\n"+other {
			t.Errorf("comments = %+v, want a second and a third of ours", is.Comments)
		}

		// An id that cannot be embedded is refused before any call.
		before := len(e.fake.Requests())
		for _, bad := range []string{"", "two words", "a\nb"} {
			err := e.tr.Comment(ctx, key, bad, "x")
			if retry, _ := ft.Retryable(err); err == nil || retry {
				t.Errorf("id %q: %v, want a final error", bad, err)
			}
		}
		if len(e.fake.Requests()) != before {
			t.Errorf("a bad id made calls")
		}
	})
}

// TestCommentFoundOnALaterPage: Jira lists comments oldest first, so a comment among the newest
// of a long thread is found on the last pages, by startAt from the total.
func TestCommentFoundOnALaterPage(t *testing.T) {
	e := newEnv(t, jirafake.Cloud, func(o *jirafake.Options) { o.PageSize = 10 })
	ctx := context.Background()
	tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	key := tk.Ref.Key
	for i := range 15 {
		if err := e.fake.AddComment(key, "acc-carol", "note "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	path := "/rest/api/2/issue/" + key + "/comment"
	const id = "followthrough-comment:1"
	e.fake.LoseNextResponse(http.MethodPost, path)
	if err := e.tr.Comment(ctx, key, id, "Stalled."); err == nil {
		t.Fatal("the lost answer was not an error")
	}
	for i := range 14 { // 30 comments, ours the 16th: on the second page from the end
		if err := e.fake.AddComment(key, "acc-carol", "more "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	gets := e.fake.Calls(http.MethodGet, path)
	if err := e.tr.Comment(ctx, key, id, "Stalled."); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Calls(http.MethodGet, path) - gets; got != 3 {
		t.Errorf("the retry read %d pages, want 3", got)
	}
	if n := e.fake.Calls(http.MethodPost, path); n != 1 {
		t.Errorf("%d POSTs, want 1", n)
	}
}
