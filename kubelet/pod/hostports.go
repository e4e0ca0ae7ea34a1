package pod

import (
	"context"
	"slices"
	"strings"

	corev1 "minik8s/api/core/v1"
	"minik8s/kubelet/network"
	"minik8s/kubelet/runtime"
)

// hostPorts is what the node's host port mappings should be: for every
// ready sandbox with a network of its own (not hostNetwork) whose pod the
// manager runs, each container port asking for a hostPort, to the
// sandbox's IP. The runtime says which sandboxes run and where; the pods
// say which ports. Pure.
func hostPorts(pods map[string]*corev1.Pod, sbs []runtime.Sandbox) []network.HostPort {
	var out []network.HostPort
	for _, sb := range sbs {
		ip := sb.Labels[runtime.LabelPodIP]
		if sb.State != runtime.SandboxReady || sb.Labels[labelNetKey] == "" || ip == "" {
			continue
		}
		pod, ok := pods[sb.PodUID]
		if !ok || pod.GetSpec().GetHostNetwork() {
			continue
		}
		for _, c := range pod.GetSpec().GetContainers() {
			for _, p := range c.GetPorts() {
				if p.GetHostPort() <= 0 {
					continue
				}
				proto := strings.ToLower(p.GetProtocol())
				if proto == "" {
					proto = "tcp"
				}
				out = append(out, network.HostPort{
					Pod: podKey(pod), Protocol: proto, HostIP: p.GetHostIP(), HostPort: p.GetHostPort(),
					PodIP: ip, PodPort: p.GetContainerPort(),
				})
			}
		}
	}
	return out
}

// syncHostPorts brings the node's host port mappings in line with the
// sandboxes just listed; it asks the network only when they changed, and
// again after a failure.
func (m *Manager) syncHostPorts(ctx context.Context, sbs []runtime.Sandbox) {
	m.mu.Lock()
	pods := make(map[string]*corev1.Pod, len(m.workers))
	for uid, w := range m.workers {
		if pod, _ := w.snapshot(); pod != nil {
			pods[uid] = pod
		}
	}
	m.mu.Unlock()
	want := hostPorts(pods, sbs)
	if m.hostPortsSynced && slices.Equal(want, m.hostPorts) {
		return
	}
	if err := m.net.SyncHostPorts(ctx, want); err != nil {
		m.hostPortsSynced = false
		m.log.Warn("host ports", "err", err)
		return
	}
	m.hostPorts, m.hostPortsSynced = want, true
}
