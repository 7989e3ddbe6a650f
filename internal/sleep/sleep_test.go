package sleep

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestForWaitsOrEndsWithTheContext(t *testing.T) {
	start := time.Now()
	if err := For(context.Background(), 20*time.Millisecond); err != nil || time.Since(start) < 20*time.Millisecond {
		t.Errorf("waited %v, %v; want 20ms, nil", time.Since(start), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	if err := For(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("with an ended context: waited %v, %v; want at once, context.Canceled", time.Since(start), err)
	}
}
