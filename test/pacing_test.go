package test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// waitingView is an item's waiting, as the API shows it.
type waitingView struct {
	ID      string
	Sync    string
	Waiting *struct {
		Reason string
		Until  time.Time
	}
}

// TestPacedItemsSayWhyTheyWait: with github.write_interval at 20s, a burst of four items
// gets one ticket at once; the other three wait their turns 20 s apart, and say so, until when,
// on the API, on their page and in /metrics; none is created early.
func TestPacedItemsSayWhyTheyWait(t *testing.T) { forEachBackend(t, testPacedItemsSayWhyTheyWait) }

func testPacedItemsSayWhyTheyWait(t *testing.T, b backend) {
	e := newTrackerEnv(t, envOptions{backend: b, writeInterval: "20s"})
	s := e.start()
	const pm = "PM-2026-PACE"
	var items []aiDoc
	for i := 1; i <= 4; i++ {
		items = append(items, aiDoc{ID: fmt.Sprintf("AI-%d", i), Title: fmt.Sprintf("Action %d", i), Owner: "bob@acme.com", Priority: "P1"})
	}
	e.post(newPM(pm, "A burst", items...), http.StatusAccepted)

	var v struct{ Items []waitingView }
	eventually(t, 10*time.Second, "one item linked, three waiting", func() bool {
		s.getJSON("/v1/postmortems/"+pm, testToken, &v)
		linked, waiting := 0, 0
		for _, it := range v.Items {
			if it.Sync == "linked" {
				linked++
			}
			if it.Waiting != nil {
				waiting++
			}
		}
		return linked == 1 && waiting == 3
	})
	var turns []time.Time
	for _, it := range v.Items {
		if it.Waiting == nil {
			continue
		}
		if it.Sync != "pending" || !strings.Contains(it.Waiting.Reason, "github.write_interval") {
			t.Errorf("%s: sync %s, waiting %+v", it.ID, it.Sync, it.Waiting)
		}
		turns = append(turns, it.Waiting.Until)
	}
	// The worker runs a few jobs at once, so which item gets which turn varies; the turns do
	// not.
	slices.SortFunc(turns, time.Time.Compare)
	for i := 1; i < len(turns); i++ {
		if gap := turns[i].Sub(turns[i-1]); gap != 20*time.Second {
			t.Errorf("turns %v: %v apart, want 20s", turns, gap)
		}
	}
	if n := len(e.gh.Issues(defaultRepo)); n != 1 {
		t.Errorf("%d issues while three wait, want 1", n)
	}

	_, body := s.do(http.MethodGet, "/metrics", "", nil)
	metrics := string(body)
	if !strings.Contains(metrics, "\nfollowthrough_items_waiting{tracker=\"github\"} 3\n") ||
		!strings.Contains(metrics, "\nfollowthrough_items_waiting{tracker=\"jira\"} 0\n") {
		t.Errorf("metrics do not count the waiting items:\n%s", grepLines(metrics, "followthrough_items_waiting"))
	}
	last := turns[len(turns)-1]
	if !strings.Contains(metrics, "\nfollowthrough_items_waiting_until_seconds{tracker=\"github\"} "+strconv.FormatFloat(float64(last.Unix()), 'g', -1, 64)+"\n") {
		t.Errorf("metrics do not say until %v (%d):\n%s", last, last.Unix(), grepLines(metrics, "followthrough_items_waiting"))
	}
	code, page := s.do(http.MethodGet, "/postmortems/"+pm, "", nil)
	if code != http.StatusOK || strings.Count(string(page), "github.write_interval") != 3 {
		t.Errorf("the page does not say why three items wait: %d", code)
	}
}

// grepLines are the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
