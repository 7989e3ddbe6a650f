package load

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildFollowthrough builds the real binary, as test/ does.
func buildFollowthrough(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "followthrough")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/followthrough").CombinedOutput()
	if err != nil {
		t.Fatalf("build followthrough: %v\n%s", err, out)
	}
	return bin
}

// A short bench of the real binary produces a figure for every scenario, with no error and
// every check passed.
func TestBenchEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the followthrough binary")
	}
	bin := buildFollowthrough(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	cols, err := Bench(ctx, BenchOptions{
		Columns: []Column{{Binary: bin, Replicas: 1}}, Clients: 4, Items: 3,
		Healthz: 500 * time.Millisecond, Intake: 500 * time.Millisecond,
		Backlog: 30, Webhooks: 500 * time.Millisecond, AppliedTimeout: 60 * time.Second,
		Dataset: 25, Reads: 500 * time.Millisecond, DrainTimeout: time.Minute,
		Unfollowed: 60, QueuedAfter: 200 * time.Millisecond,
		Log: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 1 {
		t.Fatalf("%d columns, want 1", len(cols))
	}
	col := cols[0]
	if col.Err != nil || len(col.Problems) > 0 {
		t.Fatalf("error %v, problems %q\nprogress:\n%s", col.Err, col.Problems, progress.String())
	}
	rows := map[string]string{}
	for _, r := range col.Rows {
		rows[r.Label] = r.Value
	}
	positive := regexp.MustCompile(`^[0-9.]+`)
	// Each rate is a positive number.
	for _, label := range []string{
		"healthz: accepted/s",
		"intake (3 items each, 500ms): accepted/s",
		"intake (3 items each, 500ms): of /healthz rate",
		"backlog (30 items): tickets/s",
		"backlog (30 items): tracker calls/ticket",
		"webhooks (500ms): accepted/s",
		"webhooks (500ms): applied/s",
		"dataset (25 postmortems): loaded at",
		"dataset (25 postmortems): tickets/s",
		"GET /: accepted/s",
		"GET /postmortems/{id}: accepted/s",
		"list API (limit 50, cursors): accepted/s",
		"server RSS at the end (peak)",
		"unfollowed (60 deliveries): accepted/s",
		"unfollowed (60 deliveries): before: tickets/s",
		"unfollowed (60 deliveries): after: tickets/s",
		"unfollowed (60 deliveries): database growth",
		"unfollowed (60 deliveries): payload",
	} {
		v, ok := rows[label]
		if !ok {
			t.Errorf("no row %q; rows: %v", label, rows)
			continue
		}
		f, err := strconv.ParseFloat(positive.FindString(v), 64)
		if err != nil || f <= 0 {
			t.Errorf("%s = %q, want a positive figure", label, v)
		}
	}
	for label, want := range map[string]string{
		"healthz: errors":                                     "none",
		"intake (3 items each, 500ms): errors":                "none",
		"webhooks (500ms): errors":                            "none",
		"webhooks (500ms): tickets":                           "30 (15 github, 15 jira)",
		"backlog (30 items): drained":                         "30 tickets in",
		"dataset (25 postmortems): drained":                   "75 tickets in",
		"full cursor walk: check":                             "25 postmortems in 1 pages, each seen exactly once",
		"unfollowed (60 deliveries): errors":                  "none",
		"unfollowed (60 deliveries): jobs queued 200ms later": "",
	} {
		v, ok := rows[label]
		if !ok || !strings.HasPrefix(v, want) {
			t.Errorf("%s = %q, want it to start with %q", label, v, want)
		}
	}
	if v := rows["webhooks (500ms): applied"]; !strings.HasPrefix(v, "30/30 tickets show their last event") {
		t.Errorf("webhooks applied: %q", v)
	}
	for _, label := range []string{"GET /: p50 / p99 / max", "webhooks (500ms): p50 / p99 / max"} {
		if !regexp.MustCompile(`^[0-9.]+ ms / [0-9.]+ ms / [0-9.]+ ms$`).MatchString(rows[label]) {
			t.Errorf("%s = %q, want three latencies", label, rows[label])
		}
	}
	for _, label := range []string{"intake (3 items each, 500ms): database writer", "webhooks (500ms): database writer"} {
		if !regexp.MustCompile(`^busy [0-9]+% of the time, [0-9]+% of that committing; [0-9.]+ transactions a commit$`).MatchString(rows[label]) {
			t.Errorf("%s = %q, want the writer's busy time, its commits' part and transactions a commit", label, rows[label])
		}
	}
	var table bytes.Buffer
	if err := WriteBenchTable(&table, ThisMachine(), cols); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), bin) || strings.Contains(table.String(), "problem:") {
		t.Errorf("table:\n%s", table.String())
	}
}

// TestWriterNote: the writer's figures are worked out from two samples of its counters, and
// left out when a sample failed (a server that does not report them).
func TestWriterNote(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	before := writerSample{at: start, values: []float64{100, 10, 1, 0.5}}
	after := writerSample{at: start.Add(10 * time.Second), values: []float64{1100, 110, 9, 4.5}}
	var r Result
	before.note(after, &r)
	want := []Note{{Label: "database writer", Value: "busy 80% of the time, 50% of that committing; 10.0 transactions a commit"}}
	if !reflect.DeepEqual(r.Notes, want) {
		t.Errorf("notes %v, want %v", r.Notes, want)
	}
	r = Result{}
	writerSample{err: errors.New("/metrics has no followthrough_db_writer_busy_seconds_total")}.note(after, &r)
	if len(r.Notes) != 0 {
		t.Errorf("notes %v from a failed sample, want none", r.Notes)
	}
}

func TestParseColumn(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Column
		err  string
	}{
		{in: "/tmp/ft", want: Column{Binary: "/tmp/ft", Replicas: 1}},
		{in: "/tmp/ft@postgres", want: Column{Binary: "/tmp/ft", Postgres: true, Replicas: 1}},
		{in: "/tmp/ft@postgres:2", want: Column{Binary: "/tmp/ft", Postgres: true, Replicas: 2}},
		{in: "/tmp/ft@mysql", err: "must be postgres"},
		{in: "/tmp/ft@postgres:0", err: "replicas must be"},
		{in: "/tmp/ft@postgres:x", err: "replicas must be"},
		{in: "@postgres", err: "names no binary"},
	} {
		got, err := ParseColumn(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseColumn(%q) error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseColumn(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.in {
			t.Errorf("%+v prints as %q, want %q", got, got.String(), tc.in)
		}
	}
}
