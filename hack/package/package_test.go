package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goreleaser/nfpm/v2/files"
)

func TestCheckVersion(t *testing.T) {
	for _, tc := range []struct {
		version string
		ok      bool
	}{
		{"1.2.3", true},
		{"0.0.0+git378.g05e2209", true},
		{"1.2.3~rc.1+git5.gabc1234.dirty", true},
		{"", false},
		{"v1.2.3", false},
		{"1.2.3 beta", false},
		{"1.2.3_4", false},
	} {
		t.Run(tc.version, func(t *testing.T) {
			if err := checkVersion(tc.version); (err == nil) != tc.ok {
				t.Errorf("checkVersion(%q) = %v, want ok=%v", tc.version, err, tc.ok)
			}
		})
	}
}

// fakeRoot is a repository with the real deploy/ and empty binaries.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Symlink(filepath.Join(mustAbs(t, "../.."), "deploy"), filepath.Join(root, "deploy")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range Packages(root) {
		for _, b := range p.Binaries {
			if b.Optional {
				continue
			}
			if err := os.WriteFile(filepath.Join(root, "bin", b.Built), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Every package's units run binaries it installs from /usr/bin, its
// environment files are conffiles where the units read them, and every
// unit has a ready file.
func TestContents(t *testing.T) {
	root := fakeRoot(t)
	for _, p := range Packages(root) {
		t.Run(p.Name, func(t *testing.T) {
			c, err := p.contents(root, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			byDst := map[string]*files.Content{}
			for _, f := range c {
				byDst[f.Destination] = f
			}
			for _, u := range p.Units {
				unit := byDst["/lib/systemd/system/"+u+".service"]
				if unit == nil {
					t.Fatalf("%s.service not packaged", u)
				}
				raw, err := os.ReadFile(unit.Source)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(raw), "/usr/local/") {
					t.Errorf("%s.service still names /usr/local", u)
				}
				env := "/etc/minik8s/" + u + ".env"
				if !strings.Contains(string(raw), "EnvironmentFile="+env) {
					t.Errorf("%s.service does not read %s", u, env)
				}
				if f := byDst[env]; f == nil || f.Type != files.TypeConfigNoReplace {
					t.Errorf("%s: not a conffile: %+v", env, f)
				}
				if p.Ready[u] == "" {
					t.Errorf("%s: no ready file: postinst would start it unconfigured", u)
				}
			}
			for _, b := range p.Binaries {
				if f := byDst["/usr/bin/"+b.Installed]; f == nil && !b.Optional {
					t.Errorf("/usr/bin/%s not packaged", b.Installed)
				}
			}
		})
	}
}

// The maintainer scripts are valid sh with their generated header.
func TestScriptsParse(t *testing.T) {
	for _, p := range Packages("") {
		if len(p.Units) == 0 {
			continue
		}
		dir := t.TempDir()
		sc, err := writeScripts(p, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{sc.PostInstall, sc.PreRemove, sc.PostRemove} {
			if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", p.Name, filepath.Base(s), err, out)
			}
		}
	}
}
