package config

import (
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration file. It never holds a secret's value.
type Problem struct {
	File string // the configuration file, "" for a Config built in code
	Path string // key path such as routes[1].to.project; "" for the file as a whole
	Line int    // line in File when known, else 0; not part of the message
	Msg  string // what is wrong
}

// String is the problem as check-config prints it: "FILE: key.path: what is wrong".
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in a configuration, in the order of the file (by line). Load, Parse and
// Validate return it as their error so that all of them can be reported at once.
type Problems []Problem

// Error prints every problem, one per line, without a trailing newline.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// err returns ps as an error, or a true nil when there is no problem.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// keyPath appends a mapping key to a path: dotted for plain keys, quoted in brackets otherwise
// (a Jira status name such as "Won't Do").
func keyPath(path, key string) string {
	if !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath appends a list index to a path.
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
