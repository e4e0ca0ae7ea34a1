package e2e

// Operations only a cluster of machines shows (`make e2e-machines`: make up
// MODE=machines): every daemon is a systemd unit of the Debian packages on
// a systemd-nspawn machine, restarted with systemctl under a write load,
// machines rebooted, logs in journald. The tests skip on a process-mode
// cluster.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

// needMachines skips a test that needs MODE=machines.
func (c *cluster) needMachines(t *testing.T) {
	t.Helper()
	if !c.onMachines() || len(c.machines) == 0 {
		t.Skipf("MODE=%q: needs a cluster of machines (make e2e-machines, or make up MODE=machines)", c.mode)
	}
}

// cpMachine is the control-plane machine (the harness lists it first).
func (c *cluster) cpMachine() string { return c.machines[0] }

// ssh runs a command inside a machine (hack/local-up-cluster.sh ssh).
func (c *cluster) ssh(machine string, cmd ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := c.run(ctx, c.harness, append([]string{"ssh", machine, "--"}, cmd...)...)
	return strings.TrimSpace(out), err
}

// mustSSH is ssh that fails the test on error.
func (c *cluster) mustSSH(t *testing.T, machine string, cmd ...string) string {
	t.Helper()
	out, err := c.ssh(machine, cmd...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unit is one daemon's systemd unit on one machine.
type unit struct{ machine, name string }

// units are the cluster's daemons: the control plane's on its machine,
// containerd and the node agents on every worker, in the order a restart
// test goes through them.
func (c *cluster) units() []unit {
	var us []unit
	for _, n := range []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
		us = append(us, unit{c.cpMachine(), n})
	}
	for _, node := range c.nodes {
		for _, n := range []string{"containerd", "kubelet", "kube-proxy"} {
			us = append(us, unit{node, n})
		}
	}
	return us
}

// nodeReady reports whether node's STATUS column says Ready.
func (c *cluster) nodeReady(node string) string {
	out, err := c.minictl("get", "node", node, "--no-headers")
	if f := strings.Fields(out); err != nil || len(f) < 2 || f[1] != "Ready" {
		return fmt.Sprintf("node %s: %q %v", node, out, err)
	}
	return ""
}

// TestMachineUnits: each daemon runs as an enabled, active unit installed
// by its package (/lib/systemd/system), and journald has its logs.
func TestMachineUnits(t *testing.T) {
	c := need(t)
	c.needMachines(t)
	for _, u := range c.units() {
		t.Run(u.machine+"/"+u.name, func(t *testing.T) {
			if got, _ := c.ssh(u.machine, "systemctl", "is-active", u.name); got != "active" {
				t.Errorf("is-active %q, want active", got)
			}
			if got, _ := c.ssh(u.machine, "systemctl", "is-enabled", u.name); got != "enabled" {
				t.Errorf("is-enabled %q, want enabled", got)
			}
			if u.name == "containerd" {
				return // Debian's package, not ours
			}
			if got := c.mustSSH(t, u.machine, "systemctl", "show", "-p", "FragmentPath", "--value", u.name); got != "/lib/systemd/system/"+u.name+".service" {
				t.Errorf("unit file %q, want the package's /lib/systemd/system/%s.service", got, u.name)
			}
			logs := c.mustSSH(t, u.machine, "journalctl", "-u", u.name, "--no-pager", "-o", "cat", "-n", "200")
			if strings.Count(logs, "\n") < 2 || strings.Contains(logs, "-- No entries --") {
				t.Errorf("journalctl -u %s shows no logs:\n%s", u.name, logs)
			}
		})
	}
	out := c.mustSSH(t, c.nodes[0], "journalctl", "-u", "kubelet", "--no-pager", "-n", "5")
	t.Logf("journalctl -u kubelet on %s:\n%s", c.nodes[0], out)
	for i, m := range c.machines {
		pkg := "minik8s-node"
		if i == 0 {
			pkg = "minik8s-control-plane"
		}
		if got := c.mustSSH(t, m, "dpkg-query", "-W", "-f", "${Status}", pkg); got != "install ok installed" {
			t.Errorf("%s: %s is %q, want installed", m, pkg, got)
		}
	}
}

// writeLoad creates ConfigMaps at a steady rate and remembers which the
// apiserver acknowledged: those must all be in the store at the end,
// whatever was restarted in between.
type writeLoad struct {
	api    *client.Client
	ns     string
	stopc  chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	acked  []string
	failed int
	lastOK time.Time
}

func startWriteLoad(api *client.Client, ns string) *writeLoad {
	l := &writeLoad{api: api, ns: ns, stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-l.stopc:
				return
			case <-tick.C:
			}
			l.wg.Add(1)
			go l.create(fmt.Sprintf("w-%05d", i))
		}
	}()
	return l
}

func (l *writeLoad) create(name string) {
	defer l.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.For[*corev1.ConfigMap](l.api).Create(ctx, &corev1.ConfigMap{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: l.ns},
		Data:     map[string]string{"at": time.Now().Format(time.RFC3339Nano)},
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed++
		return
	}
	l.acked = append(l.acked, name)
	l.lastOK = time.Now()
}

// okSince reports whether a write was acknowledged after t.
func (l *writeLoad) okSince(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastOK.After(t)
}

// stop ends the load, waits for the writes in flight and returns the
// acknowledged names and the number of failed writes.
func (l *writeLoad) stop() ([]string, int) {
	select {
	case <-l.stopc:
	default:
		close(l.stopc)
	}
	<-l.done
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.acked...), l.failed
}

// TestMachineRestartUnderLoad: `systemctl restart` of every daemon, one
// after the other, while ConfigMaps are written: no acknowledged write is
// lost, the cluster takes writes again after each restart, and the pods
// running before are the same pods, still running, after.
func TestMachineRestartUnderLoad(t *testing.T) {
	c := need(t)
	c.needMachines(t)
	ns := c.namespace(t, "mk8s-e2e-restart")
	c.apply(t, ns, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: steady
spec:
  replicas: %d
  selector:
    matchLabels: {app: steady}
  template:
    metadata:
      labels: {app: steady}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sleep", "36000"]
`, len(c.nodes)))
	before := c.runningPods(t, ns, "app=steady", len(c.nodes), 3*time.Minute)

	l := startWriteLoad(c.api, ns)
	defer l.stop()
	eventually(t, 30*time.Second, "first write acknowledged", func() string {
		if !l.okSince(time.Time{}) {
			return "no write acknowledged yet"
		}
		return ""
	})
	for _, u := range c.units() {
		t.Run(u.machine+"/"+u.name, func(t *testing.T) {
			pid := c.mustSSH(t, u.machine, "systemctl", "show", "-p", "MainPID", "--value", u.name)
			start := time.Now()
			c.mustSSH(t, u.machine, "systemctl", "restart", u.name)
			eventually(t, 60*time.Second, u.name+" active with a new PID", func() string {
				state, _ := c.ssh(u.machine, "systemctl", "is-active", u.name)
				now, _ := c.ssh(u.machine, "systemctl", "show", "-p", "MainPID", "--value", u.name)
				if state != "active" || now == pid || now == "0" {
					return fmt.Sprintf("%s, MainPID %s (was %s)", state, now, pid)
				}
				return ""
			})
			eventually(t, 60*time.Second, "a write acknowledged after the restart", func() string {
				if !l.okSince(start) {
					return "none yet"
				}
				return ""
			})
			if u.machine != c.cpMachine() {
				eventually(t, 60*time.Second, "node Ready", func() string { return c.nodeReady(u.machine) })
			}
			t.Logf("%s on %s restarted; writes again %s later", u.name, u.machine, time.Since(start).Round(100*time.Millisecond))
		})
	}
	acked, failed := l.stop()
	lost := c.lostWrites(t, ns, acked)
	t.Logf("%d writes acknowledged (%d lost), %d failed while daemons restarted", len(acked), lost, failed)

	after := c.runningPods(t, ns, "app=steady", len(c.nodes), 2*time.Minute)
	names := map[string]bool{}
	for _, p := range after {
		names[p.name] = true
	}
	for _, p := range before {
		if !names[p.name] {
			t.Errorf("pod %s on %s was replaced across the restarts (now %+v)", p.name, p.node, after)
		}
	}
}

// TestMachineWorkerReboot: a worker machine powered off and booted again
// (its disk kept): the kubelet comes back from systemd at boot, the node
// is Ready and a DaemonSet's pod on it runs again (a container started
// after the reboot).
func TestMachineWorkerReboot(t *testing.T) {
	c := need(t)
	c.needMachines(t)
	ns := c.namespace(t, "mk8s-e2e-reboot")
	c.apply(t, ns, `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: probe
spec:
  selector:
    matchLabels: {app: probe}
  template:
    metadata:
      labels: {app: probe}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sleep", "36000"]
`)
	c.runningPods(t, ns, "app=probe", len(c.nodes), 3*time.Minute)
	node := c.nodes[len(c.nodes)-1]
	// /run is a tmpfs: the marker is gone only if the machine rebooted.
	c.mustSSH(t, node, "touch", "/run/mk8s-e2e-before-reboot")

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := c.run(ctx, c.harness, "reboot", node)
	if err != nil {
		t.Fatal(err)
	}
	booted := time.Since(start)
	t.Logf("%s", out)
	if _, err := c.ssh(node, "test", "-e", "/run/mk8s-e2e-before-reboot"); err == nil {
		t.Fatalf("%s did not reboot: /run kept its marker", node)
	}
	eventually(t, 2*time.Minute, "kubelet active after boot", func() string {
		if got, _ := c.ssh(node, "systemctl", "is-active", "kubelet", "kube-proxy", "containerd"); got != "active\nactive\nactive" {
			return got
		}
		return ""
	})
	eventually(t, 2*time.Minute, "node Ready", func() string { return c.nodeReady(node) })
	ready := time.Since(start)
	eventually(t, 3*time.Minute, "probe pod on "+node+" running again", func() string {
		for _, p := range c.pods(t, ns, "app=probe") {
			if p.node != node || p.deleting {
				continue
			}
			started, err := c.jsonpath(ns, "pod", p.name, ".status.containerStatuses[0].state.running.startedAt")
			if err != nil || started == "" {
				return fmt.Sprintf("pod %s: %s, not running (%v)", p.name, p.phase, err)
			}
			at, err := time.Parse(time.RFC3339, started)
			if err != nil {
				return err.Error()
			}
			// startedAt has whole seconds.
			if at.Before(start.Truncate(time.Second)) {
				return fmt.Sprintf("pod %s: container started at %s, before the reboot", p.name, started)
			}
			return ""
		}
		return "no probe pod on " + node
	})
	t.Logf("worker reboot of %s: machine up in %s, node Ready in %s, its pods Running in %s",
		node, booted.Round(100*time.Millisecond), ready.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
	c.runningPods(t, ns, "app=probe", len(c.nodes), 2*time.Minute)
}

// TestMachineControlPlaneReboot: the control-plane machine rebooted: etcd
// and the apiserver come back from systemd with the data written before,
// the components are healthy and a new pod is scheduled and runs.
func TestMachineControlPlaneReboot(t *testing.T) {
	c := need(t)
	c.needMachines(t)
	ns := c.namespace(t, "mk8s-e2e-cp-reboot")
	c.mc(t, "-n", ns, "create", "configmap", "before-reboot", "--from-literal=k=v")
	cp := c.cpMachine()

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := c.run(ctx, c.harness, "reboot", cp); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "control-plane units active", func() string {
		got, _ := c.ssh(cp, "systemctl", "is-active", "etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager")
		if got != "active\nactive\nactive\nactive" {
			return got
		}
		return ""
	})
	eventually(t, 2*time.Minute, "apiserver answers", func() string {
		if out, err := c.minictl("-n", ns, "get", "configmap", "before-reboot", "-o", "jsonpath={.data.k}"); err != nil || out != "v" {
			return fmt.Sprintf("%q %v", out, err)
		}
		return ""
	})
	t.Logf("control plane %s rebooted; API back with its data in %s", cp, time.Since(start).Round(100*time.Millisecond))
	c.expectStatuses(t, nil)
	for _, n := range c.nodes {
		eventually(t, 2*time.Minute, "node Ready", func() string { return c.nodeReady(n) })
	}
	// A pod bound by the scheduler, made by no controller: both came back.
	c.mc(t, "-n", ns, "run", "after-reboot", "--image=busybox", "--", "sleep", "3600")
	c.runningPods(t, ns, "run=after-reboot", 1, 2*time.Minute)
}
