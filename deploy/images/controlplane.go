package images

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Control-plane images: the daemons run as pods (static pods on the master,
// kube-proxy as a DaemonSet). They are built apart from All, only when
// asked, because compiling five more static binaries (etcd among them)
// would slow every test that only needs pause, kubia, dns and busybox.
const (
	EtcdRepo              = "minik8s/etcd"
	APIServerRepo         = "minik8s/kube-apiserver"
	SchedulerRepo         = "minik8s/kube-scheduler"
	ControllerManagerRepo = "minik8s/kube-controller-manager"
	KubeProxyRepo         = "minik8s/kube-proxy"
)

// ControlPlaneVersion tags the minik8s daemons' images.
const ControlPlaneVersion = "0.1.0"

// EtcdVersion tags the etcd image: the release hack/tools/etcd pins
// (ETCD_VERSION in hack/versions.sh without the "v"; a test keeps them in
// step).
const EtcdVersion = "3.6.16"

// Paths of the binaries inside the control-plane images; manifests name
// them in command so they do not depend on the image's entrypoint.
const (
	EtcdPath              = "/usr/local/bin/etcd"
	EtcdctlPath           = "/usr/local/bin/etcdctl"
	APIServerPath         = "/usr/local/bin/kube-apiserver"
	SchedulerPath         = "/usr/local/bin/kube-scheduler"
	ControllerManagerPath = "/usr/local/bin/kube-controller-manager"
	KubeProxyPath         = "/usr/local/bin/kube-proxy"
)

// Image returns repo:tag for one of the control-plane repositories.
func Image(repo string) string {
	if repo == EtcdRepo {
		return repo + ":" + EtcdVersion
	}
	return repo + ":" + ControlPlaneVersion
}

// XtablesDir is where Debian's iptables finds its match and target
// extensions (compiled into libxtables); they are dlopened, so ELF
// dependencies alone would miss them.
var XtablesDir = "/usr/lib/x86_64-linux-gnu/xtables"

// IptablesBinaries are the multi-call binaries of Debian's iptables.
var IptablesBinaries = []string{"/usr/sbin/xtables-nft-multi", "/usr/sbin/xtables-legacy-multi"}

// libDirs are searched for DT_NEEDED libraries, as the loader does on
// Debian amd64 (its ld.so.conf names the multiarch directories).
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// BuildControlPlaneBinaries compiles static (CGO_ENABLED=0) apiserver,
// scheduler, controller-manager and kube-proxy from the module at root and
// etcd and etcdctl from the module hack/tools/etcd (which pins the release
// and keeps etcd's dependencies apart from ours) into outDir.
func BuildControlPlaneBinaries(ctx context.Context, root, outDir string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	build := func(dir, out, pkg string, extraEnv ...string) error {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(outDir, out), pkg)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), extraEnv...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w: %s", out, err, b)
		}
		return nil
	}
	for _, c := range []string{"apiserver", "scheduler", "controller-manager", "kube-proxy"} {
		if err := build(root, c, "./"+c); err != nil {
			return err
		}
	}
	etcdMod := filepath.Join(root, "hack", "tools", "etcd")
	// -mod=mod as hack/install-deps.sh does: that module has no vendor
	// directory and its go.sum is complete.
	if err := build(etcdMod, "etcd", "go.etcd.io/etcd/server/v3", "GOFLAGS=-mod=mod"); err != nil {
		return err
	}
	return build(etcdMod, "etcdctl", "go.etcd.io/etcd/etcdctl/v3", "GOFLAGS=-mod=mod")
}

// ControlPlane returns the control-plane images, made from the binaries
// BuildControlPlaneBinaries put in binDir and, for kube-proxy, from this
// machine's iptables.
func ControlPlane(binDir string) ([]Built, error) {
	var out []Built
	one := func(short, repo string, bins map[string]string, entry string, ports []string, extra []file) error {
		files := baseFiles()
		for _, d := range []string{"usr", "usr/local", "usr/local/bin"} {
			files = append(files, file{path: d, mode: 0o755, dir: true})
		}
		for src, dst := range bins {
			data, err := os.ReadFile(filepath.Join(binDir, src))
			if err != nil {
				return fmt.Errorf("%s image: %w", short, err)
			}
			files = append(files, file{path: strings.TrimPrefix(dst, "/"), mode: 0o755, data: data})
		}
		files = mergeFiles(files, extra)
		cfg := imageConfig([]string{entry}, ports)
		img, err := image(files, cfg)
		if err != nil {
			return fmt.Errorf("%s image: %w", short, err)
		}
		out = append(out, Built{Name: short, Tags: []string{repo + ":latest", Image(repo)}, Image: img})
		return nil
	}
	// etcd keeps its data under /var/lib/etcd, a hostPath in the manifest.
	etcdDirs := []file{{path: "var/lib", mode: 0o755, dir: true}, {path: "var/lib/etcd", mode: 0o700, dir: true}}
	if err := one("etcd", EtcdRepo, map[string]string{"etcd": EtcdPath, "etcdctl": EtcdctlPath}, EtcdPath,
		[]string{"2379/tcp", "2380/tcp"}, etcdDirs); err != nil {
		return nil, err
	}
	if err := one("kube-apiserver", APIServerRepo, map[string]string{"apiserver": APIServerPath}, APIServerPath,
		[]string{"6443/tcp", "8080/tcp"}, nil); err != nil {
		return nil, err
	}
	if err := one("kube-scheduler", SchedulerRepo, map[string]string{"scheduler": SchedulerPath}, SchedulerPath, nil, nil); err != nil {
		return nil, err
	}
	if err := one("kube-controller-manager", ControllerManagerRepo, map[string]string{"controller-manager": ControllerManagerPath},
		ControllerManagerPath, nil, nil); err != nil {
		return nil, err
	}
	ipt, err := IptablesFiles()
	if err != nil {
		return nil, fmt.Errorf("kube-proxy image: %w", err)
	}
	if err := one("kube-proxy", KubeProxyRepo, map[string]string{"kube-proxy": KubeProxyPath}, KubeProxyPath, nil, ipt); err != nil {
		return nil, err
	}
	return out, nil
}

func imageConfig(entry, ports []string) v1.Config {
	cfg := v1.Config{Entrypoint: entry, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}
	if len(ports) > 0 {
		cfg.ExposedPorts = map[string]struct{}{}
		for _, p := range ports {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	return cfg
}

// IptablesFiles returns the layer content that makes iptables,
// iptables-restore and iptables-save (nf_tables, plus the -nft and -legacy
// names) work in an image with no libc of its own: the multi-call binaries,
// their symlinks, the extensions they dlopen, the shared libraries all of
// these need (DT_NEEDED, followed transitively) and the dynamic loader.
// The plain names point at the nf_tables variant, as Debian's alternatives
// do by default, so the rules land where the node's own iptables sees them.
func IptablesFiles() ([]file, error) {
	var files []file
	var elfs []string
	add := func(p string, mode int64) error {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, file{path: strings.TrimPrefix(p, "/"), mode: mode, data: data})
		elfs = append(elfs, p)
		return nil
	}
	for _, b := range IptablesBinaries {
		if err := add(b, 0o755); err != nil {
			return nil, err
		}
	}
	links := map[string]string{}
	for _, v := range []string{"", "-restore", "-save"} {
		links["iptables"+v] = "xtables-nft-multi"
		links["iptables-nft"+v] = "xtables-nft-multi"
		links["iptables-legacy"+v] = "xtables-legacy-multi"
	}
	for l, target := range links {
		files = append(files, file{path: "usr/sbin/" + l, linkname: target})
	}
	exts, err := filepath.Glob(filepath.Join(XtablesDir, "*.so"))
	if err != nil {
		return nil, err
	}
	for _, e := range exts {
		// IPv4 and protocol-independent extensions only: kube-proxy runs
		// no ip6tables, arptables or ebtables.
		if b := filepath.Base(e); strings.HasPrefix(b, "libxt_") || strings.HasPrefix(b, "libipt_") {
			if err := add(e, 0o644); err != nil {
				return nil, err
			}
		}
	}
	libs, err := SharedLibraries(elfs...)
	if err != nil {
		return nil, err
	}
	for _, l := range libs {
		if err := add(l, 0o755); err != nil {
			return nil, err
		}
	}
	// iptables-legacy -w takes its lock under /run.
	files = append(files, file{path: "run", mode: 0o755, dir: true})
	if data, err := os.ReadFile("/etc/protocols"); err == nil {
		// Protocol names (-p tcp) resolve through it before iptables'
		// built-in table.
		files = append(files, file{path: "etc/protocols", mode: 0o644, data: data})
	}
	return files, nil
}

// SharedLibraries returns the absolute paths of the shared libraries the
// ELF files at paths need, transitively, and of their dynamic loader
// (PT_INTERP), sorted. Paths are as the loader looks them up (/lib64/...,
// /lib/x86_64-linux-gnu/...), each read through symlinks when copied.
func SharedLibraries(paths ...string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	queue := append([]string{}, paths...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		f, err := elf.Open(p)
		if err != nil {
			return nil, fmt.Errorf("read ELF %s: %w", p, err)
		}
		needed, err := f.ImportedLibraries()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: DT_NEEDED: %w", p, err)
		}
		var interp string
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				b := make([]byte, prog.Filesz)
				if _, err := prog.ReadAt(b, 0); err == nil {
					interp = strings.TrimRight(string(b), "\x00")
				}
			}
		}
		f.Close()
		if interp != "" && !seen[interp] {
			seen[interp] = true
			out = append(out, interp)
		}
		for _, n := range needed {
			lib, err := findLibrary(n)
			if err != nil {
				return nil, fmt.Errorf("%s needs %s: %w", p, n, err)
			}
			if !seen[lib] {
				seen[lib] = true
				out = append(out, lib)
				queue = append(queue, lib)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func findLibrary(soname string) (string, error) {
	if path.IsAbs(soname) {
		return soname, nil
	}
	for _, d := range libDirs {
		p := filepath.Join(d, soname)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %v", libDirs)
}

// mergeFiles appends extra to files, adding the parent directories that
// neither holds, so the layer never relies on the unpacker to invent them.
func mergeFiles(files, extra []file) []file {
	have := map[string]bool{}
	for _, f := range files {
		have[f.path] = true
	}
	var out []file
	out = append(out, files...)
	for _, f := range extra {
		for d := path.Dir(f.path); d != "." && !have[d]; d = path.Dir(d) {
			have[d] = true
			out = append(out, file{path: d, mode: 0o755, dir: true})
		}
		if !have[f.path] {
			have[f.path] = true
			out = append(out, f)
		}
	}
	return out
}
