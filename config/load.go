package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// purpose is what a configuration is loaded for: it decides which problems count.
type purpose int

const (
	forAny   purpose = iota // every problem of the file
	forServe                // and an open API is one more
	forLint                 // tracker credentials may be left out
)

// Load reads, decodes and validates the configuration file at path. Its error, when the file can
// be read, is Problems: every problem at once.
func Load(path string) (*Config, error) {
	return load(path, forAny)
}

// LoadForServe is Load for `serve` and `check-config`: a configuration that leaves the API open
// (no intake.tokens and no intake.secret) is one more problem, reported with the others.
func LoadForServe(path string) (*Config, error) {
	return load(path, forServe)
}

// LoadForLint is Load for `lint`, which only maps owners, reads ticket references and checks
// routes: the trackers' credentials may be left out, so that a postmortems repository can keep
// a copy of the service's routes and people without its secrets.
func LoadForLint(path string) (*Config, error) {
	return load(path, forLint)
}

func load(path string, p purpose) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, Problems{{File: path, Msg: "cannot read: " + err.Error()}}
	}
	return parse(path, data, p)
}

// Parse decodes and validates a configuration. file names it in problems, and relative
// <key>_file paths are read relative to its directory. The error is Problems.
func Parse(file string, data []byte) (*Config, error) {
	return parse(file, data, forAny)
}

func parse(file string, data []byte, p purpose) (*Config, error) {
	d := &decoder{file: file, dir: filepath.Dir(file), lines: map[string]int{}}
	c := Default()
	c.File = file

	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, Problems{{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, Problems{{File: file, Msg: "only one YAML document is allowed"}}
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		d.decode(root.Content[0], reflect.ValueOf(c).Elem(), "")
	}
	d.probs = append(d.probs, c.validate(d.lines, d.failed, p != forLint)...)
	if p == forServe && !slices.ContainsFunc(d.failed, func(p string) bool { return p == "intake" || strings.HasPrefix(p, "intake.") }) {
		if err := c.RequireIntakeAuth(); err != nil {
			open := err.(Problems)[0]
			open.Line = d.lines["intake"]
			d.probs = append(d.probs, open)
		}
	}
	// Problems come in the order of the file, whichever step found them.
	slices.SortStableFunc(d.probs, func(a, b Problem) int { return a.Line - b.Line })
	if len(d.probs) > 0 {
		return nil, d.probs
	}
	return c, nil
}

// decoder walks a YAML node tree alongside the Config types, which gives every problem its key
// path: strict keys, ${ENV} expansion, <secret>_file, days in durations, defaults kept for
// anything not given.
type decoder struct {
	file   string
	dir    string
	lines  map[string]int // key path -> line, for validation problems
	failed []string       // paths whose value could not be decoded
	probs  Problems
}

func (d *decoder) problem(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.probs = append(d.probs, Problem{File: d.file, Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
	d.failed = append(d.failed, path)
}

var (
	secretType   = reflect.TypeFor[Secret]()
	durationType = reflect.TypeFor[time.Duration]()
)

// fileSuffix turns a secret key into the key that names a file holding it.
const fileSuffix = "_file"

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

// decode sets v from n. A null leaves v as it was, with its default.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.lines[path] = n.Line
	if isNull(n) {
		return
	}
	t := v.Type()
	switch {
	case t == secretType:
		// Nothing about a secret's value goes into a message.
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case t == durationType:
		s, ok := d.scalar(n, path, "a duration")
		if !ok {
			return
		}
		dur, err := ParseDuration(s)
		switch {
		case errors.Is(err, errNegative):
			d.problem(n, path, "must not be negative")
		case err != nil:
			d.problem(n, path, "%v (use a Go duration such as 90m, or days such as 14d or 1d12h)", err)
		default:
			v.SetInt(int64(dur))
		}
	case t.Kind() == reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case t.Kind() == reflect.Bool:
		s, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			d.problem(n, path, "expected true or false, got %q", s)
			return
		}
		v.SetBool(b)
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			d.problem(n, path, "expected an integer, got %q", s)
			return
		}
		v.SetInt(i)
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(newDefault(t.Elem()))
		}
		d.decode(n, v.Elem(), path)
	case t.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.problem(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.decode(e, s.Index(i), indexPath(path, i))
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		d.decodeMap(n, v, path)
	default:
		panic("config: no decoder for " + t.String())
	}
}

// newDefault allocates a section with its defaults, so that a key left out keeps its default and
// a key given as zero stays zero.
func newDefault(t reflect.Type) reflect.Value {
	switch t {
	case reflect.TypeFor[GitHub]():
		return reflect.ValueOf(DefaultGitHub())
	case reflect.TypeFor[Jira]():
		return reflect.ValueOf(DefaultJira())
	}
	return reflect.New(t)
}

// scalar is the value of a scalar node with ${ENV} expanded.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.problem(n, path, "expected %s, got %s", want, kindName(n))
		return "", false
	}
	s, errs := expandEnv(n.Value)
	for _, e := range errs {
		d.problem(n, path, "%s", e)
	}
	return s, len(errs) == 0
}

// mapping checks that n is a mapping without duplicate keys and calls f for each pair in order.
func (d *decoder) mapping(n *yaml.Node, path string, f func(key string, k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.problem(k, path, "keys must be plain strings")
			continue
		}
		if k.Value == "<<" {
			d.problem(k, keyPath(path, k.Value), "merge keys are not supported")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.problem(k, keyPath(path, k.Value), "given twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		f(k.Value, k, val)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	fields := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = i
		}
	}
	given := map[string]bool{}
	type fileKey struct {
		field int
		key   string
		node  *yaml.Node
	}
	var files []fileKey
	d.mapping(n, path, func(key string, k, val *yaml.Node) {
		given[key] = true
		if i, ok := fields[key]; ok {
			d.decode(val, v.Field(i), keyPath(path, key))
			return
		}
		if base, ok := strings.CutSuffix(key, fileSuffix); ok {
			if i, ok := fields[base]; ok && isSecretField(t.Field(i).Type) {
				files = append(files, fileKey{field: i, key: base, node: val})
				return
			}
		}
		d.problem(k, keyPath(path, key), "unknown key")
	})
	for _, f := range files {
		fpath := keyPath(path, f.key+fileSuffix)
		if given[f.key] {
			d.problem(f.node, keyPath(path, f.key), "give %s or %s, not both", f.key, f.key+fileSuffix)
			continue
		}
		d.readSecretFile(f.node, v.Field(f.field), fpath)
	}
}

func isSecretField(t reflect.Type) bool {
	return t == secretType || t.Kind() == reflect.Slice && t.Elem() == secretType
}

// readSecretFile sets a Secret from a file's contents without its trailing newline, or a []Secret
// from a file's non-empty lines.
func (d *decoder) readSecretFile(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.lines[path] = n.Line
	// The secret itself is unknown when its file cannot be read.
	secretPath := strings.TrimSuffix(path, fileSuffix)
	name, ok := d.scalar(n, path, "a file name")
	if !ok {
		d.failed = append(d.failed, secretPath)
		return
	}
	if name == "" {
		d.problem(n, path, "empty file name")
		d.failed = append(d.failed, secretPath)
		return
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(d.dir, name)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		d.problem(n, path, "cannot read %s: %v", name, err)
		d.failed = append(d.failed, secretPath)
		return
	}
	if v.Type() == secretType {
		v.SetString(strings.TrimRight(string(data), "\r\n"))
		return
	}
	var list []Secret
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" {
			list = append(list, Secret(line))
		}
	}
	v.Set(reflect.ValueOf(list))
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	// Entries are added to what is there, so a partial map merges with the defaults.
	d.mapping(n, path, func(key string, _, val *yaml.Node) {
		e := reflect.New(t.Elem()).Elem()
		if old := v.MapIndex(reflect.ValueOf(key)); old.IsValid() {
			e.Set(old)
		}
		d.decode(val, e, keyPath(path, key))
		v.SetMapIndex(reflect.ValueOf(key), e)
	})
}

// expandEnv replaces ${NAME} with the environment variable NAME; "$${" stands for a literal "${".
// A "$" not followed by "{" is kept as it is. Problems never quote the string, which may be a
// secret; they name only the variable.
func expandEnv(s string) (string, []string) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var errs []string
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				errs = append(errs, "unterminated ${ (write $${ for a literal ${)")
				return s, errs
			}
			name := s[i+2 : i+end]
			i += end + 1
			if !envName(name) {
				errs = append(errs, "invalid environment variable reference (write ${NAME} with letters, digits and _, or $${ for a literal ${)")
				continue
			}
			val, ok := os.LookupEnv(name)
			if !ok {
				errs = append(errs, "environment variable "+name+" is not set")
				continue
			}
			b.WriteString(val)
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), errs
}

func envName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
