package githubfake

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode"
)

// searchDoc is the documentation_url of GitHub's search errors.
const searchDoc = "https://docs.github.com/rest/search/search#search-issues-and-pull-requests"

// searchMaxResults is how far GitHub pages into a search's results.
const searchMaxResults = 1000

// searchQuery is the q of GET /search/issues, taken apart. The fake supports the qualifiers
// below and rejects every other one with 422, so that a filter is never silently ignored.
type searchQuery struct {
	repos   []string // "owner/name" (repo:), at least one
	terms   []string // quoted phrases and bare words, lower case; each must be in the text
	inTitle bool     // in:title
	inBody  bool     // in:body; neither in: means title or body
	kind    string   // is:issue / type:issue, is:pr / type:pr; "" both
	state   string   // is:open, is:closed; "" both
	author  string   // author:login
}

// parseSearchQuery parses q; the error says, in GitHub's words where it has some, what is wrong.
func parseSearchQuery(q string) (searchQuery, error) {
	var sq searchQuery
	rs := []rune(q)
	for i := 0; i < len(rs); {
		if unicode.IsSpace(rs[i]) {
			i++
			continue
		}
		if rs[i] == '"' {
			end := i + 1
			for end < len(rs) && rs[end] != '"' {
				end++
			}
			if end == len(rs) {
				return sq, fmt.Errorf("the quoted phrase %q has no closing quote", string(rs[i:]))
			}
			if phrase := strings.TrimSpace(string(rs[i+1 : end])); phrase != "" {
				sq.terms = append(sq.terms, strings.ToLower(phrase))
			}
			i = end + 1
			continue
		}
		start := i
		for i < len(rs) && !unicode.IsSpace(rs[i]) {
			i++
		}
		word := string(rs[start:i])
		if strings.ContainsRune(word, '"') {
			return sq, fmt.Errorf("%q: quotes inside a word are not supported by the fake", word)
		}
		if err := sq.addWord(word); err != nil {
			return sq, err
		}
	}
	if len(sq.repos) == 0 {
		return sq, fmt.Errorf("the fake searches named repositories only: the query needs a repo: qualifier")
	}
	return sq, nil
}

func (sq *searchQuery) addWord(word string) error {
	switch {
	case strings.HasPrefix(word, "-") && len(word) > 1:
		return fmt.Errorf("%q: exclusions are not supported by the fake", word)
	case word == "AND" || word == "OR" || word == "NOT":
		return fmt.Errorf("%q: boolean operators are not supported by the fake", word)
	}
	key, val, isQualifier := strings.Cut(word, ":")
	if !isQualifier {
		sq.terms = append(sq.terms, strings.ToLower(word))
		return nil
	}
	if val == "" {
		return fmt.Errorf("%q: the qualifier has no value", word)
	}
	key = strings.ToLower(key)
	switch key {
	case "repo":
		owner, name, ok := strings.Cut(val, "/")
		if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("%q: repo: takes owner/name", word)
		}
		sq.repos = append(sq.repos, val)
	case "in":
		for _, f := range strings.Split(strings.ToLower(val), ",") {
			switch f {
			case "title":
				sq.inTitle = true
			case "body":
				sq.inBody = true
			default:
				return fmt.Errorf("%q: the fake searches in:title and in:body only", word)
			}
		}
	case "is", "type":
		switch v := strings.ToLower(val); {
		case v == "issue" || v == "pr":
			sq.kind = v
		case key == "is" && (v == "open" || v == "closed"):
			sq.state = v
		default:
			return fmt.Errorf("%q is not supported by the fake", word)
		}
	case "author":
		sq.author = val
	default:
		return fmt.Errorf("%q: the qualifier %s: is not supported by the fake", word, key)
	}
	return nil
}

// matches reports whether the issue answers the query (the repository aside).
func (sq searchQuery) matches(is *issue) bool {
	switch {
	case is.deleted:
		return false
	case sq.kind == "issue" && is.pullRequest, sq.kind == "pr" && !is.pullRequest:
		return false
	case sq.state != "" && is.state != sq.state:
		return false
	case sq.author != "" && !strings.EqualFold(sq.author, is.user):
		return false
	}
	title, body := strings.ToLower(is.title), strings.ToLower(is.body)
	both := !sq.inTitle && !sq.inBody
	for _, t := range sq.terms {
		if !((sq.inTitle || both) && strings.Contains(title, t) || (sq.inBody || both) && strings.Contains(body, t)) {
			return false
		}
	}
	return true
}

// searchValidation is GitHub's 422 for a query it cannot run.
func searchValidation(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"errors":            []any{map[string]any{"message": msg, "resource": "Search", "field": "q", "code": "invalid"}},
		"documentation_url": searchDoc,
		"status":            "422",
	})
}

// searchIssues answers GET /search/issues: issues and pull requests of the query's
// repositories that match it, as GitHub's search index sees them (an issue younger than the
// search lag is not there yet), sorted and paged like GitHub, first 1000 results only.
func (s *Server) searchIssues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	raw := strings.TrimSpace(q.Get("q"))
	if raw == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message":           "Validation Failed",
			"errors":            []any{map[string]any{"resource": "Search", "field": "q", "code": "missing"}},
			"documentation_url": searchDoc,
			"status":            "422",
		})
		return
	}
	sq, err := parseSearchQuery(raw)
	if err != nil {
		searchValidation(w, err.Error())
		return
	}
	sortBy := q.Get("sort")
	switch sortBy {
	case "", "created", "updated", "comments":
	default:
		searchValidation(w, fmt.Sprintf("sort %q is not one of created, updated, comments", sortBy))
		return
	}
	order := q.Get("order")
	switch order {
	case "", "desc", "asc":
	default:
		searchValidation(w, fmt.Sprintf("order %q is not asc or desc", order))
		return
	}
	perPage, page := paging(q)
	if (page-1)*perPage >= searchMaxResults {
		writeError(w, http.StatusUnprocessableEntity, "Only the first 1000 search results are available", searchDoc)
		return
	}

	type hit struct {
		rp *repo
		is *issue
	}
	s.mu.Lock()
	now := s.nowLocked()
	lag := s.searchLag
	var hits []hit
	seen := map[*repo]bool{}
	for _, name := range sq.repos {
		rp := s.repoLocked(name)
		if rp == nil {
			s.mu.Unlock()
			searchValidation(w, "The listed users and repositories cannot be searched either because the resources do not exist or you do not have permission to view them.")
			return
		}
		if seen[rp] {
			continue
		}
		seen[rp] = true
		for _, is := range rp.issues {
			if lag > 0 && now.Sub(is.createdAt) < lag {
				continue // not indexed yet
			}
			if sq.matches(is) {
				hits = append(hits, hit{rp, is})
			}
		}
	}
	// Best match (no sort) is newest first here: the fake has no relevance to rank by.
	asc := order == "asc" && sortBy != ""
	sort.SliceStable(hits, func(i, j int) bool {
		a, b := hits[i].is, hits[j].is
		var less bool
		switch {
		case sortBy == "comments" && len(a.comments) != len(b.comments):
			less = len(a.comments) < len(b.comments)
		case sortBy == "updated" && !a.updatedAt.Equal(b.updatedAt):
			less = a.updatedAt.Before(b.updatedAt)
		case !a.createdAt.Equal(b.createdAt):
			less = a.createdAt.Before(b.createdAt)
		default:
			less = a.id < b.id
		}
		if asc {
			return less
		}
		return !less
	})
	total := len(hits)
	reachable := min(total, searchMaxResults)
	lastPage := max(1, (reachable+perPage-1)/perPage)
	start := min((page-1)*perPage, reachable)
	end := min(start+perPage, reachable)
	items := []any{}
	for _, h := range hits[start:end] {
		item := s.issueJSONLocked(h.rp, h.is)
		item["score"] = 1.0
		items = append(items, item)
	}
	s.mu.Unlock()

	if lastPage > 1 {
		w.Header().Set("Link", s.linkHeader(r, page, lastPage))
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"total_count":        total,
		"incomplete_results": false,
		"items":              items,
	})
}
