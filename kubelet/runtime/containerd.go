package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	eventtypes "github.com/containerd/containerd/api/events"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/typeurl/v2"
	"github.com/distribution/reference"
	"github.com/opencontainers/runtime-spec/specs-go"

	"minik8s/kubelet/cgroups"
)

// Labels only the containerd implementation reads.
const (
	labelCgroup    = "io.minik8s.cgroup"
	labelImageID   = "io.minik8s.image.id"
	labelStartedAt = "io.minik8s.started-at"
	labelHostname  = "io.minik8s.sandbox.hostname"
	labelCgroupPod = "io.minik8s.sandbox.cgroup"
	// groupAnnotation makes the runc v2 shim run every container of a pod
	// in one shim process, as CRI does: one shim per pod, not per container.
	groupAnnotation = "io.containerd.runc.v2.group"
	runcRuntime     = "io.containerd.runc.v2"
)

// ContainerdOptions configure NewContainerd.
type ContainerdOptions struct {
	// Address is containerd's socket.
	Address string
	// Namespace is the containerd namespace every object goes in.
	Namespace string
	// Snapshotter defaults to overlayfs.
	Snapshotter string
	// Hosts resolves registries (mirrors, plain HTTP); see NewHosts.
	Hosts *Hosts
	// StateDir holds exec FIFOs.
	StateDir string
	Log      *slog.Logger
}

// Containerd is the Runtime on a containerd daemon.
type Containerd struct {
	client      *containerd.Client
	ns          string
	snapshotter string
	hosts       *Hosts
	fifoDir     string
	log         *slog.Logger

	pullMu sync.Mutex
	pulls  map[string]*pull // in-flight pulls by normalized ref, deduplicated
}

type pull struct {
	done chan struct{}
	img  Image
	err  error
}

var _ Runtime = (*Containerd)(nil)

// NewContainerd connects to containerd at opts.Address.
func NewContainerd(ctx context.Context, opts ContainerdOptions) (*Containerd, error) {
	if opts.Namespace == "" {
		return nil, errors.New("containerd runtime: no namespace")
	}
	if opts.Snapshotter == "" {
		opts.Snapshotter = "overlayfs"
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Hosts == nil {
		opts.Hosts = NewHosts(nil, nil)
	}
	if opts.StateDir == "" {
		opts.StateDir = filepath.Join(os.TempDir(), "minik8s-kubelet")
	}
	fifo := filepath.Join(opts.StateDir, "fifo")
	if err := os.MkdirAll(fifo, 0o700); err != nil {
		return nil, err
	}
	c, err := containerd.New(opts.Address, containerd.WithDefaultNamespace(opts.Namespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", opts.Address, err)
	}
	return &Containerd{client: c, ns: opts.Namespace, snapshotter: opts.Snapshotter, hosts: opts.Hosts,
		fifoDir: fifo, log: opts.Log, pulls: map[string]*pull{}}, nil
}

// Close closes the connection to containerd; containers keep running.
func (r *Containerd) Close() error { return r.client.Close() }

func (r *Containerd) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.ns)
}

// Version implements Runtime.
func (r *Containerd) Version(ctx context.Context) (string, error) {
	v, err := r.client.Version(r.ctx(ctx))
	if err != nil {
		return "", fmt.Errorf("containerd version: %w", err)
	}
	return "containerd://" + v.Version, nil
}

// Normalize turns an image reference as pods write it ("busybox",
// "luksa/kubia:v1") into the full one containerd stores
// ("docker.io/library/busybox:latest").
func Normalize(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	return named.String(), nil
}

// PullImage implements Runtime. Concurrent pulls of the same reference
// share one download.
func (r *Containerd) PullImage(ctx context.Context, ref string) (Image, error) {
	name, err := Normalize(ref)
	if err != nil {
		return Image{}, err
	}
	r.pullMu.Lock()
	if p, ok := r.pulls[name]; ok {
		r.pullMu.Unlock()
		select {
		case <-p.done:
			return p.img, p.err
		case <-ctx.Done():
			return Image{}, ctx.Err()
		}
	}
	p := &pull{done: make(chan struct{})}
	r.pulls[name] = p
	r.pullMu.Unlock()

	p.img, p.err = r.pull(ctx, name)
	r.pullMu.Lock()
	delete(r.pulls, name)
	r.pullMu.Unlock()
	close(p.done)
	return p.img, p.err
}

func (r *Containerd) pull(ctx context.Context, name string) (Image, error) {
	img, err := r.client.Pull(r.ctx(ctx), name,
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(r.snapshotter),
		containerd.WithResolver(r.hosts.Resolver()))
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", name, err)
	}
	return r.imageInfo(ctx, img), nil
}

func (r *Containerd) imageInfo(ctx context.Context, img containerd.Image) Image {
	size, _ := img.Size(r.ctx(ctx))
	return Image{Ref: img.Name(), ID: img.Target().Digest.String(), Size: size}
}

// GetImage implements Runtime.
func (r *Containerd) GetImage(ctx context.Context, ref string) (Image, error) {
	img, err := r.image(ctx, ref)
	if err != nil {
		return Image{}, err
	}
	return r.imageInfo(ctx, img), nil
}

// image returns an image that is present and unpacked.
func (r *Containerd) image(ctx context.Context, ref string) (containerd.Image, error) {
	name, err := Normalize(ref)
	if err != nil {
		return nil, err
	}
	img, err := r.client.GetImage(r.ctx(ctx), name)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("image %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	if ok, err := img.IsUnpacked(r.ctx(ctx), r.snapshotter); err == nil && !ok {
		if err := img.Unpack(r.ctx(ctx), r.snapshotter); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", name, err)
		}
	}
	return img, nil
}

// ListImages implements Runtime.
func (r *Containerd) ListImages(ctx context.Context) ([]Image, error) {
	imgs, err := r.client.ListImages(r.ctx(ctx))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]Image, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, r.imageInfo(ctx, img))
	}
	return out, nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RunSandbox implements Runtime: the pause container gets new IPC and UTS
// namespaces (hostname set), the given network namespace, and its own PID
// namespace in which it reaps zombies.
func (r *Containerd) RunSandbox(ctx context.Context, cfg SandboxConfig) (Sandbox, error) {
	ctx = r.ctx(ctx)
	img, err := r.image(ctx, cfg.Image)
	if err != nil {
		return Sandbox{}, fmt.Errorf("run sandbox for %s/%s: %w", cfg.Namespace, cfg.Name, err)
	}
	id := newID()
	labels := map[string]string{}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	cg := cfg.CgroupParent + "/" + id
	for k, v := range map[string]string{
		LabelManaged: "true", LabelKind: KindSandbox, LabelPodUID: cfg.PodUID,
		LabelPodName: cfg.Name, LabelPodNamespace: cfg.Namespace, LabelAttempt: strconv.Itoa(cfg.Attempt),
		LabelNetns: cfg.NetnsPath, labelCgroup: cg, labelCgroupPod: cfg.CgroupParent,
		labelHostname: cfg.Hostname, labelImageID: img.Target().Digest.String(),
	} {
		labels[k] = v
	}
	specOpts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithHostname(cfg.Hostname),
		oci.WithAnnotations(map[string]string{groupAnnotation: id}),
		oci.WithCgroup(cg),
		oci.WithCPUShares(2),
		withNetwork(cfg.NetnsPath),
	}
	if cfg.HostIPC {
		specOpts = append(specOpts, oci.WithHostNamespace(specs.IPCNamespace))
	}
	cont, err := r.client.NewContainer(ctx, id,
		containerd.WithImage(img),
		containerd.WithSnapshotter(r.snapshotter),
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(specOpts...),
		containerd.WithContainerLabels(labels),
		containerd.WithRuntime(runcRuntime, nil))
	if err != nil {
		return Sandbox{}, fmt.Errorf("create sandbox container for %s/%s: %w", cfg.Namespace, cfg.Name, err)
	}
	task, err := cont.NewTask(ctx, cio.NullIO)
	if err == nil {
		err = task.Start(ctx)
	}
	if err != nil {
		_ = r.remove(ctx, id)
		return Sandbox{}, fmt.Errorf("start sandbox for %s/%s: %w", cfg.Namespace, cfg.Name, err)
	}
	return Sandbox{ID: id, PodUID: cfg.PodUID, Name: cfg.Name, Namespace: cfg.Namespace, Attempt: cfg.Attempt,
		State: SandboxReady, Pid: task.Pid(), NetnsPath: cfg.NetnsPath, CreatedAt: time.Now(), Labels: labels}, nil
}

func withNetwork(path string) oci.SpecOpts {
	if path == "" {
		return oci.WithHostNamespace(specs.NetworkNamespace)
	}
	return oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: path})
}

// StopSandbox implements Runtime.
func (r *Containerd) StopSandbox(ctx context.Context, id string) error {
	return r.stop(r.ctx(ctx), id, 2*time.Second)
}

// RemoveSandbox implements Runtime.
func (r *Containerd) RemoveSandbox(ctx context.Context, id string) error {
	ctx = r.ctx(ctx)
	info, err := r.client.ContainerService().Get(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove sandbox %s: %w", id, err)
	}
	if err := r.remove(ctx, id); err != nil {
		return err
	}
	if pod := info.Labels[labelCgroupPod]; pod != "" {
		if err := cgroups.Remove(pod); err != nil {
			r.log.Warn("could not remove pod cgroup", "cgroup", pod, "err", err)
		}
	}
	return nil
}

// ListSandboxes implements Runtime.
func (r *Containerd) ListSandboxes(ctx context.Context) ([]Sandbox, error) {
	ctx = r.ctx(ctx)
	recs, tasks, err := r.list(ctx, KindSandbox)
	if err != nil {
		return nil, err
	}
	return sandboxes(recs, tasks), nil
}

// PodSandboxes implements Runtime: one filtered list and one task lookup
// per sandbox, where a full list asks every shim of the node.
func (r *Containerd) PodSandboxes(ctx context.Context, podUID string) ([]Sandbox, error) {
	ctx = r.ctx(ctx)
	recs, tasks, err := r.listPod(ctx, KindSandbox, podUID)
	if err != nil {
		return nil, err
	}
	return sandboxes(recs, tasks), nil
}

func sandboxes(recs []containers.Container, tasks map[string]*tasktypes.Process) []Sandbox {
	out := make([]Sandbox, 0, len(recs))
	for _, c := range recs {
		sb := Sandbox{ID: c.ID, PodUID: c.Labels[LabelPodUID], Name: c.Labels[LabelPodName],
			Namespace: c.Labels[LabelPodNamespace], Attempt: AttemptOf(c.Labels), State: SandboxNotReady,
			NetnsPath: c.Labels[LabelNetns], CreatedAt: c.CreatedAt, Labels: c.Labels}
		if t, ok := tasks[c.ID]; ok && t.Status == tasktypes.Status_RUNNING {
			sb.State, sb.Pid = SandboxReady, t.Pid
		}
		out = append(out, sb)
	}
	return out
}

// listPod returns one pod's containers of one kind and their tasks.
func (r *Containerd) listPod(ctx context.Context, kind, podUID string) ([]containers.Container, map[string]*tasktypes.Process, error) {
	recs, err := r.client.ContainerService().List(ctx, fmt.Sprintf(`labels.%q==%s,labels.%q==%q`, LabelKind, kind, LabelPodUID, podUID))
	if err != nil {
		return nil, nil, fmt.Errorf("list %ss of pod %s: %w", kind, podUID, err)
	}
	tasks := make(map[string]*tasktypes.Process, len(recs))
	for _, c := range recs {
		resp, err := r.client.TaskService().Get(ctx, &tasksapi.GetRequest{ContainerID: c.ID})
		if err == nil {
			tasks[c.ID] = resp.Process
		} else if !errdefs.IsNotFound(errgrpc.ToNative(err)) {
			return nil, nil, fmt.Errorf("task of %s: %w", c.ID, err)
		}
	}
	return recs, tasks, nil
}

// list returns the kubelet's containers of one kind and every task by ID.
func (r *Containerd) list(ctx context.Context, kind string) ([]containers.Container, map[string]*tasktypes.Process, error) {
	recs, err := r.client.ContainerService().List(ctx, fmt.Sprintf(`labels.%q==%s`, LabelKind, kind))
	if err != nil {
		return nil, nil, fmt.Errorf("list %ss: %w", kind, err)
	}
	resp, err := r.client.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, nil, fmt.Errorf("list tasks: %w", err)
	}
	tasks := make(map[string]*tasktypes.Process, len(resp.Tasks))
	for _, t := range resp.Tasks {
		tasks[t.ID] = t
	}
	return recs, tasks, nil
}

// CreateContainer implements Runtime.
func (r *Containerd) CreateContainer(ctx context.Context, sb Sandbox, cfg ContainerConfig) (string, error) {
	ctx = r.ctx(ctx)
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("create container %s of %s/%s: %w", cfg.Name, sb.Namespace, sb.Name, err)
	}
	img, err := r.image(ctx, cfg.Image)
	if err != nil {
		return fail(err)
	}
	ispec, err := img.Spec(ctx)
	if err != nil {
		return fail(fmt.Errorf("read image config: %w", err))
	}
	args := ProcessArgs(ispec.Config.Entrypoint, ispec.Config.Cmd, cfg.Command, cfg.Args)
	if len(args) == 0 {
		return fail(errors.New("no command: the image has none and the container sets none"))
	}
	if sb.Pid == 0 {
		return fail(errors.New("sandbox is not running"))
	}
	id := newID()
	cgPod := sb.Labels[labelCgroupPod]
	cg := cgPod + "/" + id
	labels := map[string]string{}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	for k, v := range map[string]string{
		LabelManaged: "true", LabelKind: KindContainer, LabelPodUID: sb.PodUID, LabelPodName: sb.Name,
		LabelPodNamespace: sb.Namespace, LabelSandboxID: sb.ID, LabelContainerName: cfg.Name,
		LabelAttempt: strconv.Itoa(cfg.Attempt), LabelLogPath: cfg.LogPath, labelCgroup: cg,
		labelImageID: img.Target().Digest.String(),
	} {
		labels[k] = v
	}
	nsPath := func(kind string) string { return fmt.Sprintf("/proc/%d/ns/%s", sb.Pid, kind) }
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs(args...),
		oci.WithAnnotations(map[string]string{groupAnnotation: sb.ID}),
		oci.WithCgroup(cg),
		withNetwork(sb.NetnsPath),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.IPCNamespace, Path: nsPath("ipc")}),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.UTSNamespace, Path: nsPath("uts")}),
		withoutHostname,
	}
	switch {
	case cfg.HostPID:
		opts = append(opts, oci.WithHostNamespace(specs.PIDNamespace))
	case cfg.SharePID:
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.PIDNamespace, Path: nsPath("pid")}))
	}
	if len(cfg.Env) > 0 {
		opts = append(opts, oci.WithEnv(cfg.Env))
	}
	if cfg.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(cfg.WorkingDir))
	}
	if len(cfg.Mounts) > 0 {
		opts = append(opts, oci.WithMounts(bindMounts(cfg.Mounts)))
	}
	opts = append(opts, resourceOpts(cfg.Resources)...)
	opts = append(opts, securityOpts(cfg.Security)...)
	cont, err := r.client.NewContainer(ctx, id,
		containerd.WithImage(img),
		containerd.WithSnapshotter(r.snapshotter),
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(opts...),
		containerd.WithContainerLabels(labels),
		containerd.WithRuntime(runcRuntime, nil))
	if err != nil {
		return fail(err)
	}
	return cont.ID(), nil
}

// withoutHostname clears the spec's hostname: a container joining the
// sandbox's UTS namespace may not set one (runc refuses).
func withoutHostname(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	s.Hostname = ""
	return nil
}

// ProcessArgs applies Kubernetes' command/args rules to an image's
// entrypoint and cmd.
func ProcessArgs(entrypoint, cmd, command, args []string) []string {
	switch {
	case len(command) > 0:
		return append(append([]string{}, command...), args...)
	case len(args) > 0:
		return append(append([]string{}, entrypoint...), args...)
	default:
		return append(append([]string{}, entrypoint...), cmd...)
	}
}

func bindMounts(ms []Mount) []specs.Mount {
	out := make([]specs.Mount, 0, len(ms))
	for _, m := range ms {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		out = append(out, specs.Mount{Type: "bind", Source: m.HostPath, Destination: m.ContainerPath,
			Options: []string{"rbind", "rprivate", mode}})
	}
	return out
}

func resourceOpts(res Resources) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if res.CPUShares > 0 {
		opts = append(opts, oci.WithCPUShares(res.CPUShares))
	}
	if res.CPUQuota > 0 {
		opts = append(opts, oci.WithCPUCFS(res.CPUQuota, res.CPUPeriod))
	}
	if res.MemoryLimit > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(res.MemoryLimit)))
	}
	return opts
}

func securityOpts(sec Security) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if sec.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	}
	caps := func(in []string) (out []string, all bool) {
		for _, c := range in {
			c = strings.ToUpper(c)
			if c == "ALL" {
				all = true
				continue
			}
			if !strings.HasPrefix(c, "CAP_") {
				c = "CAP_" + c
			}
			out = append(out, c)
		}
		return out, all
	}
	if drop, all := caps(sec.CapDrop); all {
		opts = append(opts, oci.WithCapabilities(nil))
	} else if len(drop) > 0 {
		opts = append(opts, oci.WithDroppedCapabilities(drop))
	}
	if add, _ := caps(sec.CapAdd); len(add) > 0 {
		opts = append(opts, oci.WithAddedCapabilities(add))
	}
	switch {
	case sec.RunAsUser != nil && sec.RunAsGroup != nil:
		opts = append(opts, oci.WithUIDGID(uint32(*sec.RunAsUser), uint32(*sec.RunAsGroup)))
	case sec.RunAsUser != nil:
		opts = append(opts, oci.WithUserID(uint32(*sec.RunAsUser)))
	}
	if sec.ReadOnlyRootfs {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	return opts
}

// StartContainer implements Runtime. The container's stdout and stderr
// go to its log file, written by the shim, so logs survive a kubelet restart.
func (r *Containerd) StartContainer(ctx context.Context, id string) error {
	ctx = r.ctx(ctx)
	cont, err := r.load(ctx, id)
	if err != nil {
		return err
	}
	labels, err := cont.Labels(ctx)
	if err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	creator := cio.NullIO
	if p := labels[LabelLogPath]; p != "" {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("start container %s: %w", id, err)
		}
		creator = cio.LogFile(p)
	}
	task, err := cont.NewTask(ctx, creator)
	if err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	if err := task.Start(ctx); err != nil {
		_, _ = task.Delete(ctx, containerd.WithProcessKill)
		return fmt.Errorf("start container %s: %w", id, err)
	}
	if _, err := cont.SetLabels(ctx, map[string]string{labelStartedAt: time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		r.log.Warn("could not label container start time", "container", id, "err", err)
	}
	return nil
}

func (r *Containerd) load(ctx context.Context, id string) (containerd.Container, error) {
	cont, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load container %s: %w", id, err)
	}
	return cont, nil
}

// StopContainer implements Runtime.
func (r *Containerd) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	return r.stop(r.ctx(ctx), id, grace)
}

// stop sends SIGTERM, waits up to grace, then SIGKILL; the task stays
// (stopped) so its exit status can still be read.
func (r *Containerd) stop(ctx context.Context, id string, grace time.Duration) error {
	cont, err := r.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	task, err := cont.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	st, err := task.Status(ctx)
	if err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	if st.Status == containerd.Stopped {
		return nil
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	if grace > 0 {
		if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("stop container %s: SIGTERM: %w", id, err)
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-exited:
			return nil
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := task.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %s: SIGKILL: %w", id, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("stop container %s: still running 10s after SIGKILL", id)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RemoveContainer implements Runtime.
func (r *Containerd) RemoveContainer(ctx context.Context, id string) error {
	return r.remove(r.ctx(ctx), id)
}

func (r *Containerd) remove(ctx context.Context, id string) error {
	cont, err := r.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if task, err := cont.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove container %s: delete task: %w", id, err)
		}
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	if err := cont.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

// ListContainers implements Runtime. Two RPCs whatever the number of
// containers: the kubelet relists every second.
func (r *Containerd) ListContainers(ctx context.Context) ([]Container, error) {
	ctx = r.ctx(ctx)
	recs, tasks, err := r.list(ctx, KindContainer)
	if err != nil {
		return nil, err
	}
	out := make([]Container, 0, len(recs))
	for _, c := range recs {
		out = append(out, r.container(ctx, c, tasks[c.ID]))
	}
	return out, nil
}

// PodContainers implements Runtime.
func (r *Containerd) PodContainers(ctx context.Context, podUID string) ([]Container, error) {
	ctx = r.ctx(ctx)
	recs, tasks, err := r.listPod(ctx, KindContainer, podUID)
	if err != nil {
		return nil, err
	}
	out := make([]Container, 0, len(recs))
	for _, c := range recs {
		out = append(out, r.container(ctx, c, tasks[c.ID]))
	}
	return out, nil
}

// ContainerStatus implements Runtime.
func (r *Containerd) ContainerStatus(ctx context.Context, id string) (Container, error) {
	ctx = r.ctx(ctx)
	c, err := r.client.ContainerService().Get(ctx, id)
	if errdefs.IsNotFound(err) {
		return Container{}, fmt.Errorf("container %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Container{}, fmt.Errorf("container %s: %w", id, err)
	}
	var proc *tasktypes.Process
	if resp, err := r.client.TaskService().Get(ctx, &tasksapi.GetRequest{ContainerID: id}); err == nil {
		proc = resp.Process
	}
	return r.container(ctx, c, proc), nil
}

func (r *Containerd) container(ctx context.Context, c containers.Container, t *tasktypes.Process) Container {
	l := c.Labels
	out := Container{ID: c.ID, SandboxID: l[LabelSandboxID], PodUID: l[LabelPodUID], Name: l[LabelContainerName],
		Attempt: AttemptOf(l), Init: l[LabelContainerType] == "init", Image: c.Image, ImageID: l[labelImageID],
		State: ContainerCreated, CreatedAt: c.CreatedAt, LogPath: l[LabelLogPath], Labels: l}
	if s := l[labelStartedAt]; s != "" {
		out.StartedAt, _ = time.Parse(time.RFC3339Nano, s)
	}
	switch {
	case t == nil:
		if !out.StartedAt.IsZero() {
			// Started once but its task is gone (containerd restarted):
			// it exited and nobody knows how.
			out.State, out.ExitCode, out.Reason = ContainerExited, 255, "Unknown"
		}
	case t.Status == tasktypes.Status_RUNNING || t.Status == tasktypes.Status_PAUSED || t.Status == tasktypes.Status_PAUSING:
		out.State, out.Pid = ContainerRunning, t.Pid
	case t.Status == tasktypes.Status_STOPPED:
		out.State, out.ExitCode = ContainerExited, int32(t.ExitStatus)
		if t.ExitedAt != nil {
			out.FinishedAt = t.ExitedAt.AsTime()
		}
		switch {
		case l[LabelOOM] == "true" || (out.ExitCode == 137 && cgroups.OOMKilled(l[labelCgroup])):
			out.Reason = "OOMKilled"
		case out.ExitCode == 0:
			out.Reason = "Completed"
		default:
			out.Reason = "Error"
		}
	case t.Status == tasktypes.Status_CREATED:
		out.State = ContainerCreated
	default:
		out.State = ContainerUnknown
	}
	return out
}

// ExecSync implements Runtime.
func (r *Containerd) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (ExecResult, error) {
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = 1<<20, 1<<20
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, err := r.Exec(ctx, id, ExecOptions{Cmd: cmd, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return ExecResult{}, err
	}
	return ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: code}, nil
}

// Exec implements Runtime. When ctx ends the process is killed.
func (r *Containerd) Exec(ctx context.Context, id string, opts ExecOptions) (int, error) {
	ctx = r.ctx(ctx)
	if len(opts.Cmd) == 0 {
		return 0, errors.New("exec: no command")
	}
	cont, err := r.load(ctx, id)
	if err != nil {
		return 0, err
	}
	spec, err := cont.Spec(ctx)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	task, err := cont.Task(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: container not running: %w", id, err)
	}
	pspec := *spec.Process
	pspec.Args = opts.Cmd
	pspec.Terminal = opts.Tty
	// stdin is held back until the process has started: a command that
	// reads its input and exits at once could otherwise finish before the
	// shim has recorded it, and containerd 1.6's shim then reports exit
	// status 0 (seen in tests: `read x; exit 4` came back 0).
	stdin := opts.Stdin
	var started chan struct{}
	// The shim keeps the stdin FIFO open for writing itself, so closing our
	// end is not an EOF for the process: at the end of the caller's input
	// the shim is told to close the process's stdin (what `cat` waits for).
	var proc containerd.Process
	procSet := make(chan struct{})
	if stdin != nil {
		started = make(chan struct{})
		stdin = &gatedReader{r: stdin, open: started, onEOF: func() {
			<-procSet
			if proc != nil {
				_ = proc.CloseIO(r.ctx(context.Background()), containerd.WithStdinCloser)
			}
		}}
		defer func() {
			select {
			case <-started:
			default:
				close(started)
			}
		}()
	}
	ioOpts := []cio.Opt{cio.WithStreams(stdin, opts.Stdout, opts.Stderr), cio.WithFIFODir(r.fifoDir)}
	if opts.Tty {
		ioOpts = append(ioOpts, cio.WithTerminal)
	}
	// The process must outlive a cancelled ctx long enough to be killed
	// and deleted, so those calls use a fresh context.
	bg := r.ctx(context.Background())
	proc, err = task.Exec(ctx, "exec-"+newID()[:12], &pspec, cio.NewCreator(ioOpts...))
	close(procSet)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer func() { _, _ = proc.Delete(bg, containerd.WithProcessKill) }()
	exited, err := proc.Wait(bg)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	if err := proc.Start(ctx); err != nil {
		return 0, fmt.Errorf("exec %v in %s: %w", opts.Cmd, id, err)
	}
	if started != nil {
		close(started)
	}
	if opts.Resize != nil {
		go func() {
			for {
				select {
				case sz, ok := <-opts.Resize:
					if !ok {
						return
					}
					_ = proc.Resize(bg, uint32(sz.Width), uint32(sz.Height))
				case <-exited:
					return
				}
			}
		}()
	}
	select {
	case st := <-exited:
		proc.IO().Wait()
		code, _, err := st.Result()
		if err != nil {
			return 0, fmt.Errorf("exec in %s: %w", id, err)
		}
		return int(code), nil
	case <-ctx.Done():
		_ = proc.Kill(bg, syscall.SIGKILL)
		<-exited
		return 0, fmt.Errorf("exec %v in %s: %w", opts.Cmd, id, ctx.Err())
	}
}

// ContainerStats implements Runtime from the container's cgroup.
func (r *Containerd) ContainerStats(ctx context.Context, id string) (Stats, error) {
	c, err := r.client.ContainerService().Get(r.ctx(ctx), id)
	if errdefs.IsNotFound(err) {
		return Stats{}, fmt.Errorf("container %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("stats of %s: %w", id, err)
	}
	u, err := cgroups.Read(c.Labels[labelCgroup])
	if err != nil {
		return Stats{}, err
	}
	return Stats{Time: u.Time, CPUUsageNanos: u.CPUUsageNanos, MemoryUsageBytes: u.MemoryUsageBytes,
		MemoryWorkingSetBytes: u.MemoryWorkingSetBytes}, nil
}

// Events implements Runtime: task exit, OOM and start events of our
// namespace. An OOM event also labels the container so the reason
// survives the cgroup's removal.
func (r *Containerd) Events(ctx context.Context) <-chan Event {
	out := make(chan Event, 256)
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			r.subscribe(ctx, out)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return out
}

func (r *Containerd) subscribe(ctx context.Context, out chan<- Event) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, errs := r.client.EventService().Subscribe(ctx,
		fmt.Sprintf(`namespace==%q,topic=="/tasks/exit"`, r.ns),
		fmt.Sprintf(`namespace==%q,topic=="/tasks/oom"`, r.ns),
		fmt.Sprintf(`namespace==%q,topic=="/tasks/start"`, r.ns))
	for {
		select {
		case env := <-ch:
			if env == nil || env.Event == nil {
				continue
			}
			v, err := typeurl.UnmarshalAny(env.Event)
			if err != nil {
				continue
			}
			var ev Event
			switch e := v.(type) {
			case *eventtypes.TaskExit:
				if e.ID != e.ContainerID {
					continue // an exec'd process, not the container
				}
				ev = Event{ContainerID: e.ContainerID, Type: "exit"}
			case *eventtypes.TaskOOM:
				ev = Event{ContainerID: e.ContainerID, Type: "oom"}
				if c, err := r.client.LoadContainer(r.ctx(ctx), e.ContainerID); err == nil {
					_, _ = c.SetLabels(r.ctx(ctx), map[string]string{LabelOOM: "true"})
				}
			case *eventtypes.TaskStart:
				ev = Event{ContainerID: e.ContainerID, Type: "start"}
			default:
				continue
			}
			select {
			case out <- ev:
			default: // the kubelet relists anyway
			}
		case err := <-errs:
			if err != nil && ctx.Err() == nil {
				r.log.Debug("containerd event stream ended", "err", err)
			}
			return
		case <-ctx.Done():
			return
		}
	}
}

// limitedBuffer keeps the first max bytes written and drops the rest.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// gatedReader reads nothing until open is closed.
type gatedReader struct {
	r     io.Reader
	open  <-chan struct{}
	onEOF func()
	once  sync.Once
}

func (g *gatedReader) Read(p []byte) (int, error) {
	<-g.open
	n, err := g.r.Read(p)
	if err != nil && g.onEOF != nil {
		// After our end of the FIFO is closed (cio does that when Read
		// fails), the process sees the rest of the data, then EOF.
		g.once.Do(func() { go g.onEOF() })
	}
	return n, err
}
