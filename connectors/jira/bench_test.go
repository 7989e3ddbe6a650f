package jira

import (
	"context"
	"fmt"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/connectors/jirafake"
)

// BenchmarkCreate makes tickets with their remote links, as the engine does for each item,
// against the stand-in, and reports the calls each ticket cost.
func BenchmarkCreate(b *testing.B) {
	e := newEnv(b, jirafake.Cloud, nil)
	ctx := context.Background()
	link := ft.PostmortemLink{ID: "PM-1", Title: "Outage", URL: "https://wiki.acme.com/pm/1"}
	n := 0
	before := e.fake.CallCount()
	for b.Loop() {
		n++
		tk, err := e.tr.Create(ctx, newTicket("PM-1", fmt.Sprint("AI-", n), "bob@acme.com"))
		if err != nil {
			b.Fatal(err)
		}
		if err := e.tr.LinkPostmortem(ctx, tk.Ref.Key, link); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(e.fake.CallCount()-before)/float64(n), "calls/ticket")
}

// BenchmarkSetStatus moves one ticket between done and open (one transition each way) and
// reports the calls each change cost.
func BenchmarkSetStatus(b *testing.B) {
	e := newEnv(b, jirafake.Cloud, nil)
	ctx := context.Background()
	tk, err := e.tr.Create(ctx, newTicket("PM-1", "AI-1", "bob@acme.com"))
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	before := e.fake.CallCount()
	for b.Loop() {
		to := ft.StatusDone
		if n%2 == 1 {
			to = ft.StatusOpen
		}
		n++
		if _, err := e.tr.SetStatus(ctx, tk.Ref.Key, to); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(e.fake.CallCount()-before)/float64(n), "calls/op")
}
