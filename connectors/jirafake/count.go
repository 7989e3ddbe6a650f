package jirafake

// IssueCount is the number of issues on the site, deleted ones excluded: a cheap way for a load
// test to watch tickets being created without copying them.
func (s *Server) IssueCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.issues)
}

// CallCount is the number of requests received so far, without copying the request log.
func (s *Server) CallCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}
