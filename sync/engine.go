// Package sync is followthrough's engine, the one owner of every write: intake (it routes
// the items, plans what a revision changes and has the store apply the plan), webhook
// deliveries, status changes through the API and retries, each in one transaction with the
// postmortem's evaluation (stalls, state and outbound events); then the outbox worker turns
// the queued work into tracker calls exactly once, applies tracker events, reconciles and
// scans for stalls. It talks to trackers only through ft.Tracker (it imports no connector),
// to the database only through package store, and to time only through its Clock.
package sync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-retry"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/store"
)

// Outbox job kinds: the work a change needs, done by the worker.
const (
	jobCreateTicket   = "create_ticket" // open the item's ticket in its target
	jobUpdateTicket   = "update_ticket" // title, description, due, owner changed
	jobCloseRemoved   = "close_removed" // the item left the postmortem: close as not planned
	jobMoveTicket     = "move_ticket"   // the item's target changed: close old, open new
	jobReopenTicket   = "reopen_ticket" // a removed item came back
	jobSetStatus      = "set_status"    // a status set through the API goes to the ticket
	jobComment        = "comment"       // a comment on an item's or the postmortem's ticket
	jobLabel          = "label"         // add or remove a label
	jobOwnTicket      = "own_ticket"    // reopen or close the postmortem's own ticket
	jobNotify         = "notify"        // an outbound event to one notify URL
	jobProcessWebhook = "process_webhook"
	jobLinkPostmortem = "link_postmortem" // link a new ticket back to its postmortem (Jira's remote link)
	jobCloseMoved     = "close_moved"     // close a ticket the item left behind, pointing to its new one
)

// Clock is the engine's only source of time, so tests can drive it.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real time.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Options configures an Engine.
type Options struct {
	Store    *store.Store
	Config   *config.Config
	Trackers map[ft.TrackerKind]ft.Tracker // the configured trackers only
	Clock    Clock                         // default SystemClock
	Logger   *slog.Logger
	// MaxAttempts before a job is given up and its item shows sync: failed [12].
	MaxAttempts int
	// Concurrency is how many calls run at once per tracker [4].
	Concurrency int
	// Lease is how long a claimed job is reserved for the worker that claimed it, renewed
	// while the job runs [30s]. When a process dies, its jobs pass to the others (on
	// PostgreSQL) after at most this long.
	Lease time.Duration
	// Poll is the longest the worker sleeps when nothing wakes it [1s].
	Poll time.Duration
	// HTTPClient sends outbound notifications [a client with a 10 s timeout].
	HTTPClient HTTPDoer
	// LeaderEvery is how often a process that does not lead the periodic work tries to, and
	// how often the leader checks that it still does [store.DefaultLeaderEvery].
	LeaderEvery time.Duration
}

// Engine runs the outbox and the periodic work.
type Engine struct {
	opts    Options
	owner   string
	wakes   map[string]chan struct{} // one per lane
	scans   atomic.Int64             // stall scans finished, for /metrics
	wakeups atomic.Int64             // calls of wake, for Wakes
	logger  *slog.Logger

	// The periodic work, for /metrics: whether this process leads it, and the runs it started.
	leading       atomic.Bool
	reconcileRuns atomic.Int64
	stallRuns     atomic.Int64
}

// New returns an engine; Run starts it.
func New(opts Options) *Engine {
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 12
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 4
	}
	if opts.Lease == 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Poll == 0 {
		opts.Poll = time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = defaultHTTPClient()
	}
	e := &Engine{opts: opts, owner: processName(), wakes: map[string]chan struct{}{}, logger: opts.Logger}
	for _, lane := range e.queues() {
		e.wakes[lane] = make(chan struct{}, 1)
	}
	return e
}

// processName names this process among those that share the database, in leases and in
// /metrics: its host (a pod's name), its pid, and random bytes, since a restarted container
// has the host name and pid of the process it replaces.
func processName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b)
}

// Process names this process among those that share the database.
func (e *Engine) Process() string { return e.owner }

// Leading reports whether this process leads the periodic work now.
func (e *Engine) Leading() bool { return e.leading.Load() }

// PeriodicRuns counts the reconciliations and the stall scans this process started as the
// leader of the periodic work.
func (e *Engine) PeriodicRuns() (reconcile, stall int64) {
	return e.reconcileRuns.Load(), e.stallRuns.Load()
}

// StallScans counts the stall scans finished since the engine started.
func (e *Engine) StallScans() int64 { return e.scans.Load() }

// Wakes counts how many times the engine told its worker that work was queued (tests see
// with it that a write wakes the worker, and that a write that queued nothing does not).
func (e *Engine) Wakes() int64 { return e.wakeups.Load() }

// wake tells the worker that new work is queued, so it does not wait for its poll.
func (e *Engine) wake() {
	e.wakeups.Add(1)
	for _, wake := range e.wakes {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// Run works the outbox until ctx ends, and reconciles and scans for stalls on their intervals.
// Jobs that a killed process had claimed are taken again at once.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.opts.Store.ReleaseLeases(ctx); err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	// Work for a tracker that is no longer configured would wait forever, and hold up the
	// item's later work: it fails now, in words, and the item shows it.
	if n, err := e.failUnconfiguredWork(ctx, e.queues(), e.opts.Clock.Now()); err != nil {
		return fmt.Errorf("fail work of unconfigured trackers: %w", err)
	} else if n > 0 {
		e.logger.Warn("work for trackers no longer configured failed", slog.Int("jobs", n))
	}
	var wg gosync.WaitGroup
	for _, tracker := range e.queues() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.workQueue(ctx, tracker)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.periodic(ctx)
	}()
	wg.Wait()
	// Stopping: the jobs this process claimed and did not finish are given back, so that another
	// process sharing the database (or this one, started again) takes them at once rather than
	// when their leases run out. A killed process gives nothing back: its leases run out.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := e.opts.Store.ReleaseLeasesOf(stopCtx, e.owner); err != nil {
		e.logger.Warn("give back the leases of unfinished jobs", slog.String("error", err.Error()))
	}
	return nil
}

// queues are the outbox's lanes: one per configured tracker and one for everything else.
func (e *Engine) queues() []string {
	q := []string{""}
	for kind := range e.opts.Trackers {
		q = append(q, string(kind))
	}
	return q
}

func (e *Engine) workQueue(ctx context.Context, tracker string) {
	for ctx.Err() == nil {
		n, err := e.runQueue(ctx, tracker)
		// A database that refuses writes is logged once per episode by the store; the lane
		// keeps polling, and resumes by itself when a claim is taken again.
		if err != nil && ctx.Err() == nil && !errors.Is(err, ft.ErrWriteRefused) {
			e.logger.Error("outbox", slog.String("tracker", tracker), slog.String("error", err.Error()))
		}
		if n > 0 {
			continue
		}
		timer := time.NewTimer(e.opts.Poll)
		select {
		case <-ctx.Done():
		case <-e.wakes[tracker]:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// RunDue runs every job that is due now, in every lane, and returns how many ran. Tests use it
// with a driven clock instead of Run.
func (e *Engine) RunDue(ctx context.Context) (int, error) {
	total := 0
	for {
		ran := 0
		for _, tracker := range e.queues() {
			n, err := e.runQueue(ctx, tracker)
			if err != nil {
				return total + ran, err
			}
			ran += n
		}
		total += ran
		if ran == 0 {
			return total, nil
		}
	}
}

// claimRounds is how many rounds of work (Concurrency jobs each) a lane leases in one claim
// on SQLite, where one process owns the database: several rounds share one write (one commit
// shared with whatever else is written then), and the lease (Options.Lease) is renewed while
// they run. On PostgreSQL a lane leases only what it can run now, and claims again as each
// job finishes: a job leased ahead would wait for this process's tracker calls when another
// process sharing the database could run it, and, if this process died, for its lease to run
// out.
const claimRounds = 4

// localConcurrency is how many jobs of the non-tracker lane run at once, at least.
const localConcurrency = 16

// runQueue runs a lane's due jobs, at most Concurrency at a time, until a claim finds none
// and those it claimed are finished, and returns how many it ran. It claims again when it
// holds few enough jobs (laneClaims); the jobs it holds are never claimed again meanwhile,
// and no two jobs of one ordering key are held at once (the claim takes a key's earliest
// open job only), so they can run in any order.
func (e *Engine) runQueue(ctx context.Context, tracker string) (int, error) {
	concurrency := e.opts.Concurrency
	if tracker == "" {
		// The lane of webhook deliveries and notifications waits on our own database and on
		// receivers, not on a tracker's limits: more of its jobs share each commit.
		concurrency = max(concurrency, localConcurrency)
	}
	most, refillAt := e.laneClaims(concurrency)
	held := map[int64]bool{} // claimed and not finished: running, or waiting for a slot
	var waiting []store.Job
	running, ran := 0, 0
	finished := make(chan int64, most)
	claim := true // a claim may find work: none has come back empty since a job finished
	var claimErr error
	finish := func(id int64) {
		delete(held, id)
		running--
		ran++
		claim = true // the item's next job may be due now
	}
	// A job may wait long for its tracker's turn: its lease is renewed while it runs, so that
	// no other worker takes it, and lapses within a lease when this process dies.
	renew := time.NewTicker(e.opts.Lease / 3)
	defer renew.Stop()
	for {
		// The jobs that finished while the lane claimed are all refilled by one claim.
		for more := true; more; {
			select {
			case id := <-finished:
				finish(id)
			default:
				more = false
			}
		}
		if ctx.Err() != nil {
			// Stopping: the jobs not started are given back with the leases.
			for _, job := range waiting {
				delete(held, job.ID)
			}
			waiting = nil
		} else if claim && claimErr == nil && len(held) <= refillAt {
			jobs, err := e.opts.Store.ClaimJobs(ctx, e.owner, tracker, e.opts.Clock.Now(), e.opts.Lease,
				most-len(held), slices.Collect(maps.Keys(held)))
			claimErr = err
			claim = len(jobs) > 0
			for _, job := range jobs {
				held[job.ID] = true
			}
			waiting = append(waiting, jobs...)
		}
		for ; running < concurrency && len(waiting) > 0; running++ {
			job := waiting[0]
			waiting = waiting[1:]
			go func() {
				e.runJob(ctx, job)
				finished <- job.ID
			}()
		}
		if len(held) == 0 {
			return ran, claimErr
		}
		wake := e.wakes[tracker]
		if len(held) > refillAt {
			wake = nil // no room to claim: new work waits for a job to finish
		}
		select {
		case id := <-finished:
			finish(id)
		case <-wake:
			claim = true
		case <-renew.C:
			if err := e.opts.Store.RenewLeases(ctx, e.owner, tracker, e.opts.Clock.Now().Add(e.opts.Lease)); err != nil && ctx.Err() == nil {
				e.logger.Error("outbox lease renewal", slog.String("error", err.Error()))
			}
		}
	}
}

// laneClaims is how many jobs a lane that runs concurrency at once holds at most, and how few
// it must hold to claim more (claimRounds).
func (e *Engine) laneClaims(concurrency int) (most, refillAt int) {
	if e.opts.Store.Dialect() == store.Postgres {
		return concurrency, concurrency - 1
	}
	return concurrency * claimRounds, 0
}

// errRetryLater asks for the job to be tried again after a while, without counting a failure.
type errRetryLater struct {
	after  time.Duration
	reason string
}

func (e errRetryLater) Error() string { return e.reason }

func (e *Engine) runJob(ctx context.Context, job store.Job) {
	start := e.opts.Clock.Now()
	// The job's tracker calls carry its name, so that a tracker that paces its writes keeps
	// the turn it gives this job while the job waits for it.
	err := e.handle(ft.WithTurn(ctx, "job:"+strconv.FormatInt(job.ID, 10)), job)
	now := e.opts.Clock.Now()
	log := e.logger.With(slog.Int64("job_id", job.ID), slog.String("job", job.Kind),
		slog.String("postmortem_id", job.PostmortemID), slog.String("item_id", job.ItemID))
	if err == nil {
		log.Info("job done", slog.Duration("duration", now.Sub(start)))
		return
	}
	if ctx.Err() != nil {
		// Shutting down: the engine gives its leases back as it stops.
		return
	}
	var later errRetryLater
	if errors.As(err, &later) {
		if rerr := e.opts.Store.RetryJob(ctx, job.ID, job.Attempts, now.Add(later.after), later.reason); rerr != nil {
			log.Error("job reschedule", slog.String("error", rerr.Error()))
		}
		return
	}
	if until, ok := ft.AskedToWait(err, now); ok {
		// The tracker's limits (its rate limit, or our pacing of it) refused the call and said
		// when to come back: nothing was done and nothing failed, so no attempt is counted. An
		// item waiting for its ticket says why, and until when.
		log.Info("job waits for the tracker's limits", slog.Time("until", until), slog.String("reason", err.Error()))
		if werr := e.opts.Store.Write(ctx, func(tx *store.Tx) error {
			if givesTicket(job.Kind) {
				if err := store.SetItemWaiting(ctx, tx, job.PostmortemID, job.ItemID, ft.Waiting{Reason: waitReason(err), Until: until}); err != nil {
					return err
				}
			}
			return store.RescheduleJob(ctx, tx, job.ID, until)
		}); werr != nil {
			log.Error("job reschedule", slog.String("error", werr.Error()))
		}
		return
	}
	attempts := job.Attempts + 1
	retryable, retryAfter := classify(err)
	if job.Kind == jobProcessWebhook {
		// A delivery was acknowledged: it is tried again whatever failed (our own identity
		// unknown for a while, a credential being rotated), until the attempts run out.
		retryable = true
	}
	limit := e.opts.MaxAttempts
	if job.Kind == jobNotify || job.Kind == jobProcessWebhook {
		// Nothing but patience brings these back: a receiver or a tracker that is down for
		// hours still gets its events (about five hours of backoff at the default).
		limit *= 3
	}
	if !retryable || attempts >= limit {
		log.Warn("job failed", slog.Int("attempts", attempts), slog.String("error", err.Error()))
		if ferr := e.opts.Store.Write(ctx, func(tx *store.Tx) error { return failJob(ctx, tx, job, attempts, now, err.Error()) }); ferr != nil {
			log.Error("job fail", slog.String("error", ferr.Error()))
		}
		return
	}
	delay := Backoff(attempts)
	if retryAfter > delay {
		delay = retryAfter
	}
	log.Warn("job retry", slog.Int("attempts", attempts), slog.Duration("delay", delay), slog.String("error", err.Error()))
	if rerr := e.opts.Store.RetryJob(ctx, job.ID, attempts, now.Add(delay), err.Error()); rerr != nil {
		log.Error("job reschedule", slog.String("error", rerr.Error()))
	}
}

// givesTicket reports whether jobs of the kind give an item the ticket it waits for: while
// such a job waits for a tracker's limits, the item says so.
func givesTicket(kind string) bool {
	return kind == jobCreateTicket || kind == jobMoveTicket || kind == jobAdoptTicket
}

// waitReason is why a tracker's limits hold work back, in the tracker's words.
func waitReason(err error) string {
	var te *ft.TrackerError
	if errors.As(err, &te) && te.Message != "" {
		return te.Message
	}
	return err.Error()
}

// failJob gives the job up; when it is tracker work for an item, the item shows sync: failed
// with the error. A ticket the item left behind concerns the item no more: failing to close
// or unlink it is logged and counted, not shown as the item's sync state.
func failJob(ctx context.Context, tx *store.Tx, job store.Job, attempts int, now time.Time, errText string) error {
	if err := store.FailJob(ctx, tx, job.ID, attempts, now, errText); err != nil {
		return err
	}
	if job.ItemID == "" || job.Tracker == "" || job.Kind == jobCloseMoved || job.Kind == jobUnlinkTicket {
		return nil
	}
	return store.SetItemSyncFailed(ctx, tx, job.PostmortemID, job.ItemID, errText, now)
}

// failUnconfiguredWork gives up the unfinished jobs whose lane is not among lanes (a tracker
// removed from the configuration); their items show sync: failed saying so. It returns how
// many jobs it failed.
func (e *Engine) failUnconfiguredWork(ctx context.Context, lanes []string, now time.Time) (int, error) {
	n := 0
	err := e.opts.Store.Write(ctx, func(tx *store.Tx) error {
		stuck, err := store.UnfinishedJobsOutside(ctx, tx, lanes)
		if err != nil {
			return err
		}
		for _, j := range stuck {
			if err := failJob(ctx, tx, j, j.Attempts, now, j.Tracker+" is not configured, so this work cannot be done"); err != nil {
				return err
			}
		}
		n = len(stuck)
		return nil
	})
	return n, err
}

// finalError is an error that trying again cannot mend: a payload this version cannot read, a
// tracker no longer configured.
type finalError struct{ err error }

func (f finalError) Error() string { return f.err.Error() }
func (f finalError) Unwrap() error { return f.err }

func final(err error) error { return finalError{err: err} }

// classify says whether a failed job is tried again. Trackers classify their own errors; our
// own (a busy or full database, say) may pass, so they are retried unless marked final.
func classify(err error) (retryable bool, after time.Duration) {
	var te *ft.TrackerError
	if errors.As(err, &te) {
		return te.Retryable, te.RetryAfter
	}
	var fe finalError
	if errors.As(err, &fe) {
		return false, 0
	}
	return true, 0
}

// Backoff is the delay before retry number attempts (from 1): exponential from 1 s with 20 %
// jitter, capped at 10 minutes. go-retry computes it; the time is stored so it survives restarts.
func Backoff(attempts int) time.Duration {
	b := retry.NewExponential(time.Second)
	b = retry.WithCappedDuration(10*time.Minute, b)
	b = retry.WithJitterPercent(20, b)
	var d time.Duration
	for range attempts {
		d, _ = b.Next()
	}
	return d
}

func (e *Engine) tracker(kind ft.TrackerKind) (ft.Tracker, error) {
	t, ok := e.opts.Trackers[kind]
	if !ok {
		return nil, final(fmt.Errorf("%s is not configured", kind))
	}
	return t, nil
}
