// Package node registers the kubelet's Node, keeps its status current
// (capacity, addresses, node info, conditions, images) and heartbeats with
// a Lease in kube-node-lease.
package node

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kubelet/runtime"
)

// KubeletVersion is what the Node reports.
const KubeletVersion = "v1.30.0-minik8s"

// LeaseNamespace holds node heartbeats.
const LeaseNamespace = "kube-node-lease"

// Config configures the node agent.
type Config struct {
	Name    string
	NodeIP  string
	PodCIDR string // from --pod-cidr; the Node's spec.podCIDR wins when set
	// Port is the kubelet server's port, published in
	// status.daemonEndpoints.kubeletEndpoint: the apiserver reaches the
	// kubelet there, at the Node's InternalIP.
	Port    int
	MaxPods int
	Labels  map[string]string
	// Interval is the status and lease period (10s).
	Interval time.Duration
	// LeaseDuration is leaseDurationSeconds (40).
	LeaseDuration int32
	Log           *slog.Logger
}

// Agent keeps the Node object up to date.
type Agent struct {
	cfg    Config
	nodes  *client.Resource[*corev1.Node]
	leases *client.Resource[*coordinationv1.Lease]
	rt     runtime.Runtime
	// NetworkReady reports whether pod networking is set up; the node is
	// not Ready before.
	NetworkReady func() bool
}

// NewAgent returns an Agent.
func NewAgent(cfg Config, c *client.Client, rt runtime.Runtime) *Agent {
	if cfg.Interval == 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = 40
	}
	if cfg.MaxPods == 0 {
		cfg.MaxPods = 110
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Agent{cfg: cfg, nodes: client.For[*corev1.Node](c), leases: client.For[*coordinationv1.Lease](c), rt: rt,
		NetworkReady: func() bool { return true }}
}

// Register creates the Node if it does not exist and returns it. It
// retries until ctx ends.
func (a *Agent) Register(ctx context.Context) (*corev1.Node, error) {
	for {
		n, err := a.register(ctx)
		if err == nil {
			return n, nil
		}
		a.cfg.Log.Warn("node registration failed, retrying", "node", a.cfg.Name, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func (a *Agent) register(ctx context.Context) (*corev1.Node, error) {
	labels := map[string]string{
		corev1.LabelHostname: a.cfg.Name, corev1.LabelOS: "linux", corev1.LabelArch: goruntime.GOARCH,
		"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": goruntime.GOARCH,
	}
	for k, v := range a.cfg.Labels {
		labels[k] = v
	}
	n := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: a.cfg.Name, Labels: labels}, Spec: &corev1.NodeSpec{}}
	if a.cfg.PodCIDR != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = a.cfg.PodCIDR, []string{a.cfg.PodCIDR}
	}
	n.Status = a.status(ctx, nil)
	out, err := a.nodes.Create(ctx, n)
	if err == nil {
		a.cfg.Log.Info("node registered", "node", a.cfg.Name)
		return out, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("register node %s: %w", a.cfg.Name, err)
	}
	existing, err := a.nodes.Get(ctx, "", a.cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("register node %s: %w", a.cfg.Name, err)
	}
	// Fill our labels and a pod CIDR from the flag if the node has none.
	upd := proto.Clone(existing).(*corev1.Node)
	changed := false
	if upd.Metadata.Labels == nil {
		upd.Metadata.Labels = map[string]string{}
	}
	for k, v := range labels {
		if upd.Metadata.Labels[k] != v {
			upd.Metadata.Labels[k], changed = v, true
		}
	}
	if upd.Spec == nil {
		upd.Spec = &corev1.NodeSpec{}
	}
	if upd.Spec.PodCIDR == "" && a.cfg.PodCIDR != "" {
		upd.Spec.PodCIDR, upd.Spec.PodCIDRs, changed = a.cfg.PodCIDR, []string{a.cfg.PodCIDR}, true
	}
	if changed {
		if existing, err = a.nodes.Update(ctx, upd); err != nil {
			return nil, fmt.Errorf("update node %s: %w", a.cfg.Name, err)
		}
	}
	a.cfg.Log.Info("node already registered", "node", a.cfg.Name)
	return existing, nil
}

// Run updates the node status and renews the lease every interval until ctx ends.
func (a *Agent) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		if err := a.SyncStatus(ctx); err != nil && ctx.Err() == nil {
			a.cfg.Log.Warn("node status update failed", "node", a.cfg.Name, "err", err)
		}
		if err := a.RenewLease(ctx); err != nil && ctx.Err() == nil {
			a.cfg.Log.Warn("node lease renewal failed", "node", a.cfg.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SyncStatus writes the node's status.
func (a *Agent) SyncStatus(ctx context.Context) error {
	return client.RetryOnConflict(ctx, client.Backoff{}, func() error {
		n, err := a.nodes.Get(ctx, "", a.cfg.Name)
		if apierrors.IsNotFound(err) {
			_, err = a.register(ctx)
			return err
		}
		if err != nil {
			return err
		}
		n.Status = a.status(ctx, n.Status)
		_, err = a.nodes.UpdateStatus(ctx, n)
		return err
	})
}

// RenewLease creates or renews the node's Lease.
func (a *Agent) RenewLease(ctx context.Context) error {
	now := timestamppb.New(time.Now())
	l, err := a.leases.Get(ctx, LeaseNamespace, a.cfg.Name)
	if apierrors.IsNotFound(err) {
		_, err = a.leases.Create(ctx, &coordinationv1.Lease{
			Metadata: &metav1.ObjectMeta{Name: a.cfg.Name, Namespace: LeaseNamespace},
			Spec: &coordinationv1.LeaseSpec{HolderIdentity: proto.String(a.cfg.Name),
				LeaseDurationSeconds: proto.Int32(a.cfg.LeaseDuration), AcquireTime: now, RenewTime: now},
		})
		return err
	}
	if err != nil {
		return err
	}
	if l.Spec == nil {
		l.Spec = &coordinationv1.LeaseSpec{}
	}
	l.Spec.HolderIdentity = proto.String(a.cfg.Name)
	l.Spec.LeaseDurationSeconds = proto.Int32(a.cfg.LeaseDuration)
	l.Spec.RenewTime = now
	_, err = a.leases.Update(ctx, l)
	return err
}

// status builds the node status, keeping condition transition times from old.
func (a *Agent) status(ctx context.Context, old *corev1.NodeStatus) *corev1.NodeStatus {
	memKi := memTotalKi()
	capacity := map[string]string{
		"cpu":               strconv.Itoa(goruntime.NumCPU()),
		"memory":            fmt.Sprintf("%dKi", memKi),
		"pods":              strconv.Itoa(a.cfg.MaxPods),
		"ephemeral-storage": fmt.Sprintf("%dKi", diskKi("/")),
	}
	allocatable := map[string]string{}
	for k, v := range capacity {
		allocatable[k] = v
	}
	// Keep 100Mi of memory for the system, as a small --system-reserved.
	allocatable["memory"] = fmt.Sprintf("%dKi", max(memKi-100*1024, 0))
	st := &corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable,
		Addresses:   []*corev1.NodeAddress{{Type: "Hostname", Address: a.cfg.Name}},
		DaemonEndpoints: &corev1.NodeDaemonEndpoints{
			KubeletEndpoint: &corev1.DaemonEndpoint{Port: int32(a.cfg.Port)},
		},
		NodeInfo: a.nodeInfo(ctx),
	}
	if a.cfg.NodeIP != "" {
		st.Addresses = append([]*corev1.NodeAddress{{Type: "InternalIP", Address: a.cfg.NodeIP}}, st.Addresses...)
	}
	now := timestamppb.New(time.Now().Truncate(time.Second))
	ready := a.NetworkReady()
	readyReason, readyMsg, readyStatus := "KubeletReady", "kubelet is posting ready status", corev1.ConditionTrue
	if !ready {
		readyReason, readyMsg, readyStatus = "KubeletNotReady", "container runtime network not ready: no pod CIDR assigned yet", corev1.ConditionFalse
	}
	if _, err := a.rt.Version(ctx); err != nil {
		readyReason, readyMsg, readyStatus = "KubeletNotReady", "container runtime is down: "+err.Error(), corev1.ConditionFalse
	}
	conds := []*corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: readyStatus, Reason: readyReason, Message: readyMsg},
	}
	for _, c := range conds {
		c.LastHeartbeatTime = now
		c.LastTransitionTime = now
		for _, oc := range old.GetConditions() {
			if oc.GetType() == c.Type && oc.GetStatus() == c.Status && oc.GetLastTransitionTime() != nil {
				c.LastTransitionTime = oc.LastTransitionTime
			}
		}
	}
	st.Conditions = conds
	if imgs, err := a.rt.ListImages(ctx); err == nil {
		for _, img := range imgs {
			st.Images = append(st.Images, &corev1.ContainerImage{Names: []string{img.Ref, img.ID}, SizeBytes: img.Size})
		}
	}
	return st
}

func (a *Agent) nodeInfo(ctx context.Context) *corev1.NodeSystemInfo {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	rtv, _ := a.rt.Version(ctx)
	return &corev1.NodeSystemInfo{
		MachineID:               readTrim("/etc/machine-id"),
		SystemUUID:              readTrim("/sys/class/dmi/id/product_uuid"),
		BootID:                  readTrim("/proc/sys/kernel/random/boot_id"),
		KernelVersion:           unix.ByteSliceToString(uts.Release[:]),
		OsImage:                 osImage(),
		ContainerRuntimeVersion: rtv,
		KubeletVersion:          KubeletVersion,
		KubeProxyVersion:        KubeletVersion,
		OperatingSystem:         "linux",
		Architecture:            goruntime.GOARCH,
	}
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func memTotalKi() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

func diskKi(path string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0
	}
	return int64(st.Blocks) * st.Bsize / 1024
}
