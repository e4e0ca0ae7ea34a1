// Package nodetest gives root tests of the node components what they need
// from a real machine: a private containerd (own root, state and socket,
// CRI plugin off), a local registry holding the project's images, and
// "nodes" modelled as network namespaces.
//
// Everything is named with the test process's PID and removed in
// t.Cleanup: processes are stopped by the PID the helper started, network
// namespaces by name; nothing touches the root namespace's links, routes or
// iptables.
package nodetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/vishvananda/netns"

	"minik8s/deploy/images"
	"minik8s/test/require"
)

// RequireRoot skips the test unless it runs as root with containerd,
// runc and ip installed.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		require.Skip(t, "needs root")
	}
	for _, bin := range []string{"containerd", "runc", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			require.Skip(t, fmt.Sprintf("needs %s: %v", bin, err))
		}
	}
}

// Name returns a name unique to this test process: prefix-<pid>[-suffix].
func Name(prefix string, suffix ...string) string {
	parts := append([]string{prefix, fmt.Sprint(os.Getpid())}, suffix...)
	return strings.Join(parts, "-")
}

// Containerd is a private containerd daemon.
type Containerd struct {
	Address string // socket path
	Dir     string // root of its root, state and socket
	cmd     *exec.Cmd
	exited  chan struct{}
}

// containerdConfig turns the CRI plugin off and keeps every path under dir.
func containerdConfig(dir string) string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""
  level = "warn"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), filepath.Join(dir, "containerd.sock"),
		filepath.Join(dir, "containerd.ttrpc.sock"), filepath.Join(dir, "opt"))
}

// StartContainerd runs a containerd for the test and stops it at cleanup,
// after removing every task, container, image and namespace in it.
func StartContainerd(t testing.TB) *Containerd {
	t.Helper()
	RequireRoot(t)
	c, err := RunContainerd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Logf("stop containerd: %v", err)
		}
	})
	return c
}

// RunContainerd starts a private containerd under a new temporary
// directory and waits until it serves; the caller must Stop it.
func RunContainerd() (*Containerd, error) {
	// Short path: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", Name("mk8s-ctrd")+"-")
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(containerdConfig(dir)), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("containerd", "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a ^C to the test does not reach it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	logf.Close()
	c := &Containerd{Address: filepath.Join(dir, "containerd.sock"), Dir: dir, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if cl, err := containerd.New(c.Address, containerd.WithTimeout(time.Second)); err == nil {
			ok, _ := cl.IsServing(context.Background())
			cl.Close()
			if ok {
				return c, nil
			}
		}
		select {
		case <-c.exited:
			b, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("containerd exited: %s", b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = c.Stop()
			return nil, errors.New("containerd did not serve within 20s")
		}
	}
}

// Log returns containerd's log so far.
func (c *Containerd) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "containerd.log"))
	return string(b)
}

// Stop purges containerd (so no shim outlives it), stops it by its PID
// and removes its directory.
func (c *Containerd) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []error
	if err := Purge(ctx, c.Address); err != nil {
		errs = append(errs, fmt.Errorf("purge: %w", err))
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	// Snapshots are unmounted by the shims when tasks go; anything still
	// mounted below dir is unmounted before removal.
	unmountBelow(c.Dir)
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Purge deletes every task (killing it), container, image and namespace in
// the containerd at address, so no shim outlives the daemon.
func Purge(ctx context.Context, address string) error {
	cl, err := containerd.New(address, containerd.WithTimeout(5*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	nss, err := cl.NamespaceService().List(ctx)
	if err != nil {
		return err
	}
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		ctrs, err := cl.Containers(nctx)
		if err != nil {
			return err
		}
		for _, ctr := range ctrs {
			if task, err := ctr.Task(nctx, nil); err == nil {
				_, _ = task.Delete(nctx, containerd.WithProcessKill)
			}
			_ = ctr.Delete(nctx, containerd.WithSnapshotCleanup)
		}
		imgs, _ := cl.ImageService().List(nctx)
		for _, img := range imgs {
			_ = cl.ImageService().Delete(nctx, img.Name)
		}
		_ = cl.NamespaceService().Delete(nctx, ns)
	}
	return nil
}

func unmountBelow(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mps = append(mps, f[4])
		}
	}
	for i := len(mps) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mps[i], syscall.MNT_DETACH)
	}
}

var (
	imagesOnce sync.Once
	built      []images.Built
	imagesErr  error
)

// Images builds the pause and kubia binaries into _output/images/bin (once
// per test process, under a file lock shared with other test processes)
// and returns the project's images.
func Images(t testing.TB) []images.Built {
	t.Helper()
	imagesOnce.Do(func() { built, imagesErr = BuildImages() })
	if imagesErr != nil {
		t.Fatalf("build images: %v", imagesErr)
	}
	return built
}

// BuildImages builds the project's images from this module (binaries in
// _output/images/bin, under a file lock shared by concurrent callers).
func BuildImages() ([]images.Built, error) {
	root, err := images.ModuleRoot("")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "_output", "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	bin := filepath.Join(dir, "bin")
	if err := images.BuildBinaries(context.Background(), root, bin); err != nil {
		return nil, err
	}
	all, err := images.All(bin)
	if err != nil {
		return nil, err
	}
	// Read every layer now, while the lock keeps the binaries stable.
	for _, b := range all {
		if _, err := b.Image.Digest(); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// Registry starts a docker-registry on a free loopback port with the
// project's images pushed to it, and stops it (by PID) at cleanup. It
// returns "127.0.0.1:PORT". Images are pushed as minik8s/pause,
// minik8s/kubia, luksa/kubia, minik8s/busybox and library/busybox; with
// a docker.io mirror set to this registry, "busybox" and "luksa/kubia" pull
// from it.
func Registry(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath(images.RegistryBinary); err != nil {
		require.Skip(t, fmt.Sprintf("needs %s: %v", images.RegistryBinary, err))
	}
	built := Images(t)
	addr := freeLoopbackAddr(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, err := images.StartRegistry(ctx, addr, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	if err := images.Push(ctx, addr, built); err != nil {
		t.Fatal(err)
	}
	return addr
}

func freeLoopbackAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Netns creates a named network namespace (the name gets the test PID),
// brings its loopback up, and deletes it at cleanup. It returns the name
// and its path under /var/run/netns.
func Netns(t testing.TB, suffix string) (name, path string) {
	t.Helper()
	RequireRoot(t)
	name = Name("mk8s", suffix)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Logf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in %s: %v: %s", name, err, out)
	}
	return name, "/var/run/netns/" + name
}

// IP runs "ip -n NS args..." and fails the test on error.
func IP(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %v: %v: %s", ns, args, err, out)
	}
	return string(out)
}

// Link connects two test namespaces with a veth pair (ifA in nsA with
// addrA, ifB in nsB with addrB, both CIDRs like "192.0.2.1/24"). The
// pair goes with the namespaces.
func Link(t testing.TB, nsA, ifA, addrA, nsB, ifB, addrB string) {
	t.Helper()
	IP(t, nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB)
	IP(t, nsA, "addr", "add", addrA, "dev", ifA)
	IP(t, nsB, "addr", "add", addrB, "dev", ifB)
	IP(t, nsA, "link", "set", ifA, "up")
	IP(t, nsB, "link", "set", ifB, "up")
}

// Do runs fn with the calling goroutine's thread in the network namespace
// at path. Sockets fn opens belong to that namespace.
func Do(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: if restoring fails it must die with
		// the goroutine rather than run other code in the wrong namespace.
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}
