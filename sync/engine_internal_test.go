package sync

import (
	"errors"
	"fmt"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		retryable bool
		after     time.Duration
	}{
		{"tracker says retry", &ft.TrackerError{Retryable: true, RetryAfter: 7 * time.Second}, true, 7 * time.Second},
		{"tracker says final", fmt.Errorf("wrapped: %w", &ft.TrackerError{Retryable: false}), false, 0},
		{"our own database error", errors.New("database is locked (5) (SQLITE_BUSY)"), true, 0},
		{"marked final", final(errors.New("bad payload")), false, 0},
		{"marked final, wrapped", fmt.Errorf("job 3: %w", final(errors.New("github is not configured"))), false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			retryable, after := classify(tc.err)
			if retryable != tc.retryable || after != tc.after {
				t.Fatalf("classify = %v, %v; want %v, %v", retryable, after, tc.retryable, tc.after)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://hooks.example.com/services/T0/B0/XXXX?token=s3cret": "https://hooks.example.com",
		"http://127.0.0.1:9/notify":                                  "http://127.0.0.1:9",
		"::not a url":                                                "a notify URL",
	} {
		if got := redactURL(raw); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
