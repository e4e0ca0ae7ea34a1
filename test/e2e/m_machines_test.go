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

// cpMachine is the first control-plane machine (the harness lists it
// first).
func (c *cluster) cpMachine() string { return c.machines[0] }

// cpMachines are the control-plane machines (mk8s-cp1, and mk8s-cp2 and
// mk8s-cp3 with CONTROL_PLANES=3).
func (c *cluster) cpMachines() []string {
	var cps []string
	for _, m := range c.machines {
		if c.isControlPlane(m) {
			cps = append(cps, m)
		}
	}
	return cps
}

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

// units are the cluster's daemons: the control plane's on each of its
// machines, containerd and the node agents on every worker, in the order a
// restart test goes through them.
func (c *cluster) units() []unit {
	var us []unit
	for _, m := range c.cpMachines() {
		for _, n := range []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
			us = append(us, unit{m, n})
		}
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
	for _, m := range c.machines {
		pkg := c.machinePackage(m)
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
	errs   map[string]int // why writes failed: error text -> count
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
		if l.errs == nil {
			l.errs = map[string]int{}
		}
		l.errs[err.Error()]++
		return
	}
	l.acked = append(l.acked, name)
	l.lastOK = time.Now()
}

// failures says why writes failed, each distinct error with its count.
func (l *writeLoad) failures() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for e, n := range l.errs {
		fmt.Fprintf(&b, "\n  %d x %s", n, e)
	}
	return b.String()
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
			if !c.isControlPlane(u.machine) {
				eventually(t, 60*time.Second, "node Ready", func() string { return c.nodeReady(u.machine) })
			}
			t.Logf("%s on %s restarted; writes again %s later", u.name, u.machine, time.Since(start).Round(100*time.Millisecond))
		})
	}
	acked, failed := l.stop()
	lost := c.lostWrites(t, ns, acked)
	t.Logf("%d writes acknowledged (%d lost), %d failed while daemons restarted%s", len(acked), lost, failed, l.failures())

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

// etcdHealth runs `etcdctl endpoint health` against every member and
// returns the endpoints that answered healthy, and the output.
func (c *cluster) etcdHealth() (map[string]bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.run(ctx, c.bin+"/etcdctl", c.etcdctl("endpoint", "health", "--command-timeout=3s")...)
	if err != nil {
		// An unhealthy member makes etcdctl exit non-zero; its output
		// still tells which.
		out = err.Error()
	}
	healthy := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		// "https://10.250.0.10:2379 is healthy: successfully committed proposal: took = 2ms"
		if before, _, found := strings.Cut(line, " is healthy:"); found {
			if f := strings.Fields(before); len(f) > 0 {
				healthy[f[len(f)-1]] = true
			}
		}
	}
	return healthy, out
}

// machineOf is the machine of a leader-election identity (HOSTNAME_UUID).
func machineOf(identity string) string {
	m, _, _ := strings.Cut(identity, "_")
	return m
}

// TestMachineControlPlaneRebootHA (CONTROL_PLANES=3): the control-plane
// machine holding the scheduler's Lease powered off: the Lease (and the
// controller manager's, if that machine held it) moves to another machine
// and the new leader schedules a pod; the API answers and takes writes
// through the other apiservers; etcd has all three members, two healthy.
// Booted again: its etcd member rejoins and is healthy, holds the write
// made while it was down (read from that member alone), and its apiserver
// serves it. A Lease held elsewhere is then moved the same way.
func TestMachineControlPlaneRebootHA(t *testing.T) {
	c := need(t)
	c.needMachines(t)
	cps := c.cpMachines()
	if len(cps) < 3 {
		t.Skipf("%d control-plane machine(s): needs CONTROL_PLANES=3 (make e2e-machines-ha)", len(cps))
	}
	ns := c.namespace(t, "mk8s-e2e-cp-ha")
	moved := map[string]bool{}
	for round := 0; round < 2 && len(moved) < 2; round++ {
		holders := map[string]string{}
		for _, l := range []string{"scheduler", "controller-manager"} {
			h, err := c.leaseHolder(l)
			if err != nil || h == "" {
				t.Fatalf("lease kube-system/%s: holder %q %v", l, h, err)
			}
			holders[l] = h
		}
		victim := machineOf(holders["scheduler"])
		if moved["scheduler"] {
			victim = machineOf(holders["controller-manager"])
		}
		if !c.isControlPlane(victim) {
			t.Fatalf("lease holders %v: identities are HOSTNAME_UUID of a control-plane machine", holders)
		}
		var others []string
		for _, m := range cps {
			if m != victim {
				others = append(others, m)
			}
		}
		t.Run("poweroff "+victim, func(t *testing.T) {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if _, err := c.run(ctx, c.harness, "poweroff", victim); err != nil {
				t.Fatal(err)
			}
			// Boot it again whatever happens below.
			booted := false
			boot := func() {
				if booted {
					return
				}
				booted = true
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				if _, err := c.run(ctx, c.harness, "boot", victim); err != nil {
					t.Fatal(err)
				}
			}
			defer boot()

			for l, h := range holders {
				if machineOf(h) != victim {
					t.Logf("lease %s held by %s, not on %s", l, h, victim)
					continue
				}
				eventually(t, time.Minute, "lease "+l+" moves off "+victim, func() string {
					now, err := c.leaseHolder(l)
					if err != nil || now == "" || machineOf(now) == victim {
						return fmt.Sprintf("holder %q %v", now, err)
					}
					t.Logf("lease %s: %s -> %s, %s after the poweroff", l, h, now, time.Since(start).Round(100*time.Millisecond))
					moved[l] = true
					return ""
				})
			}
			cm := "while-" + victim + "-down"
			eventually(t, time.Minute, "a write through the other apiservers", func() string {
				if _, err := c.minictl("-n", ns, "create", "configmap", cm, "--from-literal=k=v"); err != nil && !strings.Contains(err.Error(), "AlreadyExists") && !strings.Contains(err.Error(), "already exists") {
					return err.Error()
				}
				return ""
			})
			pod := "scheduled-while-" + victim + "-down"
			c.mc(t, "-n", ns, "run", pod, "--image=busybox", "--restart=Never", "--command", "--", "sleep", "3600")
			eventually(t, time.Minute, "pod scheduled by the new leader", func() string {
				if node, _ := c.jsonpath(ns, "pod", pod, ".spec.nodeName"); node == "" {
					return "not scheduled"
				}
				return ""
			})
			healthy, out := c.etcdHealth()
			if len(healthy) != len(cps)-1 {
				t.Errorf("etcd with %s down: %d healthy members, want %d:\n%s", victim, len(healthy), len(cps)-1, out)
			}
			members := c.mustEtcdctl(t, "member", "list")
			if n := strings.Count(strings.TrimSpace(members), "\n") + 1; n != len(cps) || !strings.Contains(members, victim) {
				t.Errorf("etcd member list with %s down: want all %d members:\n%s", victim, len(cps), members)
			}
			down := time.Since(start)

			boot()
			eventually(t, 2*time.Minute, "control-plane units active on "+victim, func() string {
				got, _ := c.ssh(victim, "systemctl", "is-active", "etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager")
				if got != "active\nactive\nactive\nactive" {
					return got
				}
				return ""
			})
			eventually(t, 2*time.Minute, "every etcd member healthy", func() string {
				if healthy, out := c.etcdHealth(); len(healthy) != len(cps) {
					return out
				}
				return ""
			})
			// A serializable read answers from the member's own copy: the
			// write made while it was down is there once it caught up.
			ip := strings.TrimSpace(c.mustSSH(t, victim, "hostname", "-I"))
			ip, _, _ = strings.Cut(ip, " ")
			key := "/registry/configmaps/" + ns + "/" + cm
			eventually(t, time.Minute, victim+"'s etcd member has the write made while it was down", func() string {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				args := append([]string{"--endpoints", "https://" + ip + ":2379"}, c.etcdTLS...)
				out, err := c.run(ctx, c.bin+"/etcdctl", append(args, "get", key, "--consistency=s", "--keys-only")...)
				if err != nil || !strings.Contains(out, key) {
					return fmt.Sprintf("%q %v", out, err)
				}
				return ""
			})
			eventually(t, time.Minute, victim+"'s apiserver serves it", func() string {
				out, err := c.run(context.Background(), c.bin+"/minictl", append(c.serverArgs(ip+":6443"), "-n", ns, "get", "configmap", cm, "-o", "jsonpath={.data.k}")...)
				if err != nil || out != "v" {
					return fmt.Sprintf("%q %v", out, err)
				}
				return ""
			})
			t.Logf("%s powered off %s: leases moved, API and etcd served by %v; booted, its etcd member healthy and caught up and its apiserver serving in %s",
				victim, down.Round(100*time.Millisecond), others, (time.Since(start) - down).Round(100*time.Millisecond))
		})
		if t.Failed() {
			return
		}
	}
	if !moved["scheduler"] || !moved["controller-manager"] {
		t.Errorf("leases moved: %v, want both", moved)
	}
	c.expectStatuses(t, nil)
}

// mustEtcdctl runs etcdctl against every member and fails the test on error.
func (c *cluster) mustEtcdctl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.run(ctx, c.bin+"/etcdctl", c.etcdctl(args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
