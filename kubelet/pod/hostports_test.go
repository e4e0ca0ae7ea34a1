package pod

import (
	"slices"
	"testing"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kubelet/network"
	"minik8s/kubelet/runtime"
)

func TestHostPorts(t *testing.T) {
	withPorts := func(uid string, hostNetwork bool, ports ...*corev1.ContainerPort) *corev1.Pod {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Uid: uid, Name: "p" + uid, Namespace: "ns"},
			Spec: &corev1.PodSpec{HostNetwork: hostNetwork, Containers: []*corev1.Container{{Name: "c", Ports: ports}}}}
	}
	sandbox := func(uid string, state runtime.SandboxState, ip string, ownNet bool) runtime.Sandbox {
		l := map[string]string{runtime.LabelPodIP: ip}
		if ownNet {
			l[labelNetKey] = uid + "_0"
		}
		return runtime.Sandbox{PodUID: uid, State: state, Labels: l}
	}
	pods := map[string]*corev1.Pod{
		"a": withPorts("a", false, &corev1.ContainerPort{ContainerPort: 8080, HostPort: 80},
			&corev1.ContainerPort{ContainerPort: 53, HostPort: 5353, Protocol: "UDP", HostIP: "10.250.0.11"},
			&corev1.ContainerPort{ContainerPort: 9090}),
		"host": withPorts("host", true, &corev1.ContainerPort{ContainerPort: 10250, HostPort: 10250}),
		"gone": withPorts("gone", false, &corev1.ContainerPort{ContainerPort: 80, HostPort: 81}),
	}
	for _, tc := range []struct {
		name string
		sbs  []runtime.Sandbox
		want []network.HostPort
	}{
		{"no sandboxes", nil, nil},
		{"ready sandbox", []runtime.Sandbox{sandbox("a", runtime.SandboxReady, "10.88.0.2", true)}, []network.HostPort{
			{Pod: "ns/pa", Protocol: "tcp", HostPort: 80, PodIP: "10.88.0.2", PodPort: 8080},
			{Pod: "ns/pa", Protocol: "udp", HostIP: "10.250.0.11", HostPort: 5353, PodIP: "10.88.0.2", PodPort: 53},
		}},
		{"not ready", []runtime.Sandbox{sandbox("a", runtime.SandboxNotReady, "10.88.0.2", true)}, nil},
		{"hostNetwork needs no mapping", []runtime.Sandbox{sandbox("host", runtime.SandboxReady, "192.168.0.10", false)}, nil},
		{"a sandbox of no known pod", []runtime.Sandbox{sandbox("orphan", runtime.SandboxReady, "10.88.0.9", true)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hostPorts(pods, tc.sbs); !slices.Equal(got, tc.want) {
				t.Errorf("hostPorts = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestRelistSyncsHostPorts: a running pod's hostPort reaches the network
// at the next relist, and leaves it when the pod's sandbox is gone.
func TestRelistSyncsHostPorts(t *testing.T) {
	h := newHarness(t)
	pod := newPod("", "app")
	pod.Spec.Containers[0].Ports = []*corev1.ContainerPort{{ContainerPort: 8080, HostPort: 18080}}
	w := h.worker(pod)
	h.sync(w, pod, false)
	h.m.relist(h.ctx)
	want := []network.HostPort{{Pod: "default/web", Protocol: "tcp", HostPort: 18080, PodIP: "10.88.0.2", PodPort: 8080}}
	if !slices.Equal(h.net.HostPorts, want) {
		t.Fatalf("host ports %+v, want %+v", h.net.HostPorts, want)
	}
	h.net.HostPorts = nil
	h.m.relist(h.ctx)
	if h.net.HostPorts != nil {
		t.Errorf("an unchanged set was synced again: %+v", h.net.HostPorts)
	}
	h.net.HostPorts = []network.HostPort{{Pod: "sentinel"}}
	h.sync(w, pod, true) // removed: the pod is killed and its sandbox removed
	h.m.relist(h.ctx)
	if len(h.net.HostPorts) != 0 {
		t.Errorf("host ports after the pod is gone: %+v", h.net.HostPorts)
	}
}
