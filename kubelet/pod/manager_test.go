package pod

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/record"
	"minik8s/api/workqueue"
	"minik8s/kubelet/network"
	"minik8s/kubelet/runtime"
	"minik8s/kubelet/runtime/fake"
)

// The tests below drive Manager.sync by hand on the fake runtime, the fake
// network and a fake clock: each sync is one step of a pod worker, and the
// test plays the container processes (exits) and time.

// fakeAPI records what the manager writes to the apiserver.
type fakeAPI struct {
	fakeLookup
	mu       sync.Mutex
	statuses []*corev1.PodStatus
	deleted  []string
}

func (a *fakeAPI) UpdateStatus(_ context.Context, _ *corev1.Pod, st *corev1.PodStatus) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.statuses = append(a.statuses, proto.Clone(st).(*corev1.PodStatus))
	return nil
}

func (a *fakeAPI) Delete(_ context.Context, pod *corev1.Pod) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deleted = append(a.deleted, pod.GetMetadata().GetUid())
	return nil
}

func (a *fakeAPI) last() *corev1.PodStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.statuses) == 0 {
		return nil
	}
	return a.statuses[len(a.statuses)-1]
}

// testWriter sends the manager's log to the test's, shown on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	clock  *workqueue.FakeClock
	rt     *fake.Runtime
	net    *network.Fake
	api    *fakeAPI
	events *record.Fake
	root   string
	m      *Manager
}

func newHarness(t *testing.T) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, clock: workqueue.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		net: network.NewFake(), root: t.TempDir()}
	h.rt = fake.New(h.clock)
	if err := h.net.Init(ctx, "10.88.0.0/24"); err != nil {
		t.Fatal(err)
	}
	h.restartKubelet()
	return h
}

// restartKubelet replaces the manager with a new one on the same runtime,
// network and root directory, as a restarted kubelet process.
func (h *harness) restartKubelet() {
	h.api, h.events = &fakeAPI{}, &record.Fake{}
	h.m = NewManager(Config{NodeName: "node1", HostIP: "192.168.0.10", RootDir: h.root, PauseImage: "pause:3.9",
		BackoffBase: 10 * time.Second, BackoffMax: 5 * time.Minute, Clock: h.clock,
		Log: slog.New(slog.NewTextHandler(testWriter{h.t}, nil))}, h.rt, h.net, h.api, h.events)
}

// newPod is testPod with tagged images, pulled once (IfNotPresent).
func newPod(policy string, containers ...string) *corev1.Pod {
	p := testPod(policy, containers...)
	for _, c := range append(append([]*corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		c.Image = "busybox:1.36"
	}
	return p
}

// worker registers pod with the manager the way UpdatePod does, without
// starting a goroutine: the test calls sync itself.
func (h *harness) worker(pod *corev1.Pod) *worker {
	w := h.m.newWorker(pod.GetMetadata().GetUid(), pod, false)
	h.m.mu.Lock()
	h.m.workers[w.uid] = w
	h.m.mu.Unlock()
	return w
}

// sync runs one sync of w with pod and fails the test on an error.
func (h *harness) sync(w *worker, pod *corev1.Pod, removed bool) (bool, time.Duration) {
	h.t.Helper()
	done, after, err := h.m.sync(h.ctx, w, pod, removed)
	if err != nil {
		h.t.Fatalf("sync: %v", err)
	}
	return done, after
}

// container returns the newest instance of a container of pod u1.
func (h *harness) container(name string) runtime.Container {
	h.t.Helper()
	c, ok := h.rt.Find("u1", name)
	if !ok {
		h.t.Fatalf("no container %s", name)
	}
	return c
}

func (h *harness) exit(name string, code int32) {
	h.t.Helper()
	if err := h.rt.Exit(h.container(name).ID, code); err != nil {
		h.t.Fatal(err)
	}
}

// summary renders the last status written: phase, IP and per container
// its state (with reason) and restart count.
func (h *harness) summary() string {
	st := h.api.last()
	if st == nil {
		return "<none>"
	}
	parts := []string{st.GetPhase(), st.GetPodIP()}
	for _, cs := range append(append([]*corev1.ContainerStatus{}, st.GetInitContainerStatuses()...), st.GetContainerStatuses()...) {
		s := cs.GetName() + ":"
		switch state := cs.GetState(); {
		case state.GetRunning() != nil:
			s += "running"
		case state.GetTerminated() != nil:
			s += fmt.Sprintf("terminated(%d)", state.GetTerminated().GetExitCode())
		case state.GetWaiting() != nil:
			s += "waiting(" + state.GetWaiting().GetReason() + ")"
		}
		parts = append(parts, fmt.Sprintf("%s/%d", s, cs.GetRestartCount()))
	}
	return strings.Join(parts, " ")
}

func (h *harness) wantSummary(want string) {
	h.t.Helper()
	if got := h.summary(); got != want {
		h.t.Fatalf("status %q, want %q", got, want)
	}
}

func (h *harness) wantCalls(want ...string) {
	h.t.Helper()
	if got := h.rt.Calls(); !slices.Equal(got, want) {
		h.t.Fatalf("runtime calls\n got %q\nwant %q", got, want)
	}
	h.rt.ResetCalls()
}

func (h *harness) wantEvent(prefix string) {
	h.t.Helper()
	if evs := h.events.Events(); !slices.ContainsFunc(evs, func(s string) bool { return strings.HasPrefix(s, prefix) }) {
		h.t.Fatalf("no event %q in %q", prefix, evs)
	}
}

// TestSyncStart: a new pod gets its network and sandbox, runs its init
// container to completion, then its app container.
func TestSyncStart(t *testing.T) {
	h := newHarness(t)
	pod := newPod("", "init:setup", "app")
	w := h.worker(pod)

	_, after := h.sync(w, pod, false)
	h.wantCalls("PullImage pause:3.9", "RunSandbox default/web 0", "PullImage busybox:1.36",
		"CreateContainer default/web setup 0", "StartContainer setup 0")
	h.wantSummary("Pending 10.88.0.2 setup:running/0 app:waiting(PodInitializing)/0")
	if after != 0 {
		t.Errorf("requeue after %s while the init container runs", after)
	}
	if nets, _ := h.net.List(h.ctx); len(nets) != 1 || nets[0].Key != "u1_0" {
		t.Errorf("networks %+v", nets)
	}
	for _, f := range []string{"etc-hosts", "resolv.conf", "hostname"} {
		if _, err := os.Stat(h.m.dirs("u1").root + "/" + f); err != nil {
			t.Errorf("pod file: %v", err)
		}
	}

	h.exit("setup", 0)
	h.sync(w, pod, false)
	h.wantCalls("CreateContainer default/web app 0", "StartContainer app 0")
	h.wantSummary("Running 10.88.0.2 setup:terminated(0)/0 app:running/0")
	h.wantEvent("Normal Started Started container app")

	// Nothing changed: nothing is done and nothing written.
	n := len(h.api.statuses)
	h.sync(w, pod, false)
	h.wantCalls()
	if len(h.api.statuses) != n {
		t.Errorf("an unchanged status was written again")
	}
}

// TestSyncStartFailure: a container that fails to start is replaced on the
// next sync and the status says why in between.
func TestSyncStartFailure(t *testing.T) {
	h := newHarness(t)
	fail := true
	h.rt.OnStart = func(c runtime.Container) error {
		if fail {
			return errors.New("exec: no such file")
		}
		return nil
	}
	pod := newPod("", "app")
	w := h.worker(pod)
	_, after := h.sync(w, pod, false)
	h.wantSummary("Pending 10.88.0.2 app:waiting(RunContainerError)/0")
	h.wantEvent("Warning Failed Error: start container app: exec: no such file")
	if after != time.Second {
		t.Errorf("retry after %s, want 1s", after)
	}
	h.rt.ResetCalls()
	fail = false
	h.sync(w, pod, false)
	h.wantCalls("RemoveContainer app 0", "CreateContainer default/web app 0", "StartContainer app 0")
	h.wantSummary("Running 10.88.0.2 app:running/0")
}

// TestSyncRestartBackoff: a crashing container restarts at once the first
// time, then waits 10s, 20s, ... (CrashLoopBackOff), and old instances are
// collected.
func TestSyncRestartBackoff(t *testing.T) {
	h := newHarness(t)
	pod := newPod("", "app")
	w := h.worker(pod)
	h.sync(w, pod, false)
	h.rt.ResetCalls()

	h.clock.Step(time.Second)
	h.exit("app", 1)
	h.sync(w, pod, false)
	h.wantCalls("CreateContainer default/web app 1", "StartContainer app 1")
	h.wantSummary("Running 10.88.0.2 app:running/1")

	for i, backoff := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		h.clock.Step(time.Second)
		h.exit("app", 1)
		_, after := h.sync(w, pod, false)
		h.wantCalls()
		h.wantSummary(fmt.Sprintf("Running 10.88.0.2 app:waiting(CrashLoopBackOff)/%d", i+1))
		if after != backoff {
			t.Fatalf("restart %d: wait %s, want %s", i+2, after, backoff)
		}
		h.wantEvent("Warning BackOff Back-off restarting failed container app")
		h.clock.Step(backoff - time.Millisecond)
		h.sync(w, pod, false)
		h.wantCalls()
		h.clock.Step(time.Millisecond)
		h.sync(w, pod, false)
		h.wantSummary(fmt.Sprintf("Running 10.88.0.2 app:running/%d", i+2))
		calls := h.rt.Calls()
		if !slices.Contains(calls, fmt.Sprintf("StartContainer app %d", i+2)) {
			t.Fatalf("restart %d: calls %q", i+2, calls)
		}
		h.rt.ResetCalls()
	}
	cs, _ := h.rt.PodContainers(h.ctx, "u1")
	if len(cs) != 2 {
		t.Errorf("%d container instances kept, want the running one and the last exited", len(cs))
	}
}

// TestSyncLivenessKill: a failing liveness probe stops the container with
// the pod's grace period and starts a new one.
func TestSyncLivenessKill(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	healthy := true
	h.rt.OnExec = func(_ runtime.Container, cmd []string) (runtime.ExecResult, error) {
		mu.Lock()
		defer mu.Unlock()
		if cmd[0] == "check" && !healthy {
			return runtime.ExecResult{Stdout: []byte("unhealthy"), ExitCode: 1}, nil
		}
		return runtime.ExecResult{}, nil
	}
	pod := newPod("", "app")
	pod.Spec.TerminationGracePeriodSeconds = proto.Int64(7)
	pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{PeriodSeconds: 5, FailureThreshold: 1,
		Exec: &corev1.ExecAction{Command: []string{"check"}}}
	w := h.worker(pod)
	h.sync(w, pod, false)
	first := h.container("app")
	waitFor(t, "the first probe", func() bool { return slices.Contains(h.rt.Calls(), "Exec app check") })
	if h.m.probeState(mustRuntime(h)).LivenessFailed[first.ID] != "" {
		t.Fatal("liveness failed while healthy")
	}
	mu.Lock()
	healthy = false
	mu.Unlock()
	h.rt.ResetCalls()
	waitFor(t, "the probe to park on the clock", func() bool { return h.clock.Waiters() > 0 })
	h.clock.Step(5 * time.Second)
	waitFor(t, "liveness to fail", func() bool { return h.m.probeState(mustRuntime(h)).LivenessFailed[first.ID] != "" })

	h.sync(w, pod, false)
	calls := h.rt.Calls()
	if !slices.Contains(calls, "StopContainer app 7s") || !slices.Contains(calls, "StartContainer app 1") {
		t.Fatalf("calls %q", calls)
	}
	h.wantEvent("Normal Killing Container app failed liveness probe, will be restarted")
	h.wantEvent("Warning Unhealthy Liveness probe failed: exec probe [check] exited 1: unhealthy")
	h.wantSummary("Running 10.88.0.2 app:running/1")
}

func mustRuntime(h *harness) podRuntime {
	h.t.Helper()
	pr, err := h.m.podRuntime(h.ctx, "u1")
	if err != nil {
		h.t.Fatal(err)
	}
	return pr
}

// waitFor polls cond for what happens on another goroutine (probes).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSyncGracefulDelete: a pod being deleted runs its preStop hook, is
// stopped with the deletion's grace period, loses its sandbox, network and
// files, and the deletion is confirmed; the worker ends when the source
// drops the pod.
func TestSyncGracefulDelete(t *testing.T) {
	h := newHarness(t)
	pod := newPod("", "app")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
		Exec: &corev1.ExecAction{Command: []string{"drain"}}}}
	w := h.worker(pod)
	h.sync(w, pod, false)
	h.rt.ResetCalls()

	deleting := proto.Clone(pod).(*corev1.Pod)
	deleting.Metadata.DeletionTimestamp = timestamppb.New(h.clock.Now())
	deleting.Metadata.DeletionGracePeriodSeconds = proto.Int64(5)
	if done, _ := h.sync(w, deleting, false); done {
		t.Fatal("worker done before the source dropped the pod")
	}
	h.wantCalls("Exec app drain", "StopContainer app 5s", "StopSandbox default/web 0",
		"RemoveContainer app 0", "RemoveSandbox default/web 0")
	h.wantEvent("Normal Killing Stopping container app")
	if !slices.Equal(h.api.deleted, []string{"u1"}) {
		t.Errorf("deletions confirmed: %q", h.api.deleted)
	}
	if nets, _ := h.net.List(h.ctx); len(nets) != 0 {
		t.Errorf("networks left: %+v", nets)
	}
	if _, err := os.Stat(h.m.dirs("u1").root); !os.IsNotExist(err) {
		t.Errorf("pod directory left: %v", err)
	}
	// Synced again: no second kill, no second confirmation.
	h.sync(w, deleting, false)
	h.wantCalls()
	if len(h.api.deleted) != 1 {
		t.Errorf("deletion confirmed %d times", len(h.api.deleted))
	}
	if done, _ := h.sync(w, deleting, true); !done {
		t.Error("worker not done after RemovePod")
	}
}

// TestSyncAdoption: a restarted kubelet adopts the running pod it is given
// (no new sandbox or container, same restart count) and cleans up the
// sandbox of a pod deleted while it was down, once its sources are ready.
func TestSyncAdoption(t *testing.T) {
	h := newHarness(t)
	pod := newPod("", "app")
	w := h.worker(pod)
	h.sync(w, pod, false)
	h.clock.Step(time.Second)
	h.exit("app", 2)
	h.sync(w, pod, false)
	running := h.container("app")

	gone := newPod("", "app")
	gone.Metadata.Uid, gone.Metadata.Name = "u2", "gone"
	gone.Spec.TerminationGracePeriodSeconds = proto.Int64(3)
	wg := h.worker(gone)
	h.sync(wg, gone, false)
	pod.Status = h.api.last()

	h.restartKubelet()
	h.rt.ResetCalls()
	w = h.worker(pod)
	h.sync(w, pod, false)
	h.wantCalls()
	h.wantSummary("Running 10.88.0.2 app:running/1")
	if st := h.api.last(); !strings.HasSuffix(st.GetContainerStatuses()[0].GetContainerID(), "://"+running.ID) {
		t.Errorf("adopted container %q, want %s", st.GetContainerStatuses()[0].GetContainerID(), running.ID)
	}

	// Before the sources are ready the unknown pod is left alone.
	h.m.relist(h.ctx)
	if sbs, _ := h.rt.PodSandboxes(h.ctx, "u2"); len(sbs) != 1 {
		t.Fatalf("u2 sandboxes %d before sources are ready", len(sbs))
	}
	h.m.SetSourcesReady()
	h.m.relist(h.ctx)
	waitFor(t, "the orphan's removal", func() bool {
		sbs, _ := h.rt.PodSandboxes(h.ctx, "u2")
		return len(sbs) == 0
	})
	h.m.wg.Wait()
	calls := h.rt.Calls()
	if !slices.Contains(calls, "StopContainer app 3s") || !slices.Contains(calls, "RemoveSandbox default/gone 0") {
		t.Errorf("orphan cleanup calls %q", calls)
	}
	if nets, _ := h.net.List(h.ctx); len(nets) != 1 || nets[0].Key != "u1_0" {
		t.Errorf("networks after cleanup: %+v", nets)
	}
	if sbs, _ := h.rt.PodSandboxes(h.ctx, "u1"); len(sbs) != 1 || sbs[0].State != runtime.SandboxReady {
		t.Errorf("the adopted pod's sandbox: %+v", sbs)
	}
}

// TestRun: the workers Run starts react to runtime events and wait out
// back-offs on the Config's clock; they end with Run's ctx.
func TestRun(t *testing.T) {
	h := newHarness(t)
	pod := newPod("", "app")
	h.m.UpdatePod(pod) // before Run: started by Run
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { h.m.Run(ctx); close(done) }()
	running := func(attempt int) func() bool {
		return func() bool {
			c, ok := h.rt.Find("u1", "app")
			return ok && c.Attempt == attempt && c.State == runtime.ContainerRunning
		}
	}
	waitFor(t, "the first start", running(0))
	h.exit("app", 1)
	waitFor(t, "the immediate restart", running(1))
	h.exit("app", 1)
	exited := h.clock.Now()
	waitFor(t, "the back-off", func() bool {
		st, ok := h.m.Status("u1")
		return ok && st.GetContainerStatuses()[0].GetState().GetWaiting().GetReason() == "CrashLoopBackOff"
	})
	for !running(2)() {
		h.clock.Step(500 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	// The worker may park on the clock a little after the status says
	// CrashLoopBackOff, so the clock may overshoot; it must not undershoot.
	if waited := h.clock.Now().Sub(exited); waited < 10*time.Second || waited > time.Minute {
		t.Fatalf("restarted after %s of back-off, want 10s", waited)
	}

	second := newPod("", "app")
	second.Metadata.Uid, second.Metadata.Name = "u2", "second"
	h.m.UpdatePod(second) // after Run started
	waitFor(t, "the second pod", func() bool { _, ok := h.rt.Find("u2", "app"); return ok })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}
