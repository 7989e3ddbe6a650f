package store

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/followthrough/followthrough/internal/pgtest"
)

// roundTripRelay relays connections to a PostgreSQL server on loopback and counts the
// server's ReadyForQuery messages: the protocol ends each round trip with one.
type roundTripRelay struct {
	target string
	ready  atomic.Int64
}

// newRoundTripRelay starts a relay to database's server and returns it with database's URL
// through it (without TLS, so that the relay can read the messages).
func newRoundTripRelay(t *testing.T, database string) (*roundTripRelay, string) {
	t.Helper()
	u, err := url.Parse(database)
	if err != nil {
		t.Fatal(err)
	}
	r := &roundTripRelay{target: u.Host}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", r.target)
			if err != nil {
				client.Close()
				continue
			}
			go func() { _, _ = io.Copy(server, client); server.Close() }()
			go func() { r.countReady(client, server); client.Close() }()
		}
	}()
	u.Host = ln.Addr().String()
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return r, u.String()
}

// countReady copies the server's messages to the client, counting ReadyForQuery ('Z').
func (r *roundTripRelay) countReady(client io.Writer, server io.Reader) {
	in := bufio.NewReader(server)
	header := make([]byte, 5) // type, then the length of the rest and itself
	for {
		if _, err := io.ReadFull(in, header); err != nil {
			return
		}
		if header[0] == 'Z' {
			r.ready.Add(1)
		}
		if _, err := client.Write(header); err != nil {
			return
		}
		if _, err := io.CopyN(client, in, int64(binary.BigEndian.Uint32(header[1:]))-4); err != nil {
			return
		}
	}
}

// TestWriteRoundTrips: on PostgreSQL a write of one statement costs three round trips, its
// BEGIN (which also makes it prefer index scans: indexFirstConn), the statement and the
// COMMIT. Setting the planner apart cost a fourth.
func TestWriteRoundTrips(t *testing.T) {
	relay, database := newRoundTripRelay(t, pgtest.URL(t))
	s := openAt(t, database)
	ctx := context.Background()
	if err := s.Write(ctx, func(tx *Tx) error {
		return Enqueue(ctx, tx, Job{Kind: "step", PostmortemID: "PM-1", ItemID: "AI-1", Tracker: "github"}, t0)
	}); err != nil {
		t.Fatal(err)
	}
	// The fewest of a few writes: the first on a connection prepares its statement, and a
	// connection idle for a second is pinged before it is used again.
	fewest := int64(-1)
	for range 5 {
		before := relay.ready.Load()
		if err := s.Write(ctx, func(tx *Tx) error { return RescheduleJob(ctx, tx, 1, t0) }); err != nil {
			t.Fatal(err)
		}
		if n := relay.ready.Load() - before; fewest < 0 || n < fewest {
			fewest = n
		}
	}
	if fewest != 3 {
		t.Errorf("a write of one statement took %d round trips; want 3 (begin, statement, commit)", fewest)
	}
}

// TestOnlyWritesPreferIndexScans: a SERIALIZABLE write plans with enable_seqscan off
// (TestWritesLockOnlyTheirRows says why); the reads, and the claims, on the same connections
// plan as usual.
func TestOnlyWritesPreferIndexScans(t *testing.T) {
	s := openAt(t, pgtest.URL(t))
	ctx := context.Background()
	show := func(q querier) string {
		t.Helper()
		var v string
		if err := q.QueryRowContext(ctx, `SHOW enable_seqscan`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	var inWrite string
	if err := s.Write(ctx, func(tx *Tx) error {
		inWrite = show(tx.reader())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The pool hands out the connection freed last: the write's.
	read := show(s.readDB)
	if inWrite != "off" {
		t.Errorf("enable_seqscan is %s in a write; want off", inWrite)
	}
	if read != "on" {
		t.Errorf("enable_seqscan is %s in a read after a write; want on", read)
	}
}
