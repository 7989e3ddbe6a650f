// Command ftload measures a followthrough server from outside, over HTTP with keep-alive
// clients: `ftload run` drives a running server, `ftload bench` starts builds of followthrough
// itself and measures them side by side. See README.md, "Operations".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/followthrough/followthrough/internal/load"
)

const usage = `usage: ftload <command> [flags]

commands:
  run    drive a running server: ftload run --url URL --token TOKEN [--secret whsec_...]
         [--github-secret S] [--jira-secret S] [--scenarios LIST] [flags]
  bench  start each binary with stand-ins and measure them side by side:
         ftload bench --binary OLD [--binary NEW] [flags]
Run "ftload <command> -h" for the flags.`

// usageError is a wrong command line: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ftload:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usageError{errors.New("no command")}
	}
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:], stdout, stderr)
	case "bench":
		return benchCommand(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return usageError{fmt.Errorf("unknown command %q", args[0])}
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// list is a comma-separated flag value.
func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		t load.Target
		o load.DriveOptions
	)
	fs.StringVar(&t.URL, "url", os.Getenv("FOLLOWTHROUGH_URL"), "the server's base URL, without /v1 [$FOLLOWTHROUGH_URL]")
	fs.StringVar(&t.Token, "token", os.Getenv("FOLLOWTHROUGH_TOKEN"), "a bearer token of intake.tokens [$FOLLOWTHROUGH_TOKEN]")
	fs.StringVar(&t.IntakeSecret, "secret", os.Getenv("FOLLOWTHROUGH_SECRET"), "intake.secret (whsec_...): intake is signed with it [$FOLLOWTHROUGH_SECRET]")
	fs.StringVar(&t.GitHubSecret, "github-secret", os.Getenv("GITHUB_WEBHOOK_SECRET"), "github.webhook_secret [$GITHUB_WEBHOOK_SECRET]")
	fs.StringVar(&t.JiraSecret, "jira-secret", os.Getenv("JIRA_WEBHOOK_SECRET"), "jira.webhook_secret [$JIRA_WEBHOOK_SECRET]")
	fs.DurationVar(&t.RequestTimeout, "timeout", time.Minute, "bound of each request")
	scenarios := fs.String("scenarios", "intake,status-page,postmortem-page,list,walk",
		"comma-separated, run in this order after /healthz: "+strings.Join(load.Scenarios, ","))
	fs.IntVar(&o.Clients, "clients", 16, "keep-alive clients")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each timed scenario (and of /healthz)")
	fs.IntVar(&o.Items, "items", 5, "intake: action items per postmortem")
	fs.Int64Var(&o.Count, "count", 0, "intake: send this many postmortems instead of for --duration")
	fs.BoolVar(&o.Bearer, "bearer", false, "intake: send the token even when --secret is given")
	trackers := fs.String("trackers", "github,jira", "webhooks: tickets of these trackers")
	fs.IntVar(&o.MaxTickets, "tickets", 0, "webhooks: at most this many tickets (0: every linked ticket)")
	fs.DurationVar(&o.AppliedTimeout, "applied-timeout", 30*time.Second, "webhooks: how long to wait for every ticket to show its last event")
	fs.Int64Var(&o.Unfollowed, "unfollowed", 1000, "unfollowed: deliveries about issues the server does not follow")
	fs.IntVar(&o.ListLimit, "limit", 50, "list: postmortems a page")
	if err := parse(fs, args); err != nil {
		return err
	}
	if t.URL == "" {
		return usageError{errors.New("run: --url is required")}
	}
	o.Scenarios, o.Trackers = list(*scenarios), list(*trackers)
	results, err := load.Drive(ctx, t, o)
	if len(results) > 0 {
		fmt.Fprintf(stdout, "machine: %s\n\n", machineLine())
		if werr := load.WriteResults(stdout, results); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

func machineLine() string {
	m := load.ThisMachine()
	return fmt.Sprintf("%d CPUs (nproc), %s", m.CPUs, m.Model)
}

// binaries is a repeatable --binary flag.
type binaries []string

func (b *binaries) String() string     { return strings.Join(*b, ",") }
func (b *binaries) Set(v string) error { *b = append(*b, v); return nil }

func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o    load.BenchOptions
		bins binaries
	)
	fs.Var(&bins, "binary", "a followthrough binary to measure (repeat: one column each, e.g. before and after); PATH@postgres runs it on PostgreSQL, PATH@postgres:N as N processes sharing one database")
	fs.StringVar(&o.Postgres, "postgres", envOr("FOLLOWTHROUGH_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL server for @postgres columns (each phase gets its own schema, dropped afterwards)")
	fs.IntVar(&o.Clients, "clients", 16, "keep-alive clients of every scenario")
	fs.IntVar(&o.Items, "items", 5, "action items per postmortem")
	fs.DurationVar(&o.Healthz, "healthz", 5*time.Second, "length of the /healthz ceiling")
	fs.DurationVar(&o.Intake, "intake", 10*time.Second, "length of intake while tickets drain")
	fs.IntVar(&o.Backlog, "backlog", 5000, "items whose tickets the drain measures")
	fs.DurationVar(&o.Webhooks, "webhooks", 10*time.Second, "length of the burst of webhooks about the backlog's tickets")
	fs.DurationVar(&o.AppliedTimeout, "applied-timeout", 30*time.Second, "how long to wait for every ticket to show its last event")
	fs.IntVar(&o.Dataset, "dataset", 10000, "postmortems the status page and list API are read with")
	fs.DurationVar(&o.Reads, "reads", 10*time.Second, "length of each page's scenario")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", 10*time.Minute, "bound of every wait for tickets")
	fs.IntVar(&o.Unfollowed, "unfollowed", 0, "deliveries about unfollowed issues (0: skip that phase)")
	fs.DurationVar(&o.QueuedAfter, "queued-after", time.Minute, "how long after those deliveries the queued jobs are counted")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(bins) == 0 {
		return usageError{errors.New("bench: give at least one --binary")}
	}
	for _, b := range bins {
		c, err := load.ParseColumn(b)
		if err != nil {
			return usageError{err}
		}
		o.Columns = append(o.Columns, c)
	}
	if !*quiet {
		o.Log = stderr
	}
	cols, err := load.Bench(ctx, o)
	if len(cols) > 0 {
		if werr := load.WriteBenchTable(stdout, load.ThisMachine(), cols); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	for _, c := range cols {
		if c.Err != nil {
			return fmt.Errorf("%s: %w", c.Column, c.Err)
		}
	}
	return nil
}

// envOr is the environment variable's value, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
