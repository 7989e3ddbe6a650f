package pgtest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Relay is a TCP relay on loopback to the PostgreSQL server of a URL, which a test cuts (the
// server going away, as in a failover) and brings back on the same address.
type Relay struct {
	t      testing.TB
	target string
	// Addr is the relay's address, host:port.
	Addr string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

// NewRelay starts a relay to database's server and returns it with database's URL through it.
// The relay is cut when the test ends.
func NewRelay(t testing.TB, database string) (*Relay, string) {
	t.Helper()
	u, err := url.Parse(database)
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{t: t, target: u.Host}
	r.Listen("127.0.0.1:0")
	t.Cleanup(r.Cut)
	u.Host = r.Addr
	return r, u.String()
}

// Listen relays connections made to addr (the relay's own again, after Cut).
func (r *Relay) Listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.ln, r.Addr = ln, ln.Addr().String()
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", r.target)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c, server)
			r.mu.Unlock()
			go func() { _, _ = io.Copy(server, c); server.Close() }()
			go func() { _, _ = io.Copy(c, server); c.Close() }()
		}
	}()
}

// Cut closes the listener and every relayed connection: nothing reaches the server.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ln.Close()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}
