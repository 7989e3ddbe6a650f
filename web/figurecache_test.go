package web

import (
	"errors"
	"fmt"
	"testing"
)

func TestFigureCache(t *testing.T) {
	var c figureCache
	calls := 0
	compute := func(v string) func() (any, error) {
		return func() (any, error) { calls++; return v, nil }
	}
	steps := []struct {
		key     string
		changes int64
		value   string // what fn would compute
		want    string
		calls   int
	}{
		{"a", 1, "a1", "a1", 1},
		{"a", 1, "a1'", "a1", 1}, // kept while nothing changed
		{"b", 1, "b1", "b1", 2},
		{"a", 2, "a2", "a2", 3}, // a commit drops everything
		{"b", 2, "b2", "b2", 4},
		{"a", 2, "a2'", "a2", 4},
	}
	for i, s := range steps {
		v, err := c.get(s.key, s.changes, compute(s.value))
		if err != nil || v != s.want || calls != s.calls {
			t.Fatalf("step %d: %v, %v after %d computations; want %s after %d", i, v, err, calls, s.want, s.calls)
		}
	}
	// Errors are not kept.
	boom := errors.New("boom")
	if _, err := c.get("c", 2, func() (any, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if v, err := c.get("c", 2, compute("c2")); err != nil || v != "c2" {
		t.Fatalf("after an error: %v, %v", v, err)
	}
	// The cache is bounded.
	for i := range 3 * maxCachedFigures {
		if _, err := c.get(fmt.Sprint("k", i), 2, compute("v")); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.entries); n > maxCachedFigures {
		t.Fatalf("%d entries, at most %d", n, maxCachedFigures)
	}
}
