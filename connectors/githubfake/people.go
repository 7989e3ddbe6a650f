package githubfake

import (
	"fmt"
	"slices"
	"strings"
)

// These helpers act on issues the way people do on github.com: directly, without an API call
// being counted and without any webhook. Each change moves the issue's updated_at to now.
// Repositories are "owner/name"; the actor is a login.

// findLocked returns the issue, or an error naming what is missing.
func (s *Server) findLocked(repoName string, number int) (*repo, *issue, error) {
	rp := s.repos[strings.ToLower(repoName)]
	if rp == nil || number <= 0 || number > len(rp.issues) {
		return nil, nil, fmt.Errorf("githubfake: no issue %s#%d", repoName, number)
	}
	is := rp.issues[number-1]
	if is.deleted {
		return nil, nil, fmt.Errorf("githubfake: issue %s#%d was deleted", repoName, number)
	}
	return rp, is, nil
}

func (s *Server) change(repoName string, number int, fn func(rp *repo, is *issue)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, is, err := s.findLocked(repoName, number)
	if err != nil {
		return err
	}
	fn(rp, is)
	is.updatedAt = s.nowLocked()
	return nil
}

// CreateIssue makes an issue (or a pull request) as a person would, and returns it.
func (s *Server) CreateIssue(repoName string, in NewIssue) (Issue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(repoName)
	if rp == nil {
		return Issue{}, fmt.Errorf("githubfake: repository %s does not exist", repoName)
	}
	return snapshot(rp, s.createLocked(rp, in)), nil
}

// CloseIssue closes the issue with a reason ("completed", "not_planned", "duplicate"; empty is
// completed), as actor.
func (s *Server) CloseIssue(repoName string, number int, reason, actor string) error {
	return s.change(repoName, number, func(_ *repo, is *issue) {
		setStateLocked(is, "closed", reason, actor, s.nowLocked())
	})
}

// ReopenIssue reopens the issue.
func (s *Server) ReopenIssue(repoName string, number int) error {
	return s.change(repoName, number, func(_ *repo, is *issue) {
		setStateLocked(is, "open", "", "", s.nowLocked())
	})
}

// AddLabel puts a label on the issue (creating the label in the repository if needed).
func (s *Server) AddLabel(repoName string, number int, name string) error {
	return s.change(repoName, number, func(rp *repo, is *issue) {
		s.ensureLabelLocked(rp, name)
		if indexFold(is.labels, name) < 0 {
			is.labels = append(is.labels, rp.labels[strings.ToLower(name)].name)
		}
	})
}

// RemoveLabel takes a label off the issue; an absent label is not an error.
func (s *Server) RemoveLabel(repoName string, number int, name string) error {
	return s.change(repoName, number, func(_ *repo, is *issue) {
		if i := indexFold(is.labels, name); i >= 0 {
			is.labels = slices.Delete(is.labels, i, i+1)
		}
	})
}

// AddComment comments on the issue as actor.
func (s *Server) AddComment(repoName string, number int, actor, body string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is, err := s.findLocked(repoName, number)
	if err != nil {
		return err
	}
	s.commentLocked(is, actor, body)
	return nil
}

// Assign replaces the issue's assignees (none: unassigned).
func (s *Server) Assign(repoName string, number int, logins ...string) error {
	return s.change(repoName, number, func(_ *repo, is *issue) {
		is.assignees = slices.Clone(logins)
	})
}

// EditIssue changes the title and/or body; an empty argument leaves that field alone.
func (s *Server) EditIssue(repoName string, number int, title, body string) error {
	return s.change(repoName, number, func(_ *repo, is *issue) {
		if title != "" {
			is.title = title
		}
		if body != "" {
			is.body = body
		}
	})
}

// DeleteIssue deletes the issue: from then on the API answers 410 for it and lists skip it.
func (s *Server) DeleteIssue(repoName string, number int) error {
	return s.change(repoName, number, func(_ *repo, is *issue) { is.deleted = true })
}

// Issue returns one issue (also a deleted one, with Deleted set).
func (s *Server) Issue(repoName string, number int) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[strings.ToLower(repoName)]
	if rp == nil || number <= 0 || number > len(rp.issues) {
		return Issue{}, false
	}
	return snapshot(rp, rp.issues[number-1]), true
}

// Issues returns every issue and pull request of the repository, deleted ones included, by
// number.
func (s *Server) Issues(repoName string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[strings.ToLower(repoName)]
	if rp == nil {
		return nil
	}
	out := make([]Issue, 0, len(rp.issues))
	for _, is := range rp.issues {
		out = append(out, snapshot(rp, is))
	}
	return out
}

func snapshot(rp *repo, is *issue) Issue {
	return Issue{
		Repo: rp.fullName, Number: is.number, Title: is.title, Body: is.body, User: is.user,
		Labels: slices.Clone(is.labels), State: is.state, StateReason: is.stateReason,
		Assignees: slices.Clone(is.assignees), Comments: slices.Clone(is.comments),
		CreatedAt: is.createdAt, UpdatedAt: is.updatedAt, ClosedAt: is.closedAt,
		Deleted: is.deleted, PullRequest: is.pullRequest,
	}
}
