package load

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Run mode against a server started in-process: /healthz first, then every scenario in order,
// each with its ratio to /healthz and no errors.
func TestDrive(t *testing.T) {
	tgt := inProcessServer(t)
	ctx := context.Background()
	// Tickets for the webhooks first.
	if _, _, err := Intake(ctx, tgt, IntakeOptions{Clients: 2, Count: 6, Items: 2, Run: "seed"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "12 items linked", func() bool {
		items, linked, err := ItemCounts(ctx, tgt)
		return err == nil && items == 12 && linked == 12
	})
	results, err := Drive(ctx, tgt, DriveOptions{
		Scenarios: Scenarios, Clients: 2, Duration: 300 * time.Millisecond, Items: 2, Count: 10,
		AppliedTimeout: 20 * time.Second, Unfollowed: 20, ListLimit: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, r := range results {
		names = append(names, r.Name)
		if r.Accepted == 0 || len(r.Errors) > 0 {
			t.Errorf("%s: accepted %d, errors %s", r.Name, r.Accepted, r.ErrorText())
		}
		if i > 0 && r.Ratio <= 0 {
			t.Errorf("%s: no ratio to /healthz", r.Name)
		}
	}
	want := "healthz,intake,webhooks,unfollowed deliveries,GET /,GET /postmortems/{id},list API (limit 5, cursors),full cursor walk"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("scenarios %s, want %s", got, want)
	}
	var out bytes.Buffer
	if err := WriteResults(&out, results); err != nil {
		t.Fatal(err)
	}
	// The webhooks are about every linked ticket: the seed's 12 and those of the intake
	// scenario's postmortems linked by then.
	if m := regexp.MustCompile(`webhooks: applied: (\d+)/(\d+) tickets show their last event`).FindStringSubmatch(out.String()); m == nil ||
		m[1] != m[2] || len(m[1]) < 2 {
		t.Errorf("report lacks every ticket applied:\n%s", out.String())
	}
	// The intake scenario is bounded by time as well as by count, so on a busy machine it may
	// post fewer than its 10: the walk must see the seed's 6 and every one it did post.
	posted := 6
	for _, r := range results {
		if r.Name == "intake" {
			posted += int(r.Accepted)
		}
	}
	if want := fmt.Sprintf("full cursor walk: walk: %d postmortems in 1 pages, each seen exactly once", posted); !strings.Contains(out.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, out.String())
	}
	if _, err := Drive(ctx, tgt, DriveOptions{Scenarios: []string{"nonsense"}, Clients: 1, Duration: time.Millisecond}); err == nil {
		t.Error("an unknown scenario was accepted")
	}
}
