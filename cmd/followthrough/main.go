// Command followthrough turns signed-off postmortems' action items into GitHub and Jira tickets
// and follows them to completion. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/followthrough/followthrough/app"
	"github.com/followthrough/followthrough/cli"
	"github.com/followthrough/followthrough/config"
	"github.com/followthrough/followthrough/store"
)

// Exit codes of the contract.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// version is set at build time with -ldflags "-X main.version=..."; else the module version.
var version = ""

// usageError is a wrong command line or configuration: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitStatus is a command that has said everything itself and only sets the exit code (lint,
// submit).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// statusError is nil for exit code 0, else the exit code as an error.
func statusError(code int) error {
	if code == exitOK {
		return nil
	}
	return exitStatus(code)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var status exitStatus
	if errors.As(err, &status) {
		os.Exit(int(status))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "followthrough:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(exitUsage)
		}
		os.Exit(exitRuntime)
	}
	os.Exit(exitOK)
}

const usage = `usage: followthrough <command> [flags]

commands:
  serve [--config FILE] [--listen ADDR] [--db FILE]   run the server
  serve --dev [--listen ADDR] [--db FILE]             run with stand-ins for GitHub and Jira, no accounts
  migrate [--config FILE] [--db FILE]                 apply database migrations and exit
  copy-db --from SOURCE --to TARGET                   copy a stopped service's database into an empty one
                                                      (SQLite file or postgres:// URL, either way)
  check-config [--config FILE]                        validate the configuration, print every problem
  lint [--config FILE] FILE...                        check postmortem files (.md, .markdown, .json) as intake would
  submit [--url URL] [--token T | --secret whsec_...] [--dry-run] FILE...
                                                      lint, then send postmortem files to the service
  version                                             print the version
The config file may also come from FOLLOWTHROUGH_CONFIG; submit's URL and credential from
FOLLOWTHROUGH_URL and FOLLOWTHROUGH_TOKEN or FOLLOWTHROUGH_SECRET.`

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usageError{errors.New("no command")}
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, logger)
	case "migrate":
		return migrate(ctx, args[1:], stderr, logger)
	case "check-config":
		return checkConfig(args[1:], stdout, stderr)
	case "copy-db":
		return copyDB(ctx, args[1:], stdout, stderr, logger)
	case "lint":
		return statusError(cli.LintCommand(args[1:], stdout, stderr, os.Getenv))
	case "submit":
		return statusError(cli.SubmitCommand(ctx, args[1:], stdout, stderr, os.Getenv))
	case "version":
		if err := parseFlags(newFlagSet("version", stderr), args[1:]); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "followthrough", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return usageError{fmt.Errorf("unknown command %q", args[0])}
}

func versionString() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// loadConfig reads --config, else FOLLOWTHROUGH_CONFIG; a missing name is a usage error.
// forServe also counts an open API (no intake credentials) as a problem.
func loadConfig(path string, forServe bool) (*config.Config, error) {
	if path == "" {
		path = os.Getenv("FOLLOWTHROUGH_CONFIG")
	}
	if path == "" {
		return nil, usageError{errors.New("no configuration: give --config FILE or set FOLLOWTHROUGH_CONFIG")}
	}
	load := config.Load
	if forServe {
		load = config.LoadForServe
	}
	cfg, err := load(path)
	if err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, logger *slog.Logger) error {
	fs := newFlagSet("serve", stderr)
	configPath := fs.String("config", "", "configuration file (or FOLLOWTHROUGH_CONFIG)")
	listen := fs.String("listen", "", "address to listen on, overrides listen")
	db := fs.String("db", "", "database (SQLite file or postgres:// URL), overrides database")
	dev := fs.Bool("dev", false, "run with stand-ins for GitHub and Jira, a temporary database and a random token")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *listen != "" {
		if _, _, err := net.SplitHostPort(*listen); err != nil {
			return usageError{fmt.Errorf("--listen: must be host:port such as 127.0.0.1:8080: %w", err)}
		}
	}
	if err := checkDatabaseFlag("--db", *db); err != nil {
		return err
	}
	if *dev {
		if *configPath != "" {
			return usageError{errors.New("--dev runs without a configuration file: leave out --config")}
		}
		return serveDev(ctx, *listen, *db, stdout, logger)
	}
	cfg, err := loadConfig(*configPath, true)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *db != "" {
		cfg.Database = config.Secret(*db)
	}
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: logger})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

func serveDev(ctx context.Context, listen, db string, stdout io.Writer, logger *slog.Logger) error {
	if listen == "" {
		listen = "127.0.0.1:8080"
	}
	dev, err := app.NewDev(listen, db)
	if err != nil {
		return err
	}
	defer dev.Close()
	a, err := app.New(ctx, app.Options{Config: dev.Config, Dev: true, Logger: logger})
	if err != nil {
		return err
	}
	base := "http://" + a.Addr()
	dev.SetPublicURL(base)
	api := base + "/v1"
	fmt.Fprintf(stdout, "status page: %s/\napi: %s\ntoken: %s\ncurl: %s\n", base, api, dev.Token, app.CurlCommand(api, dev.Token))
	go func() {
		if err := app.LoadSample(ctx, api, dev.Token); err != nil {
			logger.Error("dev sample", slog.String("error", err.Error()))
		}
	}()
	return a.Run(ctx)
}

func migrate(ctx context.Context, args []string, stderr io.Writer, logger *slog.Logger) error {
	fs := newFlagSet("migrate", stderr)
	configPath := fs.String("config", "", "configuration file (or FOLLOWTHROUGH_CONFIG)")
	db := fs.String("db", "", "database (SQLite file or postgres:// URL), overrides database")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkDatabaseFlag("--db", *db); err != nil {
		return err
	}
	// --db alone is enough; with a configuration, --db overrides its database.
	path := *db
	if *configPath != "" || os.Getenv("FOLLOWTHROUGH_CONFIG") != "" || path == "" {
		cfg, err := loadConfig(*configPath, false)
		if err != nil {
			return err
		}
		if path == "" {
			path = cfg.Database.Value()
		}
	}
	st, err := store.Open(ctx, path, logger)
	if err != nil {
		return err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return err
	}
	return st.Close()
}

func copyDB(ctx context.Context, args []string, stdout, stderr io.Writer, logger *slog.Logger) error {
	fs := newFlagSet("copy-db", stderr)
	from := fs.String("from", "", "the database to copy: a SQLite file or a postgres:// URL")
	to := fs.String("to", "", "the empty database to copy into: a SQLite file or a postgres:// URL")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usageError{errors.New("copy-db: give --from SOURCE and --to TARGET")}
	}
	if err := checkDatabaseFlag("--from", *from); err != nil {
		return err
	}
	if err := checkDatabaseFlag("--to", *to); err != nil {
		return err
	}
	copied, err := store.Copy(ctx, *from, *to, logger)
	if err != nil {
		return fmt.Errorf("copy-db: %w", err)
	}
	total := int64(0)
	for _, t := range copied {
		fmt.Fprintf(stdout, "%s: %d rows\n", t.Name, t.Rows)
		total += t.Rows
	}
	fmt.Fprintf(stdout, "copied %d rows from %s to %s; the row counts of all %d tables agree\n",
		total, store.RedactDatabase(*from), store.RedactDatabase(*to), len(copied))
	return nil
}

// checkDatabaseFlag checks a database given on the command line as the configuration's
// database is checked: a wrong one is a usage error, and the message never quotes it.
func checkDatabaseFlag(flag, db string) error {
	if db == "" {
		return nil
	}
	if p := config.DatabaseProblem(db); p != "" {
		return usageError{fmt.Errorf("%s: %s", flag, p)}
	}
	return nil
}

func checkConfig(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check-config", stderr)
	configPath := fs.String("config", "", "configuration file (or FOLLOWTHROUGH_CONFIG)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath, true)
	if err != nil {
		var ue usageError
		var problems config.Problems
		if errors.As(err, &ue) && errors.As(ue.err, &problems) {
			for _, p := range problems {
				fmt.Fprintln(stdout, p.String())
			}
			return usageError{fmt.Errorf("%d problems in the configuration", len(problems))}
		}
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", cfg.File)
	return nil
}
