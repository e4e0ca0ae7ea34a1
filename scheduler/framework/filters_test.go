package framework

import (
	"slices"
	"testing"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

// filterCase checks one pod against the first node of a cluster (the
// other nodes only hold pods that affinity rules look at).
type filterCase struct {
	name   string
	pod    *corev1.Pod
	nodes  []*corev1.Node
	placed map[string][]*corev1.Pod
	// want is the rejection reasons, nil when the node fits.
	want []string
}

func runFilterCases(t *testing.T, plugin string, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := cluster(tc.nodes, tc.placed)
			st := Filter(mustNoErr(t, NewPodInfo(tc.pod)), snap, snap.Nodes[0])
			if tc.want == nil {
				if st != nil {
					t.Fatalf("rejected by %s: %v, want fit", st.Plugin, st.Reasons)
				}
				return
			}
			if st == nil {
				t.Fatalf("fits, want %v", tc.want)
			}
			if st.Plugin != plugin || !slices.Equal(st.Reasons, tc.want) {
				t.Fatalf("got %s %q, want %s %q", st.Plugin, st.Reasons, plugin, tc.want)
			}
		})
	}
}

func nodes(n ...*corev1.Node) []*corev1.Node { return n }

func TestFilterNodeUnschedulable(t *testing.T) {
	runFilterCases(t, NodeUnschedulable, []filterCase{
		{name: "schedulable", pod: pod("p"), nodes: nodes(node("n1", "1", "1Gi"))},
		{name: "cordoned", pod: pod("p"), nodes: nodes(node("n1", "1", "1Gi", cordoned)), want: []string{ReasonUnschedulable}},
		{name: "cordoned, tolerated", pod: pod("p", tolerate("node.kubernetes.io/unschedulable", "Exists", "", "NoSchedule")),
			nodes: nodes(node("n1", "1", "1Gi", cordoned))},
	})
}

func TestFilterNodeReady(t *testing.T) {
	noConditions := func(n *corev1.Node) { n.Status.Conditions = nil }
	runFilterCases(t, NodeReady, []filterCase{
		{name: "ready", pod: pod("p"), nodes: nodes(node("n1", "1", "1Gi"))},
		{name: "not ready", pod: pod("p"), nodes: nodes(node("n1", "1", "1Gi", notReady)), want: []string{ReasonNotReady}},
		{name: "no Ready condition", pod: pod("p"), nodes: nodes(node("n1", "1", "1Gi", noConditions)), want: []string{ReasonNotReady}},
		{name: "not ready, tolerated", pod: pod("p", tolerate("node.kubernetes.io/not-ready", "Exists", "", "")),
			nodes: nodes(node("n1", "1", "1Gi", notReady))},
	})
}

func TestFilterTaints(t *testing.T) {
	gpu := withTaint("dedicated", "gpu", "NoSchedule")
	runFilterCases(t, TaintToleration, []filterCase{
		{name: "no taints", pod: pod("p"), nodes: nodes(node("n1", "1", "1Gi"))},
		{name: "NoSchedule untolerated", pod: pod("p"), nodes: nodes(node("n1", "1", "1Gi", gpu)),
			want: []string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{name: "NoExecute untolerated", pod: pod("p"), nodes: nodes(node("n1", "1", "1Gi", withTaint("k", "v", "NoExecute"))),
			want: []string{"node(s) had untolerated taint {k: v}"}},
		{name: "PreferNoSchedule is not a filter", pod: pod("p"), nodes: nodes(node("n1", "1", "1Gi", withTaint("k", "v", "PreferNoSchedule")))},
		{name: "Equal toleration", pod: pod("p", tolerate("dedicated", "Equal", "gpu", "NoSchedule")), nodes: nodes(node("n1", "1", "1Gi", gpu))},
		{name: "empty operator means Equal", pod: pod("p", tolerate("dedicated", "", "gpu", "")), nodes: nodes(node("n1", "1", "1Gi", gpu))},
		{name: "Equal with another value", pod: pod("p", tolerate("dedicated", "Equal", "cpu", "NoSchedule")), nodes: nodes(node("n1", "1", "1Gi", gpu)),
			want: []string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{name: "Exists on key", pod: pod("p", tolerate("dedicated", "Exists", "", "")), nodes: nodes(node("n1", "1", "1Gi", gpu))},
		{name: "Exists without key tolerates all", pod: pod("p", tolerate("", "Exists", "", "")),
			nodes: nodes(node("n1", "1", "1Gi", gpu, withTaint("x", "y", "NoExecute")))},
		{name: "toleration of another effect", pod: pod("p", tolerate("dedicated", "Exists", "", "NoExecute")), nodes: nodes(node("n1", "1", "1Gi", gpu)),
			want: []string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{name: "second taint untolerated", pod: pod("p", tolerate("dedicated", "Exists", "", "")),
			nodes: nodes(node("n1", "1", "1Gi", gpu, withTaint("zone", "a", "NoSchedule"))),
			want:  []string{"node(s) had untolerated taint {zone: a}"}},
	})
}

func TestFilterNodeAffinity(t *testing.T) {
	n := func(opts ...nodeOpt) []*corev1.Node {
		return nodes(node("n1", "1", "1Gi", append([]nodeOpt{withLabels("disk", "ssd", "gen", "5")}, opts...)...))
	}
	no := []string{ReasonNodeAffinity}
	runFilterCases(t, NodeAffinity, []filterCase{
		{name: "no selector", pod: pod("p"), nodes: n()},
		{name: "nodeSelector matches", pod: pod("p", nodeSelector("disk", "ssd")), nodes: n()},
		{name: "nodeSelector value differs", pod: pod("p", nodeSelector("disk", "hdd")), nodes: n(), want: no},
		{name: "nodeSelector key missing", pod: pod("p", nodeSelector("gpu", "true")), nodes: n(), want: no},
		{name: "In", pod: pod("p", requiredNodeAffinity(expr("disk", "In", "hdd", "ssd"))), nodes: n()},
		{name: "In, no match", pod: pod("p", requiredNodeAffinity(expr("disk", "In", "hdd"))), nodes: n(), want: no},
		{name: "NotIn", pod: pod("p", requiredNodeAffinity(expr("disk", "NotIn", "hdd"))), nodes: n()},
		{name: "NotIn, excluded", pod: pod("p", requiredNodeAffinity(expr("disk", "NotIn", "ssd"))), nodes: n(), want: no},
		{name: "NotIn, key absent", pod: pod("p", requiredNodeAffinity(expr("gpu", "NotIn", "x"))), nodes: n()},
		{name: "Exists", pod: pod("p", requiredNodeAffinity(expr("disk", "Exists"))), nodes: n()},
		{name: "Exists, absent", pod: pod("p", requiredNodeAffinity(expr("gpu", "Exists"))), nodes: n(), want: no},
		{name: "DoesNotExist", pod: pod("p", requiredNodeAffinity(expr("gpu", "DoesNotExist"))), nodes: n()},
		{name: "DoesNotExist, present", pod: pod("p", requiredNodeAffinity(expr("disk", "DoesNotExist"))), nodes: n(), want: no},
		{name: "Gt", pod: pod("p", requiredNodeAffinity(expr("gen", "Gt", "4"))), nodes: n()},
		{name: "Gt, equal", pod: pod("p", requiredNodeAffinity(expr("gen", "Gt", "5"))), nodes: n(), want: no},
		{name: "Lt", pod: pod("p", requiredNodeAffinity(expr("gen", "Lt", "6"))), nodes: n()},
		{name: "Lt, larger", pod: pod("p", requiredNodeAffinity(expr("gen", "Lt", "3"))), nodes: n(), want: no},
		{name: "Gt on a non-integer label", pod: pod("p", requiredNodeAffinity(expr("disk", "Gt", "1"))), nodes: n(), want: no},
		{name: "terms are ORed", pod: pod("p", requiredNodeAffinity(expr("disk", "In", "hdd"), expr("gen", "In", "5"))), nodes: n()},
		{name: "expressions in a term are ANDed", pod: pod("p", requiredNodeAffinity(&corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{
			{Key: "disk", Operator: "In", Values: []string{"ssd"}}, {Key: "gen", Operator: "In", Values: []string{"4"}}}})), nodes: n(), want: no},
		{name: "empty term matches nothing", pod: pod("p", requiredNodeAffinity(&corev1.NodeSelectorTerm{})), nodes: n(), want: no},
		{name: "matchFields metadata.name", pod: pod("p", requiredNodeAffinity(&corev1.NodeSelectorTerm{MatchFields: []*corev1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: "In", Values: []string{"n1"}}}})), nodes: n()},
		{name: "matchFields other name", pod: pod("p", requiredNodeAffinity(&corev1.NodeSelectorTerm{MatchFields: []*corev1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: "In", Values: []string{"n2"}}}})), nodes: n(), want: no},
		{name: "nodeSelector and affinity both apply", pod: pod("p", nodeSelector("disk", "hdd"), requiredNodeAffinity(expr("gen", "In", "5"))), nodes: n(), want: no},
	})
}

func TestFilterPorts(t *testing.T) {
	with := func(opts ...podOpt) map[string][]*corev1.Pod {
		return map[string][]*corev1.Pod{"n1": {pod("old", opts...)}}
	}
	no := []string{ReasonNodePorts}
	n := nodes(node("n1", "1", "1Gi"))
	runFilterCases(t, NodePorts, []filterCase{
		{name: "no ports", pod: pod("p"), nodes: n, placed: with(hostPort(80, "TCP", ""))},
		{name: "same port", pod: pod("p", hostPort(80, "TCP", "")), nodes: n, placed: with(hostPort(80, "TCP", "")), want: no},
		{name: "default protocol is TCP", pod: pod("p", hostPort(80, "", "")), nodes: n, placed: with(hostPort(80, "TCP", "")), want: no},
		{name: "other port", pod: pod("p", hostPort(81, "TCP", "")), nodes: n, placed: with(hostPort(80, "TCP", ""))},
		{name: "other protocol", pod: pod("p", hostPort(80, "UDP", "")), nodes: n, placed: with(hostPort(80, "TCP", ""))},
		{name: "different IPs", pod: pod("p", hostPort(80, "TCP", "10.0.0.1")), nodes: n, placed: with(hostPort(80, "TCP", "10.0.0.2"))},
		{name: "same IP", pod: pod("p", hostPort(80, "TCP", "10.0.0.1")), nodes: n, placed: with(hostPort(80, "TCP", "10.0.0.1")), want: no},
		{name: "wildcard vs IP", pod: pod("p", hostPort(80, "TCP", "0.0.0.0")), nodes: n, placed: with(hostPort(80, "TCP", "10.0.0.1")), want: no},
		{name: "IP vs wildcard", pod: pod("p", hostPort(80, "TCP", "10.0.0.1")), nodes: n, placed: with(hostPort(80, "TCP", "")), want: no},
	})
}

func TestFilterResources(t *testing.T) {
	n := nodes(node("n1", "2", "4Gi", withAlloc("pods", "2"), withAlloc("example.com/gpu", "1")))
	onNode := func(ps ...*corev1.Pod) map[string][]*corev1.Pod { return map[string][]*corev1.Pod{"n1": ps} }
	initPod := func(app, init string, sidecar bool) *corev1.Pod {
		p := pod("p", requests("cpu", app))
		ic := &corev1.Container{Name: "init", Image: "img", Resources: &corev1.ResourceRequirements{Requests: map[string]string{"cpu": init}}}
		if sidecar {
			always := "Always"
			ic.RestartPolicy = &always
		}
		p.Spec.InitContainers = []*corev1.Container{ic}
		return p
	}
	limitsOnly := pod("p")
	limitsOnly.Spec.Containers[0].Resources = &corev1.ResourceRequirements{Limits: map[string]string{"cpu": "3"}}
	overhead := pod("p", requests("cpu", "1500m"))
	overhead.Spec.Overhead = map[string]string{"cpu": "600m"}
	runFilterCases(t, NodeResourcesFit, []filterCase{
		{name: "fits", pod: pod("p", requests("cpu", "1", "memory", "1Gi")), nodes: n},
		{name: "fits exactly", pod: pod("p", requests("cpu", "2", "memory", "4Gi")), nodes: n},
		{name: "no requests", pod: pod("p"), nodes: n},
		{name: "cpu short", pod: pod("p", requests("cpu", "2100m")), nodes: n, want: []string{"Insufficient cpu"}},
		{name: "memory short", pod: pod("p", requests("memory", "5Gi")), nodes: n, want: []string{"Insufficient memory"}},
		{name: "both short", pod: pod("p", requests("cpu", "3", "memory", "5Gi")), nodes: n, want: []string{"Insufficient cpu", "Insufficient memory"}},
		{name: "counts placed pods", pod: pod("p", requests("cpu", "1")), nodes: n,
			placed: onNode(pod("a", requests("cpu", "1500m"))), want: []string{"Insufficient cpu"}},
		{name: "too many pods", pod: pod("p"), nodes: n, placed: onNode(pod("a"), pod("b")), want: []string{ReasonTooManyPods}},
		{name: "extended resource fits", pod: pod("p", requests("example.com/gpu", "1")), nodes: n},
		{name: "extended resource short", pod: pod("p", requests("example.com/gpu", "2")), nodes: n, want: []string{"Insufficient example.com/gpu"}},
		{name: "extended resource the node lacks", pod: pod("p", requests("example.com/fpga", "1")), nodes: n, want: []string{"Insufficient example.com/fpga"}},
		{name: "init container larger than app", pod: initPod("1", "3", false), nodes: n, want: []string{"Insufficient cpu"}},
		{name: "init container runs alone", pod: initPod("1500m", "2", false), nodes: n},
		{name: "sidecar adds to app", pod: initPod("1500m", "600m", true), nodes: n, want: []string{"Insufficient cpu"}},
		{name: "limit without request", pod: limitsOnly, nodes: n, want: []string{"Insufficient cpu"}},
		{name: "overhead counts", pod: overhead, nodes: n, want: []string{"Insufficient cpu"}},
	})
}

func TestPodRequests(t *testing.T) {
	p := pod("p", requests("cpu", "100m", "memory", "64Mi"))
	p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: "b", Resources: &corev1.ResourceRequirements{Requests: map[string]string{"cpu": "200m"}}})
	always := "Always"
	p.Spec.InitContainers = []*corev1.Container{
		{Name: "side", RestartPolicy: &always, Resources: &corev1.ResourceRequirements{Requests: map[string]string{"cpu": "50m"}}},
		{Name: "init", Resources: &corev1.ResourceRequirements{Requests: map[string]string{"cpu": "400m", "memory": "1Gi"}}},
	}
	r, err := PodRequests(p.Spec)
	if err != nil {
		t.Fatal(err)
	}
	// app 300m + sidecar 50m = 350m; init 400m + sidecar 50m = 450m wins.
	if r.MilliCPU != 450 || r.Memory != (1<<30)*1000 || r.Pods != 1 {
		t.Fatalf("got %+v", r)
	}
	nz := nonZeroRequests(p.Spec, r)
	// container b requests no memory: it is charged the default.
	if nz.Memory != r.Memory+DefaultMemoryRequest || nz.MilliCPU != 450 {
		t.Fatalf("non-zero: %+v", nz)
	}
	bad := pod("p", requests("cpu", "lots"))
	if NewPodInfo(bad).Err == nil {
		t.Fatal("bad quantity: no error")
	}
}

func TestFilterInterPodAffinity(t *testing.T) {
	zone := func(z string) nodeOpt { return withLabels("zone", z) }
	// n1 and n2 share zone a; n3 is in zone b.
	three := nodes(node("n1", "4", "4Gi", zone("a")), node("n2", "4", "4Gi", zone("a")), node("n3", "4", "4Gi", zone("b")))
	web := func(name string, opts ...podOpt) *corev1.Pod {
		return pod(name, append([]podOpt{podLabels("app", "web")}, opts...)...)
	}
	db := func(name string, opts ...podOpt) *corev1.Pod {
		return pod(name, append([]podOpt{podLabels("app", "db")}, opts...)...)
	}
	host := "kubernetes.io/hostname"
	antiWeb := requiredPodAntiAffinity(podTerm(host, "app", "web"))
	withDB := requiredPodAffinity(podTerm(host, "app", "db"))
	nsAll := podTerm(host, "app", "web")
	nsAll.NamespaceSelector = &metav1.LabelSelector{}
	otherNS := podTerm(host, "app", "web")
	otherNS.Namespaces = []string{"other"}
	runFilterCases(t, InterPodAffinity, []filterCase{
		{name: "no terms", pod: web("p"), nodes: three, placed: map[string][]*corev1.Pod{"n1": {web("a")}}},
		{name: "anti-affinity, same host", pod: web("p", antiWeb), nodes: three,
			placed: map[string][]*corev1.Pod{"n1": {web("a")}}, want: []string{ReasonPodAntiAffinity}},
		{name: "anti-affinity, other host", pod: web("p", antiWeb), nodes: three,
			placed: map[string][]*corev1.Pod{"n2": {web("a")}}},
		{name: "anti-affinity by zone", pod: web("p", requiredPodAntiAffinity(podTerm("zone", "app", "web"))), nodes: three,
			placed: map[string][]*corev1.Pod{"n2": {web("a")}}, want: []string{ReasonPodAntiAffinity}},
		{name: "anti-affinity ignores other namespaces", pod: web("p", antiWeb), nodes: three,
			placed: map[string][]*corev1.Pod{"n1": {web("a", inNamespace("other"))}}},
		{name: "anti-affinity with namespaces list", pod: web("p", requiredPodAntiAffinity(otherNS)), nodes: three,
			placed: map[string][]*corev1.Pod{"n1": {web("a", inNamespace("other"))}}, want: []string{ReasonPodAntiAffinity}},
		{name: "anti-affinity with empty namespaceSelector", pod: web("p", requiredPodAntiAffinity(nsAll)), nodes: three,
			placed: map[string][]*corev1.Pod{"n1": {web("a", inNamespace("other"))}}, want: []string{ReasonPodAntiAffinity}},
		{name: "existing pod's anti-affinity", pod: web("p"), nodes: three,
			placed: map[string][]*corev1.Pod{"n1": {db("a", antiWeb)}}, want: []string{ReasonExistingAntiAffinity}},
		{name: "existing pod's anti-affinity elsewhere", pod: web("p"), nodes: three,
			placed: map[string][]*corev1.Pod{"n3": {db("a", antiWeb)}}},
		{name: "affinity satisfied on the host", pod: web("p", withDB), nodes: three,
			placed: map[string][]*corev1.Pod{"n1": {db("a")}}},
		{name: "affinity, match on another host", pod: web("p", withDB), nodes: three,
			placed: map[string][]*corev1.Pod{"n2": {db("a")}}, want: []string{ReasonPodAffinity}},
		{name: "affinity by zone", pod: web("p", requiredPodAffinity(podTerm("zone", "app", "db"))), nodes: three,
			placed: map[string][]*corev1.Pod{"n2": {db("a")}}},
		{name: "affinity, node lacks the topology key", pod: web("p", requiredPodAffinity(podTerm("rack", "app", "db"))), nodes: three,
			placed: map[string][]*corev1.Pod{"n1": {db("a")}}, want: []string{ReasonPodAffinity}},
		{name: "affinity, no matching pod anywhere", pod: web("p", withDB), nodes: three, want: []string{ReasonPodAffinity}},
		{name: "first pod of a self-affine group", pod: web("p", requiredPodAffinity(podTerm(host, "app", "web"))), nodes: three},
		{name: "self-affine group elsewhere", pod: web("p", requiredPodAffinity(podTerm(host, "app", "web"))), nodes: three,
			placed: map[string][]*corev1.Pod{"n3": {web("a")}}, want: []string{ReasonPodAffinity}},
	})
}

func TestNamespaceSelectorTerm(t *testing.T) {
	term := podTerm("kubernetes.io/hostname", "app", "web")
	term.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
	p := NewPodInfo(pod("p", requiredPodAntiAffinity(term), podLabels("app", "web")))
	snap := cluster(nodes(node("n1", "1", "1Gi")), map[string][]*corev1.Pod{"n1": {pod("x", podLabels("app", "web"), inNamespace("team-a"))}})
	if st := Filter(p, snap, snap.Nodes[0]); st != nil {
		t.Fatalf("without namespace labels: rejected %v", st.Reasons)
	}
	snap.NamespaceLabels = func(ns string) map[string]string {
		if ns == "team-a" {
			return map[string]string{"team": "a"}
		}
		return nil
	}
	if st := Filter(p, snap, snap.Nodes[0]); st == nil || st.Reasons[0] != ReasonPodAntiAffinity {
		t.Fatalf("with namespace labels: %v, want anti-affinity rejection", st)
	}
}
