// Package images builds the project's own container images - pause, the
// kubia sample app, the cluster DNS, the ingress controller, the dashboard
// and a busybox tools image (All), and on
// request the control plane's daemons (ControlPlane) - as OCI images from
// static binaries, and pushes them to a registry. Nothing is downloaded:
// the Go binaries are built from this module (etcd from hack/tools/etcd),
// busybox comes from Debian's busybox-static (/bin/busybox) and
// kube-proxy's iptables from Debian's iptables package.
//
// Images are reproducible: every file has a fixed timestamp, so building
// twice gives the same digests and pushing again uploads nothing new.
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Well-known references of the images, relative to a registry. With a
// docker.io mirror pointing at our registry, "busybox" and "luksa/kubia"
// in an ordinary manifest resolve to these images, as in the seed.
const (
	PauseRepo   = "minik8s/pause"
	KubiaRepo   = "minik8s/kubia"
	BusyboxRepo = "minik8s/busybox"
	DNSRepo     = "minik8s/dns"
	IngressRepo = "minik8s/ingress"
	// DashboardRepo is the web dashboard add-on (addons/dashboard).
	DashboardRepo = "minik8s/dashboard"
)

// DNSVersion tags the cluster DNS image; deploy/addons/dns.yaml names
// DNSRepo:DNSVersion (a test there keeps the two in step).
const DNSVersion = "0.1.0"

// IngressVersion tags the ingress controller image; deploy/addons/ingress.yaml
// names IngressRepo:IngressVersion (a test there keeps the two in step).
const IngressVersion = "0.1.0"

// DashboardVersion tags the dashboard image; deploy/addons/dashboard.yaml
// names DashboardRepo:DashboardVersion (a test there keeps the two in step).
const DashboardVersion = "0.1.0"

// Busybox is the path of Debian's static busybox.
var Busybox = "/bin/busybox"

// epoch is the timestamp of every file and image: fixed for reproducible digests.
var epoch = time.Unix(0, 0).UTC()

// Built is one image with the repository:tag names it is pushed as.
type Built struct {
	Name  string   // short name: pause, kubia, busybox
	Tags  []string // "minik8s/pause:latest", ...
	Image v1.Image
}

// ModuleRoot returns the directory of the minik8s module, found from dir
// (or the working directory when dir is "") upwards.
func ModuleRoot(dir string) (string, error) {
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return "", err
		}
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module minik8s")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no minik8s go.mod above %s", dir)
		}
	}
}

// BuildBinaries compiles the static pause, kubia, dns, ingress and dashboard binaries from the
// module at root into outDir. go build's cache makes a repeat cheap.
func BuildBinaries(ctx context.Context, root, outDir string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for _, pkg := range []string{"pause", "kubia", "dns", "ingress", "dashboard"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(outDir, pkg), "./addons/"+pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w: %s", pkg, err, out)
		}
	}
	return nil
}

// All returns the images, made from the binaries in binDir and from
// Busybox.
func All(binDir string) ([]Built, error) {
	pause, err := binaryImage(filepath.Join(binDir, "pause"), "/pause", nil)
	if err != nil {
		return nil, fmt.Errorf("pause image: %w", err)
	}
	kubia, err := binaryImage(filepath.Join(binDir, "kubia"), "/kubia", []string{"8080/tcp"})
	if err != nil {
		return nil, fmt.Errorf("kubia image: %w", err)
	}
	dnsImg, err := binaryImage(filepath.Join(binDir, "dns"), "/dns", []string{"53/udp", "53/tcp", "8080/tcp"})
	if err != nil {
		return nil, fmt.Errorf("dns image: %w", err)
	}
	ingressImg, err := binaryImage(filepath.Join(binDir, "ingress"), "/ingress", []string{"80/tcp", "443/tcp", "10254/tcp"})
	if err != nil {
		return nil, fmt.Errorf("ingress image: %w", err)
	}
	dashboardImg, err := binaryImage(filepath.Join(binDir, "dashboard"), "/dashboard", []string{"9090/tcp", "9091/tcp"})
	if err != nil {
		return nil, fmt.Errorf("dashboard image: %w", err)
	}
	bb, err := busyboxImage(Busybox)
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	return []Built{
		{Name: "pause", Tags: []string{PauseRepo + ":latest", PauseRepo + ":3.9"}, Image: pause},
		{Name: "kubia", Tags: []string{KubiaRepo + ":latest", "luksa/kubia:latest"}, Image: kubia},
		{Name: "dns", Tags: []string{DNSRepo + ":latest", DNSRepo + ":" + DNSVersion}, Image: dnsImg},
		{Name: "ingress", Tags: []string{IngressRepo + ":latest", IngressRepo + ":" + IngressVersion}, Image: ingressImg},
		{Name: "dashboard", Tags: []string{DashboardRepo + ":latest", DashboardRepo + ":" + DashboardVersion}, Image: dashboardImg},
		{Name: "busybox", Tags: []string{BusyboxRepo + ":latest", "library/busybox:latest", "library/busybox:1.36"}, Image: bb},
	}, nil
}

// Push writes every image under each of its tags to the plain-HTTP
// registry at addr ("127.0.0.1:5000").
func Push(ctx context.Context, addr string, built []Built) error {
	for _, b := range built {
		for _, tag := range b.Tags {
			ref, err := name.NewTag(addr+"/"+tag, name.Insecure)
			if err != nil {
				return fmt.Errorf("push %s: %w", tag, err)
			}
			if err := remote.Write(ref, b.Image, remote.WithContext(ctx)); err != nil {
				return fmt.Errorf("push %s: %w", ref, err)
			}
		}
	}
	return nil
}

// file is one entry of a layer.
type file struct {
	path     string
	mode     int64
	data     []byte
	linkname string // symlink target when set
	dir      bool
}

func binaryImage(bin, path string, ports []string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	files := append(baseFiles(), file{path: strings.TrimPrefix(path, "/"), mode: 0o755, data: data})
	return image(files, imageConfig([]string{path}, ports))
}

func busyboxImage(bb string) (v1.Image, error) {
	data, err := os.ReadFile(bb)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", bb, err)
	}
	files := append(baseFiles(), file{path: "bin/busybox", mode: 0o755, data: data})
	for _, d := range []string{"sbin", "usr", "usr/bin", "usr/sbin"} {
		files = append(files, file{path: d, mode: 0o755, dir: true})
	}
	seen := map[string]bool{"bin/busybox": true}
	for _, applet := range strings.Fields(string(out)) {
		applet = strings.TrimPrefix(applet, "/")
		if seen[applet] {
			continue
		}
		seen[applet] = true
		files = append(files, file{path: applet, linkname: "/bin/busybox"})
	}
	return image(files, v1.Config{
		Cmd: []string{"sh"},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	})
}

// baseFiles is the minimal root every image has: /etc/passwd and
// /etc/group (root and nobody), /tmp, /root and mount points.
func baseFiles() []file {
	return []file{
		{path: "bin", mode: 0o755, dir: true},
		{path: "dev", mode: 0o755, dir: true},
		{path: "etc", mode: 0o755, dir: true},
		{path: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{path: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{path: "proc", mode: 0o755, dir: true},
		{path: "root", mode: 0o700, dir: true},
		{path: "sys", mode: 0o755, dir: true},
		{path: "tmp", mode: 0o1777, dir: true},
		{path: "var", mode: 0o755, dir: true},
	}
}

func image(files []file, cfg v1.Config) (v1.Image, error) {
	layerTar, err := tarFiles(files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "minik8s deploy/images"}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = runtime.GOARCH
	cf.OS = "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

func tarFiles(files []file) ([]byte, error) {
	sort.SliceStable(files, func(i, j int) bool { return files[i].path < files[j].path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, ModTime: epoch, Format: tar.FormatPAX}
		switch {
		case f.dir:
			h.Typeflag, h.Name = tar.TypeDir, f.path+"/"
		case f.linkname != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.linkname, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
