// Command package builds minik8s's Debian packages with nfpm's library:
// minik8s-control-plane, minik8s-node and minik8s-client, from the binaries
// in bin/ and the units and environment files in deploy/systemd.
//
//	go run . --root ../.. --version 0.1.0 --out ../../_output/packages
//
// It lives in a module of its own (hack/package/go.mod) so that nfpm's
// dependencies never enter the project's go.mod. `make package` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
)

// compression is nfpm's name of the data archive's compression.
var compression string

func main() {
	root := flag.String("root", "../..", "the repository: bin/ and deploy/ are read from here")
	version := flag.String("version", "", "Debian version of the packages (required; `make package` derives it from git describe)")
	out := flag.String("out", "", "directory the .deb files are written to (default ROOT/_output/packages)")
	arch := flag.String("arch", "amd64", "Debian architecture of the binaries in bin/")
	only := flag.String("only", "", "comma-separated package names to build (default: all)")
	flag.StringVar(&compression, "compression", "gzip", "compression of the packages' data: gzip, xz or none")
	flag.Parse()
	if *out == "" {
		*out = filepath.Join(*root, "_output", "packages")
	}
	if err := run(*root, *version, *arch, *out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

func run(root, version, arch, out, only string) error {
	if err := checkVersion(version); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	scripts, err := os.MkdirTemp("", "minik8s-package-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scripts)
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n != "" {
			want[n] = true
		}
	}
	for _, p := range Packages(root) {
		if len(want) > 0 && !want[p.Name] {
			continue
		}
		path, err := build(p, root, version, arch, out, scripts)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		fmt.Println(path)
	}
	return nil
}

// build writes one package and returns its path.
func build(p Package, root, version, arch, out, scriptDir string) (string, error) {
	stage := filepath.Join(scriptDir, p.Name)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return "", err
	}
	contents, err := p.contents(root, stage)
	if err != nil {
		return "", err
	}
	info := &nfpm.Info{
		Name:          p.Name,
		Arch:          arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none",
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    "minik8s developers <minik8s@localhost>",
		Description:   p.Description,
		License:       "Apache-2.0",
		// One time for every file, so two builds of the same tree are
		// byte-identical apart from the version.
		MTime: time.Unix(0, 0).UTC(),
		Overridables: nfpm.Overridables{
			Depends:   p.Depends,
			Conflicts: p.Conflicts,
			Contents:  contents,
			Deb:       nfpm.Deb{Compression: compression},
		},
	}
	if len(p.Units) > 0 {
		sc, err := writeScripts(p, stage)
		if err != nil {
			return "", err
		}
		info.Scripts = sc
	}
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", err
	}
	pkg := deb.Default
	path := filepath.Join(out, pkg.ConventionalFileName(info))
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return "", err
	}
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(path + ".tmp")
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(path+".tmp", path)
}

// checkVersion refuses what dpkg would refuse: a Debian version starts with
// a digit and has no spaces or hyphen-free oddities nfpm would pass through.
func checkVersion(v string) error {
	if v == "" {
		return fmt.Errorf("--version is required")
	}
	if v[0] < '0' || v[0] > '9' {
		return fmt.Errorf("version %q must start with a digit (Debian policy 5.6.12)", v)
	}
	for _, r := range v {
		ok := r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune(".+~-", r)
		if !ok {
			return fmt.Errorf("version %q: %q is not allowed in a Debian version", v, r)
		}
	}
	return nil
}
