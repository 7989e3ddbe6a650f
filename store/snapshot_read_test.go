package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

func TestAPostmortemIsReadAtOneMoment(t *testing.T) {
	forEachBackend(t, testAPostmortemIsReadAtOneMoment)
}

// A postmortem is read as it was at one moment, its state and its items together: a write
// that finishes its items and completes it commits both at once, and no page shows it
// completed with unfinished items, or still tracking with every item done. Its row and its
// items were read by two statements, each seeing what was committed when it ran.
func testAPostmortemIsReadAtOneMoment(t *testing.T, db backend) {
	s := db.open(t)
	ctx := context.Background()
	doc := &ft.Document{ID: "PM-S", Title: "Outage PM-S", Status: "finalized", ActionItems: []ft.ActionItem{
		{ID: "S1", Title: "item S1", Owner: "a@acme.com", Priority: "P2"},
		{ID: "S2", Title: "item S2", Owner: "a@acme.com", Priority: "P2"},
	}}
	if err := intakeItems(ctx, s, doc, t0, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // finishes and reopens both items, and the postmortem with them, over and over
		defer wg.Done()
		for n := 0; ctx.Err() == nil; n++ {
			status, state := ft.StatusDone, ft.StateCompleted
			if n%2 == 1 {
				status, state = ft.StatusOpen, ft.StateTracking
			}
			err := s.Write(ctx, func(tx *Tx) error {
				for _, id := range []string{"S1", "S2"} {
					if _, err := SetItemStatus(ctx, tx, "PM-S", id, status, "api", "", t0); err != nil {
						return err
					}
				}
				return SetState(ctx, tx, PostmortemRecord{ID: "PM-S", State: state}, t0)
			})
			if err != nil && ctx.Err() == nil {
				t.Error(err)
				return
			}
		}
	}()
	agrees := func(pm ft.PostmortemView) error {
		if done := pm.Completion.Done == pm.Completion.Total; done != (pm.State == ft.StateCompleted) {
			return fmt.Errorf("read %s with %d of %d items finished", pm.State, pm.Completion.Done, pm.Completion.Total)
		}
		return nil
	}
	var failure error
	for reads := 0; ctx.Err() == nil && failure == nil; reads++ {
		pm, err := s.Postmortem(ctx, "PM-S")
		if err != nil {
			if ctx.Err() == nil {
				t.Fatal(err)
			}
			break
		}
		if failure = agrees(pm); failure != nil {
			failure = fmt.Errorf("Postmortem, read %d: %w", reads, failure)
			break
		}
		pms, _, err := s.ListPostmortems(ctx, ft.ListFilter{})
		if err != nil {
			if ctx.Err() == nil {
				t.Fatal(err)
			}
			break
		}
		if len(pms) == 1 {
			if failure = agrees(pms[0]); failure != nil {
				failure = fmt.Errorf("ListPostmortems, read %d: %w", reads, failure)
			}
		}
	}
	cancel()
	wg.Wait()
	if failure != nil {
		t.Fatal(failure)
	}
}
