package framework

import (
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

// Builders for test nodes and pods; each option edits the object.

type nodeOpt func(*corev1.Node)

func node(name, cpu, mem string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Spec:     &corev1.NodeSpec{},
		Status: &corev1.NodeStatus{
			Allocatable: map[string]string{"cpu": cpu, "memory": mem, "pods": "110"},
			Conditions:  []*corev1.NodeCondition{{Type: "Ready", Status: "True"}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withLabels(kv ...string) nodeOpt {
	return func(n *corev1.Node) {
		for i := 0; i < len(kv); i += 2 {
			n.Metadata.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withTaint(key, value, effect string) nodeOpt {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, &corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func withAlloc(name, v string) nodeOpt {
	return func(n *corev1.Node) { n.Status.Allocatable[name] = v }
}

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

func notReady(n *corev1.Node) { n.Status.Conditions[0].Status = "False" }

type podOpt func(*corev1.Pod)

var podSeq int

func pod(name string, opts ...podOpt) *corev1.Pod {
	podSeq++
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: fmt.Sprintf("uid-%s-%d", name, podSeq), Labels: map[string]string{}},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "img"}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func requests(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		r := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			r[kv[i]] = kv[i+1]
		}
		p.Spec.Containers[0].Resources = &corev1.ResourceRequirements{Requests: r}
	}
}

func podLabels(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		for i := 0; i < len(kv); i += 2 {
			p.Metadata.Labels[kv[i]] = kv[i+1]
		}
	}
}

func inNamespace(ns string) podOpt { return func(p *corev1.Pod) { p.Metadata.Namespace = ns } }

func nodeSelector(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func tolerate(key, op, value, effect string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, &corev1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	}
}

func hostPort(port int32, proto, ip string) podOpt {
	return func(p *corev1.Pod) {
		c := p.Spec.Containers[0]
		c.Ports = append(c.Ports, &corev1.ContainerPort{ContainerPort: port, HostPort: port, Protocol: proto, HostIP: ip})
	}
}

func affinity(p *corev1.Pod) *corev1.Affinity {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &corev1.Affinity{}
	}
	return p.Spec.Affinity
}

func requiredNodeAffinity(terms ...*corev1.NodeSelectorTerm) podOpt {
	return func(p *corev1.Pod) {
		a := affinity(p)
		a.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}
	}
}

func preferredNodeAffinity(weight int32, term *corev1.NodeSelectorTerm) podOpt {
	return func(p *corev1.Pod) {
		a := affinity(p)
		if a.NodeAffinity == nil {
			a.NodeAffinity = &corev1.NodeAffinity{}
		}
		a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
			&corev1.PreferredSchedulingTerm{Weight: weight, Preference: term})
	}
}

func expr(key, op string, values ...string) *corev1.NodeSelectorTerm {
	return &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

func podTerm(topologyKey string, kv ...string) *corev1.PodAffinityTerm {
	ml := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		ml[kv[i]] = kv[i+1]
	}
	return &corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: ml}, TopologyKey: topologyKey}
}

func requiredPodAffinity(t *corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		a := affinity(p)
		if a.PodAffinity == nil {
			a.PodAffinity = &corev1.PodAffinity{}
		}
		a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, t)
	}
}

func requiredPodAntiAffinity(t *corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		a := affinity(p)
		if a.PodAntiAffinity == nil {
			a.PodAntiAffinity = &corev1.PodAntiAffinity{}
		}
		a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, t)
	}
}

func preferredPodAffinity(w int32, t *corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		a := affinity(p)
		if a.PodAffinity == nil {
			a.PodAffinity = &corev1.PodAffinity{}
		}
		a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
			&corev1.WeightedPodAffinityTerm{Weight: w, PodAffinityTerm: t})
	}
}

func preferredPodAntiAffinity(w int32, t *corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		a := affinity(p)
		if a.PodAntiAffinity == nil {
			a.PodAntiAffinity = &corev1.PodAntiAffinity{}
		}
		a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
			&corev1.WeightedPodAffinityTerm{Weight: w, PodAffinityTerm: t})
	}
}

func ownedBy(uid string) podOpt {
	return func(p *corev1.Pod) {
		ctrl := true
		p.Metadata.OwnerReferences = []*metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", Uid: uid, Controller: &ctrl}}
	}
}

// cluster builds a snapshot of nodes with pods placed on them by node name.
func cluster(nodes []*corev1.Node, placed map[string][]*corev1.Pod) *Snapshot {
	snap := &Snapshot{}
	for _, n := range nodes {
		ni := NewNodeInfo(n)
		for _, p := range placed[n.Metadata.Name] {
			ni.AddPod(NewPodInfo(p))
		}
		snap.Nodes = append(snap.Nodes, ni)
	}
	return snap
}

func seeded() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func mustNoErr(t *testing.T, pi *PodInfo) *PodInfo {
	t.Helper()
	if pi.Err != nil {
		t.Fatalf("pod info: %v", pi.Err)
	}
	return pi
}
