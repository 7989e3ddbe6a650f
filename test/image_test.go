package test

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The container image cannot be built here (no Docker engine, no registry), so its binary is
// built the way the Dockerfile builds it: the `go build` line is read from the Dockerfile, its
// ${ARG}s expanded, and run on a copy of the build context filtered by .dockerignore. TestMain
// builds every end-to-end test's binary that way, so the whole suite runs the image's binary,
// and TestImageBinary checks what the image promises of it.

// imageVersion is the VERSION build argument the tests give.
const imageVersion = "0.0.0-imagetest"

// imageUID is the user the image runs as (distroless "nonroot").
const imageUID = 65532

// imageBuild is the Dockerfile's `go build` command.
type imageBuild struct {
	env  []string // NAME=value words before `go`
	args []string // the words after `go`
}

// readImageBuild finds the one RUN instruction of the Dockerfile that runs `go build` and
// returns it with ${NAME} expanded from the ARG defaults, overridden by overrides.
func readImageBuild(dockerfile string, overrides map[string]string) (imageBuild, error) {
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		return imageBuild{}, err
	}
	args := map[string]string{}
	var found []imageBuild
	for _, in := range dockerInstructions(string(data)) {
		keyword, rest, _ := strings.Cut(in, " ")
		switch strings.ToUpper(keyword) {
		case "ARG":
			name, def, _ := strings.Cut(strings.TrimSpace(rest), "=")
			args[name] = def
		case "RUN":
			words, err := shellWords(rest, func(name string) (string, bool) {
				if v, ok := overrides[name]; ok {
					return v, true
				}
				v, ok := args[name]
				return v, ok
			})
			if err != nil {
				return imageBuild{}, fmt.Errorf("%s: RUN %s: %w", dockerfile, rest, err)
			}
			for len(words) > 0 && strings.HasPrefix(words[0], "--") { // RUN's own flags (--mount=...)
				words = words[1:]
			}
			var b imageBuild
			for len(words) > 0 && strings.Contains(words[0], "=") {
				b.env, words = append(b.env, words[0]), words[1:]
			}
			if len(words) >= 2 && words[0] == "go" && words[1] == "build" {
				b.args = words[1:]
				found = append(found, b)
			}
		}
	}
	if len(found) != 1 {
		return imageBuild{}, fmt.Errorf("%s: %d RUN instructions run go build, want exactly 1", dockerfile, len(found))
	}
	return found[0], nil
}

// dockerInstructions splits a Dockerfile into instructions: comments and blank lines dropped,
// lines ending in a backslash joined with the next.
func dockerInstructions(text string) []string {
	var out []string
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			cur += cont + " "
			continue
		}
		out = append(out, cur+line)
		cur = ""
	}
	return out
}

// shellWords splits a command line into words as sh would for the Dockerfile's simple lines:
// blanks separate words, double quotes group, ${NAME} and $NAME expand. Anything subtler is an
// error rather than a guess.
func shellWords(line string, lookup func(string) (string, bool)) ([]string, error) {
	if strings.ContainsAny(line, "'`;&|<>()\\") {
		return nil, errors.New("uses shell syntax the test does not read: keep the go build line to words, double quotes and ${ARG}s")
	}
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	var expandErr error
	expand := func(s string) string {
		return os.Expand(s, func(name string) string {
			v, ok := lookup(name)
			if !ok && expandErr == nil {
				expandErr = fmt.Errorf("${%s} is no ARG", name)
			}
			return v
		})
	}
	var raw strings.Builder // the current run of characters, expanded when it ends
	flush := func() { cur.WriteString(expand(raw.String())); raw.Reset() }
	for _, r := range line {
		switch {
		case r == '"':
			flush()
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			flush()
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			raw.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, errors.New("unterminated double quote")
	}
	flush()
	if inWord {
		words = append(words, cur.String())
	}
	return words, expandErr
}

// buildImageBinary builds the binary as the Dockerfile at repo's root does, into out.
func buildImageBinary(repo, out string) error {
	b, err := readImageBuild(filepath.Join(repo, "Dockerfile"), map[string]string{
		"TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH, "VERSION": imageVersion,
	})
	if err != nil {
		return err
	}
	args := append([]string(nil), b.args...)
	output := -1
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			output = i + 1
		}
	}
	if output < 0 {
		return errors.New("Dockerfile: the go build line has no -o")
	}
	args[output] = out
	buildContext, err := os.MkdirTemp("", "followthrough-image-context-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(buildContext)
	if err := copyBuildContext(repo, buildContext); err != nil {
		return err
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = buildContext
	cmd.Env = append(os.Environ(), b.env...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s go %s: %w", strings.Join(b.env, " "), strings.Join(args, " "), err)
	}
	return nil
}

// copyBuildContext copies repo to dst without what .dockerignore leaves out of Docker's build
// context. Patterns are paths from the root (Docker's rule) with filepath.Match wildcards and an
// optional leading **/; a matching directory leaves out everything in it.
func copyBuildContext(repo, dst string) error {
	data, err := os.ReadFile(filepath.Join(repo, ".dockerignore"))
	if err != nil {
		return err
	}
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") || strings.Contains(strings.TrimPrefix(line, "**/"), "**") {
			return fmt.Errorf(".dockerignore: %q: the test reads no exceptions and no ** but a leading one", line)
		}
		patterns = append(patterns, filepath.Clean(strings.TrimPrefix(line, "/")))
	}
	ignored := func(rel string) bool {
		for _, p := range patterns {
			if base, ok := strings.CutPrefix(p, "**/"); ok {
				if m, _ := filepath.Match(base, filepath.Base(rel)); m {
					return true
				}
			} else if m, _ := filepath.Match(p, rel); m {
				return true
			}
		}
		return false
	}
	return filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repo, path)
		if err != nil || rel == "." {
			return err
		}
		if ignored(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestDockerfileBuildLine holds the Dockerfile to what the issue asks of the image's binary:
// no cgo, trimmed paths, the version stamped, one output.
func TestDockerfileBuildLine(t *testing.T) {
	b, err := readImageBuild("../Dockerfile", map[string]string{"TARGETOS": "linux", "TARGETARCH": "arm64", "VERSION": "9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(b.env, " ") + " go " + strings.Join(b.args, " ")
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", " -trimpath ", "-X main.version=9.9.9", " ./cmd/followthrough"} {
		if !strings.Contains(line, want) {
			t.Errorf("the Dockerfile's build line %q lacks %q", line, want)
		}
	}
}

// TestImageBinary checks the binary built as the image builds it: statically linked (the
// distroless static image has no C library), and working as the image's unprivileged user from
// an empty directory it cannot write to: version, check-config of a config with secrets from
// the environment, and serve with the database on a data directory, as the image's volume.
func TestImageBinary(t *testing.T) {
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	if libs, err := f.DynString(elf.DT_NEEDED); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}
	f.Close()

	// An empty working directory that the user cannot write to, a read-only config as a
	// ConfigMap or bind mount gives it, and a data directory of its own.
	// (t.TempDir's parent is private to root.)
	root, err := os.MkdirTemp("", "followthrough-image-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	must(t, os.Chmod(root, 0o755))
	work, etc, data := filepath.Join(root, "work"), filepath.Join(root, "etc"), filepath.Join(root, "data")
	for _, dir := range []string{work, etc, data} {
		must(t, os.Mkdir(dir, 0o755))
	}
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		cred = &syscall.Credential{Uid: imageUID, Gid: imageUID}
		must(t, os.Chown(data, imageUID, imageUID))
	} else {
		t.Logf("not root: running as uid %d, already unprivileged", os.Getuid())
	}
	addr := freeAddr(t)
	cfg := filepath.Join(etc, "config.yaml")
	must(t, os.WriteFile(cfg, []byte(`listen: `+addr+`
database: `+filepath.Join(data, "followthrough.db")+`
public_url: https://ft.example.com
intake:
  tokens: ["${FT_API_TOKEN}"]
github:
  token: ${GITHUB_TOKEN}
  webhook_secret: ${GITHUB_WEBHOOK_SECRET}
routes:
  - to: { kind: github, repo: acme/postmortem-actions }
`), 0o644))
	env := []string{"PATH=/usr/bin:/bin", "FT_API_TOKEN=image-test-token", "GITHUB_TOKEN=ghp_unused", "GITHUB_WEBHOOK_SECRET=unused"}
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(binary, args...)
		cmd.Dir, cmd.Env = work, env
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}

	out, err := command("version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "followthrough "+imageVersion {
		t.Fatalf("version = %q, %v; want %q", out, err, "followthrough "+imageVersion)
	}
	out, err = command("check-config", "--config", cfg).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != cfg+": ok" {
		t.Fatalf("check-config = %q, %v", out, err)
	}

	srv := command("serve", "--config", cfg)
	var stderr lockedBuffer
	srv.Stderr = &stderr
	must(t, srv.Start())
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer func() {
		_ = srv.Process.Kill()
		if t.Failed() {
			t.Logf("serve stderr:\n%s", tail(stderr.String(), 30))
		}
	}()
	eventually(t, 20*time.Second, "serve answers /readyz with 200", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	must(t, srv.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s of SIGTERM")
	}
	st, err := os.Stat(filepath.Join(data, "followthrough.db"))
	if err != nil {
		t.Fatalf("no database in the data directory: %v", err)
	}
	if cred != nil {
		if owner := st.Sys().(*syscall.Stat_t).Uid; owner != imageUID {
			t.Errorf("the database belongs to uid %d, want %d", owner, imageUID)
		}
	}
	if left, _ := os.ReadDir(work); len(left) > 0 {
		t.Errorf("the working directory is not empty afterwards: %v", left)
	}
}
