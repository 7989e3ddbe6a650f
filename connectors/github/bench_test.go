package github

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/githubfake"
)

// BenchmarkCreate makes tickets against the stand-in, unpaced, and reports the calls each
// ticket cost (GitHub's answer to the create is the whole issue: nothing is read back).
func BenchmarkCreate(b *testing.B) {
	s := githubfake.New(githubfake.Options{})
	b.Cleanup(s.Close)
	tr := newTracker(b, s, func(c *config.GitHub, _ *Options) { c.WriteInterval, c.WritesPerHour = 0, 0 })
	ctx := context.Background()
	n := 0
	for b.Loop() {
		n++
		if _, err := tr.Create(ctx, newTicket(fmt.Sprint("AI-", n), "bob@acme.com")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(s.CallLog()))/float64(n), "calls/ticket")
}

// BenchmarkPacerHold gives turns to held work at GitHub's default limits (1 s apart, 500 an
// hour): the cost of a turn stays flat however many turns are already given (b.N of them).
func BenchmarkPacerHold(b *testing.B) {
	clock := newClock()
	p := newPacer(time.Second, 500, clock.Now, clock.Sleep)
	n := 0
	for b.Loop() {
		n++
		if err := p.wait(named(fmt.Sprint("job-", n))); err != nil && n > 3 {
			if _, ok := err.(*heldError); !ok {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(p.held)), "turns-kept")
}
