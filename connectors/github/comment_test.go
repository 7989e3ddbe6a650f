package github

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/githubfake"
)

// TestCommentIdempotent: a comment whose answer is lost is not posted again when retried with
// the same id; another id is another comment; the id is invisible (an HTML comment).
func TestCommentIdempotent(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	tk, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Self(ctx); err != nil { // cached from here on
		t.Fatal(err)
	}
	path := "/repos/" + repo + "/issues/1/comments"
	const id = "followthrough-comment:7-1767225600000"

	s.LoseNextResponse("POST", path)
	err = tr.Comment(ctx, tk.Ref.Key, id, "This item is overdue.", time.Time{})
	if retry, _ := ft.Retryable(err); !retry {
		t.Fatalf("lost answer: %v, want a retryable error", err)
	}
	if gets, posts := s.Calls("GET", path), s.Calls("POST", path); gets != 1 || posts != 1 {
		t.Errorf("first attempt: %d GET, %d POST; want 1 and 1", gets, posts)
	}
	// A person comments meanwhile.
	if err := s.AddComment(repo, 1, "carol-gh", "on it"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Comment(ctx, tk.Ref.Key, id, "This item is overdue.", time.Time{}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if gets, posts := s.Calls("GET", path), s.Calls("POST", path); gets != 2 || posts != 1 {
		t.Errorf("after the retry: %d GET, %d POST; want 2 and 1", gets, posts)
	}
	is, _ := s.Issue(repo, 1)
	if len(is.Comments) != 2 {
		t.Fatalf("comments = %+v, want ours once and carol's", is.Comments)
	}
	ours := is.Comments[0]
	if ours.Body != "This item is overdue.\n\n<!-- "+id+" -->" || CommentIDOf(ours.Body) != id {
		t.Errorf("body = %q", ours.Body)
	}
	visible := regexp.MustCompile(`(?s)<!--.*?-->`).ReplaceAllString(ours.Body, "")
	if strings.Contains(visible, id) || strings.TrimSpace(visible) != "This item is overdue." {
		t.Errorf("the id shows: %q", visible)
	}

	// Another id is another comment, even with the same text.
	if err := tr.Comment(ctx, tk.Ref.Key, "followthrough-comment:8-1767225600001", "This item is overdue.", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if is, _ = s.Issue(repo, 1); len(is.Comments) != 3 {
		t.Errorf("comments = %+v, want a second one of ours", is.Comments)
	}
	// A person's comment that carries our id (quoted, say) is not ours.
	const other = "followthrough-comment:9-1767225600002"
	if err := s.AddComment(repo, 1, "carol-gh", "> copied\n\n<!-- "+other+" -->"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Comment(ctx, tk.Ref.Key, other, "Stalled.", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if is, _ = s.Issue(repo, 1); len(is.Comments) != 5 || is.Comments[4].User != githubfake.DefaultLogin {
		t.Errorf("comments = %+v, want ours after carol's copy", is.Comments)
	}

	// An id that cannot be embedded is refused before any call.
	before := len(s.CallLog())
	for _, bad := range []string{"", "two words", "a-->b", "x--y"} {
		err := tr.Comment(ctx, tk.Ref.Key, bad, "x", time.Time{})
		if retry, _ := ft.Retryable(err); err == nil || retry {
			t.Errorf("id %q: %v, want a final error", bad, err)
		}
	}
	if len(s.CallLog()) != before {
		t.Errorf("a bad id made calls")
	}
}

// TestCommentBoundedBySince: a retry reads every comment created since since, however many
// came after the lost post, and none before: the pages since since are read, not the older
// ones, and a comment of ours from before since is not taken for this one.
func TestCommentBoundedBySince(t *testing.T) {
	clock := newClock()
	s := newFake(t, githubfake.Options{Now: clock.Now})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	tk, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	key, path := tk.Ref.Key, "/repos/"+repo+"/issues/1/comments"
	comment := func(n int, what string) {
		t.Helper()
		for i := range n {
			clock.Advance(time.Second)
			if err := s.AddComment(repo, 1, "carol-gh", what+" "+strconv.Itoa(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	copies := func(id string) int {
		is, _ := s.Issue(repo, 1)
		n := 0
		for _, c := range is.Comments {
			if c.User == githubfake.DefaultLogin && CommentIDOf(c.Body) == id {
				n++
			}
		}
		return n
	}
	const old, id = "followthrough-comment:1-1", "followthrough-comment:2-2"
	if err := tr.Comment(ctx, key, old, "Overdue.", time.Time{}); err != nil {
		t.Fatal(err)
	}
	comment(300, "note")
	clock.Advance(time.Hour)
	queued := clock.Now()

	s.LoseNextResponse("POST", path)
	if err := tr.Comment(ctx, key, id, "Stalled.", queued); err == nil {
		t.Fatal("the lost answer was not an error")
	}
	comment(250, "more")
	gets := s.Calls("GET", path)
	if err := tr.Comment(ctx, key, id, "Stalled.", queued.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := s.Calls("GET", path) - gets; got != 1 {
		t.Errorf("the retry read %d pages, want 1: ours is the oldest since queued", got)
	}
	if n := copies(id); n != 1 {
		t.Errorf("%d copies of the comment after the retry, want 1", n)
	}

	// Our comment from before since is not looked at: all the pages since are read (the 252
	// comments since queued, not the 300 before) and the same id posts again, which cannot
	// happen in practice: since is before every attempt of a comment.
	gets = s.Calls("GET", path)
	if err := tr.Comment(ctx, key, old, "Overdue.", queued); err != nil {
		t.Fatal(err)
	}
	if got := s.Calls("GET", path) - gets; got != 3 {
		t.Errorf("read %d pages, want the 3 since queued", got)
	}
	if n := copies(old); n != 2 {
		t.Errorf("%d copies of the old comment, want 2: the one before since is not read", n)
	}
	// With no since, the oldest comments are read too: the first page has it.
	gets = s.Calls("GET", path)
	if err := tr.Comment(ctx, key, old, "Overdue.", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := s.Calls("GET", path) - gets; got != 1 {
		t.Errorf("read %d pages, want 1", got)
	}
	if n := copies(old); n != 2 {
		t.Errorf("%d copies of the old comment, want still 2", n)
	}
}

// TestCommentTooManySince: with more comments since since than Comment reads, it fails
// retryably and posts nothing rather than risk a second copy.
func TestCommentTooManySince(t *testing.T) {
	clock := newClock()
	s := newFake(t, githubfake.Options{Now: clock.Now})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	tk, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	since := clock.Now()
	for i := range commentPages*100 + 1 {
		if err := s.AddComment(repo, 1, "carol-gh", "note "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	path := "/repos/" + repo + "/issues/1/comments"
	err = tr.Comment(ctx, tk.Ref.Key, "followthrough-comment:1", "Stalled.", since)
	if retry, _ := ft.Retryable(err); !retry {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if gets, posts := s.Calls("GET", path), s.Calls("POST", path); gets != commentPages || posts != 0 {
		t.Errorf("%d GET, %d POST; want %d and 0", gets, posts, commentPages)
	}
}
