package store

import (
	"context"
	"reflect"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

// A new postmortem's record built from the intake plan must be what reading it back gives,
// field for field: intake evaluates and answers from it. The plan covers what a read
// normalises: a signed-off time out of UTC and finer than stored, a target with fields the
// row does not keep, nil, empty and full labels, an item finished at sign-off, a named ticket,
// a due date, and the postmortem's own ticket.
func TestNewRecordIsWhatIsStored(t *testing.T) { forEachBackend(t, testNewRecordIsWhatIsStored) }

func testNewRecordIsWhatIsStored(t *testing.T, db backend) {
	ctx := context.Background()
	s := db.open(t)
	signed := time.Date(2026, 11, 20, 9, 30, 15, 123456789, time.FixedZone("CET", 3600))
	now := time.Date(2026, 11, 22, 10, 0, 0, 987654321, time.FixedZone("PST", -8*3600))
	jira := ft.Target{Kind: ft.Jira, Project: "OPS", IssueType: "Task", Repo: "ignored/by-the-row"}
	plan := IntakePlan{
		Postmortem: PostmortemRow{ID: "PM-R", Title: "Outage", URL: "https://wiki/pm-r", Severity: "SEV1",
			Team: "payments", SignedOffAt: &signed, Own: &ft.TicketRef{Kind: ft.GitHub, Key: "acme/pm#7", URL: "not stored"}},
		Revision: Revision{Number: 1, Hash: "h", Document: []byte(`{}`)},
		Items: []ItemChange{
			{New: true, Row: ItemRow{PostmortemID: "PM-R", ID: "AI-1", Position: 0, Title: "Nil labels",
				Owner: "bob@acme.com", Priority: "P1", Due: "2026-12-01", Target: repoA, Status: ft.StatusOpen}},
			{New: true, Row: ItemRow{PostmortemID: "PM-R", ID: "AI-2", Position: 1, Title: "Empty labels",
				Owner: "amy@acme.com", Priority: "P2", Labels: []string{}, Target: jira, Status: ft.StatusOpen,
				Team: "infra", Type: "fix", Description: "why"}},
			{New: true, Sync: ft.SyncNone, Row: ItemRow{PostmortemID: "PM-R", ID: "AI-3", Position: 2,
				Title: "Done at sign-off", Owner: "bob@acme.com", Priority: "P3", Labels: []string{"a", "b"},
				Target: repoB, Status: ft.StatusDone}},
			{New: true, Row: ItemRow{PostmortemID: "PM-R", ID: "AI-4", Position: 3, Title: "Names a ticket",
				Owner: "bob@acme.com", Priority: "P2", Target: repoA, Status: ft.StatusOpen, NamedTicket: "acme/a#12"}},
		},
	}
	built, ok := plan.NewRecord(now)
	if !ok {
		t.Fatal("NewRecord refused revision 1")
	}
	var read PostmortemRecord
	err := s.Write(ctx, func(tx *Tx) error {
		if err := ApplyIntake(ctx, tx, plan, now); err != nil {
			return err
		}
		var err error
		read, err = LoadPostmortemTx(ctx, tx, "PM-R")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(built, read) {
		t.Fatalf("built from the plan:\n%#v\nread back:\n%#v", built, read)
	}
	// A zero sign-off time is stored as none.
	var zero time.Time
	plan.Postmortem.ID, plan.Postmortem.SignedOffAt, plan.Items = "PM-Z", &zero, nil
	built, _ = plan.NewRecord(now)
	err = s.Write(ctx, func(tx *Tx) error {
		if err := ApplyIntake(ctx, tx, plan, now); err != nil {
			return err
		}
		var err error
		read, err = LoadPostmortemTx(ctx, tx, "PM-Z")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(built, read) {
		t.Fatalf("with a zero sign-off time, built from the plan:\n%#v\nread back:\n%#v", built, read)
	}
	plan.Revision.Number = 2
	if _, ok := plan.NewRecord(now); ok {
		t.Fatal("NewRecord built a record for revision 2, which depends on what was stored")
	}
}
