package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// errNegative is ParseDuration's error for a negative duration.
var errNegative = errors.New("must not be negative")

// ParseDuration reads a Go duration ("90m", "1h30m") or whole days followed by an optional Go
// duration ("14d", "1d12h"). Negative durations are refused: no setting has a use for them.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("invalid duration: empty")
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i < len(s) && s[i] == 'd' {
		days, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || days > int64(math.MaxInt64/(24*time.Hour)) {
			return 0, fmt.Errorf("invalid duration %q: too many days", s)
		}
		d := time.Duration(days) * 24 * time.Hour
		if rest := s[i+1:]; rest != "" {
			r, err := time.ParseDuration(rest)
			if err != nil || r < 0 {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			if d > math.MaxInt64-r {
				return 0, fmt.Errorf("invalid duration %q: too long", s)
			}
			d += r
		}
		return d, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	if d < 0 {
		return 0, errNegative
	}
	return d, nil
}
