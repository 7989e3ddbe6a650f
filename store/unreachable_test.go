package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/internal/pgtest"
)

// proxy is a TCP relay on loopback to the PostgreSQL server of a URL, which a test cuts (the
// server going away, as in a failover) and brings back on the same address.
type proxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newProxy(t *testing.T, database string) (*proxy, string) {
	u, err := url.Parse(database)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, target: u.Host}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.cut)
	u.Host = p.addr
	return p, u.String()
}

func (p *proxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, server)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(server, c); server.Close() }()
			go func() { _, _ = io.Copy(c, server); c.Close() }()
		}
	}()
}

// cut closes the listener and every relayed connection: nothing reaches the server.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestDatabaseOutOfReachAnswersRefused: on PostgreSQL, a write while the server cannot be
// reached (a failover: connections dropped, new ones refused) or while it answers as a
// standby is ft.ErrWriteRefused, answered 503 with Retry-After like a full disk, not a 500;
// it is logged once, and writes go through again once the server is back.
func TestDatabaseOutOfReachAnswersRefused(t *testing.T) {
	database := pgtest.URL(t)
	openAt(t, database) // migrated
	ctx := context.Background()
	p, viaProxy := newProxy(t, database)
	var logs bytes.Buffer
	s, err := Open(ctx, viaProxy, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func() error {
		return s.Write(ctx, func(tx *Tx) error {
			return enqueueAll(ctx, tx, []Job{{Kind: "notify", PostmortemID: "PM-1"}}, t0)
		})
	}
	if err := write(); err != nil {
		t.Fatalf("write before the cut: %v", err)
	}
	p.cut()
	for i := range 3 {
		if err := write(); !errors.Is(err, ft.ErrWriteRefused) {
			t.Fatalf("write %d while out of reach: %v, want ft.ErrWriteRefused", i+1, err)
		}
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping passed while the database is out of reach")
	}
	if n := strings.Count(logs.String(), "out of reach"); n != 1 {
		t.Errorf("logged the episode %d times, want once:\n%s", n, logs.String())
	}
	p.listen(p.addr)
	if err := write(); err != nil {
		t.Fatalf("write once the database is back: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping once the database is back: %v", err)
	}
	if !strings.Contains(logs.String(), "takes writes again") {
		t.Errorf("the end of the episode is not logged:\n%s", logs.String())
	}

	// A standby refuses every write as read-only; a URL whose sessions are read-only gets the
	// same answer from PostgreSQL.
	u, err := url.Parse(database)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", q.Get("options")+" -cdefault_transaction_read_only=on")
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	ro, err := Open(ctx, u.String(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Write(ctx, func(tx *Tx) error {
		return enqueueAll(ctx, tx, []Job{{Kind: "notify", PostmortemID: "PM-2"}}, t0)
	}); !errors.Is(err, ft.ErrWriteRefused) {
		t.Errorf("write to a read-only database: %v, want ft.ErrWriteRefused", err)
	}
}
