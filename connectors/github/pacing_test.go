package github

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/connectors/githubfake"
)

func named(name string) context.Context { return ft.WithTurn(context.Background(), name) }

// held asserts that err is the pacer holding a write back until want.
func held(t *testing.T, err error, want time.Time) *heldError {
	t.Helper()
	var h *heldError
	if !errors.As(err, &h) {
		t.Fatalf("err = %v, want the write held until %v", err, want)
	}
	if !h.until.Equal(want) {
		t.Fatalf("held until %v, want %v", h.until, want)
	}
	return h
}

// TestPacerKeepsTurnsOfHeldWork: named work whose turn is more than holdAfter away is held
// (not put to sleep), with its turn kept: coming back early it is held again until the same
// turn, coming back at its turn it writes at once; unnamed writes queue after every turn given.
func TestPacerKeepsTurnsOfHeldWork(t *testing.T) {
	clock := newClock()
	t0 := clock.Now()
	p := newPacer(10*time.Second, 500, clock.Now, clock.Sleep)
	if err := p.wait(named("job-1")); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 5; i++ {
		h := held(t, p.wait(named(fmt.Sprintf("job-%d", i))), t0.Add(time.Duration(i-1)*10*time.Second))
		if !strings.Contains(h.reason, "github.write_interval") || !strings.Contains(h.reason, fmt.Sprintf("after %d queued writes", i-2)) {
			t.Errorf("job-%d: reason %q", i, h.reason)
		}
	}
	if len(clock.sleeps) != 0 {
		t.Fatalf("slept %v: held work must not wait in place", clock.sleeps)
	}
	clock.Advance(10 * time.Second)
	// Early: the same turn, nothing booked twice.
	held(t, p.wait(named("job-3")), t0.Add(20*time.Second))
	if err := p.wait(named("job-2")); err != nil {
		t.Fatal(err)
	}
	// An unnamed write (no caller to reschedule it) waits in place, after every kept turn.
	if err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(clock.sleeps) != 1 || clock.sleeps[0] != 40*time.Second {
		t.Fatalf("sleeps = %v, want [40s]", clock.sleeps)
	}
	// job-3, job-4 and job-5 come back after their turns: they write in turn, kept 10 s apart
	// from the writes made.
	for _, name := range []string{"job-3", "job-4", "job-5"} {
		if err := p.wait(named(name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	wantMade := []time.Duration{0, 10, 50, 60, 70, 80}
	if len(p.made) != len(wantMade) {
		t.Fatalf("made %v", p.made)
	}
	for i, w := range wantMade {
		if got := p.made[i].Sub(t0); got != w*time.Second {
			t.Errorf("write %d at +%v, want +%vs", i, got, w)
		}
	}
	if len(p.held) != 0 {
		t.Errorf("turns still kept: %v", p.held)
	}
}

// TestPacerHourlyBudget: once the hour's budget is given, held work waits for the hour to
// roll, and says that the budget is spent.
func TestPacerHourlyBudget(t *testing.T) {
	clock := newClock()
	t0 := clock.Now()
	p := newPacer(0, 3, clock.Now, clock.Sleep)
	for i := range 3 {
		if err := p.wait(named(fmt.Sprint("job-", i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"job-3", "job-4"} {
		h := held(t, p.wait(named(name)), t0.Add(time.Hour))
		if !strings.Contains(h.reason, "hourly write budget is spent (github.writes_per_hour: 3)") ||
			!strings.Contains(h.reason, t0.Add(time.Hour).Format(time.RFC3339)) {
			t.Errorf("%s: reason %q", name, h.reason)
		}
	}
	held(t, p.wait(named("job-5")), t0.Add(time.Hour))
	clock.Advance(time.Hour)
	for _, name := range []string{"job-3", "job-4", "job-5"} {
		if err := p.wait(named(name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if len(clock.sleeps) != 0 {
		t.Errorf("slept %v", clock.sleeps)
	}
	// The new hour's budget is spent as well.
	held(t, p.wait(named("job-6")), t0.Add(2*time.Hour))
}

// TestPacerForgetsTurnsNotTaken: a kept turn whose work never comes back is forgotten after
// turnKept; work coming back later gets a new turn.
func TestPacerForgetsTurnsNotTaken(t *testing.T) {
	clock := newClock()
	t0 := clock.Now()
	p := newPacer(time.Minute, 500, clock.Now, clock.Sleep)
	if err := p.wait(named("job-1")); err != nil {
		t.Fatal(err)
	}
	held(t, p.wait(named("job-2")), t0.Add(time.Minute))
	clock.Advance(time.Minute + turnKept + time.Second)
	if err := p.wait(named("job-3")); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.held["job-2"]; ok {
		t.Fatal("job-2's turn is still kept")
	}
	held(t, p.wait(named("job-2")), clock.Now().Add(time.Minute))
}

// TestPacerLateTurnKeepsSpacing: a turn taken late moves the next write, so writes made stay
// an interval apart.
func TestPacerLateTurnKeepsSpacing(t *testing.T) {
	clock := newClock()
	t0 := clock.Now()
	p := newPacer(10*time.Second, 500, clock.Now, clock.Sleep)
	if err := p.wait(named("a")); err != nil {
		t.Fatal(err)
	}
	held(t, p.wait(named("b")), t0.Add(10*time.Second))
	held(t, p.wait(named("c")), t0.Add(20*time.Second))
	clock.Advance(19 * time.Second)
	if err := p.wait(named("b")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := p.wait(named("c")); err != nil {
		t.Fatal(err)
	}
	if len(clock.sleeps) != 1 || clock.sleeps[0] != 9*time.Second {
		t.Errorf("sleeps = %v, want [9s]: c waits for b's late write", clock.sleeps)
	}
}

// TestCreateHeldByPacing: a create that pacing holds back is a refusal that names its turn,
// sent nowhere; at its turn it is made.
func TestCreateHeldByPacing(t *testing.T) {
	clock := newClock()
	s := newFake(t, githubfake.Options{Now: clock.Now})
	tr := newTracker(t, s, func(c *config.GitHub, o *Options) {
		c.WriteInterval = time.Minute
		c.WritesPerHour = 500
		o.Now = clock.Now
		o.Sleep = clock.Sleep
	})
	if _, err := tr.Create(named("job-1"), newTicket("AI-1", "bob@acme.com")); err != nil {
		t.Fatal(err)
	}
	_, err := tr.Create(named("job-2"), newTicket("AI-2", "bob@acme.com"))
	te := asTrackerError(t, err)
	if !te.Paced || te.Outcome != ft.OutcomeRefused || !te.Retryable || te.RetryAfter != time.Minute || te.Op != "create" {
		t.Fatalf("err = %+v, want a paced refusal a minute long", te)
	}
	if until, ok := ft.AskedToWait(err, time.Time{}); !ok || !until.Equal(clock.Now().Add(time.Minute)) {
		t.Errorf("AskedToWait = %v, %v; want the turn, a minute from now", until, ok)
	}
	if n := s.Calls("POST", "/repos/acme/checkout/issues"); n != 1 {
		t.Fatalf("%d creates sent, want the first only", n)
	}
	clock.Advance(time.Minute)
	if _, err := tr.Create(named("job-2"), newTicket("AI-2", "bob@acme.com")); err != nil {
		t.Fatal(err)
	}
	if n := s.Calls("POST", "/repos/acme/checkout/issues"); n != 2 || len(clock.sleeps) != 0 {
		t.Errorf("%d creates, sleeps %v", n, clock.sleeps)
	}
}

// TestUnpaced: dev mode's stand-in has no limits, so nothing is held or waited for, whatever
// the configuration says.
func TestUnpaced(t *testing.T) {
	clock := newClock()
	s := newFake(t, githubfake.Options{Now: clock.Now})
	tr := newTracker(t, s, func(c *config.GitHub, o *Options) {
		c.WriteInterval = time.Hour
		c.WritesPerHour = 1
		o.Now = clock.Now
		o.Sleep = clock.Sleep
		o.Unpaced = true
	})
	for i := range 10 {
		if _, err := tr.Create(named(fmt.Sprint("job-", i)), newTicket(fmt.Sprint("AI-", i), "bob@acme.com")); err != nil {
			t.Fatal(err)
		}
	}
	if len(clock.sleeps) != 0 || s.Calls("POST", "/repos/acme/checkout/issues") != 10 {
		t.Errorf("sleeps %v, creates %d", clock.sleeps, s.Calls("POST", "/repos/acme/checkout/issues"))
	}
}
