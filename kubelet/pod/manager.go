package pod

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/record"
	"minik8s/api/workqueue"
	"minik8s/kubelet/images"
	"minik8s/kubelet/network"
	"minik8s/kubelet/probe"
	"minik8s/kubelet/runtime"
)

// ErrStatusNotWritten is returned (wrapped) by API.UpdateStatus when there
// was nothing to write to yet (a static pod whose mirror is not there):
// the status is offered again on the next sync.
var ErrStatusNotWritten = errors.New("status not written")

// labelNetKey records the network key of a sandbox, so teardown after a
// restart finds the veth, namespace and IP.
const labelNetKey = "io.minik8s.network.key"

// API is what the pod manager needs from the apiserver. A kubelet without
// an apiserver (static pods only) uses NoAPI.
type API interface {
	podLookup
	// UpdateStatus writes a pod's status (for a static pod: its mirror's).
	UpdateStatus(ctx context.Context, pod *corev1.Pod, status *corev1.PodStatus) error
	// Delete finishes a graceful deletion: delete with grace 0 and the
	// pod's UID as precondition.
	Delete(ctx context.Context, pod *corev1.Pod) error
}

// Config configures a Manager.
type Config struct {
	NodeName      string
	HostIP        string
	RootDir       string
	PauseImage    string
	ClusterDNS    []string
	ClusterDomain string
	// CgroupRoot is the parent cgroup of every pod ("/minik8s").
	CgroupRoot string
	// BackoffBase and BackoffMax bound the restart back-off (10s, 5m).
	BackoffBase, BackoffMax time.Duration
	// Resync is how often a pod is synced without any change (10s).
	Resync time.Duration
	// Relist is how often the runtime is listed for changes (1s).
	Relist time.Duration
	Clock  workqueue.Clock
	Log    *slog.Logger
}

// Manager runs the node's pods. Create it with NewManager, feed it pods
// with UpdatePod/RemovePod, and Run it.
type Manager struct {
	cfg    Config
	rt     runtime.Runtime
	net    network.Manager
	puller *images.Puller
	probes *probe.Manager
	rec    record.EventRecorder
	api    API
	tokens *tokenCache // nil when api cannot request tokens
	log    *slog.Logger
	clock  workqueue.Clock

	mu           sync.Mutex
	workers      map[string]*worker
	sourcesReady bool
	// pending are workers created since Run last started workers; Run
	// starts them (with its ctx) when startKick fires.
	pending      []*worker
	startKick    chan struct{}
	relistKick   chan struct{}
	fingerprints map[string]string
	stopped      bool

	// Owned by the relist loop: the host ports last given to the network.
	hostPorts       []network.HostPort
	hostPortsSynced bool
	wg              sync.WaitGroup
}

// NewManager wires a Manager. rec may be nil (no events).
func NewManager(cfg Config, rt runtime.Runtime, netw network.Manager, api API, rec record.EventRecorder) *Manager {
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase = 10 * time.Second
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 5 * time.Minute
	}
	if cfg.Resync == 0 {
		cfg.Resync = 10 * time.Second
	}
	if cfg.Relist == 0 {
		cfg.Relist = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = workqueue.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/minik8s"
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if api == nil {
		api = NoAPI{}
	}
	m := &Manager{cfg: cfg, rt: rt, net: netw, api: api, rec: rec, log: cfg.Log, clock: cfg.Clock,
		workers: map[string]*worker{}, relistKick: make(chan struct{}, 1), startKick: make(chan struct{}, 1),
		fingerprints: map[string]string{}}
	if tr, ok := api.(TokenRequester); ok {
		m.tokens = newTokenCache(tr, cfg.Clock)
	}
	m.puller = images.NewPuller(rt, rec, cfg.Clock, cfg.BackoffBase, cfg.BackoffMax)
	m.probes = probe.NewManager(&probe.Prober{Dial: netw.DialContext, Exec: rt.ExecSync}, m.onProbe, cfg.Clock)
	return m
}

// worker owns one pod: its goroutine is the only one acting on the pod.
type worker struct {
	uid  string
	kick chan struct{}

	mu      sync.Mutex
	pod     *corev1.Pod
	removed bool

	// Owned by the worker goroutine.
	backoff    *backoff
	waiting    map[string]waiting
	lastStatus *corev1.PodStatus
	podIP      string
	startTime  time.Time
	killed     bool
	deleted    bool
	statusMu   sync.Mutex
	status     *corev1.PodStatus // last generated, for readers
}

func (w *worker) snapshot() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.removed
}

func (w *worker) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run starts the pod workers, the relist loop and the runtime event
// stream, and blocks until ctx ends; workers stop with it. Workers of pods
// given before Run start at once, later ones as they come. Run is called
// once.
func (m *Manager) Run(ctx context.Context) {
	// Subscribe before any worker acts, so no exit is missed.
	events := m.rt.Events(ctx)
	m.startPending(ctx)
	go func() {
		for range events {
			select {
			case m.relistKick <- struct{}{}:
			default:
			}
		}
	}()
	relist := m.clock.After(m.cfg.Relist)
	housekeeping := m.clock.After(housekeepingPeriod)
	for {
		select {
		case <-ctx.Done():
			m.mu.Lock()
			m.stopped = true
			m.mu.Unlock()
			m.wg.Wait()
			return
		case <-m.startKick:
			m.startPending(ctx)
		case <-relist:
			m.relist(ctx)
			relist = m.clock.After(m.cfg.Relist)
		case <-m.relistKick:
			m.relist(ctx)
		case <-housekeeping:
			m.Housekeeping(ctx)
			housekeeping = m.clock.After(housekeepingPeriod)
		}
	}
}

// housekeepingPeriod is how often Run releases orphaned pod networks.
const housekeepingPeriod = 10 * time.Second

// startPending starts the workers created since the last call.
func (m *Manager) startPending(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.pending {
		m.startWorker(ctx, w)
	}
	m.pending = nil
}

// addWorker registers a new worker and has Run start it; m.mu is held.
func (m *Manager) addWorker(w *worker) {
	m.workers[w.uid] = w
	m.pending = append(m.pending, w)
	select {
	case m.startKick <- struct{}{}:
	default:
	}
}

// UpdatePod tells the manager about a pod bound to this node (new or changed).
func (m *Manager) UpdatePod(pod *corev1.Pod) {
	uid := pod.GetMetadata().GetUid()
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.workers[uid]
	if !ok {
		w = m.newWorker(uid, pod, false)
		m.addWorker(w)
	}
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.poke()
}

// RemovePod tells the manager a pod is gone from its source: it is
// stopped (if still running) and forgotten.
func (m *Manager) RemovePod(uid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w, ok := m.workers[uid]; ok {
		w.mu.Lock()
		w.removed = true
		w.mu.Unlock()
		w.poke()
	}
}

// Kick makes a pod's worker sync now.
func (m *Manager) Kick(uid string) {
	m.mu.Lock()
	w := m.workers[uid]
	m.mu.Unlock()
	if w != nil {
		w.poke()
	}
}

// SetSourcesReady says every pod source has delivered its pods once, so
// sandboxes of unknown pods are orphans and may be removed.
func (m *Manager) SetSourcesReady() {
	m.mu.Lock()
	m.sourcesReady = true
	m.mu.Unlock()
	select {
	case m.relistKick <- struct{}{}:
	default:
	}
}

// Status returns the last status generated for a pod.
func (m *Manager) Status(uid string) (*corev1.PodStatus, bool) {
	m.mu.Lock()
	w, ok := m.workers[uid]
	m.mu.Unlock()
	if !ok {
		return nil, false
	}
	w.statusMu.Lock()
	defer w.statusMu.Unlock()
	return w.status, w.status != nil
}

// Pods returns the pods the manager runs.
func (m *Manager) Pods() []*corev1.Pod {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(m.workers))
	for _, w := range m.workers {
		if p, removed := w.snapshot(); p != nil && !removed {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].GetMetadata(), out[j].GetMetadata()
		return a.GetNamespace()+"/"+a.GetName() < b.GetNamespace()+"/"+b.GetName()
	})
	return out
}

func (m *Manager) newWorker(uid string, pod *corev1.Pod, removed bool) *worker {
	return &worker{uid: uid, kick: make(chan struct{}, 1), pod: pod, removed: removed,
		backoff: newBackoff(m.cfg.BackoffBase, m.cfg.BackoffMax), waiting: map[string]waiting{}}
}

// startWorker runs w's loop until ctx ends; m.mu is held.
func (m *Manager) startWorker(ctx context.Context, w *worker) {
	if m.stopped {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.runWorker(ctx, w)
	}()
}

func (m *Manager) runWorker(ctx context.Context, w *worker) {
	for {
		done, after := m.syncWorker(ctx, w)
		if done {
			m.mu.Lock()
			if cur := m.workers[w.uid]; cur == w {
				delete(m.workers, w.uid)
			}
			m.mu.Unlock()
			m.probes.RemovePod(w.uid)
			m.puller.Forget(w.uid)
			return
		}
		if after <= 0 || after > m.cfg.Resync {
			after = m.cfg.Resync
		}
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-m.clock.After(after):
		}
	}
}

// syncWorker runs one sync and logs failures; it returns whether the
// worker is finished and when to sync again.
func (m *Manager) syncWorker(ctx context.Context, w *worker) (bool, time.Duration) {
	pod, removed := w.snapshot()
	done, after, err := m.sync(ctx, w, pod, removed)
	if err != nil && ctx.Err() == nil {
		m.log.Warn("sync pod failed", "pod", podKey(pod), "err", err)
		if after == 0 || after > 2*time.Second {
			after = 2 * time.Second
		}
	}
	return done, after
}

func podKey(pod *corev1.Pod) string {
	md := pod.GetMetadata()
	return md.GetNamespace() + "/" + md.GetName()
}

func (m *Manager) dirs(uid string) podDirs {
	return podDirs{root: filepath.Join(m.cfg.RootDir, "pods", uid)}
}

func (m *Manager) podRuntime(ctx context.Context, uid string) (podRuntime, error) {
	sbs, err := m.rt.PodSandboxes(ctx, uid)
	if err != nil {
		return podRuntime{}, err
	}
	cs, err := m.rt.PodContainers(ctx, uid)
	if err != nil {
		return podRuntime{}, err
	}
	return newPodRuntime(uid, sbs, cs), nil
}

// sync is one pass over a pod.
func (m *Manager) sync(ctx context.Context, w *worker, pod *corev1.Pod, removed bool) (done bool, after time.Duration, err error) {
	pr, err := m.podRuntime(ctx, w.uid)
	if err != nil {
		return false, 0, err
	}
	if sb := pr.sandbox(); sb != nil && w.podIP == "" {
		w.podIP = sb.Labels[runtime.LabelPodIP]
	}
	if removed || pod.GetMetadata().GetDeletionTimestamp() != nil {
		return m.terminate(ctx, w, pod, pr, removed)
	}
	if ph := pod.GetStatus().GetPhase(); ph == corev1.PodSucceeded || ph == corev1.PodFailed {
		// Finished before (maybe before a restart): never run again.
		if pr.running() || (pr.sandbox() != nil && pr.sandbox().State == runtime.SandboxReady) {
			if err := m.killPod(ctx, pod, pr, 0, false); err != nil {
				return false, 0, err
			}
		}
		return false, 0, nil
	}

	if w.lastStatus == nil && len(pr.Containers) == 0 {
		// First sight of a new pod: say ContainerCreating before the
		// sandbox and pulls take their time.
		m.report(ctx, w, pod, pr, false)
	}
	var requeue time.Duration
	for pass := 0; pass < 3; pass++ {
		acts := computeActions(pod, pr, m.probeState(pr))
		if acts.KillAll {
			if err := m.killPod(ctx, pod, pr, graceSeconds(pod), false); err != nil {
				return false, 0, err
			}
		}
		if acts.Done {
			pr, err = m.podRuntime(ctx, w.uid)
			if err != nil {
				return false, 0, err
			}
			w.waiting = map[string]waiting{}
			m.report(ctx, w, pod, pr, true)
			return false, 0, nil
		}
		if acts.CreateSandbox {
			if err := m.createSandbox(ctx, w, pod, acts.SandboxAttempt); err != nil {
				m.report(ctx, w, pod, pr, false)
				return false, 0, err
			}
			if pr, err = m.podRuntime(ctx, w.uid); err != nil {
				return false, 0, err
			}
			continue // decide the containers with the new sandbox
		}
		sb := pr.sandbox()
		for id, msg := range acts.Kill {
			c := findContainer(pr, id)
			m.event(pod, "Normal", "Killing", msg)
			if err := m.stopContainer(ctx, pod, c, graceSeconds(pod)); err != nil {
				return false, 0, err
			}
		}
		var vols map[string]string
		prepare := func() error {
			if vols != nil {
				return nil
			}
			v, err := prepareVolumes(pod, m.dirs(w.uid), m.envContext(pod, w.podIP))
			if err != nil {
				m.event(pod, "Warning", "FailedMount", fmt.Sprintf("MountVolume.SetUp failed: %v", err))
				return err
			}
			vols = v
			return nil
		}
		if acts.StartInit >= 0 {
			if err := prepare(); err != nil {
				m.report(ctx, w, pod, pr, false)
				return false, 0, err
			}
			c := pod.Spec.InitContainers[acts.StartInit]
			wait := m.startContainer(ctx, w, pod, pr, *sb, c, true, vols)
			requeue = minPositive(requeue, wait)
		}
		for _, i := range acts.Start {
			if err := prepare(); err != nil {
				m.report(ctx, w, pod, pr, false)
				return false, 0, err
			}
			wait := m.startContainer(ctx, w, pod, pr, *sb, pod.Spec.Containers[i], false, vols)
			requeue = minPositive(requeue, wait)
		}
		break
	}
	if pr, err = m.podRuntime(ctx, w.uid); err != nil {
		return false, 0, err
	}
	m.gcContainers(ctx, pr)
	if pr.running() {
		if err := refreshTokens(pod, m.dirs(w.uid), m.envContext(pod, w.podIP)); err != nil {
			m.log.Warn("refresh service account token", "pod", podKey(pod), "err", err)
		}
	}
	m.syncProbes(ctx, w, pod, pr)
	m.report(ctx, w, pod, pr, false)
	if acts := computeActions(pod, pr, m.probeState(pr)); acts.StartInit >= 0 && requeue == 0 {
		// An init container just finished: go on at once.
		requeue = 10 * time.Millisecond
	}
	return false, requeue, nil
}

func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	default:
		return min(a, b)
	}
}

func findContainer(pr podRuntime, id string) runtime.Container {
	for _, c := range pr.Containers {
		if c.ID == id {
			return c
		}
	}
	return runtime.Container{ID: id}
}

// graceSeconds is the pod's termination grace: the deletion's if it is
// being deleted, else the spec's, else 30.
func graceSeconds(pod *corev1.Pod) int64 {
	if g := pod.GetMetadata().DeletionGracePeriodSeconds; g != nil {
		return *g
	}
	if g := pod.GetSpec().TerminationGracePeriodSeconds; g != nil {
		return *g
	}
	return 30
}

func (m *Manager) probeState(pr podRuntime) probeState {
	ps := probeState{LivenessFailed: map[string]string{}, Ready: map[string]bool{}, Started: map[string]bool{}}
	for _, c := range pr.Containers {
		if c.State != runtime.ContainerRunning {
			continue
		}
		if m.probes.Result(c.ID, probe.Liveness) == probe.Failure {
			ps.LivenessFailed[c.ID] = fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.Name)
		}
		if m.probes.Result(c.ID, probe.Startup) == probe.Failure {
			ps.LivenessFailed[c.ID] = fmt.Sprintf("Container %s failed startup probe, will be restarted", c.Name)
		}
		ps.Ready[c.ID] = m.probes.Result(c.ID, probe.Readiness) == probe.Success
		ps.Started[c.ID] = m.probes.Result(c.ID, probe.Startup) == probe.Success
	}
	return ps
}

func (m *Manager) onProbe(ev probe.Event) {
	m.mu.Lock()
	w := m.workers[ev.PodUID]
	m.mu.Unlock()
	if w == nil {
		return
	}
	pod, _ := w.snapshot()
	if ev.Result == probe.Failure && !ev.Changed {
		m.event(pod, "Warning", "Unhealthy", fmt.Sprintf("%s probe failed: %s", ev.Type, ev.Message))
	}
	if ev.Changed {
		w.poke()
	}
}

func (m *Manager) syncProbes(ctx context.Context, w *worker, pod *corev1.Pod, pr podRuntime) {
	var targets []probe.Target
	for _, c := range pod.GetSpec().GetContainers() {
		cur := pr.latest(c.GetName(), false)
		if cur == nil || cur.State != runtime.ContainerRunning {
			continue
		}
		targets = append(targets, probe.Target{PodUID: w.uid, PodIP: w.podIP, ContainerID: cur.ID, StartedAt: cur.StartedAt, Container: c})
	}
	m.probes.Sync(ctx, w.uid, targets)
}

func (m *Manager) envContext(pod *corev1.Pod, podIP string) envContext {
	return envContext{pod: pod, podIP: podIP, hostIP: m.cfg.HostIP, nodeName: m.cfg.NodeName, lookup: m.api, tokens: m.tokens}
}

// createSandbox sets up the network, the pod's files and the pause container.
func (m *Manager) createSandbox(ctx context.Context, w *worker, pod *corev1.Pod, attempt int) (err error) {
	defer func() {
		if err != nil {
			m.event(pod, "Warning", "FailedCreatePodSandBox", fmt.Sprintf("Failed to create pod sandbox: %v", err))
		}
	}()
	if _, err := m.rt.GetImage(ctx, m.cfg.PauseImage); errors.Is(err, runtime.ErrNotFound) {
		if _, err := m.rt.PullImage(ctx, m.cfg.PauseImage); err != nil {
			return fmt.Errorf("pull pause image: %w", err)
		}
	} else if err != nil {
		return err
	}
	spec := pod.GetSpec()
	key := fmt.Sprintf("%s_%d", w.uid, attempt)
	netns := m.net.HostNetns()
	ip := m.cfg.HostIP
	hostname := podHostname(pod)
	if spec.GetHostNetwork() {
		hostname, _ = os.Hostname()
	} else {
		pn, err := m.net.Setup(ctx, key)
		if err != nil {
			return err
		}
		netns, ip = pn.NetnsPath, pn.IP.String()
	}
	dirs := m.dirs(w.uid)
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	files := map[string]string{
		dirs.etcHosts():   etcHosts(pod, ip, m.cfg.ClusterDomain),
		dirs.resolvConf(): resolvConf(pod, m.cfg.ClusterDNS, m.cfg.ClusterDomain, hostResolv),
		dirs.hostname():   hostname + "\n",
	}
	for p, data := range files {
		if err := writeFileAtomic(p, []byte(data), 0o644); err != nil {
			m.teardownNet(ctx, pod, key)
			return err
		}
	}
	labels := map[string]string{runtime.LabelPodIP: ip, runtime.LabelGrace: strconv.FormatInt(graceSeconds(pod), 10)}
	if !spec.GetHostNetwork() {
		labels[labelNetKey] = key
	}
	sb, err := m.rt.RunSandbox(ctx, runtime.SandboxConfig{
		PodUID: w.uid, Name: pod.GetMetadata().GetName(), Namespace: pod.GetMetadata().GetNamespace(),
		Attempt: attempt, Hostname: hostname, NetnsPath: netns, HostIPC: spec.GetHostIPC(),
		CgroupParent: m.podCgroup(w.uid), Image: m.cfg.PauseImage, Labels: labels,
	})
	if err != nil {
		m.teardownNet(ctx, pod, key)
		return err
	}
	w.podIP = ip
	m.log.Info("pod sandbox started", "pod", podKey(pod), "sandbox", sb.ID[:12], "ip", ip)
	return nil
}

func (m *Manager) podCgroup(uid string) string {
	return m.cfg.CgroupRoot + "/pod" + uid
}

func (m *Manager) teardownNet(ctx context.Context, pod *corev1.Pod, key string) {
	if pod.GetSpec().GetHostNetwork() || key == "" {
		return
	}
	if err := m.net.Teardown(ctx, key); err != nil {
		m.log.Warn("network teardown failed", "pod", podKey(pod), "key", key, "err", err)
	}
}

// startContainer pulls, creates and starts one container, applying the
// restart back-off. It returns when to look again (0: nothing pending).
func (m *Manager) startContainer(ctx context.Context, w *worker, pod *corev1.Pod, pr podRuntime, sb runtime.Sandbox, c *corev1.Container, init bool, vols map[string]string) time.Duration {
	name := c.GetName()
	now := m.clock.Now()
	attempt := 0
	if prev := pr.latest(name, init); prev != nil {
		attempt = prev.Attempt + 1
		if prev.State == runtime.ContainerCreated {
			// Created but never started (a failed start): replace it.
			attempt = prev.Attempt
			if err := m.rt.RemoveContainer(ctx, prev.ID); err != nil {
				m.log.Warn("remove unstarted container", "pod", podKey(pod), "container", name, "err", err)
				return time.Second
			}
		} else if prev.State == runtime.ContainerExited {
			finished := prev.FinishedAt
			if finished.IsZero() {
				finished = now
			}
			if wait := w.backoff.wait(name, finished, now); wait > 0 {
				d := w.backoff.delay(name)
				w.waiting[name] = waiting{Reason: "CrashLoopBackOff",
					Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", d, name, pod.Metadata.GetName(), pod.Metadata.GetNamespace(), w.uid)}
				m.event(pod, "Warning", "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", name, pod.Metadata.GetName(), pod.Metadata.GetNamespace(), w.uid))
				return wait
			}
			w.backoff.next(name, now)
		}
	}
	img, err := m.puller.Ensure(ctx, pod, w.uid, c)
	if err != nil {
		var pe *images.PullError
		if errors.As(err, &pe) {
			w.waiting[name] = waiting{Reason: pe.Reason, Message: pe.Message}
			if !pe.Retry.IsZero() {
				return max(pe.Retry.Sub(now), 10*time.Millisecond)
			}
			return m.cfg.Resync
		}
		w.waiting[name] = waiting{Reason: images.ReasonErrImagePull, Message: err.Error()}
		return time.Second
	}
	fail := func(reason string, err error) time.Duration {
		w.waiting[name] = waiting{Reason: reason, Message: err.Error()}
		m.event(pod, "Warning", "Failed", "Error: "+err.Error())
		return time.Second
	}
	env, err := makeEnv(c, m.envContext(pod, w.podIP))
	if err != nil {
		return fail("CreateContainerConfigError", err)
	}
	mounts, err := containerMounts(pod, c, vols, m.dirs(w.uid))
	if err != nil {
		return fail("CreateContainerConfigError", err)
	}
	res, err := resources(c)
	if err != nil {
		return fail("CreateContainerConfigError", err)
	}
	typ := "app"
	if init {
		typ = "init"
	}
	spec := pod.GetSpec()
	cfg := runtime.ContainerConfig{
		Name: name, Attempt: attempt, Image: img.Ref, Command: expandCommand(c.GetCommand(), env), Args: expandCommand(c.GetArgs(), env),
		Env: env, WorkingDir: c.GetWorkingDir(), Mounts: mounts, Resources: res, Security: security(pod, c),
		Tty: c.GetTty(), Stdin: c.GetStdin(), LogPath: LogPath(m.cfg.RootDir, w.uid, name, attempt),
		HostPID: spec.GetHostPID(), SharePID: spec.GetShareProcessNamespace(),
		Labels: map[string]string{runtime.LabelContainerType: typ, runtime.LabelSpecHash: containerHash(c)},
	}
	id, err := m.rt.CreateContainer(ctx, sb, cfg)
	if err != nil {
		return fail("CreateContainerError", err)
	}
	m.event(pod, "Normal", "Created", "Created container "+name)
	if err := m.rt.StartContainer(ctx, id); err != nil {
		return fail("RunContainerError", err)
	}
	m.event(pod, "Normal", "Started", "Started container "+name)
	delete(w.waiting, name)
	if h := c.GetLifecycle().GetPostStart(); h != nil {
		if msg := m.runHook(ctx, id, h, time.Minute); msg != "" {
			m.event(pod, "Warning", "FailedPostStartHook", msg)
		}
	}
	return 0
}

// runHook runs an exec (or sleep) lifecycle handler; it returns a failure
// message or "".
func (m *Manager) runHook(ctx context.Context, id string, h *corev1.LifecycleHandler, timeout time.Duration) string {
	switch {
	case h.GetExec() != nil:
		res, err := m.rt.ExecSync(ctx, id, h.Exec.GetCommand(), timeout)
		if err != nil {
			return fmt.Sprintf("Exec lifecycle hook (%v) for Container %s failed: %v", h.Exec.GetCommand(), id[:12], err)
		}
		if res.ExitCode != 0 {
			return fmt.Sprintf("Exec lifecycle hook (%v) for Container %s exited %d: %s", h.Exec.GetCommand(), id[:12], res.ExitCode, strings.TrimSpace(string(res.Stdout)+string(res.Stderr)))
		}
	case h.GetSleep() != nil:
		select {
		case <-ctx.Done():
		case <-m.clock.After(min(time.Duration(h.Sleep.GetSeconds())*time.Second, timeout)):
		}
	}
	return ""
}

// stopContainer runs the preStop hook, then SIGTERM, and SIGKILL after
// what is left of the grace period.
func (m *Manager) stopContainer(ctx context.Context, pod *corev1.Pod, c runtime.Container, grace int64) error {
	if c.State != runtime.ContainerRunning {
		return nil
	}
	deadline := m.clock.Now().Add(time.Duration(grace) * time.Second)
	for _, cc := range pod.GetSpec().GetContainers() {
		if cc.GetName() == c.Name && cc.GetLifecycle().GetPreStop() != nil && grace > 0 {
			if msg := m.runHook(ctx, c.ID, cc.Lifecycle.PreStop, time.Duration(grace)*time.Second); msg != "" {
				m.event(pod, "Warning", "FailedPreStopHook", msg)
			}
		}
	}
	left := deadline.Sub(m.clock.Now())
	if left < 0 {
		left = 0
	}
	if grace == 0 {
		left = 0
	}
	if err := m.rt.StopContainer(ctx, c.ID, left); err != nil {
		return fmt.Errorf("stop container %s of %s: %w", c.Name, podKey(pod), err)
	}
	return nil
}

// killPod stops every container (in parallel, with the grace period) and
// the sandboxes, and tears the network down. With remove, containers,
// sandboxes and the pod's files go too.
func (m *Manager) killPod(ctx context.Context, pod *corev1.Pod, pr podRuntime, grace int64, remove bool) error {
	var wg sync.WaitGroup
	errs := make([]error, len(pr.Containers))
	for i, c := range pr.Containers {
		if c.State != runtime.ContainerRunning {
			continue
		}
		m.event(pod, "Normal", "Killing", "Stopping container "+c.Name)
		wg.Add(1)
		go func(i int, c runtime.Container) {
			defer wg.Done()
			errs[i] = m.stopContainer(ctx, pod, c, grace)
		}(i, c)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, sb := range pr.Sandboxes {
		if err := m.rt.StopSandbox(ctx, sb.ID); err != nil {
			return err
		}
		m.teardownNet(ctx, pod, sb.Labels[labelNetKey])
	}
	if !remove {
		return nil
	}
	for _, c := range pr.Containers {
		if err := m.rt.RemoveContainer(ctx, c.ID); err != nil {
			return err
		}
	}
	for _, sb := range pr.Sandboxes {
		if err := m.rt.RemoveSandbox(ctx, sb.ID); err != nil {
			return err
		}
	}
	if m.tokens != nil {
		m.tokens.forget(pod.GetMetadata().GetUid())
	}
	return cleanupPodDir(m.dirs(pod.GetMetadata().GetUid()))
}

// terminate kills a pod being deleted (or gone from its source), then
// confirms the deletion to the apiserver.
func (m *Manager) terminate(ctx context.Context, w *worker, pod *corev1.Pod, pr podRuntime, removed bool) (bool, time.Duration, error) {
	if !w.killed {
		m.probes.RemovePod(w.uid)
		if err := m.killPod(ctx, pod, pr, graceSeconds(pod), true); err != nil {
			return false, 0, err
		}
		w.killed = true
		m.log.Info("pod stopped", "pod", podKey(pod), "grace", graceSeconds(pod))
	}
	if removed {
		return true, 0, nil
	}
	if !w.deleted && pod.GetMetadata().GetDeletionTimestamp() != nil {
		if err := m.api.Delete(ctx, pod); err != nil {
			return false, time.Second, fmt.Errorf("confirm deletion of %s: %w", podKey(pod), err)
		}
		w.deleted = true
	}
	// Wait for the source to drop the pod (RemovePod).
	return false, 0, nil
}

// report generates the pod's status and writes it when it changed.
func (m *Manager) report(ctx context.Context, w *worker, pod *corev1.Pod, pr podRuntime, done bool) {
	if w.startTime.IsZero() {
		w.startTime = m.clock.Now()
		if t := pod.GetStatus().GetStartTime(); t != nil {
			w.startTime = t.AsTime()
		}
	}
	st := generateStatus(statusInput{Pod: pod, Runtime: pr, Probes: m.probeState(pr), Waiting: w.waiting,
		PodIP: w.podIP, HostIP: m.cfg.HostIP, Now: m.clock.Now(), Done: done, StartTime: w.startTime})
	w.statusMu.Lock()
	w.status = st
	w.statusMu.Unlock()
	if w.lastStatus != nil && statusEqual(w.lastStatus, st) {
		return
	}
	if err := m.api.UpdateStatus(ctx, pod, st); err != nil {
		if !errors.Is(err, ErrStatusNotWritten) {
			m.log.Warn("could not write pod status", "pod", podKey(pod), "err", err)
		}
		return
	}
	w.lastStatus = proto.Clone(st).(*corev1.PodStatus)
}

// gcContainers removes exited instances older than the newest exited one
// of each container (the newest stays for logs --previous and lastState).
func (m *Manager) gcContainers(ctx context.Context, pr podRuntime) {
	seen := map[string]int{}
	for _, c := range pr.Containers { // newest first
		key := strconv.FormatBool(c.Init) + "/" + c.Name
		seen[key]++
		if seen[key] > 2 && c.State == runtime.ContainerExited {
			if err := m.rt.RemoveContainer(ctx, c.ID); err != nil {
				m.log.Warn("gc container", "container", c.ID, "err", err)
			}
		}
	}
}

func (m *Manager) event(pod *corev1.Pod, typ, reason, msg string) {
	if m.rec != nil && pod != nil {
		m.rec.Event(pod, typ, reason, msg)
	}
}

// relist lists the runtime and wakes the workers of pods whose containers
// changed; containers of pods nobody runs are handed to a removal worker.
func (m *Manager) relist(ctx context.Context) {
	sbs, err := m.rt.ListSandboxes(ctx)
	if err != nil {
		m.log.Warn("relist sandboxes", "err", err)
		return
	}
	cs, err := m.rt.ListContainers(ctx)
	if err != nil {
		m.log.Warn("relist containers", "err", err)
		return
	}
	m.syncHostPorts(ctx, sbs)
	fp := map[string]*strings.Builder{}
	add := func(uid, s string) {
		b, ok := fp[uid]
		if !ok {
			b = &strings.Builder{}
			fp[uid] = b
		}
		b.WriteString(s)
	}
	info := map[string]runtime.Sandbox{}
	for _, s := range sbs {
		add(s.PodUID, fmt.Sprintf("s%s%s;", s.ID, s.State))
		info[s.PodUID] = s
	}
	for _, c := range cs {
		add(c.PodUID, fmt.Sprintf("c%s%s%d;", c.ID, c.State, c.ExitCode))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for uid, b := range fp {
		s := b.String()
		if m.fingerprints[uid] != s {
			if w, ok := m.workers[uid]; ok {
				w.poke()
			}
		}
		m.fingerprints[uid] = s
	}
	for uid := range m.fingerprints {
		if _, ok := fp[uid]; !ok {
			delete(m.fingerprints, uid)
		}
	}
	if !m.sourcesReady {
		return
	}
	for uid := range fp {
		if _, ok := m.workers[uid]; ok {
			continue
		}
		// An orphan: a pod deleted while we were down, or a leftover.
		sb := info[uid]
		grace := int64(0)
		if g, err := strconv.ParseInt(sb.Labels[runtime.LabelGrace], 10, 64); err == nil {
			grace = g
		}
		orphan := &corev1.Pod{Metadata: &metav1.ObjectMeta{Uid: uid, Name: sb.Name, Namespace: sb.Namespace, DeletionGracePeriodSeconds: &grace}, Spec: &corev1.PodSpec{}}
		if name := firstContainerPod(cs, uid); orphan.Metadata.Name == "" {
			orphan.Metadata.Name = name
		}
		m.log.Info("cleaning up orphaned pod", "uid", uid, "pod", podKey(orphan))
		w := m.newWorker(uid, orphan, true)
		m.workers[uid] = w
		m.startWorker(ctx, w)
	}
}

func firstContainerPod(cs []runtime.Container, uid string) string {
	for _, c := range cs {
		if c.PodUID == uid {
			return c.Labels[runtime.LabelPodName]
		}
	}
	return ""
}

// Housekeeping releases networks (IPs, namespaces) no sandbox explains,
// e.g. after a crash between network setup and sandbox start.
func (m *Manager) Housekeeping(ctx context.Context) {
	m.mu.Lock()
	ready := m.sourcesReady
	m.mu.Unlock()
	if !ready {
		return
	}
	nets, err := m.net.List(ctx)
	if err != nil {
		return
	}
	sbs, err := m.rt.ListSandboxes(ctx)
	if err != nil {
		return
	}
	used := map[string]bool{}
	for _, sb := range sbs {
		used[sb.Labels[labelNetKey]] = true
	}
	for _, pn := range nets {
		if pn.Key == "" || used[pn.Key] {
			continue
		}
		uid := pn.Key[:max(strings.LastIndex(pn.Key, "_"), 0)]
		m.mu.Lock()
		_, busy := m.workers[uid]
		m.mu.Unlock()
		if busy {
			continue
		}
		m.log.Info("releasing orphaned pod network", "key", pn.Key, "ip", pn.IP)
		if err := m.net.Teardown(ctx, pn.Key); err != nil {
			m.log.Warn("release orphaned network", "key", pn.Key, "err", err)
		}
	}
}

// NoAPI is the API of a kubelet without an apiserver: statuses go
// nowhere and lookups find nothing.
type NoAPI struct{}

// ConfigMap implements podLookup.
func (NoAPI) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	return nil, fmt.Errorf("configmap %s/%s: no apiserver", ns, name)
}

// Secret implements podLookup.
func (NoAPI) Secret(ns, name string) (*corev1.Secret, error) {
	return nil, fmt.Errorf("secret %s/%s: no apiserver", ns, name)
}

// Services implements podLookup.
func (NoAPI) Services(string) []*corev1.Service { return nil }

// UpdateStatus implements API.
func (NoAPI) UpdateStatus(context.Context, *corev1.Pod, *corev1.PodStatus) error { return nil }

// Delete implements API.
func (NoAPI) Delete(context.Context, *corev1.Pod) error { return nil }
