package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/followthrough/followthrough/config"
)

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFiles parses flags wherever they stand among the file names (CI scripts append file
// lists), and returns the files and their formats; false when the command line is wrong (no
// file, or a file of another kind), which has been said. Nothing is done before it is right.
func parseFiles(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, []Format, bool) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		files = append(files, args[0])
		args = args[1:]
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "followthrough %s: give at least one FILE\n", fs.Name())
		return nil, nil, false
	}
	formats := make([]Format, len(files))
	ok := true
	for i, name := range files {
		f, err := FormatOf(name)
		if err != nil {
			fmt.Fprintln(stderr, "followthrough:", err)
			ok = false
		}
		formats[i] = f
	}
	return files, formats, ok
}

// loadConfig reads --config, else FOLLOWTHROUGH_CONFIG; with neither there is no configuration
// (nil). A configuration with problems prints them as check-config does and is not used.
func loadConfig(path string, getenv func(string) string, stderr io.Writer) (*config.Config, bool) {
	if path == "" {
		path = getenv("FOLLOWTHROUGH_CONFIG")
	}
	if path == "" {
		return nil, true
	}
	cfg, err := config.LoadForLint(path)
	if err != nil {
		var problems config.Problems
		if errors.As(err, &problems) {
			for _, p := range problems {
				fmt.Fprintln(stderr, p.String())
			}
		} else {
			fmt.Fprintln(stderr, "followthrough:", err)
		}
		return nil, false
	}
	return cfg, true
}

// readFile reads a postmortem file; the error names the file once and says why.
func readFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	return b, nil
}
