// Package fake is an in-memory runtime.Runtime for tests of the kubelet
// that must run without root or containerd: sandboxes and containers are
// records that change state when asked, and hooks let a test make a pull,
// a create or a start fail, a container exit or be OOM-killed, and exec
// commands (probes, lifecycle hooks) answer what it wants.
//
// The fake keeps the contract of runtime.Runtime: an unknown ID gives an
// error wrapping runtime.ErrNotFound, stopping or removing something gone
// is not an error, every record carries the labels the containerd runtime
// sets, so a kubelet restarted on the same Runtime adopts what it finds.
package fake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"minik8s/api/workqueue"
	"minik8s/kubelet/runtime"
)

// Runtime is the in-memory runtime.Runtime. The zero value is not usable;
// call New. Hook fields may be set before the Runtime is shared and are
// called without the Runtime's lock held, so they may call its methods.
type Runtime struct {
	// OnPull, if set, decides a pull: a non-nil error fails it.
	OnPull func(ref string) error
	// OnRunSandbox, if set, may fail a sandbox start.
	OnRunSandbox func(cfg runtime.SandboxConfig) error
	// OnCreate, if set, may fail a container create.
	OnCreate func(sb runtime.Sandbox, cfg runtime.ContainerConfig) error
	// OnStart, if set, may fail a start (the container stays Created) or
	// let it run; it sees the container as created.
	OnStart func(c runtime.Container) error
	// OnStarted, if set, hears of every container now running, e.g. to
	// schedule its Exit.
	OnStarted func(c runtime.Container)
	// OnExec, if set, answers ExecSync and Exec in running containers;
	// without it every command exits 0 with no output.
	OnExec func(c runtime.Container, cmd []string) (runtime.ExecResult, error)
	// OnStop, if set, gives the exit code of a container stopped with the
	// given grace; without it 143 (SIGTERM obeyed), or 137 for grace 0.
	OnStop func(c runtime.Container, grace time.Duration) int32
	// OnStats, if set, answers ContainerStats for running containers
	// (an error leaves the container out of the kubelet's summary).
	OnStats func(c runtime.Container) (runtime.Stats, error)

	clock workqueue.Clock

	mu         sync.Mutex
	seq        int
	images     map[string]runtime.Image
	sandboxes  map[string]*runtime.Sandbox
	containers map[string]*runtime.Container
	subs       map[int]chan runtime.Event
	calls      []string
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns an empty Runtime whose timestamps come from clock (the wall
// clock if nil).
func New(clock workqueue.Clock) *Runtime {
	if clock == nil {
		clock = workqueue.RealClock{}
	}
	return &Runtime{clock: clock, images: map[string]runtime.Image{}, sandboxes: map[string]*runtime.Sandbox{},
		containers: map[string]*runtime.Container{}, subs: map[int]chan runtime.Event{}}
}

// newID returns a 64-hex-digit ID like containerd's; mu is held.
func (r *Runtime) newID() string {
	r.seq++
	sum := sha256.Sum256([]byte(strconv.Itoa(r.seq)))
	return hex.EncodeToString(sum[:])
}

// record appends to the call log; mu is held.
func (r *Runtime) record(format string, args ...any) {
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

// Calls returns the log of the calls that changed something, in order,
// e.g. "RunSandbox default/web 0", "CreateContainer default/web app 1",
// "StartContainer app", "StopContainer app 30s", "RemoveContainer app".
func (r *Runtime) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// ResetCalls empties the call log.
func (r *Runtime) ResetCalls() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}

// emit sends an event to every subscriber without blocking (the interface
// allows missed events); mu is held.
func (r *Runtime) emit(id, typ string) {
	for _, ch := range r.subs {
		select {
		case ch <- runtime.Event{ContainerID: id, Type: typ}:
		default:
		}
	}
}

// Version implements runtime.Runtime.
func (r *Runtime) Version(context.Context) (string, error) { return "fake://0.1.0", nil }

// AddImage makes ref present without a pull.
func (r *Runtime) AddImage(ref string) runtime.Image {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addImage(ref)
}

func (r *Runtime) addImage(ref string) runtime.Image {
	sum := sha256.Sum256([]byte(ref))
	img := runtime.Image{Ref: ref, ID: "sha256:" + hex.EncodeToString(sum[:]), Size: 1 << 20}
	r.images[ref] = img
	return img
}

// PullImage implements runtime.Runtime; it succeeds at once unless OnPull
// says otherwise.
func (r *Runtime) PullImage(ctx context.Context, ref string) (runtime.Image, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Image{}, err
	}
	if r.OnPull != nil {
		if err := r.OnPull(ref); err != nil {
			return runtime.Image{}, fmt.Errorf("pull %s: %w", ref, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.record("PullImage %s", ref)
	return r.addImage(ref), nil
}

// GetImage implements runtime.Runtime.
func (r *Runtime) GetImage(_ context.Context, ref string) (runtime.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	img, ok := r.images[ref]
	if !ok {
		return runtime.Image{}, fmt.Errorf("image %s: %w", ref, runtime.ErrNotFound)
	}
	return img, nil
}

// ListImages implements runtime.Runtime.
func (r *Runtime) ListImages(context.Context) ([]runtime.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]runtime.Image, 0, len(r.images))
	for _, img := range r.images {
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

// RunSandbox implements runtime.Runtime.
func (r *Runtime) RunSandbox(ctx context.Context, cfg runtime.SandboxConfig) (runtime.Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Sandbox{}, err
	}
	if r.OnRunSandbox != nil {
		if err := r.OnRunSandbox(cfg); err != nil {
			return runtime.Sandbox{}, fmt.Errorf("run sandbox of %s/%s: %w", cfg.Namespace, cfg.Name, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	labels := map[string]string{}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	for k, v := range map[string]string{
		runtime.LabelManaged: "true", runtime.LabelKind: runtime.KindSandbox, runtime.LabelPodUID: cfg.PodUID,
		runtime.LabelPodName: cfg.Name, runtime.LabelPodNamespace: cfg.Namespace,
		runtime.LabelAttempt: strconv.Itoa(cfg.Attempt), runtime.LabelNetns: cfg.NetnsPath,
	} {
		labels[k] = v
	}
	sb := &runtime.Sandbox{ID: r.newID(), PodUID: cfg.PodUID, Name: cfg.Name, Namespace: cfg.Namespace,
		Attempt: cfg.Attempt, State: runtime.SandboxReady, Pid: uint32(1000 + r.seq), NetnsPath: cfg.NetnsPath,
		CreatedAt: r.clock.Now(), Labels: labels}
	r.sandboxes[sb.ID] = sb
	r.record("RunSandbox %s/%s %d", cfg.Namespace, cfg.Name, cfg.Attempt)
	return copySandbox(sb), nil
}

func copySandbox(sb *runtime.Sandbox) runtime.Sandbox {
	out := *sb
	out.Labels = copyMap(sb.Labels)
	return out
}

func copyContainer(c *runtime.Container) runtime.Container {
	out := *c
	out.Labels = copyMap(c.Labels)
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// StopSandbox implements runtime.Runtime. Like a real pause container's
// end, it kills what still runs in the sandbox.
func (r *Runtime) StopSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[id]
	if !ok || sb.State == runtime.SandboxNotReady {
		return nil
	}
	for _, c := range r.containers {
		if c.SandboxID == id && c.State == runtime.ContainerRunning {
			r.exit(c, 137, "Error")
		}
	}
	sb.State, sb.Pid = runtime.SandboxNotReady, 0
	r.record("StopSandbox %s/%s %d", sb.Namespace, sb.Name, sb.Attempt)
	return nil
}

// RemoveSandbox implements runtime.Runtime; it removes the sandbox's
// containers too.
func (r *Runtime) RemoveSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[id]
	if !ok {
		return nil
	}
	if sb.State == runtime.SandboxReady {
		return fmt.Errorf("remove sandbox %s: still running", id)
	}
	for cid, c := range r.containers {
		if c.SandboxID == id {
			delete(r.containers, cid)
		}
	}
	delete(r.sandboxes, id)
	r.record("RemoveSandbox %s/%s %d", sb.Namespace, sb.Name, sb.Attempt)
	return nil
}

// ListSandboxes implements runtime.Runtime.
func (r *Runtime) ListSandboxes(context.Context) ([]runtime.Sandbox, error) {
	return r.PodSandboxes(context.Background(), "")
}

// PodSandboxes implements runtime.Runtime ("" lists every pod's).
func (r *Runtime) PodSandboxes(_ context.Context, podUID string) ([]runtime.Sandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.Sandbox
	for _, sb := range r.sandboxes {
		if podUID == "" || sb.PodUID == podUID {
			out = append(out, copySandbox(sb))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// CreateContainer implements runtime.Runtime. The image must be present
// and the sandbox running, as with containerd.
func (r *Runtime) CreateContainer(ctx context.Context, sb runtime.Sandbox, cfg runtime.ContainerConfig) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if r.OnCreate != nil {
		if err := r.OnCreate(sb, cfg); err != nil {
			return "", fmt.Errorf("create container %s of %s/%s: %w", cfg.Name, sb.Namespace, sb.Name, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	img, ok := r.images[cfg.Image]
	if !ok {
		return "", fmt.Errorf("create container %s of %s/%s: image %s: %w", cfg.Name, sb.Namespace, sb.Name, cfg.Image, runtime.ErrNotFound)
	}
	cur, ok := r.sandboxes[sb.ID]
	if !ok {
		return "", fmt.Errorf("create container %s: sandbox %s: %w", cfg.Name, sb.ID, runtime.ErrNotFound)
	}
	if cur.State != runtime.SandboxReady {
		return "", fmt.Errorf("create container %s of %s/%s: sandbox is not running", cfg.Name, sb.Namespace, sb.Name)
	}
	labels := copyMap(cfg.Labels)
	for k, v := range map[string]string{
		runtime.LabelManaged: "true", runtime.LabelKind: runtime.KindContainer, runtime.LabelPodUID: cur.PodUID,
		runtime.LabelPodName: cur.Name, runtime.LabelPodNamespace: cur.Namespace, runtime.LabelSandboxID: cur.ID,
		runtime.LabelContainerName: cfg.Name, runtime.LabelAttempt: strconv.Itoa(cfg.Attempt), runtime.LabelLogPath: cfg.LogPath,
	} {
		labels[k] = v
	}
	c := &runtime.Container{ID: r.newID(), SandboxID: cur.ID, PodUID: cur.PodUID, Name: cfg.Name, Attempt: cfg.Attempt,
		Init: labels[runtime.LabelContainerType] == "init", Image: cfg.Image, ImageID: img.ID,
		State: runtime.ContainerCreated, CreatedAt: r.clock.Now(), LogPath: cfg.LogPath, Labels: labels}
	r.containers[c.ID] = c
	r.record("CreateContainer %s/%s %s %d", cur.Namespace, cur.Name, cfg.Name, cfg.Attempt)
	return c.ID, nil
}

// StartContainer implements runtime.Runtime.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := r.ContainerStatus(ctx, id)
	if err != nil {
		return err
	}
	if c.State != runtime.ContainerCreated {
		return fmt.Errorf("start container %s: it is %s", c.Name, c.State)
	}
	if r.OnStart != nil {
		if err := r.OnStart(c); err != nil {
			return fmt.Errorf("start container %s: %w", c.Name, err)
		}
	}
	started, err := r.start(id)
	if err == nil && r.OnStarted != nil {
		r.OnStarted(started)
	}
	return err
}

func (r *Runtime) start(id string) (runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, ok := r.containers[id]
	if !ok {
		return runtime.Container{}, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	cur.State, cur.StartedAt, cur.Pid = runtime.ContainerRunning, r.clock.Now(), uint32(1000+r.seq)
	r.seq++
	if cur.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(cur.LogPath), 0o755); err != nil {
			return runtime.Container{}, fmt.Errorf("start container %s: %w", cur.Name, err)
		}
		f, err := os.OpenFile(cur.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return runtime.Container{}, fmt.Errorf("start container %s: %w", cur.Name, err)
		}
		f.Close()
	}
	r.record("StartContainer %s %d", cur.Name, cur.Attempt)
	r.emit(id, "start")
	return copyContainer(cur), nil
}

// exit ends a running container; mu is held.
func (r *Runtime) exit(c *runtime.Container, code int32, reason string) {
	c.State, c.ExitCode, c.Reason, c.FinishedAt, c.Pid = runtime.ContainerExited, code, reason, r.clock.Now(), 0
	if reason == "OOMKilled" {
		c.Labels[runtime.LabelOOM] = "true"
	}
	r.emit(c.ID, "exit")
}

func exitReason(code int32) string {
	if code == 0 {
		return "Completed"
	}
	return "Error"
}

// StopContainer implements runtime.Runtime. The fake does not wait: the
// container exits at once with OnStop's code; the grace is in Calls.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	c, err := r.ContainerStatus(ctx, id)
	if err != nil {
		return err
	}
	if c.State != runtime.ContainerRunning {
		return nil
	}
	code := int32(143)
	if grace <= 0 {
		code = 137
	}
	if r.OnStop != nil {
		code = r.OnStop(c, grace)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, ok := r.containers[id]
	if !ok || cur.State != runtime.ContainerRunning {
		return nil
	}
	r.exit(cur, code, exitReason(code))
	r.record("StopContainer %s %s", cur.Name, grace)
	return nil
}

// RemoveContainer implements runtime.Runtime.
func (r *Runtime) RemoveContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil
	}
	if c.State == runtime.ContainerRunning {
		return fmt.Errorf("remove container %s: still running", c.Name)
	}
	delete(r.containers, id)
	r.record("RemoveContainer %s %d", c.Name, c.Attempt)
	return nil
}

// ListContainers implements runtime.Runtime.
func (r *Runtime) ListContainers(context.Context) ([]runtime.Container, error) {
	return r.PodContainers(context.Background(), "")
}

// PodContainers implements runtime.Runtime ("" lists every pod's).
func (r *Runtime) PodContainers(_ context.Context, podUID string) ([]runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.Container
	for _, c := range r.containers {
		if podUID == "" || c.PodUID == podUID {
			out = append(out, copyContainer(c))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ContainerStatus implements runtime.Runtime.
func (r *Runtime) ContainerStatus(_ context.Context, id string) (runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return runtime.Container{}, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	return copyContainer(c), nil
}

func (r *Runtime) runningContainer(ctx context.Context, id string) (runtime.Container, error) {
	c, err := r.ContainerStatus(ctx, id)
	if err != nil {
		return c, err
	}
	if c.State != runtime.ContainerRunning {
		return c, fmt.Errorf("exec in container %s: not running", c.Name)
	}
	return c, nil
}

// ExecSync implements runtime.Runtime with OnExec.
func (r *Runtime) ExecSync(ctx context.Context, id string, cmd []string, _ time.Duration) (runtime.ExecResult, error) {
	c, err := r.runningContainer(ctx, id)
	if err != nil {
		return runtime.ExecResult{}, err
	}
	r.mu.Lock()
	r.record("Exec %s %s", c.Name, strings.Join(cmd, " "))
	r.mu.Unlock()
	if r.OnExec == nil {
		return runtime.ExecResult{}, nil
	}
	return r.OnExec(c, cmd)
}

// Exec implements runtime.Runtime with OnExec: stdin is drained, the
// result's output written to the streams.
func (r *Runtime) Exec(ctx context.Context, id string, opts runtime.ExecOptions) (int, error) {
	res, err := r.ExecSync(ctx, id, opts.Cmd, 0)
	if err != nil {
		return 0, err
	}
	if opts.Stdin != nil {
		_, _ = io.Copy(io.Discard, opts.Stdin)
	}
	if opts.Stdout != nil {
		_, _ = opts.Stdout.Write(res.Stdout)
	}
	if opts.Stderr != nil && !opts.Tty {
		_, _ = opts.Stderr.Write(res.Stderr)
	}
	return res.ExitCode, nil
}

// ContainerStats implements runtime.Runtime with OnStats; without it a
// running container uses a millisecond of CPU per second it has run and
// 1 MiB of memory.
func (r *Runtime) ContainerStats(ctx context.Context, id string) (runtime.Stats, error) {
	c, err := r.ContainerStatus(ctx, id)
	if err != nil {
		return runtime.Stats{}, err
	}
	if c.State != runtime.ContainerRunning {
		return runtime.Stats{}, fmt.Errorf("stats of container %s: not running", c.Name)
	}
	if r.OnStats != nil {
		return r.OnStats(c)
	}
	now := r.clock.Now()
	cpu := uint64(now.Sub(c.StartedAt) / 1000)
	return runtime.Stats{Time: now, CPUUsageNanos: cpu, MemoryUsageBytes: 1 << 20, MemoryWorkingSetBytes: 1 << 20}, nil
}

// Events implements runtime.Runtime: starts and exits, until ctx ends.
func (r *Runtime) Events(ctx context.Context) <-chan runtime.Event {
	ch := make(chan runtime.Event, 64)
	r.mu.Lock()
	r.seq++
	key := r.seq
	r.subs[key] = ch
	r.mu.Unlock()
	go func() {
		<-ctx.Done()
		r.mu.Lock()
		delete(r.subs, key)
		close(ch)
		r.mu.Unlock()
	}()
	return ch
}

// Exit makes a running container exit with code (Reason "Completed" for
// 0, else "Error"), as if its process ended.
func (r *Runtime) Exit(id string, code int32) error {
	return r.end(id, code, exitReason(code))
}

// OOMKill makes a running container exit 137 with Reason "OOMKilled".
func (r *Runtime) OOMKill(id string) error {
	return r.end(id, 137, "OOMKilled")
}

func (r *Runtime) end(id string, code int32, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if c.State != runtime.ContainerRunning {
		return fmt.Errorf("container %s is %s, not running", c.Name, c.State)
	}
	r.exit(c, code, reason)
	return nil
}

// Find returns the newest instance (highest attempt) of the container
// name of pod podUID, app or init, and whether there is one.
func (r *Runtime) Find(podUID, name string) (runtime.Container, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best *runtime.Container
	for _, c := range r.containers {
		if c.PodUID != podUID || c.Name != name {
			continue
		}
		if best == nil || c.Attempt > best.Attempt || c.Attempt == best.Attempt && c.CreatedAt.After(best.CreatedAt) {
			best = c
		}
	}
	if best == nil {
		return runtime.Container{}, false
	}
	return copyContainer(best), true
}

// WriteLog appends text to a container's log file, as its process
// writing to stdout would.
func (r *Runtime) WriteLog(id, text string) error {
	c, err := r.ContainerStatus(context.Background(), id)
	if err != nil {
		return err
	}
	if c.LogPath == "" {
		return fmt.Errorf("container %s has no log file", c.Name)
	}
	f, err := os.OpenFile(c.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
