package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
)

// PostmortemRecord is a postmortem as stored, with its items (in its order, removed items
// last) when they were read: what evaluation works on and what the API's views are built from.
type PostmortemRecord struct {
	ID             string
	Title          string
	URL            string
	Severity       string
	Team           string
	State          ft.State
	ReopenedCount  int
	CompletedCount int
	Revision       int
	AcceptedAt     time.Time
	SignedOffAt    *time.Time
	Own            *ft.TicketRef // its own ticket (kind and key), if it names one
	Items          []Item
	sortAt         string // the list's sort key
}

// DueFrom is where default_due counts from: signed_off_at, or the acceptance when absent.
func (p PostmortemRecord) DueFrom() time.Time {
	if p.SignedOffAt != nil {
		return *p.SignedOffAt
	}
	return p.AcceptedAt
}

// View is the postmortem as the API shows it.
func (p PostmortemRecord) View() ft.PostmortemView {
	v := ft.PostmortemView{
		ID: p.ID, Title: p.Title, URL: p.URL, Severity: p.Severity, Team: p.Team, State: p.State,
		ReopenedCount: p.ReopenedCount, SignedOffAt: p.SignedOffAt, AcceptedAt: p.AcceptedAt,
		Revision: p.Revision, Items: make([]ft.ItemView, 0, len(p.Items)),
	}
	if p.Own != nil {
		own := *p.Own
		v.Tracker = &own
	}
	done := 0
	for _, it := range p.Items {
		if it.Status.Finished() {
			done++
		}
		v.Items = append(v.Items, it.View())
	}
	v.Completion = ft.NewCompletion(done, len(p.Items))
	return v
}

const postmortemColumns = `id, title, url, severity, team, signed_off_at, accepted_at, sort_at, state,
	reopened_count, completed_count, COALESCE(own_kind, ''), COALESCE(own_key, ''), revision`

// scanPostmortem reads one row of postmortemColumns, without the items.
func scanPostmortem(row interface{ Scan(...any) error }) (PostmortemRecord, error) {
	var p PostmortemRecord
	var signedOff sql.NullString
	var accepted, ownKind, ownKey string
	err := row.Scan(&p.ID, &p.Title, &p.URL, &p.Severity, &p.Team, &signedOff, &accepted, &p.sortAt,
		&p.State, &p.ReopenedCount, &p.CompletedCount, &ownKind, &ownKey, &p.Revision)
	if err != nil {
		return p, err
	}
	if signedOff.Valid {
		t := parseTime(signedOff.String)
		p.SignedOffAt = &t
	}
	p.AcceptedAt = parseTime(accepted)
	if ownKind != "" {
		p.Own = &ft.TicketRef{Kind: ft.TrackerKind(ownKind), Key: ownKey}
	}
	return p, nil
}

// loadPostmortem reads a postmortem, with its items when withItems.
func loadPostmortem(ctx context.Context, q querier, id string, withItems bool) (PostmortemRecord, error) {
	p, err := scanPostmortem(q.QueryRowContext(ctx, `SELECT `+postmortemColumns+` FROM postmortems WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("postmortem %s: %w", id, ft.ErrNotFound)
	}
	if err == nil && withItems {
		err = fillItems(ctx, q, &p)
	}
	if err != nil {
		return p, fmt.Errorf("read postmortem %s: %w", id, err)
	}
	return p, nil
}

// fillItems reads the items of the postmortems, all in one query.
func fillItems(ctx context.Context, q querier, pms ...*PostmortemRecord) error {
	if len(pms) == 0 {
		return nil
	}
	ids := make([]string, len(pms))
	byID := make(map[string]*PostmortemRecord, len(pms))
	for i, pm := range pms {
		ids[i], byID[pm.ID] = pm.ID, pm
		pm.Items = []Item{}
	}
	where, arg := `i.postmortem_id IN (SELECT value FROM json_each(?))`, any(textList(ids))
	if len(ids) == 1 {
		// One postmortem, as every evaluation reads, by its key: SQLite reads a list through a
		// virtual table, 5–8% of the read (BenchmarkLoadPostmortem).
		where, arg = `i.postmortem_id = ?`, ids[0]
	}
	items, err := loadItems(ctx, q, where, arg)
	if err != nil {
		return err
	}
	for _, it := range items {
		pm := byID[it.PostmortemID]
		pm.Items = append(pm.Items, it)
	}
	return nil
}

// PostmortemHead is a postmortem without its items: for work that needs only its title, link
// and severity, without reading every item.
func (s *Store) PostmortemHead(ctx context.Context, id string) (PostmortemRecord, error) {
	return loadPostmortem(ctx, s.readDB, id, false)
}

// LoadPostmortemTx reads a postmortem and every item inside a write transaction.
func LoadPostmortemTx(ctx context.Context, tx *Tx, id string) (PostmortemRecord, error) {
	p, err := loadPostmortem(ctx, tx.reader(), id, true)
	tx.countItemReads(len(p.Items))
	return p, err
}

// SetState stores a postmortem's state and how many times it entered reopened and completed,
// in the caller's transaction.
func SetState(ctx context.Context, tx *Tx, p PostmortemRecord, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE postmortems SET state = ?, reopened_count = ?, completed_count = ?, updated_at = ?
		WHERE id = ?`, string(p.State), p.ReopenedCount, p.CompletedCount, formatTime(now), p.ID)
	if err != nil {
		return fmt.Errorf("store state of %s: %w", p.ID, err)
	}
	return nil
}

// PostmortemExists reports whether the postmortem is stored.
func PostmortemExists(ctx context.Context, tx *Tx, pmID string) (bool, error) {
	var exists bool
	err := tx.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM postmortems WHERE id = ?)`, pmID).Scan(&exists)
	return exists, err
}

// PostmortemsToScan lists the postmortems a stall scan evaluates: every one not completed (a
// completed postmortem has no unfinished item that could stall), oldest first.
func (s *Store) PostmortemsToScan(ctx context.Context) ([]string, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT id FROM postmortems WHERE state <> 'completed' ORDER BY sort_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list postmortems to scan: %w", err)
	}
	ids, err := collect(rows, scanString)
	if err != nil {
		return nil, fmt.Errorf("list postmortems to scan: %w", err)
	}
	return ids, nil
}
