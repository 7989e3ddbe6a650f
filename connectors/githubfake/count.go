package githubfake

// IssueCount is the number of issues (not pull requests) in every repository, deleted ones
// included: a cheap way for a load test to watch tickets being created without copying them.
func (s *Server) IssueCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, rp := range s.repos {
		for _, is := range rp.issues {
			if !is.pullRequest {
				n++
			}
		}
	}
	return n
}

// CallCount is the number of calls received so far, without copying the call log.
func (s *Server) CallCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}
