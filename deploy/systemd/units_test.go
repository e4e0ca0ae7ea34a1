// Tests of the systemd units and their example environment files. Nothing
// here starts a unit: systemd-analyze reads the files offline, and the
// daemons are only asked to parse their flags (each run ends at --help).
package systemd_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"minik8s/test/require"
)

// installDir is where the units expect the binaries (and where a hand
// installation puts them); the test rewrites it to its own build directory.
const installDir = "/usr/local/bin/"

// daemon is one unit: its file name without ".service" (also the name of its
// environment file), the binary it runs and the package that builds it ("" for
// etcd, which comes from its own pinned module in hack/tools/etcd).
type daemon struct {
	unit, binary, pkg string
	// controlPlane units run without root and must stay well sandboxed.
	controlPlane bool
	// after lists units this one must be ordered after; requires, the ones
	// it cannot run without.
	after, requires []string
}

var daemons = []daemon{
	{unit: "etcd", binary: "etcd", controlPlane: true},
	{unit: "kube-apiserver", binary: "kube-apiserver", pkg: "apiserver", controlPlane: true, after: []string{"etcd.service"}},
	{unit: "kube-scheduler", binary: "kube-scheduler", pkg: "scheduler", controlPlane: true},
	{unit: "kube-controller-manager", binary: "kube-controller-manager", pkg: "controller-manager", controlPlane: true},
	{unit: "kubelet", binary: "kubelet", pkg: "kubelet", after: []string{"containerd.service"}, requires: []string{"containerd.service"}},
	{unit: "kube-proxy", binary: "kube-proxy", pkg: "kube-proxy"},
}

// envVar is the variable every environment file sets and every unit expands.
const envVar = "DAEMON_ARGS"

// exposureThreshold is the highest `systemd-analyze security` exposure
// (0-100, shown as 0.0-10.0) a control-plane unit may have: they are at 1.9,
// so dropping a real part of their sandbox fails the test.
const exposureThreshold = "25"

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	scratch   string // removed by TestMain
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "minik8s-units-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratch = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binaries builds every daemon once, under the names the units run, into a
// directory shared by the tests, so the test never depends on a stale bin/.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			buildErr = err
			return
		}
		dir := filepath.Join(scratch, "bin")
		if buildErr = os.MkdirAll(dir, 0o755); buildErr != nil {
			return
		}
		// One go build for our packages (it builds them in parallel), then
		// rename to the installed names.
		pkgDir := filepath.Join(scratch, "pkgbin")
		args := []string{"build", "-o", pkgDir + "/"}
		for _, d := range daemons {
			if d.pkg != "" {
				args = append(args, "./"+d.pkg)
			}
		}
		if buildErr = run(root, nil, "go", args...); buildErr != nil {
			return
		}
		for _, d := range daemons {
			if d.pkg == "" {
				continue
			}
			if buildErr = os.Rename(filepath.Join(pkgDir, d.pkg), filepath.Join(dir, d.binary)); buildErr != nil {
				return
			}
		}
		// etcd's module resolves its own dependencies, as hack/install-deps.sh
		// builds it.
		env := []string{"GOFLAGS=" + strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod")}
		if buildErr = run(filepath.Join(root, "hack", "tools", "etcd"), env, "go", "build", "-o", filepath.Join(dir, "etcd"), "go.etcd.io/etcd/server/v3"); buildErr != nil {
			return
		}
		buildDir = dir
	})
	if buildErr != nil {
		t.Fatalf("build the daemons: %v", buildErr)
	}
	return buildDir
}

func run(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// TestUnitFiles checks each unit's shape: it runs its binary from installDir
// with $DAEMON_ARGS from /etc/minik8s/<unit>.env, whose example exists, and
// restarts forever. It also makes sure no unit file escapes the other tests
// by missing from the table above.
func TestUnitFiles(t *testing.T) {
	files, err := filepath.Glob("*.service")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, d := range daemons {
		want = append(want, d.unit+".service")
	}
	sort.Strings(files)
	sort.Strings(want)
	if !slices.Equal(files, want) {
		t.Fatalf("unit files %v, the test knows %v: add new units to the daemons table", files, want)
	}
	for _, d := range daemons {
		t.Run(d.unit, func(t *testing.T) {
			u := readUnit(t, d.unit+".service")
			expect := map[string]string{
				"Service/ExecStart":       installDir + d.binary + " $" + envVar,
				"Service/EnvironmentFile": "/etc/minik8s/" + d.unit + ".env",
				"Service/Restart":         "always",
				"Install/WantedBy":        "multi-user.target",
			}
			if d.controlPlane {
				for k, v := range map[string]string{
					"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
					"PrivateTmp": "yes", "DynamicUser": "yes",
				} {
					expect["Service/"+k] = v
				}
			}
			for key, v := range expect {
				if got := u[key]; !slices.Equal(got, []string{v}) {
					t.Errorf("%s = %q, want %q", key, got, v)
				}
			}
			for key, want := range map[string][]string{"Unit/After": d.after, "Unit/Requires": d.requires} {
				got := strings.Fields(strings.Join(u[key], " "))
				for _, w := range want {
					if !slices.Contains(got, w) {
						t.Errorf("%s = %q, want it to include %s", key, got, w)
					}
				}
			}
			if len(u["Service/RestartSec"]) != 1 {
				t.Errorf("Service/RestartSec = %q, want one value", u["Service/RestartSec"])
			}
			if _, err := os.Stat(filepath.Join("env", d.unit+".env")); err != nil {
				t.Errorf("no example environment file: %v", err)
			}
		})
	}
}

// readUnit returns "Section/Key" -> values of a unit file (enough of the
// syntax for our own files: no line continuations).
func readUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not a key=value line: %q", path, line)
			}
			key := section + "/" + strings.TrimSpace(k)
			out[key] = append(out[key], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSystemdAnalyze runs `systemd-analyze verify` and, for the control-plane
// units, `systemd-analyze security --offline` on copies of the units whose
// installDir points at freshly built binaries (verify insists that ExecStart
// exists and is executable). Any output at all fails the test: verify
// reports unknown keys and bad values only as warnings, with exit status 0.
func TestSystemdAnalyze(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		require.Skip(t, "systemd-analyze not installed (Debian package systemd; hack/install-deps.sh installs it)")
	}
	bin := binaries(t)
	dir := t.TempDir()
	var units []string
	for _, d := range daemons {
		data, err := os.ReadFile(d.unit + ".service")
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), installDir, bin+"/")
		name := filepath.Join(dir, d.unit+".service")
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, name)
	}
	// kubelet.service requires containerd.service, and verify fails when a
	// required unit is missing. A stub next to the copies (their directory
	// comes first in the search path) makes the result the same whether or
	// not this machine has containerd installed.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stub := "[Unit]\nDescription=stand-in for containerd\n\n[Service]\nExecStart=" + self + "\n"
	if err := os.WriteFile(filepath.Join(dir, "containerd.service"), []byte(stub), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, append([]string{"verify", "--man=no"}, units...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	for i, d := range daemons {
		if !d.controlPlane {
			continue
		}
		cmd := exec.CommandContext(ctx, tool, "security", "--offline=yes", "--no-pager",
			"--threshold="+exposureThreshold, units[i])
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze security %s: exposure above %s or error: %v\n%s", d.unit, exposureThreshold, err, out)
		}
	}
}

// helpFlagRe finds the flag names in --help output (Go's flag package lists
// "  -name type", etcd "  --name 'default'"); textFlagRe finds every --name
// an environment file mentions, in its assignment or its comments.
var (
	helpFlagRe = regexp.MustCompile(`(?m)^\s+--?([A-Za-z0-9][A-Za-z0-9._-]*)`)
	textFlagRe = regexp.MustCompile(`(?:^|[\s(,"/` + "`" + `])--([a-z0-9][a-z0-9.-]*[a-z0-9])`)
)

// TestEnvFlags checks each example environment file against its daemon:
// systemd reads the same DAEMON_ARGS as our parser (when its own parser is
// available to ask), every --flag named anywhere in the file, comments
// included, is one the binary's --help lists, and the binary accepts the
// whole argument list: it parses the values and stops at the --help put
// after them, exiting 0 only if every flag and value parsed.
func TestEnvFlags(t *testing.T) {
	bin := binaries(t)
	for _, d := range daemons {
		t.Run(d.unit, func(t *testing.T) {
			path := filepath.Join("env", d.unit+".env")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			vars, err := parseEnvFile(string(data))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			value, ok := vars[envVar]
			if !ok || len(vars) != 1 {
				t.Fatalf("%s sets %v, want exactly %s", path, keys(vars), envVar)
			}
			args := strings.Fields(value)
			if len(args) == 0 {
				t.Fatalf("%s: %s is empty", path, envVar)
			}
			compareWithSystemd(t, string(data), args)

			exe := filepath.Join(bin, d.binary)
			known := helpFlags(t, exe)
			for _, a := range args {
				if !strings.HasPrefix(a, "--") {
					t.Errorf("%s: %q is not a --flag (the units pass only flags)", path, a)
				}
			}
			for _, m := range textFlagRe.FindAllStringSubmatch(string(data), -1) {
				if !known[m[1]] {
					t.Errorf("%s names --%s, which %s --help does not list", path, m[1], d.binary)
				}
			}

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, exe, append(slices.Clone(args), "--help")...)
			cmd.Dir = t.TempDir() // in case a daemon wrote anything before --help
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s %s --help: %v (a flag or value it does not accept)\n%s", d.binary, value, err, errorLines(out))
			}
		})
	}
}

// helpFlags returns the flag names exe --help lists.
func helpFlags(t *testing.T, exe string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "--help")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", exe, err, out)
	}
	known := map[string]bool{}
	for _, m := range helpFlagRe.FindAllStringSubmatch(string(out), -1) {
		known[m[1]] = true
	}
	if len(known) < 3 {
		t.Fatalf("%s --help lists %d flags; is the help format still understood?\n%s", exe, len(known), out)
	}
	return known
}

// parseEnvFile reads the subset of systemd's EnvironmentFile syntax the
// examples use: a backslash at the end of a line joins the next one (in
// comments too, as systemd does), lines starting with # or ; are comments,
// and each other line is KEY=VALUE with VALUE optionally in double quotes.
// Values may not contain quotes, backslashes or $ (nothing to escape or
// expand), which keeps this parser and systemd's in agreement.
func parseEnvFile(text string) (map[string]string, error) {
	text = strings.ReplaceAll(text, "\\\n", "")
	vars := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("logical line %d: no '=' in %q", i+1, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		if strings.ContainsAny(v, "\"'\\$`") {
			return nil, fmt.Errorf("%s: value %q has a quote, backslash or $ the examples avoid", k, v)
		}
		vars[k] = v
	}
	return vars, nil
}

// systemdEnvParser is systemd's environment.d generator: it reads files
// with the same parser as EnvironmentFile= and prints the result, which
// lets the test ask systemd itself what DAEMON_ARGS will hold.
const systemdEnvParser = "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator"

func compareWithSystemd(t *testing.T, text string, args []string) {
	t.Helper()
	if _, err := os.Stat(systemdEnvParser); err != nil {
		if _, lookErr := exec.LookPath("systemd-analyze"); lookErr != nil {
			return // no systemd here at all; TestSystemdAnalyze reports that
		}
		t.Errorf("systemd is installed but %s is missing: cannot cross-check the environment parser", systemdEnvParser)
		return
	}
	cfg := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cfg, "environment.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The user directory is read last, so this file wins over any system one.
	if err := os.WriteFile(filepath.Join(cfg, "environment.d", "99-minik8s-test.conf"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(systemdEnvParser)
	cmd.Env = []string{"XDG_CONFIG_HOME=" + cfg, "HOME=" + cfg, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s: %v\n%s", systemdEnvParser, err, ee.Stderr)
		}
		t.Fatalf("%s: %v", systemdEnvParser, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, envVar+"="); ok {
			v = strings.TrimSuffix(strings.TrimPrefix(v, `"`), `"`)
			if got := strings.Fields(v); !slices.Equal(got, args) {
				t.Errorf("systemd reads %s as %q, this test as %q", envVar, got, args)
			}
			return
		}
	}
	t.Errorf("systemd's parser found no %s in the file:\n%s", envVar, out)
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// errorLines keeps the unindented lines of a daemon's output: the error
// message, not the usage text (whose flag lines are indented) around it.
func errorLines(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && l[0] != ' ' && l[0] != '\t' && len(out) < 10 {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
