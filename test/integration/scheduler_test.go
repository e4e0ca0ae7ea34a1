package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/scheduler/app"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
	"minik8s/test/proc"
)

// ---- helpers ---------------------------------------------------------

// schedNode is a Ready Node object (no kubelet behind it).
func schedNode(name, cpu, mem string, lbls map[string]string, taints ...*corev1.Taint) *corev1.Node {
	l := map[string]string{"kubernetes.io/hostname": name}
	for k, v := range lbls {
		l[k] = v
	}
	return &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: name, Labels: l},
		Spec:     &corev1.NodeSpec{Taints: taints},
		Status: &corev1.NodeStatus{
			Capacity:    map[string]string{"cpu": cpu, "memory": mem, "pods": "110"},
			Allocatable: map[string]string{"cpu": cpu, "memory": mem, "pods": "110"},
			Conditions:  []*corev1.NodeCondition{{Type: "Ready", Status: "True", Reason: "KubeletReady"}},
		},
	}
}

// schedPod is a pending pod requesting cpu (and memory when given).
func schedPod(name, cpu string, edit ...func(*corev1.Pod)) *corev1.Pod {
	req := map[string]string{}
	if cpu != "" {
		req["cpu"] = cpu
	}
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "registry.local/kubia:1",
			Resources: &corev1.ResourceRequirements{Requests: req}}}},
	}
	for _, e := range edit {
		e(p)
	}
	return p
}

// startScheduler runs a scheduler in this process until the test ends and
// returns the address of its /healthz and /metrics.
func startScheduler(t *testing.T, s *apiservertest.Server, edit func(o *app.Options)) string {
	t.Helper()
	o := app.NewOptions()
	o.Server = s.Addr
	o.Kubeconfig = s.Kubeconfig
	o.LeaderElect = false
	o.Port = freePort(t)
	o.PodInitialBackoff = 200 * time.Millisecond
	o.PodMaxBackoff = time.Second
	if edit != nil {
		edit(o)
	}
	if err := o.Complete(nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, o, app.Hooks{Ready: func(a string) { ready <- a }}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler %s: %v", o.SchedulerName, err)
		}
	})
	select {
	case addr := <-ready:
		return addr
	case err := <-done:
		t.Fatalf("scheduler did not start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("scheduler did not sync within 20s")
	}
	return ""
}

// schedEventually polls cond every 50ms until it returns "" or the deadline
// passes; then it fails with cond's last complaint.
func schedEventually(t *testing.T, within time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type schedEnv struct {
	t      *testing.T
	ctx    context.Context
	pods   *client.Resource[*corev1.Pod]
	nodes  *client.Resource[*corev1.Node]
	events *client.Resource[*corev1.Event]
}

func newSchedEnv(t *testing.T, s *apiservertest.Server) *schedEnv {
	c := s.Client(t)
	return &schedEnv{t: t, ctx: ctxT(t), pods: client.For[*corev1.Pod](c), nodes: client.For[*corev1.Node](c), events: client.For[*corev1.Event](c)}
}

func (e *schedEnv) createNodes(ns ...*corev1.Node) {
	e.t.Helper()
	for _, n := range ns {
		if _, err := e.nodes.Create(e.ctx, n); err != nil {
			e.t.Fatalf("create node %s: %v", n.Metadata.Name, err)
		}
	}
}

func (e *schedEnv) createPods(ps ...*corev1.Pod) {
	e.t.Helper()
	for _, p := range ps {
		if _, err := e.pods.Create(e.ctx, p); err != nil {
			e.t.Fatalf("create pod %s: %v", p.Metadata.Name, err)
		}
	}
}

// waitBound waits until the pod is bound and returns its node.
func (e *schedEnv) waitBound(name string, within time.Duration) string {
	e.t.Helper()
	var node string
	schedEventually(e.t, within, func() string {
		p, err := e.pods.Get(e.ctx, "default", name)
		if err != nil {
			return err.Error()
		}
		node = p.GetSpec().GetNodeName()
		if node == "" {
			return fmt.Sprintf("pod %s not bound (conditions %v)", name, p.GetStatus().GetConditions())
		}
		return ""
	})
	return node
}

// waitUnschedulable waits for PodScheduled=False/Unschedulable with msg.
func (e *schedEnv) waitUnschedulable(name, msg string) {
	e.t.Helper()
	schedEventually(e.t, 10*time.Second, func() string {
		p, err := e.pods.Get(e.ctx, "default", name)
		if err != nil {
			return err.Error()
		}
		if p.GetSpec().GetNodeName() != "" {
			e.t.Fatalf("pod %s bound to %s, want unschedulable", name, p.Spec.NodeName)
		}
		for _, c := range p.GetStatus().GetConditions() {
			if c.Type == "PodScheduled" && c.Status == "False" && c.Reason == "Unschedulable" && c.Message == msg {
				return ""
			}
		}
		return fmt.Sprintf("pod %s conditions %v, want PodScheduled=False Unschedulable %q", name, p.GetStatus().GetConditions(), msg)
	})
}

// waitEvent waits for an event about pod with reason and message from component.
func (e *schedEnv) waitEvent(pod, reason, msg, component string) *corev1.Event {
	e.t.Helper()
	var found *corev1.Event
	schedEventually(e.t, 10*time.Second, func() string {
		l, err := e.events.List(e.ctx, "default", client.ListOptions{})
		if err != nil {
			return err.Error()
		}
		var seen []string
		for _, ev := range l.Items {
			if ev.GetInvolvedObject().GetName() != pod {
				continue
			}
			seen = append(seen, ev.Reason+": "+ev.Message)
			if ev.Reason == reason && ev.Message == msg && ev.GetSource().GetComponent() == component {
				found = ev
				return ""
			}
		}
		return fmt.Sprintf("no %s event %q from %s for %s; have %q", reason, msg, component, pod, seen)
	})
	return found
}

// scheduledEvents counts Scheduled events (with repeats) per pod name.
func (e *schedEnv) scheduledEvents() map[string]int32 {
	e.t.Helper()
	l, err := e.events.List(e.ctx, "default", client.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int32{}
	for _, ev := range l.Items {
		if ev.Reason == "Scheduled" {
			out[ev.GetInvolvedObject().GetName()] += ev.Count
		}
	}
	return out
}

// checkNoOvercommit fails if any node's bound pods request more cpu than it has.
func (e *schedEnv) checkNoOvercommit(alloc map[string]int64) {
	e.t.Helper()
	l, err := e.pods.List(e.ctx, "default", client.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	used := map[string]int64{}
	for _, p := range l.Items {
		if n := p.GetSpec().GetNodeName(); n != "" {
			used[n] += schedMilliCPU(e.t, p.Spec.Containers[0].GetResources().GetRequests()["cpu"])
		}
	}
	for n, u := range used {
		if u > alloc[n] {
			e.t.Errorf("node %s overcommitted: %dm requested of %dm", n, u, alloc[n])
		}
	}
}

func schedMilliCPU(t *testing.T, q string) int64 {
	if q == "" {
		return 0
	}
	if strings.HasSuffix(q, "m") {
		var v int64
		fmt.Sscanf(q, "%dm", &v)
		return v
	}
	var v int64
	fmt.Sscanf(q, "%d", &v)
	return v * 1000
}

func schedHTTPGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// ---- tests -------------------------------------------------------------

// TestSchedulerFitsPodsToNodes: three nodes of different sizes get pods by
// their fit, never overcommitted; a pod too big for all of them gets
// PodScheduled=False and a FailedScheduling event, and is placed as soon
// as a node that fits is added; deleting a pod frees room for a waiting
// one; /healthz and /metrics answer.
func TestSchedulerFitsPodsToNodes(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	e := newSchedEnv(t, s)
	e.createNodes(
		schedNode("small", "1", "2Gi", nil),
		schedNode("medium", "2", "4Gi", nil),
		schedNode("large", "4", "8Gi", nil),
	)
	httpAddr := startScheduler(t, s, nil)

	// Only large fits 3 cpu; then only medium fits 1500m (large has 1 left).
	e.createPods(schedPod("p-big", "3"))
	if n := e.waitBound("p-big", 10*time.Second); n != "large" {
		t.Fatalf("p-big on %s, want large", n)
	}
	e.createPods(schedPod("p-mid", "1500m"))
	if n := e.waitBound("p-mid", 10*time.Second); n != "medium" {
		t.Fatalf("p-mid on %s, want medium", n)
	}
	// 900m fits small or large (1 cpu free each), not medium (500m free).
	e.createPods(schedPod("p-900", "900m"))
	if n := e.waitBound("p-900", 10*time.Second); n != "small" && n != "large" {
		t.Fatalf("p-900 on %s, want small or large", n)
	}
	ev := e.waitEvent("p-big", "Scheduled", "Successfully assigned default/p-big to large", "default-scheduler")
	if ev.Type != "Normal" {
		t.Errorf("Scheduled event type %q", ev.Type)
	}

	// Too big for every node: condition and event say why, per node count.
	e.createPods(schedPod("p-huge", "6"))
	msg := "0/3 nodes are available: 3 Insufficient cpu."
	e.waitUnschedulable("p-huge", msg)
	ev = e.waitEvent("p-huge", "FailedScheduling", msg, "default-scheduler")
	if ev.Type != "Warning" {
		t.Errorf("FailedScheduling event type %q", ev.Type)
	}
	// A fitting node appears: the pod is placed without waiting for a resync.
	e.createNodes(schedNode("xlarge", "8", "16Gi", nil))
	if n := e.waitBound("p-huge", 5*time.Second); n != "xlarge" {
		t.Fatalf("p-huge on %s, want xlarge", n)
	}
	e.waitEvent("p-huge", "Scheduled", "Successfully assigned default/p-huge to xlarge", "default-scheduler")
	schedEventually(t, 5*time.Second, func() string {
		p, _ := e.pods.Get(e.ctx, "default", "p-huge")
		for _, c := range p.GetStatus().GetConditions() {
			if c.Type == "PodScheduled" && c.Status == "True" {
				return ""
			}
		}
		return fmt.Sprintf("p-huge conditions %v, want PodScheduled=True", p.GetStatus().GetConditions())
	})

	// Fill up: xlarge has 2 cpu left, large at most 1, medium 500m. A
	// 3-cpu pod waits until p-big (3 cpu on large) is deleted.
	e.createPods(schedPod("p-wait", "3"))
	e.waitUnschedulable("p-wait", "0/4 nodes are available: 4 Insufficient cpu.")
	if _, err := e.pods.Delete(e.ctx, "default", "p-big", &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	if n := e.waitBound("p-wait", 5*time.Second); n != "large" {
		t.Fatalf("p-wait on %s, want large", n)
	}
	e.checkNoOvercommit(map[string]int64{"small": 1000, "medium": 2000, "large": 4000, "xlarge": 8000})

	if code, body := schedHTTPGet(t, "http://"+httpAddr+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	_, metrics := schedHTTPGet(t, "http://"+httpAddr+"/metrics")
	for _, want := range []string{
		`scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 5`,
		`scheduler_schedule_attempts_total{profile="default-scheduler",result="unschedulable"}`,
		`scheduler_e2e_scheduling_duration_seconds_count{profile="default-scheduler",result="scheduled"} 5`,
		`scheduler_pending_pods{profile="default-scheduler",queue="unschedulable"} 0`,
		`scheduler_queue_incoming_pods_total{event="NodeAdd",profile="default-scheduler"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestSchedulerHonoursConstraints: nodeSelector, required node affinity,
// taints and tolerations, required pod affinity and anti-affinity (by
// hostname and by a zone label).
func TestSchedulerHonoursConstraints(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	e := newSchedEnv(t, s)
	gpuTaint := &corev1.Taint{Key: "dedicated", Value: "gpu", Effect: "NoSchedule"}
	e.createNodes(
		schedNode("n1", "4", "8Gi", map[string]string{"disk": "ssd", "zone": "a"}),
		schedNode("n2", "4", "8Gi", map[string]string{"disk": "hdd", "zone": "a"}),
		schedNode("n3", "4", "8Gi", map[string]string{"zone": "b"}, gpuTaint),
	)
	startScheduler(t, s, nil)

	onHost := func(h string) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": h} }
	}
	tolerateGPU := func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, &corev1.Toleration{Key: "dedicated", Operator: "Equal", Value: "gpu", Effect: "NoSchedule"})
	}
	label := func(kv ...string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			for i := 0; i < len(kv); i += 2 {
				p.Metadata.Labels[kv[i]] = kv[i+1]
			}
		}
	}
	term := func(key, app string) *corev1.PodAffinityTerm {
		return &corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}
	}
	antiAffinity := func(key, app string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []*corev1.PodAffinityTerm{term(key, app)}}}
		}
	}
	affinity := func(key, app string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []*corev1.PodAffinityTerm{term(key, app)}}}
		}
	}

	e.createPods(
		schedPod("by-selector", "100m", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }),
		schedPod("by-affinity", "100m", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "disk", Operator: "In", Values: []string{"hdd"}}}}}}}}
		}),
		schedPod("tolerates-gpu", "100m", onHost("n3"), tolerateGPU),
		schedPod("cache", "100m", onHost("n2"), label("app", "cache")),
	)
	for name, want := range map[string]string{"by-selector": "n1", "by-affinity": "n2", "tolerates-gpu": "n3", "cache": "n2"} {
		if got := e.waitBound(name, 10*time.Second); got != want {
			t.Errorf("%s on %s, want %s", name, got, want)
		}
	}

	// Pinned to the tainted node without a toleration: why, per node.
	e.createPods(schedPod("no-toleration", "100m", onHost("n3")))
	e.waitUnschedulable("no-toleration",
		"0/3 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: gpu}.")

	// Pod affinity: follows the cache pod to n2; by zone: n1 or n2.
	e.createPods(schedPod("near-cache", "100m", affinity("kubernetes.io/hostname", "cache")),
		schedPod("zone-of-cache", "100m", affinity("zone", "cache")))
	if n := e.waitBound("near-cache", 10*time.Second); n != "n2" {
		t.Errorf("near-cache on %s, want n2", n)
	}
	if n := e.waitBound("zone-of-cache", 10*time.Second); n != "n1" && n != "n2" {
		t.Errorf("zone-of-cache on %s, want zone a (n1 or n2)", n)
	}

	// Anti-affinity by hostname: three replicas (tolerating the taint) on
	// three different nodes; a fourth has nowhere to go.
	for i := 0; i < 3; i++ {
		e.createPods(schedPod(fmt.Sprintf("web-%d", i), "100m", label("app", "web"), antiAffinity("kubernetes.io/hostname", "web"), tolerateGPU))
	}
	hosts := map[string]bool{}
	for i := 0; i < 3; i++ {
		hosts[e.waitBound(fmt.Sprintf("web-%d", i), 10*time.Second)] = true
	}
	if len(hosts) != 3 {
		t.Errorf("web replicas share nodes: %v", hosts)
	}
	e.createPods(schedPod("web-3", "100m", label("app", "web"), antiAffinity("kubernetes.io/hostname", "web"), tolerateGPU))
	e.waitUnschedulable("web-3", "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules.")

	// Anti-affinity by zone: one db per zone.
	e.createPods(schedPod("db-0", "100m", label("app", "db"), antiAffinity("zone", "db"), tolerateGPU),
		schedPod("db-1", "100m", label("app", "db"), antiAffinity("zone", "db"), tolerateGPU))
	z := map[string]string{"n1": "a", "n2": "a", "n3": "b"}
	if a, b := e.waitBound("db-0", 10*time.Second), e.waitBound("db-1", 10*time.Second); z[a] == z[b] {
		t.Errorf("db pods in one zone: %s and %s", a, b)
	}

	// Deleting a web replica lets web-3 in, on the freed node.
	freed := ""
	for i := 0; i < 3; i++ {
		p, _ := e.pods.Get(e.ctx, "default", fmt.Sprintf("web-%d", i))
		if i == 0 {
			freed = p.Spec.NodeName
		}
	}
	if _, err := e.pods.Delete(e.ctx, "default", "web-0", &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	if n := e.waitBound("web-3", 5*time.Second); n != freed {
		t.Errorf("web-3 on %s, want the freed node %s", n, freed)
	}
}

// TestMultipleSchedulers: two schedulers with different names each bind
// only their own pods; a pod naming a scheduler that does not run stays
// Pending.
func TestMultipleSchedulers(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	e := newSchedEnv(t, s)
	e.createNodes(schedNode("n1", "8", "16Gi", nil), schedNode("n2", "8", "16Gi", nil))
	startScheduler(t, s, nil)
	startScheduler(t, s, func(o *app.Options) { o.SchedulerName = "second-scheduler" })

	named := func(n string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Spec.SchedulerName = n } }
	e.createPods(schedPod("ghost", "100m", named("ghost-scheduler")))
	for i := 0; i < 5; i++ {
		e.createPods(schedPod(fmt.Sprintf("first-%d", i), "100m"), schedPod(fmt.Sprintf("second-%d", i), "100m", named("second-scheduler")))
	}
	for i := 0; i < 5; i++ {
		for _, pfx := range []string{"first", "second"} {
			name := fmt.Sprintf("%s-%d", pfx, i)
			node := e.waitBound(name, 10*time.Second)
			component := map[string]string{"first": "default-scheduler", "second": "second-scheduler"}[pfx]
			e.waitEvent(name, "Scheduled", fmt.Sprintf("Successfully assigned default/%s to %s", name, node), component)
		}
	}
	// Each scheduler wrote exactly its own Scheduled events.
	l, err := e.events.List(e.ctx, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range l.Items {
		if ev.Reason != "Scheduled" {
			continue
		}
		want := "default-scheduler"
		if strings.HasPrefix(ev.InvolvedObject.Name, "second-") {
			want = "second-scheduler"
		}
		if ev.Source.Component != want || ev.Count != 1 {
			t.Errorf("event for %s from %s (count %d), want %s once", ev.InvolvedObject.Name, ev.Source.Component, ev.Count, want)
		}
	}
	// Both schedulers have processed everything created before the ghost's
	// peers; the ghost is still pending, with no condition or event.
	p, err := e.pods.Get(e.ctx, "default", "ghost")
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" || len(p.GetStatus().GetConditions()) != 0 || p.GetStatus().GetPhase() != "Pending" {
		t.Fatalf("ghost pod: node %q phase %q conditions %v, want untouched Pending", p.Spec.NodeName, p.GetStatus().GetPhase(), p.GetStatus().GetConditions())
	}
	if n := e.scheduledEvents()["ghost"]; n != 0 {
		t.Fatalf("ghost has %d Scheduled events", n)
	}
}

// schedulerBinary builds bin/scheduler into a temp dir once per test run.
func schedulerBinary(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out := filepath.Join(t.TempDir(), "scheduler")
	cmd := exec.Command("go", "build", "-o", out, "./scheduler")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./scheduler: %v\n%s", err, b)
	}
	return out
}

// schedProc is a scheduler subprocess, stopped by its PID.
type schedProc struct {
	cmd      *exec.Cmd
	identity string
	httpAddr string
	done     chan struct{}
}

// Lease timing of the leader-election test: a leader gives up after
// failing to renew for 2s, a standby takes over 4s after the last renewal.
const (
	testLeaseDuration = 4 * time.Second
	testRenewDeadline = 2 * time.Second
)

func startSchedulerProc(t *testing.T, bin, server, kubeconfig, identity string) *schedProc {
	t.Helper()
	port := freePort(t)
	logf, err := os.Create(filepath.Join(t.TempDir(), identity+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--server", server, "--kubeconfig", kubeconfig, "--leader-elect-identity", identity,
		"--lease-duration", testLeaseDuration.String(), "--renew-deadline", testRenewDeadline.String(), "--retry-period", "250ms",
		"--port", fmt.Sprint(port), "--pod-initial-backoff", "200ms", "--pod-max-backoff", "1s")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := proc.Start(cmd); err != nil {
		t.Fatal(err)
	}
	p := &schedProc{cmd: cmd, identity: identity, httpAddr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log:\n%s", identity, b)
		}
	})
	schedEventually(t, 15*time.Second, func() string {
		if code, body := schedProbe("http://" + p.httpAddr + "/healthz"); code != 200 {
			return fmt.Sprintf("%s /healthz: %d %s", identity, code, body)
		}
		return ""
	})
	return p
}

// kill stops the process with SIGKILL, like a crash: no lease release.
func (p *schedProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// metric reads one sample of the process's /metrics ("" if unreachable).
func (p *schedProc) metric(name string) string {
	code, body := schedProbe("http://" + p.httpAddr + "/metrics")
	if code != 200 {
		return ""
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.Fields(line)[1]
		}
	}
	return "missing"
}

func (p *schedProc) scheduled() string {
	return p.metric(`scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"}`)
}

func (p *schedProc) leading() string {
	return p.metric(`leader_election_master_status{profile="default-scheduler"}`)
}

// TestSchedulerLeaderElection: three instances of one scheduler (separate
// processes) share the lease kube-system/scheduler; only the holder binds.
// A leader cut off from its apiserver stops scheduling before its lease
// can expire; a leader killed with SIGKILL (no release) is replaced within
// leaseDuration plus a few seconds; leaseTransitions counts each takeover
// and no pod is ever bound twice.
func TestSchedulerLeaderElection(t *testing.T) {
	bin := schedulerBinary(t)
	etcd := etcdtest.Start(t, 1)
	apiA := apiservertest.Start(t, etcd, apiservertest.Options{})
	apiB := apiservertest.Start(t, etcd, apiservertest.Options{PKI: apiA.PKI})
	e := newSchedEnv(t, apiB)
	leases := client.For[*coordinationv1.Lease](apiB.Client(t))
	e.createNodes(schedNode("n1", "8", "16Gi", nil), schedNode("n2", "8", "16Gi", nil))

	holder := func() *coordinationv1.Lease {
		l, err := leases.Get(e.ctx, "kube-system", "scheduler")
		if err != nil {
			return nil
		}
		return l
	}
	a := startSchedulerProc(t, bin, apiA.Addr, apiA.Kubeconfig, "sched-a")
	schedEventually(t, 15*time.Second, func() string {
		if l := holder(); l.GetSpec().GetHolderIdentity() != "sched-a" {
			return fmt.Sprintf("lease %v, want held by sched-a", l.GetSpec())
		}
		return ""
	})
	b := startSchedulerProc(t, bin, apiB.Addr, apiB.Kubeconfig, "sched-b")
	c := startSchedulerProc(t, bin, apiB.Addr, apiB.Kubeconfig, "sched-c")
	sp := holder().GetSpec()
	if sp.GetLeaseDurationSeconds() != int32(testLeaseDuration/time.Second) || sp.AcquireTime == nil || sp.RenewTime == nil || sp.LeaseTransitions == nil {
		t.Fatalf("lease spec incomplete: %v", sp)
	}
	transitions := sp.GetLeaseTransitions()
	procs := map[string]*schedProc{"sched-a": a, "sched-b": b, "sched-c": c}

	// bindBatch creates ten pods and waits until they are bound.
	bindBatch := func(prefix string, within time.Duration) {
		t.Helper()
		for i := 0; i < 10; i++ {
			e.createPods(schedPod(fmt.Sprintf("%s-%d", prefix, i), "100m"))
		}
		for i := 0; i < 10; i++ {
			e.waitBound(fmt.Sprintf("%s-%d", prefix, i), within)
		}
	}
	bindBatch("first", 10*time.Second)
	if got := a.scheduled(); got != "10" {
		t.Errorf("leader bound %s pods, want 10", got)
	}
	for _, p := range []*schedProc{b, c} {
		if got := p.scheduled(); got != "0" || p.leading() != "0" {
			t.Errorf("standby %s bound %s pods (leading %s), want 0", p.identity, got, p.leading())
		}
	}

	// Cut the leader off: it must stop leading before its lease expires.
	cut := time.Now()
	apiA.Stop()
	schedEventually(t, testLeaseDuration, func() string {
		if l := a.leading(); l != "0" && l != "" {
			return "sched-a still leading"
		}
		return ""
	})
	gaveUp := time.Since(cut)
	t.Logf("cut-off leader stopped leading %s after losing its apiserver (renew deadline %s, lease %s)", gaveUp.Round(10*time.Millisecond), testRenewDeadline, testLeaseDuration)
	if gaveUp >= testLeaseDuration-500*time.Millisecond {
		t.Errorf("cut-off leader stopped only after %s, too close to the lease duration %s", gaveUp, testLeaseDuration)
	}
	var second *schedProc
	schedEventually(t, testLeaseDuration+8*time.Second, func() string {
		l := holder()
		second = procs[l.GetSpec().GetHolderIdentity()]
		if second == nil || second == a {
			return fmt.Sprintf("lease still %v", l.GetSpec())
		}
		return ""
	})
	t.Logf("%s took over %s after the cut", second.identity, time.Since(cut).Round(10*time.Millisecond))
	bindBatch("second", 10*time.Second)
	if got := second.scheduled(); got != "10" {
		t.Errorf("%s bound %s pods, want 10", second.identity, got)
	}

	// Kill the new leader: the last instance takes over.
	third := b
	if second == b {
		third = c
	}
	second.kill()
	killed := time.Now()
	bindBatch("third", testLeaseDuration+8*time.Second)
	t.Logf("%s took over and bound 10 pods %s after %s was killed", third.identity, time.Since(killed).Round(10*time.Millisecond), second.identity)
	l := holder()
	if l.GetSpec().GetHolderIdentity() != third.identity || l.GetSpec().GetLeaseTransitions() != transitions+2 {
		t.Fatalf("lease after two takeovers: %v, want holder %s and %d transitions", l.GetSpec(), third.identity, transitions+2)
	}
	if got := third.scheduled(); got != "10" {
		t.Errorf("%s bound %s pods, want 10", third.identity, got)
	}
	// Every pod has exactly one Scheduled event: a second decision for a
	// pod would show as a second event (or a FailedScheduling "already
	// assigned", since the binding subresource refuses a second binding).
	schedEventually(t, 10*time.Second, func() string {
		ev := e.scheduledEvents()
		for _, pfx := range []string{"first", "second", "third"} {
			for i := 0; i < 10; i++ {
				if n := ev[fmt.Sprintf("%s-%d", pfx, i)]; n != 1 {
					return fmt.Sprintf("pod %s-%d has %d Scheduled events", pfx, i, n)
				}
			}
		}
		return ""
	})
	l2, err := e.events.List(e.ctx, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range l2.Items {
		if ev.Reason == "FailedScheduling" {
			t.Errorf("unexpected FailedScheduling for %s: %s", ev.InvolvedObject.Name, ev.Message)
		}
	}
}

func schedProbe(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
