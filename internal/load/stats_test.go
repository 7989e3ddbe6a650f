package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(i + 1) // 1 ms … 100 ms
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{ms(7)}, 99, ms(7)},
		{"p50 of 1..100", hundred, 50, ms(50)},
		{"p99 of 1..100", hundred, 99, ms(99)},
		{"p100 of 1..100", hundred, 100, ms(100)},
		{"p1 of 1..100", hundred, 1, ms(1)},
		// Nearest rank: ceil(0.5*4) = 2nd value; ceil(0.99*4) = 4th.
		{"p50 of four", []time.Duration{ms(1), ms(2), ms(3), ms(40)}, 50, ms(2)},
		{"p99 of four", []time.Duration{ms(1), ms(2), ms(3), ms(40)}, 99, ms(40)},
		{"p50 of five", []time.Duration{ms(1), ms(2), ms(3), ms(4), ms(5)}, 50, ms(3)},
	}
	for _, tt := range tests {
		if got := Percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

// Two clients' outcomes merge into one report: only 2xx is accepted, every other status and
// every transport error is counted by kind, and the latencies are those of answered requests.
func TestMerge(t *testing.T) {
	a, b := newRecorder(), newRecorder()
	for i := 1; i <= 98; i++ {
		a.answered(202, ms(i))
	}
	a.answered(200, ms(99))
	b.answered(503, ms(500))
	b.answered(404, ms(2))
	b.answered(503, ms(3))
	b.failed(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED})
	b.failed(fmt.Errorf("read: %w", io.ErrUnexpectedEOF))
	b.failed(context.DeadlineExceeded)

	r := merge("intake", 2, 2*time.Second, []*recorder{a, b})
	if r.Sent != 105 || r.Accepted != 99 {
		t.Errorf("sent %d accepted %d, want 105 and 99", r.Sent, r.Accepted)
	}
	if got := r.AcceptedPerSecond(); got != 49.5 {
		t.Errorf("accepted/s %v, want 49.5", got)
	}
	// 102 answered latencies: 1..99 ms, 2, 3 and 500 ms; sorted, k ms (k >= 4) is value k+2,
	// so rank 51 (p50) is 49 ms and rank 101 (p99) is 99 ms.
	if r.P50 != ms(49) || r.P99 != ms(99) || r.Max != ms(500) {
		t.Errorf("p50 %s p99 %s max %s, want 49ms 99ms 500ms", r.P50, r.P99, r.Max)
	}
	want := map[string]int{"status 503": 2, "status 404": 1, "transport: connection refused": 1,
		"transport: connection closed": 1, "transport: timeout": 1}
	if fmt.Sprint(r.Errors) != fmt.Sprint(want) {
		t.Errorf("errors %v, want %v", r.Errors, want)
	}
	if got, want := r.ErrorText(), "status 503 ×2, status 404 ×1, transport: connection closed ×1, transport: connection refused ×1, transport: timeout ×1"; got != want {
		t.Errorf("error text %q, want %q", got, want)
	}
	if got := (Result{}).ErrorText(); got != "none" {
		t.Errorf("no errors: %q", got)
	}
	if got := (Result{Accepted: 5}).AcceptedPerSecond(); got != 0 {
		t.Errorf("no elapsed time: %v/s", got)
	}
}

func TestTransportKind(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, "timeout"},
		{context.Canceled, "canceled"},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), "connection refused"},
		{fmt.Errorf("write: %w", syscall.EPIPE), "connection reset"},
		{io.EOF, "connection closed"},
		{errors.New("something else"), "other"},
	}
	for _, tt := range tests {
		if got := transportKind(tt.err); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestWriteResults(t *testing.T) {
	h := Result{Name: "healthz", Clients: 16, Elapsed: time.Second, Accepted: 20000, P50: ms(1), P99: ms(4), Max: ms(12)}
	in := Result{Name: "intake", Clients: 16, Elapsed: 2 * time.Second, Accepted: 1000, Sent: 1001,
		P50: 1500 * time.Microsecond, P99: ms(57), Max: ms(230), Errors: map[string]int{"status 503": 1}, Ratio: 0.025}
	in.Note("tickets/s meanwhile", "%d", 144)
	var out bytes.Buffer
	if err := WriteResults(&out, []Result{h, in}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"healthz   16       20000       1.00 ms  4.00 ms  12.0 ms  -            none",
		"intake    16       500         1.50 ms  57.0 ms  230 ms   2.5%         status 503 ×1",
		"intake: tickets/s meanwhile: 144",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestWriteBenchTable(t *testing.T) {
	before := BenchColumn{Column: Column{Binary: "/tmp/ft-main", Replicas: 1}, Rows: []Note{{"healthz: accepted/s", "14000"}, {"intake: accepted/s", "527"}}}
	after := BenchColumn{Column: Column{Binary: "/tmp/ft-new", Postgres: true, Replicas: 2}, Rows: []Note{{"healthz: accepted/s", "14100"}, {"intake: accepted/s", "6100"},
		{"intake: new figure", "1"}}, Problems: []string{"webhooks: 3/4 applied"}}
	var out bytes.Buffer
	if err := WriteBenchTable(&out, Machine{CPUs: 2, Model: "AMD EPYC"}, []BenchColumn{before, after}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"machine: 2 CPUs (nproc), AMD EPYC",
		"figure               /tmp/ft-main  /tmp/ft-new@postgres:2",
		"intake: accepted/s   527           6100",
		"intake: new figure   -             1",
		"problem: /tmp/ft-new@postgres:2: webhooks: 3/4 applied",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
