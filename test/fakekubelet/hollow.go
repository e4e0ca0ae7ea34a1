package fakekubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	"minik8s/kubelet/runtime"
	"minik8s/kubelet/runtime/fake"
	"minik8s/test/hollownode"
)

// addHollow starts (or restarts, adopting what its runtime holds) the
// real kubelet of node name and waits for its Node to be Ready.
func (k *Kubelet) addHollow(ctx context.Context, name string, nodeLabels map[string]string) error {
	if k.cfg.Server == "" {
		return errors.New("fakekubelet: the real kubelet needs Config.Server (or set Config.Simulated)")
	}
	k.mu.Lock()
	if _, ok := k.hollow[name]; ok {
		k.mu.Unlock()
		return nil
	}
	idx, known := len(k.order), false
	if _, known = k.alive[name]; known {
		idx = sortIndex(k.order, name)
	}
	rt := k.runtimes[name]
	if rt == nil {
		rt = k.newRuntime()
		k.runtimes[name] = rt
	}
	k.mu.Unlock()
	log := slog.New(slog.DiscardHandler)
	if k.cfg.Log.Enabled(ctx, slog.LevelDebug) {
		log = k.cfg.Log
	}
	cidr := netip.MustParsePrefix(fmt.Sprintf("10.250.%d.0/24", idx%256))
	n, err := hollownode.Start(k.ctx, hollownode.Config{Server: k.cfg.Server, Kubeconfig: k.cfg.Kubeconfig, Name: name, Labels: nodeLabels,
		PodCIDR: cidr.String(), NodeIP: "127.0.0.1", Heartbeat: k.cfg.Heartbeat, Runtime: rt, Log: log})
	if err != nil {
		return err
	}
	if err := k.waitReady(ctx, name); err != nil {
		_ = n.Stop()
		return err
	}
	l := map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
	for key, v := range nodeLabels {
		l[key] = v
	}
	k.mu.Lock()
	k.hollow[name] = n
	if !known {
		k.order = append(k.order, name)
	}
	k.alive[name] = &node{name: name, labels: l, prefix: cidr}
	k.mu.Unlock()
	k.resyncAll()
	return nil
}

// waitReady polls the Node until its kubelet reports it Ready.
func (k *Kubelet) waitReady(ctx context.Context, name string) error {
	for {
		if n, err := k.nodes.Get(ctx, "", name); err == nil && helper.IsNodeReady(n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not ready: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// newRuntime returns a fake runtime whose containers behave as Config
// says.
func (k *Kubelet) newRuntime() *fake.Runtime {
	rt := fake.New(nil)
	rt.OnStart = func(c runtime.Container) error {
		if k.cfg.ReadyDelay > 0 && !c.Init {
			time.Sleep(k.cfg.ReadyDelay)
		}
		return nil
	}
	rt.OnStarted = func(c runtime.Container) {
		if c.Init {
			go func() { _ = rt.Exit(c.ID, 0) }()
			return
		}
		pod, err := k.inf.Lister().Get(c.Labels[runtime.LabelPodNamespace], c.Labels[runtime.LabelPodName])
		if err != nil || pod.GetMetadata().GetUid() != c.PodUID {
			return
		}
		if p := pod.GetSpec().GetRestartPolicy(); p == corev1.RestartPolicyAlways || p == "" {
			return
		}
		phase, after := k.cfg.Outcome(pod)
		if phase == "" {
			return
		}
		code := int32(0)
		if phase != corev1.PodSucceeded {
			code = 1
		}
		time.AfterFunc(after, func() { _ = rt.Exit(c.ID, code) })
	}
	rt.OnStop = func(_ runtime.Container, grace time.Duration) int32 {
		if k.cfg.DeleteDelay > 0 {
			time.Sleep(k.cfg.DeleteDelay)
		}
		if grace <= 0 {
			return 137
		}
		return 143
	}
	rt.OnStats = func(c runtime.Container) (runtime.Stats, error) { return k.stats(c) }
	return rt
}

// stats reports a container's share of its pod's SetPodUsage numbers
// (all of it goes to the first container, as Simulated nodes do), as the
// cumulative counters a runtime gives.
func (k *Kubelet) stats(c runtime.Container) (runtime.Stats, error) {
	key := c.Labels[runtime.LabelPodNamespace] + "/" + c.Labels[runtime.LabelPodName]
	pod, err := k.inf.Lister().Get(c.Labels[runtime.LabelPodNamespace], c.Labels[runtime.LabelPodName])
	if err != nil {
		return runtime.Stats{}, err
	}
	var first *corev1.Container
	if cs := pod.GetSpec().GetContainers(); len(cs) > 0 {
		first = cs[0]
	}
	now := time.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	u, ok := k.usage[key]
	if !ok {
		return runtime.Stats{}, fmt.Errorf("no usage set for pod %s", key)
	}
	if first == nil || first.GetName() != c.Name {
		u = PodUsage{}
	}
	acc := k.cpu[c.ID]
	if acc == nil {
		// As if the pod had used this much since it started.
		acc = &cpuCounter{at: c.StartedAt}
		k.cpu[c.ID] = acc
	}
	if now.After(acc.at) {
		acc.nanos += uint64(float64(u.CPUMilli) * 1e6 * now.Sub(acc.at).Seconds())
		acc.at = now
	}
	return runtime.Stats{Time: now, CPUUsageNanos: acc.nanos, MemoryUsageBytes: uint64(u.MemoryBytes),
		MemoryWorkingSetBytes: uint64(u.MemoryBytes)}, nil
}
