package github

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

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
	err = tr.Comment(ctx, tk.Ref.Key, id, "This item is overdue.")
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
	if err := tr.Comment(ctx, tk.Ref.Key, id, "This item is overdue."); err != nil {
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
	if err := tr.Comment(ctx, tk.Ref.Key, "followthrough-comment:8-1767225600001", "This item is overdue."); err != nil {
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
	if err := tr.Comment(ctx, tk.Ref.Key, other, "Stalled."); err != nil {
		t.Fatal(err)
	}
	if is, _ = s.Issue(repo, 1); len(is.Comments) != 5 || is.Comments[4].User != githubfake.DefaultLogin {
		t.Errorf("comments = %+v, want ours after carol's copy", is.Comments)
	}

	// An id that cannot be embedded is refused before any call.
	before := len(s.CallLog())
	for _, bad := range []string{"", "two words", "a-->b", "x--y"} {
		err := tr.Comment(ctx, tk.Ref.Key, bad, "x")
		if retry, _ := ft.Retryable(err); err == nil || retry {
			t.Errorf("id %q: %v, want a final error", bad, err)
		}
	}
	if len(s.CallLog()) != before {
		t.Errorf("a bad id made calls")
	}
}

// TestCommentFoundOnALaterPage: GitHub lists comments oldest first, so a comment among the
// newest of a long thread is found on the last page.
func TestCommentFoundOnALaterPage(t *testing.T) {
	s := newFake(t, githubfake.Options{})
	tr := newTracker(t, s, nil)
	ctx := context.Background()
	tk, err := tr.Create(ctx, newTicket("AI-1", "bob@acme.com"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		if err := s.AddComment(repo, 1, "carol-gh", "note "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	path := "/repos/" + repo + "/issues/1/comments"
	const id = "followthrough-comment:1"
	s.LoseNextResponse("POST", path)
	if err := tr.Comment(ctx, tk.Ref.Key, id, "Stalled."); err == nil {
		t.Fatal("the lost answer was not an error")
	}
	for i := range 60 { // 211 comments: ours is on page 2 of 3
		if err := s.AddComment(repo, 1, "carol-gh", "more "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	gets := s.Calls("GET", path)
	if err := tr.Comment(ctx, tk.Ref.Key, id, "Stalled."); err != nil {
		t.Fatal(err)
	}
	if got := s.Calls("GET", path) - gets; got != 3 {
		t.Errorf("the retry read %d pages, want 3 (first, last, the one before)", got)
	}
	if n := s.Calls("POST", path); n != 1 {
		t.Errorf("%d POSTs, want 1", n)
	}
}
