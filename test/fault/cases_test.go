package fault

// The cases, in the order of the report. Each runs the client load
// through its fault, restores what it broke (also on failure, through
// t.Cleanup), checks every acknowledged write against etcd and records
// its row.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
)

// TestKillEtcdLeader: kill -9 the etcd leader under load; the other two
// elect a new one and writes go on; the killed member is restarted and
// rejoins.
func TestKillEtcdLeader(t *testing.T) {
	c := need(t)
	row := &Row{Fault: "kill -9 the etcd leader, restarted after 10 s"}
	record(t, row)
	ns := c.namespace(t, "fault-etcd-leader")
	l := c.startLoad(t, ns, "cm")
	leader, err := c.etcdLeader(-1)
	if err != nil {
		t.Fatalf("etcd leader: %v", err)
	}
	name := c.etcdMember(leader)
	row.Fault = fmt.Sprintf("kill -9 the etcd leader (%s), restarted after 10 s", name)
	at := c.kill9(t, name)
	var next int
	elected := eventually(t, 30*time.Second, 50*time.Millisecond, "a new etcd leader", func() string {
		i, err := c.etcdLeader(leader)
		if err != nil {
			return err.Error()
		}
		next = i
		return ""
	})
	t.Logf("new leader %s after %s", c.etcdMember(next), elected.Sub(at))
	time.Sleep(time.Until(at.Add(10 * time.Second)))
	restarted := time.Now()
	c.start(t, name)
	back := eventually(t, 30*time.Second, 100*time.Millisecond, name+" answers again", func() string {
		if !c.memberAnswers(leader) {
			return "no status"
		}
		return ""
	})
	time.Sleep(3 * time.Second)
	as := c.check(t, l, row)
	rec, ok := Recovery(at, as)
	row.Recover = fmt.Sprintf("writes: %s; new leader %s elected after %s; %s answering %s after its restart",
		recovered(rec, ok), c.etcdMember(next), Seconds(elected.Sub(at)), name, Seconds(back.Sub(restarted)))
	if !ok {
		t.Errorf("writes never succeeded again after the kill")
	}
}

// recovered formats a Recovery result.
func recovered(d time.Duration, ok bool) string {
	if !ok {
		return "never recovered"
	}
	return Seconds(d)
}

// TestKillAPIServer: kill -9 each apiserver in turn under load (the load's
// client knows both and fails over); the harness restarts it at once.
func TestKillAPIServer(t *testing.T) {
	c := need(t)
	row := &Row{Fault: "kill -9 apiserver-0, restarted at once; when it serves, the same to apiserver-1"}
	record(t, row)
	ns := c.namespace(t, "fault-apiserver")
	l := c.startLoad(t, ns, "cm")
	var faults []time.Time
	var ready []string
	for i := range c.servers {
		name := fmt.Sprintf("apiserver-%d", i)
		at := c.kill9(t, name)
		faults = append(faults, at)
		c.start(t, name)
		restarted := time.Now()
		one, err := c.client(c.servers[i])
		if err != nil {
			t.Fatal(err)
		}
		serves := eventually(t, 60*time.Second, 100*time.Millisecond, name+" serves again", func() string {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := client.For[*coordinationv1.Lease](one).Get(ctx, "kube-system", "scheduler"); err != nil {
				return err.Error()
			}
			return ""
		})
		one.Close()
		ready = append(ready, Seconds(serves.Sub(restarted)))
		time.Sleep(3 * time.Second)
	}
	as := c.check(t, l, row)
	var writes []string
	for i, at := range faults {
		// Each kill's own attempts: those answered before the next kill
		// (a write in flight when the next one dies fails by that kill).
		part := as
		if i+1 < len(faults) {
			part = nil
			for _, a := range as {
				if a.End.Before(faults[i+1]) {
					part = append(part, a)
				}
			}
		}
		d, ok := Recovery(at, part)
		writes = append(writes, recovered(d, ok))
	}
	row.Recover = fmt.Sprintf("writes: %s; the restarted apiserver serving after %s", strings.Join(writes, " / "), strings.Join(ready, " / "))
}

// leaseHolder reads the holder of Lease kube-system/name.
func (c *cluster) leaseHolder(name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l, err := client.For[*coordinationv1.Lease](c.api).Get(ctx, "kube-system", name)
	if err != nil {
		return ""
	}
	return l.GetSpec().GetHolderIdentity()
}

// takeover kills the holder of lease name and returns when another
// holds it: the killed one, the new one, and how long it took.
func (c *cluster) takeover(t *testing.T, lease string) (from, to string, d time.Duration) {
	t.Helper()
	from = c.leaseHolder(lease)
	if !strings.HasPrefix(from, lease+"-") {
		t.Fatalf("lease kube-system/%s held by %q; the harness names identities after components", lease, from)
	}
	at := c.kill9(t, from)
	moved := eventually(t, 60*time.Second, 100*time.Millisecond, "lease "+lease+" moves from "+from, func() string {
		to = c.leaseHolder(lease)
		if to == from || to == "" {
			return "holder " + to
		}
		return ""
	})
	return from, to, moved.Sub(at)
}

// TestKillActiveSchedulerAndControllerManager: kill -9 the scheduler and
// then the controller-manager that hold their Leases; the standbys take
// the Leases over and do the work (a new pod is scheduled; a new
// Deployment gets a scheduled pod).
func TestKillActiveSchedulerAndControllerManager(t *testing.T) {
	c := need(t)
	row := &Row{Fault: "kill -9 the active scheduler, then the active controller-manager (Leases of 10 s)"}
	record(t, row)
	ns := c.namespace(t, "fault-leaders")
	l := c.startLoad(t, ns, "cm")

	from, to, d := c.takeover(t, "scheduler")
	created := time.Now()
	if _, err := c.minictl("-n", ns, "run", "after-scheduler", "--image=busybox", "--restart=Never", "--command", "--", "sleep", "3600"); err != nil {
		t.Fatal(err)
	}
	scheduled := eventually(t, 60*time.Second, 200*time.Millisecond, "pod scheduled by "+to, func() string {
		if node, _ := c.jsonpath(ns, "pod", "after-scheduler", ".spec.nodeName"); node == "" {
			return "not scheduled"
		}
		return ""
	})
	sched := fmt.Sprintf("scheduler Lease %s -> %s in %s, a new pod scheduled %s after its create", from, to, Seconds(d), Seconds(scheduled.Sub(created)))
	t.Log(sched)
	c.start(t, from)

	from, to, d = c.takeover(t, "controller-manager")
	created = time.Now()
	if _, err := c.minictl("-n", ns, "run", "after-cm", "--image=busybox", "--replicas=1", "--command", "--", "sleep", "3600"); err != nil {
		t.Fatal(err)
	}
	scheduled = eventually(t, 60*time.Second, 200*time.Millisecond, "a pod of Deployment after-cm, made by "+to, func() string {
		out, err := c.minictl("-n", ns, "get", "pods", "-l", "run=after-cm", "--no-headers", "-o", "custom-columns=NODE:spec.nodeName")
		if err != nil {
			return err.Error()
		}
		if f := strings.Fields(out); len(f) == 0 || f[0] == "<none>" {
			return "no scheduled pod: " + out
		}
		return ""
	})
	cm := fmt.Sprintf("controller-manager Lease %s -> %s in %s, a new Deployment's pod created and scheduled %s after the Deployment", from, to, Seconds(d), Seconds(scheduled.Sub(created)))
	t.Log(cm)
	c.start(t, from)

	c.check(t, l, row)
	row.Recover = sched + "; " + cm
}

// TestStopEtcdMember: SIGSTOP an etcd follower for 20 s (it neither
// answers nor closes its connections: a hung machine), then SIGCONT.
func TestStopEtcdMember(t *testing.T) {
	c := need(t)
	const pause = 20 * time.Second
	row := &Row{Fault: fmt.Sprintf("SIGSTOP an etcd follower for %s, then SIGCONT", pause)}
	record(t, row)
	ns := c.namespace(t, "fault-etcd-stop")
	l := c.startLoad(t, ns, "cm")
	leader, err := c.etcdLeader(-1)
	if err != nil {
		t.Fatalf("etcd leader: %v", err)
	}
	follower := (leader + 1) % len(c.etcd)
	name := c.etcdMember(follower)
	row.Fault = fmt.Sprintf("SIGSTOP an etcd follower (%s) for %.0f s, then SIGCONT", name, pause.Seconds())
	// The pid is read once so the SIGCONT reaches the same process.
	c.pid(t, name)
	c.signal(t, name, syscall.SIGSTOP)
	at := time.Now()
	continued := false
	t.Cleanup(func() {
		if !continued {
			c.signal(t, name, syscall.SIGCONT)
		}
	})
	time.Sleep(pause)
	c.signal(t, name, syscall.SIGCONT)
	continued = true
	resumed := time.Now()
	back := eventually(t, 30*time.Second, 100*time.Millisecond, name+" answers again", func() string {
		if !c.memberAnswers(follower) {
			return "no status"
		}
		return ""
	})
	time.Sleep(3 * time.Second)
	as := c.check(t, l, row)
	// Writes stuck behind the stopped member fail for as long as it is
	// stopped; their recovery counts from the stop.
	d, ok := Recovery(at, as)
	row.Recover = fmt.Sprintf("writes: %s after the stop; %s answering %s after SIGCONT", recovered(d, ok), name, Seconds(back.Sub(resumed)))
}

// nodeLeaseRenewed reports whether node's Lease in kube-node-lease was
// renewed after since.
func (c *cluster) nodeLeaseRenewed(node string, since time.Time) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l, err := client.For[*coordinationv1.Lease](c.api).Get(ctx, "kube-node-lease", node)
	if err != nil || l.GetSpec().GetRenewTime() == nil {
		return false
	}
	return l.GetSpec().GetRenewTime().AsTime().After(since)
}

// TestKillKubelet: kill -9 a node's kubelet under load, restart it as the
// harness does; the pod it ran keeps its container (same container ID, no
// restart).
func TestKillKubelet(t *testing.T) { killNodeAgents(t, false) }

// TestKillKubeletAndContainerd: the same with the node's containerd
// killed too (after its kubelet) and restarted before it: the shims keep
// the containers running, and the new containerd and kubelet adopt them.
func TestKillKubeletAndContainerd(t *testing.T) { killNodeAgents(t, true) }

// killNodeAgents is TestKillKubelet, with containerd also killed when
// withContainerd.
func killNodeAgents(t *testing.T, withContainerd bool) {
	c := need(t)
	if len(c.nodes) < 2 {
		t.Skip("needs two nodes")
	}
	node := c.nodes[1]
	kubelet, containerd := "kubelet-node2", "containerd-node2"
	what, nsName := "the kubelet", "fault-kubelet"
	if withContainerd {
		what, nsName = "the kubelet and then containerd", "fault-containerd"
	}
	row := &Row{Fault: fmt.Sprintf("kill -9 %s of %s (running a pod), restarted after 5 s", what, node)}
	record(t, row)
	ns := c.namespace(t, nsName)
	c.apply(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: survivor
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["sleep", "36000"]
`, node))
	state := func() (id, restarts, phase string) {
		out, _ := c.jsonpath(ns, "pod", "survivor", `.status.phase}|{.status.containerStatuses[0].containerID`)
		phase, id, _ = strings.Cut(out, "|")
		// A restartCount of 0 is not in the object (jsonpath: not found).
		restarts, err := c.jsonpath(ns, "pod", "survivor", ".status.containerStatuses[0].restartCount")
		if err != nil || restarts == "" {
			restarts = "0"
		}
		return id, restarts, phase
	}
	var id0, restarts0 string
	eventually(t, 2*time.Minute, time.Second, "pod survivor running on "+node, func() string {
		id, restarts, phase := state()
		if phase != "Running" || id == "" {
			return fmt.Sprintf("phase %q container %q", phase, id)
		}
		id0, restarts0 = id, restarts
		return ""
	})
	l := c.startLoad(t, ns, "cm")
	at := c.kill9(t, kubelet)
	if withContainerd {
		c.kill9(t, containerd)
	}
	time.Sleep(5 * time.Second)
	restarted := time.Now()
	if withContainerd {
		c.start(t, containerd)
		sock := filepath.Join(c.state, "node2", "containerd", "containerd.sock")
		eventually(t, 30*time.Second, 100*time.Millisecond, containerd+" listens", func() string {
			conn, err := net.DialTimeout("unix", sock, time.Second)
			if err != nil {
				return err.Error()
			}
			conn.Close()
			return ""
		})
	}
	c.start(t, kubelet)
	back := eventually(t, 60*time.Second, 200*time.Millisecond, node+"'s Lease renewed by the restarted kubelet", func() string {
		if !c.nodeLeaseRenewed(node, restarted) {
			return "not renewed"
		}
		return ""
	})
	// A few sync periods of the new kubelet.
	time.Sleep(10 * time.Second)
	id1, restarts1, phase1 := state()
	as := c.check(t, l, row)
	d, ok := Recovery(at, as)
	kept := "kept its container"
	if id1 != id0 || restarts1 != restarts0 || phase1 != "Running" {
		kept = "LOST its container"
		t.Errorf("pod survivor after the restart of %s: phase %s, container %s (was %s), restartCount %s (was %s)", what, phase1, id1, id0, restarts1, restarts0)
	}
	row.Recover = fmt.Sprintf("writes: %s; node Lease renewed %s after the restart; the pod %s (restartCount %s -> %s)",
		recovered(d, ok), Seconds(back.Sub(restarted)), kept, restarts0, restarts1)
}

// TestEtcdSnapshotRestore: hack/etcd-backup.sh saves the running etcd
// under load and restores the snapshot into a fresh single-member etcd,
// which must hold every key of the snapshot's revision with its
// revision, so every write acknowledged before the save.
func TestEtcdSnapshotRestore(t *testing.T) {
	c := need(t)
	row := &Row{Fault: "etcd snapshot under load (hack/etcd-backup.sh save), restored into a fresh etcd (restore)"}
	record(t, row)
	ns := c.namespace(t, "fault-etcd-backup")
	l := c.startLoad(t, ns, "cm")
	time.Sleep(3 * time.Second)
	dir := t.TempDir()
	snap := filepath.Join(dir, "snapshot.db")
	script := filepath.Join(c.root, "hack", "etcd-backup.sh")
	saving := time.Now()
	save := exec.Command(script, "save", snap)
	save.Env = append(os.Environ(), "CLUSTER_ENV="+c.env)
	if out, err := save.CombinedOutput(); err != nil {
		t.Fatalf("save: %v\n%s", err, out)
	}
	saved := time.Now()
	time.Sleep(2 * time.Second)
	as := c.check(t, l, row)

	out, err := c.run(time.Minute, filepath.Join(c.bin, "etcdutl"), "snapshot", "status", snap, "-w", "json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Revision  int64 `json:"revision"`
		TotalKeys int   `json:"totalKey"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("snapshot status %q: %v", out, err)
	}

	peer, client := freePort(t), freePort(t)
	peerURL, clientURL := fmt.Sprintf("http://127.0.0.1:%d", peer), fmt.Sprintf("http://127.0.0.1:%d", client)
	restoring := time.Now()
	cmd := exec.Command(script, "restore", snap, filepath.Join(dir, "restored"))
	cmd.Env = append(os.Environ(), "ETCD_NAME=restored", "ETCD_INITIAL_CLUSTER=restored="+peerURL,
		"ETCD_INITIAL_ADVERTISE_PEER_URLS="+peerURL, "ETCD_INITIAL_CLUSTER_TOKEN=fault-restore")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	restored := time.Now()
	// The fresh etcd: plain HTTP on loopback, started and stopped here.
	etcd := exec.Command(filepath.Join(c.bin, "etcd"), "--name", "restored", "--data-dir", filepath.Join(dir, "restored"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL, "--log-level", "error")
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	etcd.Stdout, etcd.Stderr = logf, logf
	if err := etcd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		etcd.Process.Kill()
		etcd.Wait()
		logf.Close()
	})
	fresh, err := clientv3.New(clientv3.Config{Endpoints: []string{clientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	var got *clientv3.GetResponse
	serving := eventually(t, 60*time.Second, 100*time.Millisecond, "the restored etcd serves", func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		got, err = fresh.Get(ctx, "", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			return err.Error()
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want, err := c.etcdc.Get(ctx, "", clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithRev(st.Revision))
	if err != nil {
		t.Fatalf("the cluster's keys at revision %d: %v", st.Revision, err)
	}
	have := map[string]int64{}
	for _, kv := range got.Kvs {
		have[string(kv.Key)] = kv.ModRevision
	}
	missing := 0
	for _, kv := range want.Kvs {
		if have[string(kv.Key)] != kv.ModRevision {
			missing++
			if missing <= 5 {
				t.Errorf("%s (mod revision %d) not restored (restored: %d)", kv.Key, kv.ModRevision, have[string(kv.Key)])
			}
		}
	}
	// Every create acknowledged before the save began is in the snapshot.
	prefix := "/registry/configmaps/" + ns + "/"
	inRestored := map[string]bool{}
	for k := range have {
		if strings.HasPrefix(k, prefix) {
			inRestored[strings.TrimPrefix(k, prefix)] = true
		}
	}
	var before []Attempt
	for _, a := range as {
		if a.Acked() && a.End.Before(saving) {
			before = append(before, a)
		}
	}
	lost := Lost(before, inRestored)
	if len(lost) > 0 {
		t.Errorf("%d creates acknowledged before the save are not in the restored etcd: %v", len(lost), lost)
	}
	row.Lost = LostCell(lost, Count(before)) + " acknowledged before the save, in the restored etcd"
	row.Recover = fmt.Sprintf("save %s (revision %d, %d keys); restore %s; the fresh etcd serving after %s with %d of %d keys at their revisions",
		Seconds(saved.Sub(saving)), st.Revision, st.TotalKeys, Seconds(restored.Sub(restoring)), Seconds(serving.Sub(restored)),
		len(want.Kvs)-missing, len(want.Kvs))
}

// TestNodeLost: a node whose kubelet stops for good (until the case ends)
// turns NotReady after the node monitor's grace period (the harness runs
// the controller-manager with --node-monitor-grace-period 30s), is tainted
// node.kubernetes.io/unreachable, and its pods are evicted when their
// tolerations run out (the apiserver's --default-unreachable-toleration-seconds
// 20 in the harness) and run again on the other nodes.
func TestNodeLost(t *testing.T) {
	c := need(t)
	if len(c.nodes) < 2 {
		t.Skip("needs two nodes")
	}
	row := &Row{Fault: "a node lost: its kubelet stopped (node-monitor-grace-period 30 s, unreachable toleration 20 s)"}
	record(t, row)
	ns := c.namespace(t, "fault-node-lost")
	c.apply(t, ns, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: mover
spec:
  replicas: 3
  selector:
    matchLabels: {app: mover}
  template:
    metadata:
      labels: {app: mover}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sleep", "36000"]
`)
	// pods lists the mover pods as name -> node, without those being deleted.
	pods := func() (map[string]string, string) {
		out, err := c.minictl("-n", ns, "get", "pods", "-l", "app=mover", "--no-headers", "-o",
			"custom-columns=NAME:metadata.name,NODE:spec.nodeName,PHASE:status.phase,DEL:metadata.deletionTimestamp")
		if err != nil {
			return nil, err.Error()
		}
		running := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 4 && f[2] == "Running" && f[3] == "<none>" {
				running[f[0]] = f[1]
			}
		}
		return running, out
	}
	var before map[string]string
	eventually(t, 3*time.Minute, time.Second, "3 mover pods running", func() string {
		var out string
		before, out = pods()
		if len(before) != 3 {
			// Never "": an empty listing (no pods yet) is not success.
			return fmt.Sprintf("%d running: %q", len(before), out)
		}
		return ""
	})
	victim := ""
	for _, node := range before {
		victim = node
		break
	}
	if !strings.HasPrefix(victim, "mk8s-node") {
		t.Fatalf("mover pods on no harness node: %v", before)
	}
	var i int
	fmt.Sscanf(strings.TrimPrefix(victim, "mk8s-node"), "%d", &i)
	row.Fault = fmt.Sprintf("a node lost: the kubelet of %s stopped (node-monitor-grace-period 30 s, unreachable toleration 20 s)", victim)
	l := c.startLoad(t, ns, "cm")
	c.stop(t, fmt.Sprintf("kubelet-node%d", i))
	at := time.Now()
	notReady := c.waitNodeReady(t, victim, false, 90*time.Second)
	tainted := eventually(t, 60*time.Second, 500*time.Millisecond, victim+" tainted unreachable", func() string {
		keys, err := c.jsonpath("", "node", victim, ".spec.taints[*].key")
		if err != nil || !strings.Contains(keys, "node.kubernetes.io/unreachable") {
			return fmt.Sprintf("taints %q %v", keys, err)
		}
		return ""
	})
	moved := eventually(t, 3*time.Minute, 500*time.Millisecond, "3 mover pods running off "+victim, func() string {
		now, out := pods()
		n := 0
		for _, node := range now {
			if node != victim {
				n++
			}
		}
		if n != 3 {
			return fmt.Sprintf("%d running off %s: %q", n, victim, out)
		}
		return ""
	})
	c.check(t, l, row)
	row.Recover = fmt.Sprintf("NotReady after %s, tainted unreachable after %s, its pods running on other nodes after %s (from the stop)",
		Seconds(notReady.Sub(at)), Seconds(tainted.Sub(at)), Seconds(moved.Sub(at)))
	// Back for the cases after this one, and the evicted pods gone.
	c.start(t, fmt.Sprintf("kubelet-node%d", i))
	c.waitNodeReady(t, victim, true, 90*time.Second)
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitNodeReady waits until node's Ready condition is True (ready) or
// anything else (not ready: False or Unknown), and returns when.
func (c *cluster) waitNodeReady(t *testing.T, node string, ready bool, timeout time.Duration) time.Time {
	t.Helper()
	what, interval := node+" NotReady", 500*time.Millisecond
	if ready {
		what, interval = node+" Ready again", time.Second
	}
	return eventually(t, timeout, interval, what, func() string {
		st, err := c.jsonpath("", "node", node, `.status.conditions[?(@.type=="Ready")].status`)
		if err != nil || (st == "True") != ready {
			return fmt.Sprintf("Ready=%q %v", st, err)
		}
		return ""
	})
}
