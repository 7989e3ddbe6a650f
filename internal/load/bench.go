package load

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/followthrough/followthrough/internal/sleep"
)

// BenchOptions size a benchmark; every phase starts its own server from an empty database.
type BenchOptions struct {
	Columns []Column
	// Postgres is the server on which PostgreSQL columns get a fresh schema for each phase.
	Postgres string
	Clients  int // keep-alive clients of every scenario [16]
	Items    int // action items per postmortem [5]

	Healthz time.Duration // the /healthz ceiling [5s]
	Intake  time.Duration // intake while tickets drain [10s]
	// Backlog is the number of items whose tickets the drain measures (posted at once) [5000].
	Backlog int
	// Webhooks is the length of the burst of webhooks about the backlog's tickets [10s].
	Webhooks time.Duration
	// AppliedTimeout bounds the wait for every ticket to show its last event [30s].
	AppliedTimeout time.Duration
	// Dataset is the number of postmortems the status page and list API are read with [10000].
	Dataset int
	Reads   time.Duration // each page's scenario [10s]
	// DrainTimeout bounds every wait for tickets to be created [10m].
	DrainTimeout time.Duration
	// Unfollowed is the number of deliveries about unfollowed issues (0: that phase is skipped).
	Unfollowed int
	// QueuedAfter is how long after those deliveries the outbox's pending jobs are read [1m].
	QueuedAfter time.Duration

	Log io.Writer // progress, one line per step; nil: none
}

func (o *BenchOptions) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	setInt(&o.Clients, 16)
	setInt(&o.Items, 5)
	setInt(&o.Backlog, 5000)
	setInt(&o.Dataset, 10000)
	set(&o.Healthz, 5*time.Second)
	set(&o.Intake, 10*time.Second)
	set(&o.Webhooks, 10*time.Second)
	set(&o.AppliedTimeout, 30*time.Second)
	set(&o.Reads, 10*time.Second)
	set(&o.DrainTimeout, 10*time.Minute)
	set(&o.QueuedAfter, time.Minute)
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// BenchColumn is one column's figures: rows of (label, value) in the order they were measured.
type BenchColumn struct {
	Column Column
	Rows   []Note
	// Problems are unexpected outcomes (errors, unchecked or failed checks); a clean run has
	// none.
	Problems []string
	// Err is why the binary's phases stopped early, if they did.
	Err error
}

func (c *BenchColumn) add(label, format string, args ...any) {
	c.Rows = append(c.Rows, Note{Label: label, Value: fmt.Sprintf(format, args...)})
}

func (c *BenchColumn) problem(format string, args ...any) {
	c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
}

// scenario adds a request scenario's rows, compared with the /healthz rate.
func (c *BenchColumn) scenario(label string, r Result, healthz float64) {
	c.add(label+": accepted/s", "%s", formatRate(r.AcceptedPerSecond()))
	c.add(label+": p50 / p99 / max", "%s / %s / %s", formatLatency(r.P50), formatLatency(r.P99), formatLatency(r.Max))
	c.add(label+": errors", "%s", r.ErrorText())
	if healthz > 0 {
		c.add(label+": of /healthz rate", "%.1f%%", 100*r.AcceptedPerSecond()/healthz)
	}
	for _, n := range r.Notes {
		c.add(label+": "+n.Label, "%s", n.Value)
	}
	if len(r.Errors) > 0 {
		c.problem("%s: %s", label, r.ErrorText())
	}
}

// Bench measures each binary in turn, with the same phases and sizes, and returns a column per
// binary. A binary that fails a phase gets that problem in its column; the others still run.
// When ctx ends, the columns measured so far are returned with its error.
func Bench(ctx context.Context, o BenchOptions) ([]BenchColumn, error) {
	o.defaults()
	if len(o.Columns) == 0 {
		return nil, fmt.Errorf("bench: no binary to measure")
	}
	var cols []BenchColumn
	for _, c := range o.Columns {
		if c.Postgres && o.Postgres == "" {
			return nil, fmt.Errorf("bench: %s needs a PostgreSQL server (--postgres)", c)
		}
		abs, err := filepath.Abs(c.Binary)
		if err != nil {
			return nil, err
		}
		col := BenchColumn{Column: c}
		run := c
		run.Binary = abs
		if err := benchBinary(ctx, o, run, &col); err != nil {
			col.Err = err
			col.problem("%v", err)
		}
		cols = append(cols, col)
		if ctx.Err() != nil {
			// Interrupted: what was measured so far is still worth printing.
			return cols, ctx.Err()
		}
	}
	return cols, nil
}

func benchBinary(ctx context.Context, o BenchOptions, bin Column, col *BenchColumn) error {
	name := bin
	name.Binary = filepath.Base(bin.Binary)
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.Log, "ftload: %s: %s\n", name, fmt.Sprintf(format, args...))
	}
	healthz, err := benchIntake(ctx, o, bin, col, logf)
	if err != nil {
		return fmt.Errorf("intake phase: %w", err)
	}
	if err := benchBacklog(ctx, o, bin, col, healthz, logf); err != nil {
		return fmt.Errorf("backlog phase: %w", err)
	}
	if err := benchDataset(ctx, o, bin, col, healthz, logf); err != nil {
		return fmt.Errorf("dataset phase: %w", err)
	}
	if o.Unfollowed > 0 {
		if err := benchUnfollowed(ctx, o, bin, col, healthz, logf); err != nil {
			return fmt.Errorf("unfollowed phase: %w", err)
		}
	}
	return nil
}

// writerSample is what /metrics says SQLite's writer has done, at one moment.
type writerSample struct {
	at     time.Time
	values []float64 // writerMetrics
	err    error
}

// writerMetrics are the database's write counters that a server built with them reports; the
// writer's time is SQLite's only.
var writerMetrics = []string{"followthrough_db_transactions_total", "followthrough_db_commits_total",
	"followthrough_db_writer_busy_seconds_total", "followthrough_db_writer_commit_seconds_total"}

func sampleWriter(ctx context.Context, t Target) writerSample {
	at := time.Now()
	values, err := Metrics(ctx, t, writerMetrics...)
	return writerSample{at: at, values: values, err: err}
}

// note adds to r what SQLite's writer did from before to after: how much of the time it was
// busy, how much of that committing, and how many transactions shared a commit. A server that
// does not report it (PostgreSQL, or an older build) gets no note.
func (before writerSample) note(after writerSample, r *Result) {
	if before.err != nil || after.err != nil {
		return
	}
	d := make([]float64, len(writerMetrics))
	for i := range d {
		d[i] = after.values[i] - before.values[i]
	}
	tx, commits, busy, committing := d[0], d[1], d[2], d[3]
	if commits <= 0 || busy <= 0 {
		return
	}
	r.Note("database writer", "busy %.0f%% of the time, %.0f%% of that committing; %.1f transactions a commit",
		100*busy/after.at.Sub(before.at).Seconds(), 100*committing/busy, tx/commits)
}

// runID is a short random id that keeps one run's postmortems and deliveries apart.
func runID() string { return fmt.Sprintf("%06x", rand.Uint32()&0xffffff) }

// benchIntake: the /healthz ceiling, then intake while the worker creates the tickets.
func benchIntake(ctx context.Context, o BenchOptions, bin Column, col *BenchColumn, logf func(string, ...any)) (float64, error) {
	s, err := startServer(ctx, bin, o.Postgres)
	if err != nil {
		return 0, err
	}
	defer s.stop()
	h, err := Healthz(ctx, s.Target, o.Clients, o.Healthz)
	if err != nil {
		return 0, err
	}
	healthz := h.AcceptedPerSecond()
	logf("healthz %s/s", formatRate(healthz))
	col.scenario("healthz", h, 0)

	before := s.tickets()
	writer := sampleWriter(ctx, s.Target)
	in, _, err := Intake(ctx, s.Target, IntakeOptions{Clients: o.Clients, Duration: o.Intake, Items: o.Items, Run: runID()})
	if err != nil {
		return 0, err
	}
	created := s.tickets() - before
	in.Note("tickets/s meanwhile", "%s (%d tickets)", formatRate(float64(created)/in.Elapsed.Seconds()), created)
	writer.note(sampleWriter(ctx, s.Target), &in)
	logf("intake %s/s", formatRate(in.AcceptedPerSecond()))
	col.scenario(fmt.Sprintf("intake (%d items each, %s)", o.Items, o.Intake), in, healthz)
	return healthz, s.serverAlive()
}

// drainResult is what a backlog drain measured.
type drainResult struct {
	items   int           // items posted (accepted postmortems × items)
	tickets int           // tickets created on the stand-ins for them
	took    time.Duration // from the first post until the last ticket
	calls   int           // tracker calls made meanwhile, until the outbox was idle
	linked  bool          // the API shows every item linked
	// pendingAfter is the outbox's pending jobs when the calls were counted (0: idle).
	pendingAfter int
	intake       Result
	postedIDs    []string
}

func (d drainResult) perSecond() float64 {
	if d.took <= 0 {
		return 0
	}
	return float64(d.tickets) / d.took.Seconds()
}

// drain posts postmortems with o.Items items each, `items` items in all, and waits until the
// stand-ins hold a ticket for each and the API shows them linked (or o.DrainTimeout passes).
func drain(ctx context.Context, s *server, o BenchOptions, items int, name string) (drainResult, error) {
	count := int64((items + o.Items - 1) / o.Items)
	ticketsBefore, callsBefore := s.tickets(), s.calls()
	start := time.Now()
	in, ids, err := Intake(ctx, s.Target, IntakeOptions{Name: name, Clients: o.Clients, Count: count, Items: o.Items, Run: runID()})
	if err != nil {
		return drainResult{}, err
	}
	d := drainResult{items: len(ids) * o.Items, intake: in, postedIDs: ids}
	deadline := start.Add(o.DrainTimeout)
	for {
		d.tickets = s.tickets() - ticketsBefore
		d.took = time.Since(start)
		if d.tickets >= d.items || time.Now().After(deadline) {
			break
		}
		if err := s.serverAlive(); err != nil {
			return d, err
		}
		if err := sleep.For(ctx, 20*time.Millisecond); err != nil {
			return d, err
		}
	}
	if d.tickets < d.items {
		return d, nil
	}
	// Every item linked (the creates' outcomes recorded) follows the last create closely.
	for !d.linked && time.Now().Before(deadline) {
		items, linked, err := ItemCounts(ctx, s.Target)
		if err != nil {
			return d, err
		}
		if d.linked = linked == items; !d.linked {
			if err := sleep.For(ctx, 100*time.Millisecond); err != nil {
				return d, err
			}
		}
	}
	// The calls are counted once the outbox is idle (Jira's remote links made), or after
	// settleTimeout when other work (queued webhooks) keeps it busy.
	settle := time.Now().Add(settleTimeout)
	for {
		pending, err := PendingJobs(ctx, s.Target)
		if err != nil {
			return d, err
		}
		d.pendingAfter = pending
		if pending == 0 || time.Now().After(settle) {
			break
		}
		if err := sleep.For(ctx, 100*time.Millisecond); err != nil {
			return d, err
		}
	}
	d.calls = s.calls() - callsBefore
	return d, nil
}

// settleTimeout bounds the wait for an idle outbox after a drain.
const settleTimeout = 30 * time.Second

// addDrain adds a drain's rows.
func (c *BenchColumn) addDrain(label string, d drainResult, timeout time.Duration) {
	c.add(label+": tickets/s", "%s", formatRate(d.perSecond()))
	switch {
	case d.tickets < d.items:
		c.add(label+": drained", "NO: %d of %d tickets after %s", d.tickets, d.items, round(timeout))
		c.problem("%s: %d of %d tickets within %s", label, d.tickets, d.items, round(timeout))
	case !d.linked:
		c.add(label+": drained", "%d tickets in %s, but not every item linked", d.tickets, round(d.took))
		c.problem("%s: not every item linked", label)
	default:
		c.add(label+": drained", "%d tickets in %s", d.tickets, round(d.took))
		if d.tickets > 0 && d.calls > 0 {
			perTicket := fmt.Sprintf("%.2f", float64(d.calls)/float64(d.tickets))
			if d.pendingAfter > 0 {
				perTicket += fmt.Sprintf(" (counted with %d jobs still queued, %s after the last ticket)", d.pendingAfter, settleTimeout)
			}
			c.add(label+": tracker calls/ticket", "%s", perTicket)
		}
	}
	if len(d.intake.Errors) > 0 {
		c.problem("%s: intake errors: %s", label, d.intake.ErrorText())
	}
}

// benchBacklog: tickets/s draining a backlog, then a burst of webhooks about those tickets.
func benchBacklog(ctx context.Context, o BenchOptions, bin Column, col *BenchColumn, healthz float64, logf func(string, ...any)) error {
	s, err := startServer(ctx, bin, o.Postgres)
	if err != nil {
		return err
	}
	defer s.stop()
	label := fmt.Sprintf("backlog (%d items)", o.Backlog)
	d, err := drain(ctx, s, o, o.Backlog, "backlog")
	if err != nil {
		return err
	}
	logf("backlog: %d tickets in %s", d.tickets, round(d.took))
	col.addDrain(label, d, o.DrainTimeout)
	if d.tickets < d.items {
		col.problem("webhooks: skipped, the backlog did not drain")
		return nil
	}
	tickets, err := Tickets(ctx, s.Target)
	if err != nil {
		return err
	}
	writer := sampleWriter(ctx, s.Target)
	w, err := Webhooks(ctx, s.Target, WebhookOptions{Clients: o.Clients, Duration: o.Webhooks, Tickets: tickets,
		Run: runID(), AppliedTimeout: o.AppliedTimeout})
	if err != nil {
		return err
	}
	writer.note(sampleWriter(ctx, s.Target), &w)
	logf("webhooks %s/s", formatRate(w.AcceptedPerSecond()))
	col.scenario(fmt.Sprintf("webhooks (%s)", o.Webhooks), w, healthz)
	for _, n := range w.Notes {
		if n.Label == "applied" && strings.Contains(n.Value, "NOT ALL") {
			col.problem("webhooks: %s", n.Value)
		}
	}
	return s.serverAlive()
}

// benchDataset: a dataset loaded through intake and drained, then the status page, one
// postmortem's page and the list API, a full cursor walk, and the server's memory.
func benchDataset(ctx context.Context, o BenchOptions, bin Column, col *BenchColumn, healthz float64, logf func(string, ...any)) error {
	s, err := startServer(ctx, bin, o.Postgres)
	if err != nil {
		return err
	}
	defer s.stop()
	label := fmt.Sprintf("dataset (%d postmortems)", o.Dataset)
	d, err := drain(ctx, s, o, o.Dataset*o.Items, "dataset load")
	if err != nil {
		return err
	}
	logf("dataset: %d postmortems loaded at %s/s, %d tickets in %s", len(d.postedIDs),
		formatRate(d.intake.AcceptedPerSecond()), d.tickets, round(d.took))
	col.add(label+": loaded at", "%s postmortems/s", formatRate(d.intake.AcceptedPerSecond()))
	col.addDrain(label, d, o.DrainTimeout)
	ids := d.postedIDs
	if len(ids) == 0 {
		return fmt.Errorf("no postmortem of the dataset was accepted: %s", d.intake.ErrorText())
	}
	pages := []struct {
		label string
		path  func(int64) string
	}{
		{"GET /", func(int64) string { return "/" }},
		{"GET /postmortems/{id}", func(seq int64) string { return "/postmortems/" + ids[int(seq*7919)%len(ids)] }},
	}
	for _, p := range pages {
		r, err := Page(ctx, s.Target, p.label, o.Clients, o.Reads, p.path)
		if err != nil {
			return err
		}
		logf("%s %s/s", p.label, formatRate(r.AcceptedPerSecond()))
		col.scenario(p.label, r, healthz)
	}
	r, err := ListPages(ctx, s.Target, o.Clients, o.Reads, 50)
	if err != nil {
		return err
	}
	logf("list API %s/s", formatRate(r.AcceptedPerSecond()))
	col.scenario("list API (limit 50, cursors)", r, healthz)
	walk, check, err := FullWalk(ctx, s.Target, ids)
	if err != nil {
		return err
	}
	col.add("full cursor walk: time", "%s (%d pages, p99 %s a page)", round(walk.Elapsed), check.Pages, formatLatency(walk.P99))
	col.add("full cursor walk: check", "%s", check)
	if !check.OK() {
		col.problem("full cursor walk: %s", check)
	}
	rss, err := s.rss()
	if err != nil {
		return err
	}
	col.add("server RSS at the end (peak)", "%s", rss)
	return s.serverAlive()
}

// benchUnfollowed: tickets/s before, deliveries about unfollowed issues, what they left behind,
// and tickets/s after.
func benchUnfollowed(ctx context.Context, o BenchOptions, bin Column, col *BenchColumn, healthz float64, logf func(string, ...any)) error {
	s, err := startServer(ctx, bin, o.Postgres)
	if err != nil {
		return err
	}
	defer s.stop()
	label := fmt.Sprintf("unfollowed (%d deliveries)", o.Unfollowed)
	before, err := drain(ctx, s, o, o.Backlog, "backlog before")
	if err != nil {
		return err
	}
	col.addDrain(label+": before", before, o.DrainTimeout)
	size, err := s.dbBytes(ctx)
	if err != nil {
		return err
	}
	u, err := Unfollowed(ctx, s.Target, o.Clients, int64(o.Unfollowed), runID())
	if err != nil {
		return err
	}
	logf("unfollowed deliveries %s/s", formatRate(u.AcceptedPerSecond()))
	col.scenario(label, u, healthz)
	sizeAfter, err := s.dbBytes(ctx)
	if err != nil {
		return err
	}
	grown := sizeAfter - size
	col.add(label+": database growth", "%.0f bytes a delivery (%.1f MB with -wal)", float64(grown)/float64(max(1, u.Accepted)), float64(grown)/1e6)
	if err := sleep.For(ctx, o.QueuedAfter); err != nil {
		return err
	}
	pending, err := PendingJobs(ctx, s.Target)
	if err != nil {
		return err
	}
	col.add(label+": jobs queued "+round(o.QueuedAfter).String()+" later", "%d", pending)
	after, err := drain(ctx, s, o, o.Backlog, "backlog after")
	if err != nil {
		return err
	}
	logf("unfollowed: tickets/s %s before, %s after", formatRate(before.perSecond()), formatRate(after.perSecond()))
	col.addDrain(label+": after", after, o.DrainTimeout)
	return s.serverAlive()
}

// WriteBenchTable prints the machine and one table with a row per figure and a column per
// binary, then every problem.
func WriteBenchTable(w io.Writer, m Machine, cols []BenchColumn) error {
	fmt.Fprintf(w, "machine: %d CPUs (nproc), %s, %s/%s\n\n", m.CPUs, m.Model, runtime.GOOS, runtime.GOARCH)
	var labels []string
	values := map[string][]string{}
	for i, c := range cols {
		for _, r := range c.Rows {
			if _, ok := values[r.Label]; !ok {
				labels = append(labels, r.Label)
				values[r.Label] = make([]string, len(cols))
			}
			values[r.Label][i] = r.Value
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := []string{"figure"}
	for _, c := range cols {
		header = append(header, c.Column.String())
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, l := range labels {
		row := []string{l}
		for _, v := range values[l] {
			if v == "" {
				v = "-"
			}
			row = append(row, v)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range cols {
		for _, p := range c.Problems {
			fmt.Fprintf(w, "\nproblem: %s: %s", c.Column, p)
		}
	}
	fmt.Fprintln(w)
	return nil
}
