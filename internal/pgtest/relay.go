package pgtest

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
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

	countTrips bool         // count the server's ReadyForQuery messages (NewRoundTripRelay)
	trips      atomic.Int64 // how many
}

// NewRelay starts a relay to database's server and returns it with database's URL through it.
// The relay is cut when the test ends.
func NewRelay(t testing.TB, database string) (*Relay, string) {
	return newRelay(t, database, false)
}

// NewRoundTripRelay is NewRelay counting round trips (RoundTrips); its URL turns TLS off, so
// that the relay can read the server's messages.
func NewRoundTripRelay(t testing.TB, database string) (*Relay, string) {
	r, through := newRelay(t, database, true)
	u, err := url.Parse(through)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return r, u.String()
}

func newRelay(t testing.TB, database string, countTrips bool) (*Relay, string) {
	t.Helper()
	u, err := url.Parse(database)
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{t: t, target: u.Host, countTrips: countTrips}
	r.Listen("127.0.0.1:0")
	t.Cleanup(r.Cut)
	u.Host = r.Addr
	return r, u.String()
}

// RoundTrips is how many round trips a relay of NewRoundTripRelay has seen end: the protocol
// ends each with a ReadyForQuery message from the server.
func (r *Relay) RoundTrips() int64 { return r.trips.Load() }

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
			go func() { r.fromServer(c, server); c.Close() }()
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

// fromServer copies the server's messages to the client, counting ReadyForQuery ('Z') when
// the relay counts round trips.
func (r *Relay) fromServer(client io.Writer, server io.Reader) {
	if !r.countTrips {
		_, _ = io.Copy(client, server)
		return
	}
	in := bufio.NewReader(server)
	header := make([]byte, 5) // type, then the length of the rest and itself
	for {
		if _, err := io.ReadFull(in, header); err != nil {
			return
		}
		if header[0] == 'Z' {
			r.trips.Add(1)
		}
		if _, err := client.Write(header); err != nil {
			return
		}
		if _, err := io.CopyN(client, in, int64(binary.BigEndian.Uint32(header[1:]))-4); err != nil {
			return
		}
	}
}
