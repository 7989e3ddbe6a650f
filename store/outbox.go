package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	ft "github.com/followthrough/followthrough"
)

// Job is one piece of outbox work.
type Job struct {
	ID           int64
	Kind         string
	PostmortemID string
	ItemID       string
	Tracker      string // github, jira, or "" for work that is not a tracker call
	DedupeKey    string // when set, the same key is queued once, ever
	Payload      json.RawMessage
	Attempts     int
	LastError    string
	CreatedAt    time.Time
}

// enqueueAll adds jobs as Enqueue does, in their order, several in one statement.
func enqueueAll(ctx context.Context, tx *Tx, jobs []Job, now time.Time) error {
	nowText := formatTime(now)
	return insertRows(ctx, tx, `INSERT INTO outbox (kind, postmortem_id, item_id, tracker, dedupe_key, payload,
		next_attempt_at, created_at) VALUES `, 8, len(jobs), func(i int, args []any) []any {
		j := jobs[i]
		payload := string(j.Payload)
		if payload == "" {
			payload = "{}"
		}
		return append(args, j.Kind, j.PostmortemID, j.ItemID, j.Tracker, nullString(j.DedupeKey), payload, nowText, nowText)
	}, ` ON CONFLICT (dedupe_key) DO NOTHING`)
}

// Enqueue adds outbox work in the caller's transaction; a job whose dedupe key exists is
// dropped.
func Enqueue(ctx context.Context, tx *Tx, j Job, now time.Time) error {
	return enqueueAll(ctx, tx, []Job{j}, now)
}

// ReleaseLeases frees every lease: called once at start, when no worker of this database is
// running (one process owns the file), so a killed process's jobs are taken again at once. On
// PostgreSQL other processes may be working their leased jobs: nothing is freed, and a dead
// process's jobs pass on when their leases run out.
func (s *Store) ReleaseLeases(ctx context.Context) error {
	if s.dialect == Postgres {
		return nil
	}
	return s.Write(ctx, func(tx *Tx) error { return freeLeases(ctx, tx, "") })
}

// UnfinishedJobsOutside lists the unfinished jobs whose lane (tracker) is not among lanes, in
// the caller's transaction.
func UnfinishedJobsOutside(ctx context.Context, tx *Tx, lanes []string) ([]Job, error) {
	rows, err := tx.query(ctx, `SELECT id, kind, postmortem_id, item_id, tracker, attempts FROM outbox
		WHERE done_at IS NULL AND failed_at IS NULL AND tracker NOT IN (SELECT value FROM json_each(?))`, textList(lanes))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (Job, error) {
		var j Job
		err := rows.Scan(&j.ID, &j.Kind, &j.PostmortemID, &j.ItemID, &j.Tracker, &j.Attempts)
		return j, err
	})
}

// claimJobsSQL leases a lane's due jobs in one statement, so that a claim is one write whichever
// database runs it. The lane's open jobs are read in queue order from outbox_claim; a job
// waits while an earlier unfinished job with the same ordering key (postmortem and item)
// exists, found in outbox_open_item. Neither index holds done or given-up jobs, so a claim
// costs the same after a year of history as on the first day (TestClaimPlan checks the plan).
// A worker takes back its own leased jobs too, but for those it holds (a list of ids: the
// lane's jobs it is running or about to run): a job of its own still leased and not held is
// one whose outcome could not be written (a full disk), to be run again now rather than when
// its lease runs out.
// A job waits too while a later job of the same key runs (its lease is live), held by another
// process, by another lane, or by the caller: that happens when the key's given-up jobs are
// queued again (RequeueFailedJobs) while its later work, which went ahead of them, runs; taken
// then, two jobs of one item would run at once (two creates of its ticket, say). A lease of
// the caller's own in its own lane that it does not hold does not count, as said above.
// Arguments: owner, lease until, tracker, now, now, owner, held, now, owner, held, limit.
const claimJobsSQL = `UPDATE outbox SET lease_owner = ?, lease_until = ?
	WHERE id IN (
		SELECT o.id FROM outbox o
		WHERE o.done_at IS NULL AND o.failed_at IS NULL AND o.tracker = ?
		  AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?
		      OR (o.lease_owner = ? AND CAST(o.id AS TEXT) NOT IN (SELECT value FROM json_each(?))))
		  AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.postmortem_id = o.postmortem_id
		      AND e.item_id = o.item_id AND e.id < o.id AND e.done_at IS NULL AND e.failed_at IS NULL)
		  AND NOT EXISTS (SELECT 1 FROM outbox r WHERE r.postmortem_id = o.postmortem_id
		      AND r.item_id = o.item_id AND r.id > o.id AND r.done_at IS NULL AND r.failed_at IS NULL
		      AND r.lease_until >= ? AND (r.lease_owner <> ? OR r.tracker <> o.tracker
		          OR CAST(r.id AS TEXT) IN (SELECT value FROM json_each(?))))
		ORDER BY o.id LIMIT ?)
	RETURNING id, kind, postmortem_id, item_id, tracker, payload, attempts,
		COALESCE(last_error, ''), created_at`

// ClaimJobs leases up to limit due jobs of one tracker ("" for non-tracker work) for a worker
// that holds the jobs held of that lane (running, or claimed and about to run; none for a
// worker that holds none): it claims none of them again, and no job of an item while a later
// job of that item is among them (see claimJobsSQL). A job waits while an earlier unfinished
// job of the same item (or, for postmortem-wide jobs, the same postmortem; for a webhook, the
// same ticket) exists, so an item's work runs in the order it was queued. The lease is
// written in the group commit, beside whatever else is being written at that moment.
func (s *Store) ClaimJobs(ctx context.Context, owner, tracker string, now time.Time, lease time.Duration, limit int, held []int64) ([]Job, error) {
	heldIDs := make(textList, len(held))
	for i, id := range held {
		heldIDs[i] = strconv.FormatInt(id, 10)
	}
	if s.dialect == Postgres {
		return s.claimJobsPostgres(ctx, owner, tracker, now, lease, limit, heldIDs)
	}
	var jobs []Job
	err := s.Write(ctx, func(tx *Tx) error {
		jobs = nil
		nowText := formatTime(now)
		rows, err := tx.query(ctx, claimJobsSQL, owner, formatTime(now.Add(lease)), tracker, nowText, nowText, owner,
			heldIDs, nowText, owner, heldIDs, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var j Job
			var payload, created string
			if err := rows.Scan(&j.ID, &j.Kind, &j.PostmortemID, &j.ItemID, &j.Tracker, &payload, &j.Attempts,
				&j.LastError, &created); err != nil {
				return err
			}
			j.Payload = json.RawMessage(payload)
			j.CreatedAt = parseTime(created)
			jobs = append(jobs, j)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return jobs, nil
}

// RenewLeases extends to until the leases that owner holds on unfinished jobs of tracker's
// lane, so that a job that takes longer than a lease is not claimed again while it runs. Each
// lane renews its own (reading only its open jobs, through outbox_claim). A lease that ran out
// and passed to another worker stays with it.
func (s *Store) RenewLeases(ctx context.Context, owner, tracker string, until time.Time) error {
	renew := func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE outbox SET lease_until = ?
			WHERE tracker = ? AND lease_owner = ? AND done_at IS NULL AND failed_at IS NULL`, formatTime(until), tracker, owner)
		return err
	}
	if s.dialect == Postgres {
		// It reads every open job to find the owner's: at SERIALIZABLE that read would
		// conflict with every write queueing a job meanwhile. It only moves its own leases
		// forward, which no order of the others' writes can make wrong.
		return s.runPostgres(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, false, renew)
	}
	return s.Write(ctx, renew)
}

// MarkInFlight records, durably, that a create is about to be sent to target: if the outcome
// is lost, the next attempt looks there for the ticket by its marker before creating again.
// Each send restarts the wait, since the latest one may still land.
func (s *Store) MarkInFlight(ctx context.Context, jobID int64, now time.Time, target ft.Target) error {
	sent, err := json.Marshal(target)
	if err != nil {
		return err
	}
	at, err := json.Marshal(formatTime(now))
	if err != nil {
		return err
	}
	return s.Write(ctx, func(tx *Tx) error {
		return editPayload(ctx, tx, jobID, func(p map[string]json.RawMessage) {
			p["in_flight_at"] = at
			p["in_flight_target"] = sent
		})
	})
}

// ClearInFlight records that the create of a job is settled (its ticket was found).
func ClearInFlight(ctx context.Context, tx *Tx, jobID int64) error {
	return editPayload(ctx, tx, jobID, func(p map[string]json.RawMessage) {
		delete(p, "in_flight_at")
		delete(p, "in_flight_target")
	})
}

// editPayload changes the keys of a job's JSON payload in the caller's transaction. It is done
// here rather than in SQL because SQLite and PostgreSQL name their JSON functions differently.
func editPayload(ctx context.Context, tx *Tx, jobID int64, edit func(map[string]json.RawMessage)) error {
	var text string
	if err := tx.queryRow(ctx, `SELECT payload FROM outbox WHERE id = ?`, jobID).Scan(&text); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	}
	payload := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(text), &payload); err != nil {
		return fmt.Errorf("payload of job %d: %w", jobID, err)
	}
	edit(payload)
	out, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `UPDATE outbox SET payload = ? WHERE id = ?`, string(out), jobID)
	return err
}

// GivenUpInFlight lists the item's given-up jobs of the kinds (oldest first) whose last create
// is still in flight (MarkInFlight without ClearInFlight): a job given up before it learned
// whether its create made a ticket. The item's next create looks for those tickets first.
func (s *Store) GivenUpInFlight(ctx context.Context, pmID, itemID string, kinds ...string) ([]Job, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT id, kind, postmortem_id, item_id, tracker, payload, attempts,
		COALESCE(last_error, ''), created_at FROM outbox
		WHERE postmortem_id = ? AND item_id = ? AND failed_at IS NOT NULL AND kind IN (SELECT value FROM json_each(?))
		ORDER BY id`, pmID, itemID, textList(kinds))
	if err != nil {
		return nil, fmt.Errorf("read given-up jobs of %s/%s: %w", pmID, itemID, err)
	}
	jobs, err := collect(rows, scanClaimedJob)
	if err != nil {
		return nil, fmt.Errorf("read given-up jobs of %s/%s: %w", pmID, itemID, err)
	}
	inFlight := jobs[:0]
	for _, j := range jobs {
		if j.InFlight() {
			inFlight = append(inFlight, j)
		}
	}
	return inFlight, nil
}

// InFlight reports whether the job sent a call whose outcome is not known yet (MarkInFlight
// without ClearInFlight).
func (j Job) InFlight() bool { return !j.InFlightSince().IsZero() }

// InFlightSince is when the last create of the job was sent (zero when never).
func (j Job) InFlightSince() time.Time {
	var p struct {
		At string `json:"in_flight_at"`
	}
	_ = json.Unmarshal(j.Payload, &p)
	if p.At == "" {
		return time.Time{}
	}
	return parseTime(p.At)
}

// InFlightTarget is where the last create of the job was sent; ok is false when unknown.
func (j Job) InFlightTarget() (ft.Target, bool) {
	var p struct {
		Target *ft.Target `json:"in_flight_target"`
	}
	_ = json.Unmarshal(j.Payload, &p)
	if p.Target == nil || p.Target.Kind == "" {
		return ft.Target{}, false
	}
	return *p.Target, true
}

// MarkJobDone marks the job done in the caller's transaction.
func MarkJobDone(ctx context.Context, tx *Tx, jobID int64, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE outbox SET done_at = ?, lease_owner = NULL, lease_until = NULL, last_error = NULL
		WHERE id = ?`, formatTime(now), jobID)
	return err
}

// RescheduleJob makes the job due again at now, without counting an attempt, in the caller's
// transaction.
func RescheduleJob(ctx context.Context, tx *Tx, jobID int64, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE outbox SET next_attempt_at = ?, lease_owner = NULL, lease_until = NULL
		WHERE id = ?`, formatTime(now), jobID)
	return err
}

// CompleteJob marks the job done and, in the same transaction, applies fn (may be nil).
func (s *Store) CompleteJob(ctx context.Context, jobID int64, now time.Time, fn func(*Tx) error) error {
	return s.Write(ctx, func(tx *Tx) error {
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return MarkJobDone(ctx, tx, jobID, now)
	})
}

// RetryJob records a failed attempt and when to try again.
func (s *Store) RetryJob(ctx context.Context, jobID int64, attempts int, next time.Time, errText string) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?,
			lease_owner = NULL, lease_until = NULL WHERE id = ?`, attempts, formatTime(next), errText, jobID)
		return err
	})
}

// FailJob gives the job up after attempts, with the error, in the caller's transaction.
func FailJob(ctx context.Context, tx *Tx, jobID int64, attempts int, now time.Time, errText string) error {
	_, err := tx.exec(ctx, `UPDATE outbox SET attempts = ?, failed_at = ?, last_error = ?,
		lease_owner = NULL, lease_until = NULL WHERE id = ?`, attempts, formatTime(now), errText, jobID)
	return err
}

// HasUnfinishedJob reports whether a job of one of the kinds is waiting for the item (queued,
// running or to be retried; neither done nor given up).
func HasUnfinishedJob(ctx context.Context, tx *Tx, pmID, itemID string, kinds ...string) (bool, error) {
	var pending bool
	err := tx.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE postmortem_id = ? AND item_id = ?
		AND done_at IS NULL AND failed_at IS NULL AND kind IN (SELECT value FROM json_each(?)))`,
		pmID, itemID, textList(kinds)).Scan(&pending)
	return pending, err
}

// RequeueFailedJobs queues an item's given-up tracker jobs again, due now, with no attempts
// counted; they keep their ids, so they run in their original order.
func RequeueFailedJobs(ctx context.Context, tx *Tx, pmID, itemID string, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE outbox SET failed_at = NULL, attempts = 0, next_attempt_at = ?, last_error = NULL,
		lease_owner = NULL, lease_until = NULL
		WHERE postmortem_id = ? AND item_id = ? AND tracker != '' AND failed_at IS NOT NULL`, formatTime(now), pmID, itemID)
	return err
}

// JobCounts reports unfinished and failed jobs, for metrics and tests.
func (s *Store) JobCounts(ctx context.Context) (pending, failed int, err error) {
	err = s.readDB.QueryRowContext(ctx, `SELECT
		COUNT(*) FILTER (WHERE done_at IS NULL AND failed_at IS NULL),
		COUNT(*) FILTER (WHERE failed_at IS NOT NULL) FROM outbox`).Scan(&pending, &failed)
	return pending, failed, err
}
