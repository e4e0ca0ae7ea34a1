package fault

// The etcd cases beyond a kill: a member down for a minute, a member cut
// off from its peers by the network and healed, and etcd's disk-full
// alarm (NOSPACE) raised under load and cleared. They run after the
// cases of cases_test.go (go test runs files in name order), the
// disk-full one last: it disturbs the whole cluster most.

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	"minik8s/test/require"
)

// memberRevision is member i's own store revision (its Status header),
// or -1 when it does not answer.
func (c *cluster) memberRevision(i int) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := c.etcdc.Status(ctx, c.etcd[i])
	if err != nil {
		return -1
	}
	return st.Header.Revision
}

// caughtUp waits until member i holds revision rev and returns when.
func (c *cluster) caughtUp(t *testing.T, i int, rev int64) time.Time {
	t.Helper()
	return eventually(t, 60*time.Second, 50*time.Millisecond, fmt.Sprintf("%s at revision %d", c.etcdMember(i), rev), func() string {
		if have := c.memberRevision(i); have < rev {
			return fmt.Sprintf("at revision %d", have)
		}
		return ""
	})
}

// electedDaemons are the harness's processes that hold or wait for a
// Lease; each exits when it cannot renew one it holds (as Kubernetes'
// daemons do) and is not restarted by the harness.
var electedDaemons = []string{"scheduler-0", "scheduler-1", "controller-manager-0", "controller-manager-1"}

// watchElected makes sure every leader-elected daemon runs and returns a
// function that, when the fault is over, starts again those that exited
// and says how many did.
func (c *cluster) watchElected(t *testing.T) (restarted func() string) {
	t.Helper()
	pids := map[string]int{}
	for _, d := range electedDaemons {
		c.start(t, d)
		pids[d] = c.pid(t, d)
	}
	t.Cleanup(func() {
		for _, d := range electedDaemons {
			c.start(t, d)
		}
	})
	return func() string {
		var exited []string
		for _, d := range electedDaemons {
			if !c.ours(pids[d]) {
				exited = append(exited, d)
				c.start(t, d)
			}
		}
		if len(exited) == 0 {
			return "no scheduler or controller-manager exited"
		}
		return fmt.Sprintf("%s exited (a Lease not renewed in time) and restarted", strings.Join(exited, ", "))
	}
}

// etcdCase is what the etcd cases open with: their row (recorded), a
// namespace, the leader-elected daemons watched, the load running, and
// the member that leads when the fault begins.
type etcdCase struct {
	row     *Row
	ns      string
	load    *load
	leader  int
	elected func() string // which elected daemons exited (started again)
}

func (c *cluster) openEtcdCase(t *testing.T, fault, namespace string) *etcdCase {
	t.Helper()
	e := &etcdCase{row: &Row{Fault: fault}}
	record(t, e.row)
	e.ns = c.namespace(t, namespace)
	e.elected = c.watchElected(t)
	e.load = c.startLoad(t, e.ns, "cm")
	var err error
	if e.leader, err = c.etcdLeader(-1); err != nil {
		t.Fatalf("etcd leader: %v", err)
	}
	return e
}

// follower is a member that does not lead.
func (e *etcdCase) follower(c *cluster) int { return (e.leader + 1) % len(c.etcd) }

// finish lets the writes of the recovery land, checks every acknowledged
// one against etcd, and says when writes recovered after at.
func (e *etcdCase) finish(t *testing.T, c *cluster, at time.Time) string {
	t.Helper()
	time.Sleep(3 * time.Second)
	d, ok := Recovery(at, c.check(t, e.load, e.row))
	return recovered(d, ok)
}

// healPartition ends a partition of member cut: the member must have
// fallen behind majority (the partition held), and after the heal it
// catches up. It returns how far behind it was and how long it took.
func (c *cluster) healPartition(t *testing.T, heal func(), cut, majority int, held time.Duration) (behind int64, caughtUp time.Duration) {
	t.Helper()
	cutRev, majorityRev := c.memberRevision(cut), c.memberRevision(majority)
	if cutRev < 0 || majorityRev <= cutRev {
		t.Errorf("after %s cut off, %s is at revision %d and %s at %d: the partition let writes through",
			held, c.etcdMember(cut), cutRev, c.etcdMember(majority), majorityRev)
	}
	healed := time.Now()
	heal()
	return majorityRev - cutRev, c.caughtUp(t, cut, majorityRev).Sub(healed)
}

// TestStopEtcdMemberMinute: an etcd follower stopped for a minute (the
// harness's stop: SIGTERM) while the load runs, then started again: the
// other two keep the quorum, and the member catches up on what it missed.
func TestStopEtcdMemberMinute(t *testing.T) {
	c := need(t)
	const down = 60 * time.Second
	e := c.openEtcdCase(t, "an etcd follower stopped for 60 s, then started again", "fault-etcd-minute")
	follower := e.follower(c)
	name := c.etcdMember(follower)
	e.row.Fault = fmt.Sprintf("an etcd follower (%s) stopped (SIGTERM) for %.0f s, then started again", name, down.Seconds())
	at := time.Now()
	left := c.memberRevision(follower)
	c.stop(t, name)
	time.Sleep(time.Until(at.Add(down)))
	restarted := time.Now()
	target := c.memberRevision(e.leader)
	c.start(t, name)
	back := eventually(t, 60*time.Second, 100*time.Millisecond, name+" answers again", func() string {
		if !c.memberAnswers(follower) {
			return "no status"
		}
		return ""
	})
	caught := c.caughtUp(t, follower, target)
	e.row.Recover = fmt.Sprintf("writes: %s after the stop; %s answering %s after its start, %d revisions behind when started, caught up %s after its start; %s",
		e.finish(t, c, at), name, Seconds(back.Sub(restarted)), target-left, Seconds(caught.Sub(restarted)), e.elected())
}

// TestPartitionEtcdLeader: the etcd leader cut off from the other two
// members by the network for 20 s (partition), then healed. The other two
// elect a leader and writes go on; the cut-off member, which still
// serves its clients (the apiservers reach every member: there is no
// "its" apiserver to cut as well), has no quorum behind it; after the
// heal it follows the new leader and catches up.
func TestPartitionEtcdLeader(t *testing.T) {
	c := need(t)
	const cut = 20 * time.Second
	e := c.openEtcdCase(t, "the etcd leader cut off from its peers (iptables) for 20 s, then healed", "fault-etcd-partition")
	leader := e.leader
	name := c.etcdMember(leader)
	e.row.Fault = fmt.Sprintf("the etcd leader (%s) cut off from its peers for %.0f s (iptables drops its peer traffic; its clients still reach it), then healed", name, cut.Seconds())
	heal := c.partition(t, leader)
	at := time.Now()
	var next int
	elected := eventually(t, 30*time.Second, 50*time.Millisecond, "a leader among the other members", func() string {
		i, err := c.etcdLeader(leader)
		if err != nil {
			return err.Error()
		}
		next = i
		return ""
	})
	t.Logf("new leader %s after %s", c.etcdMember(next), elected.Sub(at))
	time.Sleep(time.Until(at.Add(cut)))
	behind, caught := c.healPartition(t, heal, leader, next, cut)
	e.row.Recover = fmt.Sprintf("writes: %s after the cut; new leader %s elected after %s; %s %d revisions behind at the heal, caught up %s after it; %s",
		e.finish(t, c, at), c.etcdMember(next), Seconds(elected.Sub(at)), name, behind, Seconds(caught), e.elected())
}

// TestBlackholeEtcdClientPort: an etcd follower's client port goes
// silent for 30 s - every packet to or from it dropped, so the
// apiservers' connections to it neither answer nor close (a member whose
// host hangs, or a firewall dropping instead of refusing) - while it keeps
// its place in the cluster through its peer port; then healed. Writes the
// apiservers send to it must be taken by the other members, and lists
// through each apiserver (served from its watch cache, whose etcd watch
// may be on the silent member) must still answer with every write
// acknowledged before them.
func TestBlackholeEtcdClientPort(t *testing.T) {
	c := need(t)
	const cut = 30 * time.Second
	e := c.openEtcdCase(t, "an etcd follower's client port black-holed for 30 s, then healed", "fault-etcd-blackhole")
	follower := e.follower(c)
	name := c.etcdMember(follower)
	host, port, err := hostPort(c.etcd[follower])
	if err != nil {
		t.Fatal(err)
	}
	e.row.Fault = fmt.Sprintf("%s (a follower): its client port black-holed for %.0f s (iptables drops every packet to and from it; its peers still reach it), then healed", name, cut.Seconds())
	heal := c.cutOff(t, processCut{name: name, pid: c.pid(t, name), host: host, listens: []string{strconv.Itoa(port)}})
	at := time.Now()
	// Lists through each apiserver while the port is silent: each must
	// answer within 10 s and hold every create acknowledged before it.
	var lists, bad int
	var problems []string
	for time.Since(at) < cut {
		for _, server := range c.servers {
			lists++
			if p := c.listHoldsAcked(e.load, e.ns, server); p != "" {
				bad++
				if len(problems) < 3 {
					problems = append(problems, p)
				}
			}
		}
		time.Sleep(2 * time.Second)
	}
	heal()
	writes := e.finish(t, c, at)
	if bad > 0 {
		t.Errorf("%d of %d lists through the apiservers failed or missed an acknowledged create while %s was silent: %s", bad, lists, name, strings.Join(problems, "; "))
	}
	e.row.Recover = fmt.Sprintf("writes: %s after the cut; %d of %d lists through the apiservers failed or missed an acknowledged create; %s", writes, bad, lists, e.elected())
}

// listHoldsAcked lists the load's namespace through one apiserver (a
// consistent list, resourceVersion "") and says what is wrong: an error,
// or a create acknowledged before the list began that it does not hold.
func (c *cluster) listHoldsAcked(l *load, ns, server string) string {
	acked := map[string]bool{}
	for _, a := range l.snapshot() {
		if a.Acked() {
			acked[a.Name] = true
		}
	}
	api, err := c.client(server)
	if err != nil {
		return err.Error()
	}
	defer api.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	list, err := client.For[*corev1.ConfigMap](api).List(ctx, ns, client.ListOptions{})
	if err != nil {
		return fmt.Sprintf("%s: list after %s: %v", server, Seconds(time.Since(start)), err)
	}
	for _, cm := range list.Items {
		delete(acked, cm.GetMetadata().GetName())
	}
	if len(acked) > 0 {
		return fmt.Sprintf("%s: list misses %d acknowledged creates", server, len(acked))
	}
	return ""
}

// TestPartitionEtcdFollower: an etcd follower cut off from the other two
// members for 20 s, then healed. The leader keeps its quorum with the
// other follower and nothing changes for writes; the cut-off member loses
// its leader after an election timeout and, asked only for requests that
// need one (the storage's require-leader), refuses them at once so the
// apiservers' client retries elsewhere; its elections stay its own
// (etcd's pre-vote: it cannot win, so it does not disturb the leader);
// after the heal it catches up.
func TestPartitionEtcdFollower(t *testing.T) {
	c := need(t)
	const cut = 20 * time.Second
	e := c.openEtcdCase(t, "an etcd follower cut off from its peers (iptables) for 20 s, then healed", "fault-etcd-follower-partition")
	leader, follower := e.leader, e.follower(c)
	name := c.etcdMember(follower)
	e.row.Fault = fmt.Sprintf("an etcd follower (%s) cut off from its peers for %.0f s (iptables drops its peer traffic; its clients still reach it), then healed", name, cut.Seconds())
	heal := c.partition(t, follower)
	at := time.Now()
	time.Sleep(cut)
	after, err := c.etcdLeader(follower)
	if err != nil || after != leader {
		t.Errorf("leader after %s with %s cut off: %s (%v); want %s still: the cut-off follower disturbed the leader", cut, name, c.etcdMember(after), err, c.etcdMember(leader))
	}
	behind, caught := c.healPartition(t, heal, follower, leader, cut)
	e.row.Recover = fmt.Sprintf("writes: %s after the cut; %s kept the lead; %s %d revisions behind at the heal, caught up %s after it; %s",
		e.finish(t, c, at), c.etcdMember(leader), name, behind, Seconds(caught), e.elected())
}

// partition cuts etcd member i off from the other members' peer traffic
// and returns the heal (also run when the test ends). The members are
// processes on one address (the harness's gateway), so the cut is by port
// and by process (see cutOff): every packet to or from the member's peer
// port (the others' dials), and its own dials to the others' peer ports.
//
// Its client port stays open. This is etcd's functional tests'
// "blackhole the peer port" fault, done without a proxy the harness would
// have to start the members behind.
func (c *cluster) partition(t *testing.T, i int) (heal func()) {
	t.Helper()
	name := c.etcdMember(i)
	host, port, err := hostPort(c.etcd[i])
	if err != nil {
		t.Fatal(err)
	}
	// The harness gives member k client port 2379+10k and peer port one
	// above it.
	cut := processCut{name: name, pid: c.pid(t, name), host: host, listens: []string{strconv.Itoa(port + 1)}}
	for j, ep := range c.etcd {
		if j == i {
			continue
		}
		_, p, err := hostPort(ep)
		if err != nil {
			t.Fatal(err)
		}
		cut.dials = append(cut.dials, strconv.Itoa(p+1))
	}
	return c.cutOff(t, cut)
}

// processCut is what cutOff drops: one process's traffic on host.
type processCut struct {
	name    string   // the harness's component name, for messages
	pid     int      // its PID, as the harness recorded it
	host    string   // the address both ends use (the harness's gateway)
	listens []string // ports of its own whose every packet is dropped
	dials   []string // others' ports its connections to are dropped
}

// cutOff drops a process's traffic on loopback-like paths in the
// harness's own chain (c.faultChain, jumped from OUTPUT: on a local
// address every packet passes OUTPUT once), and returns the heal (also
// run when the test ends):
//   - every packet to or from one of its listening ports (others' dials);
//   - every packet of the connections it has already dialed to one of the
//     dial ports, by their local ports (read from /proc);
//   - every packet its new sockets send to those ports (its redials), by
//     its cgroup: it is moved into a cgroup v2 directory of its own under
//     c.faultCgroup, which xt_cgroup matches (a socket keeps the cgroup it
//     was made in, hence the ports for the old ones).
//
// Dropped, not refused: the process sees a network that went silent, as
// a cable pulled would look, not a peer that closed.
func (c *cluster) cutOff(t *testing.T, cut processCut) (heal func()) {
	t.Helper()
	if c.faultChain == "" || c.faultCgroup == "" {
		require.Skip(t, "cluster.env names no MK8S_FAULT_CHAIN or MK8S_FAULT_CGROUP: bring the cluster up with this checkout's make up")
	}
	name, pid := cut.name, cut.pid
	root, err := cgroup2Root()
	if err != nil {
		t.Fatal(err)
	}
	orig, err := cgroupOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(c.faultCgroup, name)
	if !strings.HasPrefix(dir, root+"/") {
		t.Fatalf("%s is not below the cgroup v2 mount %s", dir, root)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	var once sync.Once
	heal = func() {
		once.Do(func() {
			c.iptables(t, true, "-D", "OUTPUT", "-j", c.faultChain)
			c.iptables(t, true, "-F", c.faultChain)
			c.iptables(t, true, "-X", c.faultChain)
			if c.ours(pid) {
				if err := os.WriteFile(filepath.Join(root, orig, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
					t.Errorf("move %s back to cgroup %s: %v", name, orig, err)
				}
			}
			if err := os.Remove(dir); err != nil {
				t.Logf("remove %s: %v", dir, err)
			}
			t.Logf("healed: %s's traffic flows again", name)
		})
	}
	t.Cleanup(heal)
	if len(cut.dials) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			t.Fatalf("move %s into %s: %v", name, dir, err)
		}
	}
	// Read after the move: a socket made since is matched by the cgroup.
	dialed, err := dialedPorts(pid, cut.dials)
	if err != nil {
		t.Fatal(err)
	}

	// A chain left by an aborted run is emptied and reused.
	c.iptables(t, true, "-D", "OUTPUT", "-j", c.faultChain)
	c.iptables(t, true, "-F", c.faultChain)
	c.iptables(t, true, "-N", c.faultChain)
	tcp := []string{"-A", c.faultChain, "-p", "tcp", "-s", cut.host, "-d", cut.host}
	var rules [][]string
	for _, p := range cut.listens {
		rules = append(rules, []string{"--dport", p, "-j", "DROP"}, []string{"--sport", p, "-j", "DROP"})
	}
	if len(cut.dials) > 0 {
		rules = append(rules, []string{"-m", "multiport", "--dports", strings.Join(cut.dials, ","), "-m", "cgroup", "--path", strings.TrimPrefix(dir, root), "-j", "DROP"})
	}
	for _, d := range dialed {
		rules = append(rules,
			[]string{"--sport", d[0], "--dport", d[1], "-j", "DROP"},
			[]string{"--sport", d[1], "--dport", d[0], "-j", "DROP"})
	}
	for _, r := range rules {
		c.iptables(t, false, append(append([]string(nil), tcp...), r...)...)
	}
	c.iptables(t, false, "-I", "OUTPUT", "1", "-j", c.faultChain)
	t.Logf("cut %s (pid %d) off: ports %v, %d dialed connections to %v, new dials from cgroup %s", name, pid, cut.listens, len(dialed), cut.dials, dir)
	return heal
}

// iptables runs iptables -w with args; unless quiet, a failure fails the
// test.
func (c *cluster) iptables(t *testing.T, quiet bool, args ...string) {
	t.Helper()
	out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil && !quiet {
		t.Fatalf("iptables %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// hostPort splits an etcd client URL.
func hostPort(endpoint string) (string, int, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		return "", 0, fmt.Errorf("%s: no port", endpoint)
	}
	return u.Hostname(), p, nil
}

// cgroup2Root is where the cgroup v2 hierarchy is mounted
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host).
func cgroup2Root() (string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if f := strings.Fields(s.Text()); len(f) >= 3 && f[2] == "cgroup2" {
			return f[1], nil
		}
	}
	return "", errors.New("no cgroup2 mount: the partition needs cgroup v2 (xt_cgroup --path)")
}

// cgroupOf is pid's cgroup v2 path ("0::PATH" in /proc/PID/cgroup).
func cgroupOf(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("pid %d: no cgroup v2 entry in %q", pid, b)
}

// dialedPorts lists pid's TCP connections to one of ports (its dials to
// the other members' peer ports) as {local port, remote port} pairs, from
// the sockets among its descriptors and its namespace's /proc/net/tcp.
func dialedPorts(pid int, ports []string) ([][2]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	want := map[int]bool{}
	for _, p := range ports {
		n, _ := strconv.Atoi(p)
		want[n] = true
	}
	var out [][2]string
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			local, remote := hexPort(f[1]), hexPort(f[2])
			if want[remote] && local > 0 {
				out = append(out, [2]string{strconv.Itoa(local), strconv.Itoa(remote)})
			}
		}
	}
	return out, nil
}

// hexPort is the port of a /proc/net/tcp address ("0100FA0A:0950").
func hexPort(addr string) int {
	_, p, ok := strings.Cut(addr, ":")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(p, 16, 32)
	if err != nil {
		return 0
	}
	return int(n)
}

// TestEtcdNoSpace: etcd's disk full, as etcd reports it: with the
// members' --quota-backend-bytes small (make fault's FAULT_ETCD_QUOTA), a
// client fills the database until etcd raises its NOSPACE alarm. Then
// every create through the apiservers is refused with one clear error,
// reads still answer, and after the operator's recovery - delete what
// filled it, then hack/etcd-backup.sh reclaim (compact, defragment every
// member, disarm the alarm) - writes resume, with no acknowledged write
// lost. A scheduler or controller-manager that cannot renew its Lease
// while etcd refuses writes exits, as Kubernetes' do; the case starts
// them again and says which did.
func TestEtcdNoSpace(t *testing.T) {
	c := need(t)
	row := &Row{Fault: "etcd's disk full: the database filled to its quota (NOSPACE alarm), then reclaimed"}
	record(t, row)
	quota, size := c.etcdQuota(t)
	if quota <= 0 || quota > 1<<30 {
		require.Skip(t, fmt.Sprintf("etcd's quota is %d bytes: start the cluster with a small one (make fault sets MK8S_ETCD_QUOTA)", quota))
	}
	row.Fault = fmt.Sprintf("etcd's disk full: a client fills the database to the members' %d MiB quota (NOSPACE alarm), then hack/etcd-backup.sh reclaim", quota>>20)
	ns := c.namespace(t, "fault-etcd-nospace")
	daemons := c.watchElected(t)
	const fill = "/fault-fill/"
	filled := false
	t.Cleanup(func() {
		// A failed case leaves no full etcd behind.
		if filled {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := c.etcdc.Delete(ctx, fill, clientv3.WithPrefix()); err != nil {
				t.Errorf("delete %s: %v", fill, err)
			}
			if out, err := c.reclaim(); err != nil {
				t.Errorf("reclaim: %v\n%s", err, out)
			}
		}
	})
	l := c.startLoad(t, ns, "cm")

	value := make([]byte, 1<<20-4096) // below etcd's 1.5 MiB request limit
	if _, err := rand.Read(value); err != nil {
		t.Fatal(err)
	}
	filling := time.Now()
	var n int
	for ; ; n++ {
		if n > int(quota/int64(len(value)))+20 {
			t.Fatalf("no NOSPACE alarm after writing %d MiB to a %d MiB quota", n, quota>>20)
		}
		filled = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := c.etcdc.Put(ctx, fmt.Sprintf("%s%05d", fill, n), string(value))
		cancel()
		if errors.Is(err, rpctypes.ErrNoSpace) {
			break
		}
		if err != nil {
			t.Fatalf("fill %d: %v", n, err)
		}
	}
	full := time.Now()
	_, atAlarm := c.etcdQuota(t)
	t.Logf("NOSPACE after %d MiB in %s (database %s before, %s at the alarm)", n, full.Sub(filling), mib(size), mib(atAlarm))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	alarms, err := c.etcdc.AlarmList(ctx)
	cancel()
	if err != nil || len(alarms.Alarms) == 0 || alarms.Alarms[0].Alarm != etcdserverpb.AlarmType_NOSPACE {
		t.Fatalf("alarms: %v, %v; want NOSPACE", alarms, err)
	}

	// Creates through the apiservers are refused with the clear error.
	var refusal string
	eventually(t, 30*time.Second, 100*time.Millisecond, "a create refused for want of space", func() string {
		for _, a := range l.snapshot() {
			if a.Start.After(full) && a.Err != nil && strings.Contains(a.Err.Error(), "etcd is out of space") {
				refusal = a.Err.Error()
				return ""
			}
		}
		return fmt.Sprintf("last error: %v", l.lastErr())
	})
	t.Logf("refused: %s", refusal)
	// Reads answer: a get of an acknowledged object, a list of the namespace.
	var acked string
	for _, a := range l.snapshot() {
		if a.Acked() {
			acked = a.Name
			break
		}
	}
	reading := time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	_, gerr := client.For[*corev1.ConfigMap](c.api).Get(ctx, ns, acked)
	list, lerr := client.For[*corev1.ConfigMap](c.api).List(ctx, ns, client.ListOptions{})
	cancel()
	read := time.Since(reading)
	if gerr != nil || lerr != nil {
		t.Errorf("reads during the alarm: get %s: %v; list: %v", acked, gerr, lerr)
	}
	listed := 0
	if list != nil {
		listed = len(list.Items)
	}
	time.Sleep(2 * time.Second)

	recovering := time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	del, err := c.etcdc.Delete(ctx, fill, clientv3.WithPrefix())
	cancel()
	if err != nil {
		t.Fatalf("delete the fill during the alarm: %v", err)
	}
	out, err := c.reclaim()
	if err != nil {
		t.Fatalf("reclaim: %v\n%s", err, out)
	}
	filled = false
	reclaimed := time.Now()
	t.Logf("deleted %d keys; reclaim took %s:\n%s", del.Deleted, reclaimed.Sub(recovering), out)
	eventually(t, 30*time.Second, 100*time.Millisecond, "a create acknowledged after the reclaim", func() string {
		for _, a := range l.snapshot() {
			if a.Start.After(reclaimed) && a.Acked() {
				return ""
			}
		}
		return fmt.Sprintf("last error: %v", l.lastErr())
	})
	_, after := c.etcdQuota(t)
	time.Sleep(3 * time.Second)
	as := c.check(t, l, row)
	d, ok := Recovery(full, as)
	back, backOK := Recovery(recovering, as)
	if len(refusal) > 90 {
		refusal = refusal[:90] + "..."
	}
	row.Recover = fmt.Sprintf("alarm after %d MiB written in %s; creates refused: %q; reads answered (get and a list of %d in %s); "+
		"recovery (delete the fill, then reclaim: compact, defragment 3 members, disarm) %s; writes: %s after the alarm (held 2 s), %s after the recovery began; "+
		"largest member database %s at the alarm, %s after; %s",
		n, Seconds(full.Sub(filling)), refusal, listed, Seconds(read), Seconds(reclaimed.Sub(recovering)), recovered(d, ok), recovered(back, backOK),
		mib(atAlarm), mib(after), daemons())
}

// mib formats a size in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// etcdQuota is the smallest --quota-backend-bytes among the members and
// the largest database file.
func (c *cluster) etcdQuota(t *testing.T) (quota, size int64) {
	t.Helper()
	for _, ep := range c.etcd {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := c.etcdc.Status(ctx, ep)
		cancel()
		if err != nil {
			t.Fatalf("status of %s: %v", ep, err)
		}
		if quota == 0 || st.DbSizeQuota < quota {
			quota = st.DbSizeQuota
		}
		size = max(size, st.DbSize)
	}
	return quota, size
}

// reclaim runs hack/etcd-backup.sh reclaim against the cluster.
func (c *cluster) reclaim() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.root, "hack", "etcd-backup.sh"), "reclaim")
	cmd.Env = append(os.Environ(), "CLUSTER_ENV="+c.env)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
