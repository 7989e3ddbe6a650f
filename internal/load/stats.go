package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Result is what one scenario measured.
type Result struct {
	Name     string
	Clients  int
	Elapsed  time.Duration // from the first request to the last answer
	Sent     int           // requests sent (answered or not)
	Accepted int           // answered 2xx
	// Latency of the answered requests (any status), from sending to the end of the body.
	P50, P99, Max time.Duration
	// Errors counts every request not accepted: "status 503", "transport: timeout", ...
	Errors map[string]int
	// Ratio is AcceptedPerSecond divided by the /healthz rate measured in the same run (0:
	// not known).
	Ratio float64
	// Notes are the scenario's own findings, in order.
	Notes []Note
}

// Note is one finding of a scenario beyond its rates, e.g. {"applied", "4000/4000 tickets ..."}.
type Note struct{ Label, Value string }

// AcceptedPerSecond is the rate of 2xx answers over the scenario's time.
func (r Result) AcceptedPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Accepted) / r.Elapsed.Seconds()
}

// ErrorText lists the errors by kind, most frequent first ("none" without any).
func (r Result) ErrorText() string {
	if len(r.Errors) == 0 {
		return "none"
	}
	kinds := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if r.Errors[kinds[i]] != r.Errors[kinds[j]] {
			return r.Errors[kinds[i]] > r.Errors[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s ×%d", k, r.Errors[k])
	}
	return strings.Join(parts, ", ")
}

// Note adds a finding.
func (r *Result) Note(label, format string, args ...any) {
	r.Notes = append(r.Notes, Note{Label: label, Value: fmt.Sprintf(format, args...)})
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted: the smallest value
// that at least p% of the values are at or below. Zero for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// recorder collects one client's outcomes; a scenario merges its clients' recorders.
type recorder struct {
	latencies []time.Duration
	accepted  int
	sent      int
	errors    map[string]int
}

func newRecorder() *recorder { return &recorder{errors: map[string]int{}} }

// answered records a request that got an answer with that status after d.
func (r *recorder) answered(status int, d time.Duration) {
	r.sent++
	r.latencies = append(r.latencies, d)
	if statusOK(status) {
		r.accepted++
		return
	}
	r.errors[fmt.Sprintf("status %d", status)]++
}

// failed records a request that got no answer.
func (r *recorder) failed(err error) {
	r.sent++
	r.errors["transport: "+transportKind(err)]++
}

// merge combines the clients' recorders into a Result.
func merge(name string, clients int, elapsed time.Duration, recs []*recorder) Result {
	res := Result{Name: name, Clients: clients, Elapsed: elapsed, Errors: map[string]int{}}
	var all []time.Duration
	for _, r := range recs {
		res.Sent += r.sent
		res.Accepted += r.accepted
		all = append(all, r.latencies...)
		for k, n := range r.errors {
			res.Errors[k] += n
		}
	}
	slices.Sort(all)
	res.P50, res.P99 = Percentile(all, 50), Percentile(all, 99)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	return res
}

// transportKind names a failed request's cause in a few words, so that errors group.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port"
	}
	return "other"
}

// formatRate is a per-second rate for a table.
func formatRate(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// formatLatency is a duration in milliseconds for a table.
func formatLatency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.2f ms", ms)
}

// statusOK says whether an HTTP status counts as accepted.
func statusOK(code int) bool { return code >= 200 && code < 300 }

// WriteResults prints one row per scenario (accepted/s, latencies, errors, the share of the
// /healthz rate) and, under it, the scenario's findings.
func WriteResults(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tclients\taccepted/s\tp50\tp99\tmax\tof /healthz\terrors")
	for _, r := range results {
		ratio := "-"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.1f%%", 100*r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Clients, formatRate(r.AcceptedPerSecond()),
			formatLatency(r.P50), formatLatency(r.P99), formatLatency(r.Max), ratio, r.ErrorText())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "%s: %s: %s\n", r.Name, n.Label, n.Value)
		}
	}
	return nil
}
