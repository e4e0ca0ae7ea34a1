package e2e

// A rolling upgrade of a cluster of machines (docs/operations.md,
// "Upgrading"): a newer build of the Debian packages installed with apt,
// one machine after the other (control planes first, then each worker),
// while a Service is requested from outside the cluster and ConfigMaps are
// written. The packages' maintainer scripts restart the daemons.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
)

const (
	// upgradeNodePort is the NodePort of the Service the upgrade test
	// requests (the ingress tests use 30080/30443, the dashboard 30090).
	upgradeNodePort = "30180"
	// stageMount is where every machine sees the harness's stage directory
	// ($MK8S_STATE/stage, hack/machine/cluster.sh), read-only.
	stageMount = "/mnt/minik8s"
)

// serviceLoad requests a URL after the other (a new connection each time,
// so every request goes through the nodes' NAT rules afresh) and counts
// the answers and the failures, remembering each failure's time, target
// and error.
type serviceLoad struct {
	urls     []string
	stopc    chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	ok       int
	failures []string
}

func startServiceLoad(urls []string, every time.Duration) *serviceLoad {
	l := &serviceLoad{urls: urls, stopc: make(chan struct{}), done: make(chan struct{})}
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{Timeout: 3 * time.Second}).DialContext}}
	start := time.Now()
	go func() {
		defer close(l.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-l.stopc:
				return
			case <-tick.C:
			}
			u := urls[i%len(urls)]
			at := time.Since(start)
			err := kubiaGet(hc, u)
			l.mu.Lock()
			if err != nil {
				l.failures = append(l.failures, fmt.Sprintf("%s at +%s: %v", u, at.Round(10*time.Millisecond), err))
			} else {
				l.ok++
			}
			l.mu.Unlock()
		}
	}()
	return l
}

// kubiaGet is one request that must answer 200 with kubia's greeting.
func kubiaGet(hc *http.Client, url string) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := make([]byte, 256)
	n, _ := resp.Body.Read(buf)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(buf[:n]), "You've hit") {
		return fmt.Errorf("status %d: %q", resp.StatusCode, buf[:n])
	}
	return nil
}

// stop ends the load and returns the answered requests and the failures.
func (l *serviceLoad) stop() (int, []string) {
	select {
	case <-l.stopc:
	default:
		close(l.stopc)
	}
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok, append([]string(nil), l.failures...)
}

// podState is what must not change across the upgrade of a pod's node.
type podState struct {
	uid, node, containerID string
	restarts               int32
}

func (c *cluster) podStates(t *testing.T, ns, selector string) map[string]podState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := client.For[*corev1.Pod](c.api).List(ctx, ns, client.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]podState{}
	for _, p := range list.Items {
		s := podState{uid: p.GetMetadata().GetUid(), node: p.GetSpec().GetNodeName()}
		for _, cs := range p.GetStatus().GetContainerStatuses() {
			s.containerID += cs.GetContainerID()
			s.restarts += cs.GetRestartCount()
		}
		out[p.GetMetadata().GetName()] = s
	}
	return out
}

// machinePackage is the package of a machine's role.
func (c *cluster) machinePackage(m string) string {
	if c.isControlPlane(m) {
		return "minik8s-control-plane"
	}
	return "minik8s-node"
}

// machineUnits are the units a machine's package installs.
func (c *cluster) machineUnits(m string) []string {
	if c.isControlPlane(m) {
		return []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"}
	}
	return []string{"kubelet", "kube-proxy"}
}

// isControlPlane reports whether m is a control-plane machine (the
// harness lists them before the workers, named mk8s-cpI).
func (c *cluster) isControlPlane(m string) bool { return strings.HasPrefix(m, "mk8s-cp") }

// daemon is one unit's main process as a machine sees it.
type daemon struct {
	pid, exe, pkg string
	fromFile      bool // the process runs the file now at exe (same inode)
}

// daemons reads each unit's MainPID, the binary it runs, whether that is
// the file installed now, and the package that owns the file.
func (c *cluster) daemons(t *testing.T, m string) map[string]daemon {
	t.Helper()
	script := `for u in "$@"; do
	pid=$(systemctl show -p MainPID --value "$u")
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null | tr ' ' '_')
	same=no
	[ "$(stat -L -c %i "/proc/$pid/exe" 2>/dev/null)" = "$(stat -c %i "$exe" 2>/dev/null)" ] && same=yes
	pkg=$(dpkg -S "$exe" 2>/dev/null | cut -d: -f1)
	echo "$u $pid ${exe:--} $same ${pkg:--}"
done`
	out := c.mustSSH(t, m, append([]string{"bash", "-c", script, "daemons"}, c.machineUnits(m)...)...)
	ds := map[string]daemon{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 5 {
			t.Fatalf("%s: daemons: unexpected line %q in\n%s", m, line, out)
		}
		ds[f[0]] = daemon{pid: f[1], exe: f[2], fromFile: f[3] == "yes", pkg: f[4]}
	}
	return ds
}

// buildUpgrade builds the packages again with version VERSION+upgrade1
// (what `make package VERSION=...` does, uncompressed as the harness's
// first build) into the stage directory every machine sees, and returns
// the directory as the machines see it and the version.
func (c *cluster) buildUpgrade(t *testing.T, version string) (string, string) {
	t.Helper()
	root := filepath.Dir(filepath.Dir(c.harness))
	next := version + "+upgrade1"
	dir := filepath.Join(c.state, "stage", "upgrade")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", ".", "--root", root, "--version", next, "--out", dir, "--compression", "none")
	cmd.Dir = filepath.Join(root, "hack", "package")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the upgrade packages: %v\n%s", err, out)
	}
	return stageMount + "/upgrade", next
}

// TestMachineRollingUpgrade: a newer build of the packages installed with
// apt-get machine by machine, control plane first, while a NodePort
// Service backed by a pod on each worker is requested from the host
// through every worker and ConfigMaps are written. Every machine ends on
// the new version with its daemons running the new package's binaries;
// the Service answers throughout; no acknowledged write is lost; the
// Service's pods are the same pods with the same containers.
func TestMachineRollingUpgrade(t *testing.T) {
	c := need(t)
	c.needMachines(t)
	ns := c.namespace(t, "mk8s-e2e-upgrade")
	c.apply(t, ns, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: %d
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchLabels: {app: web}
            topologyKey: kubernetes.io/hostname
      containers:
      - name: kubia
        image: luksa/kubia
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
    nodePort: %s
`, len(c.nodes), upgradeNodePort))
	c.runningPods(t, ns, "app=web", len(c.nodes), 3*time.Minute)
	var urls []string
	for _, ip := range c.nodeIPs {
		urls = append(urls, "http://"+net.JoinHostPort(ip, upgradeNodePort)+"/")
	}
	hc := &http.Client{Timeout: 3 * time.Second}
	for _, u := range urls {
		eventually(t, time.Minute, "the Service through "+u, func() string {
			if err := kubiaGet(hc, u); err != nil {
				return err.Error()
			}
			return ""
		})
	}
	before := c.podStates(t, ns, "app=web")

	version := c.mustSSH(t, c.machines[0], "dpkg-query", "-W", "-f", "${Version}", c.machinePackage(c.machines[0]))
	start := time.Now()
	dir, next := c.buildUpgrade(t, version)
	t.Logf("packages %s built in %s (installed: %s)", next, time.Since(start).Round(100*time.Millisecond), version)

	svc := startServiceLoad(urls, 50*time.Millisecond)
	defer svc.stop()
	writes := startWriteLoad(c.api, ns)
	defer writes.stop()
	eventually(t, 30*time.Second, "first write acknowledged", func() string {
		if !writes.okSince(time.Time{}) {
			return "no write acknowledged yet"
		}
		return ""
	})

	rollStart := time.Now()
	for _, m := range c.machines {
		t.Run(m, func(t *testing.T) {
			pkg := c.machinePackage(m)
			old := c.daemons(t, m)
			at := time.Now()
			// As an operator would: the role's package and the client,
			// keeping the locally edited environment files.
			out, err := c.ssh(m, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
				"-o", "Dpkg::Options::=--force-confold", "-o", "Dpkg::Options::=--force-confdef",
				fmt.Sprintf("%s/%s_%s_%s.deb", dir, pkg, next, runtime.GOARCH), fmt.Sprintf("%s/minik8s-client_%s_%s.deb", dir, next, runtime.GOARCH))
			if err != nil {
				t.Fatalf("apt-get install on %s: %v\n%s", m, err, out)
			}
			installed := time.Since(at)
			for _, p := range []string{pkg, "minik8s-client"} {
				if got := c.mustSSH(t, m, "dpkg-query", "-W", "-f", "${Version} ${Status}", p); got != next+" install ok installed" {
					t.Errorf("%s: %s is %q, want %s installed", m, p, got, next)
				}
			}
			eventually(t, time.Minute, "units active on the new binaries", func() string {
				for u, d := range c.daemons(t, m) {
					if d.pid == "0" || d.pid == old[u].pid || !d.fromFile || d.pkg != pkg {
						return fmt.Sprintf("%s: %+v (before the upgrade %+v)", u, d, old[u])
					}
				}
				return ""
			})
			if c.isControlPlane(m) {
				// etcd keeps its quorum only if this member is back before
				// the next machine's restarts.
				eventually(t, time.Minute, "every etcd member healthy", func() string {
					if healthy, out := c.etcdHealth(); len(healthy) != len(c.cpMachines()) {
						return out
					}
					return ""
				})
				back := time.Now()
				eventually(t, time.Minute, "a write acknowledged after the upgrade", func() string {
					if !writes.okSince(back) {
						return "none yet"
					}
					return ""
				})
			} else {
				eventually(t, time.Minute, "node Ready", func() string { return c.nodeReady(m) })
				// kube-proxy has synced its rules once it answers /healthz.
				eventually(t, time.Minute, "kube-proxy healthy", func() string {
					if out, err := c.ssh(m, "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:10256/healthz"); err != nil {
						return fmt.Sprintf("%s %v", out, err)
					}
					return ""
				})
			}
			t.Logf("%s: %s %s -> %s: apt-get install %s, daemons back in %s", m, pkg, version, next,
				installed.Round(100*time.Millisecond), time.Since(at).Round(100*time.Millisecond))
		})
	}
	rolled := time.Since(rollStart)
	ok, failures := svc.stop()
	acked, failed := writes.stop()

	lost := c.lostWrites(t, ns, acked)
	t.Logf("rolling upgrade of %d machines to %s in %s; Service: %d requests answered, %d failed; writes: %d acknowledged (%d lost), %d failed%s",
		len(c.machines), next, rolled.Round(100*time.Millisecond), ok, len(failures), len(acked), lost, failed, writes.failures())
	for _, f := range failures {
		t.Logf("Service request failed: %s", f)
	}
	// The data path never goes through a restarted daemon's process
	// (kube-proxy programs the kernel, the kubelet does not sit between
	// client and pod), so none may fail.
	if len(failures) > 0 {
		t.Errorf("%d of %d Service requests failed during the rolling upgrade", len(failures), ok+len(failures))
	}
	if ok == 0 {
		t.Errorf("no Service request answered")
	}

	after := c.podStates(t, ns, "app=web")
	for name, b := range before {
		a, found := after[name]
		switch {
		case !found:
			t.Errorf("pod %s (on %s) is gone after the upgrade: %v", name, b.node, after)
		case a != b:
			t.Errorf("pod %s changed across the upgrade: before %+v, after %+v", name, b, a)
		}
	}
	for _, m := range c.machines {
		got := c.mustSSH(t, m, "dpkg-query", "-W", "-f", "${Version}", c.machinePackage(m))
		if got != next {
			t.Errorf("%s: %s %s, want %s", m, c.machinePackage(m), got, next)
		}
	}
}

// lostWrites counts the acknowledged ConfigMaps of ns not in the store,
// failing the test for each.
func (c *cluster) lostWrites(t *testing.T, ns string, acked []string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := client.For[*corev1.ConfigMap](c.api).List(ctx, ns, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, cm := range list.Items {
		stored[cm.GetMetadata().GetName()] = true
	}
	lost := 0
	for _, name := range acked {
		if !stored[name] {
			lost++
			t.Errorf("acknowledged write %s is not in the store", name)
		}
	}
	return lost
}
