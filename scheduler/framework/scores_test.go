package framework

import (
	"slices"
	"strings"
	"testing"

	corev1 "minik8s/api/core/v1"
)

// scoreCase scores one pod on every node of a cluster with one plugin.
type scoreCase struct {
	name   string
	pod    *corev1.Pod
	nodes  []*corev1.Node
	placed map[string][]*corev1.Pod
	svcs   []ServiceSelector
	want   []int64
}

func runScoreCases(t *testing.T, plugin string, cases []scoreCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := cluster(tc.nodes, tc.placed)
			snap.Services = tc.svcs
			got := Scores(mustNoErr(t, NewPodInfo(tc.pod)), snap, snap.Nodes)[plugin]
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%s scores %v, want %v", plugin, got, tc.want)
			}
		})
	}
}

func TestScoreLeastAllocated(t *testing.T) {
	runScoreCases(t, LeastAllocated, []scoreCase{
		{name: "bigger node scores higher", pod: pod("p", requests("cpu", "1", "memory", "1Gi")),
			nodes: nodes(node("small", "2", "2Gi"), node("big", "4", "4Gi")),
			// small: cpu 50, mem 50 -> 50; big: 75, 75 -> 75.
			want: []int64{50, 75}},
		{name: "placed pods count", pod: pod("p", requests("cpu", "1", "memory", "1Gi")),
			nodes:  nodes(node("a", "4", "4Gi"), node("b", "4", "4Gi")),
			placed: map[string][]*corev1.Pod{"a": {pod("x", requests("cpu", "2", "memory", "2Gi"))}},
			want:   []int64{25, 75}},
		{name: "best-effort pods are charged the defaults", pod: pod("p"),
			nodes: nodes(node("a", "1", "2000Mi")),
			// cpu (1000-100)/1000 = 90, memory (2000-200)/2000 = 90.
			want: []int64{90}},
		{name: "over-committed resource scores 0", pod: pod("p", requests("cpu", "8", "memory", "1Gi")),
			nodes: nodes(node("a", "4", "4Gi")),
			want:  []int64{37}},
	})
}

func TestScoreBalancedAllocation(t *testing.T) {
	runScoreCases(t, BalancedAllocation, []scoreCase{
		{name: "balanced beats lopsided", pod: pod("p", requests("cpu", "1", "memory", "1Gi")),
			nodes: nodes(node("even", "4", "4Gi"), node("lopsided", "2", "8Gi")),
			// even: 0.25 vs 0.25 -> 100; lopsided: 0.5 vs 0.125 -> std 0.1875 -> 81.
			want: []int64{100, 81}},
		{name: "fractions capped at 1", pod: pod("p", requests("cpu", "8", "memory", "1Gi")),
			nodes: nodes(node("a", "4", "4Gi")),
			// 1 vs 0.25 -> std 0.375 -> 62.
			want: []int64{62}},
	})
}

func TestScoreSelectorSpread(t *testing.T) {
	rs := ownedBy("rs-1")
	three := nodes(node("a", "4", "4Gi"), node("b", "4", "4Gi"), node("c", "4", "4Gi"))
	zoned := nodes(node("a", "4", "4Gi", withLabels(ZoneLabel, "z1")), node("b", "4", "4Gi", withLabels(ZoneLabel, "z1")), node("c", "4", "4Gi", withLabels(ZoneLabel, "z2")))
	runScoreCases(t, SelectorSpread, []scoreCase{
		{name: "no owner, no service: neutral", pod: pod("p"), nodes: three,
			placed: map[string][]*corev1.Pod{"a": {pod("x")}}, want: []int64{100, 100, 100}},
		{name: "same owner spreads", pod: pod("p", rs), nodes: three,
			placed: map[string][]*corev1.Pod{"a": {pod("x", rs), pod("y", rs)}, "b": {pod("z", rs)}},
			want:   []int64{0, 50, 100}},
		{name: "other owners do not count", pod: pod("p", rs), nodes: three,
			placed: map[string][]*corev1.Pod{"a": {pod("x", ownedBy("rs-2"))}}, want: []int64{100, 100, 100}},
		{name: "same service spreads", pod: pod("p", podLabels("app", "web")), nodes: three,
			svcs:   []ServiceSelector{{Namespace: "default", Selector: map[string]string{"app": "web"}}},
			placed: map[string][]*corev1.Pod{"b": {pod("x", podLabels("app", "web"))}},
			want:   []int64{100, 0, 100}},
		{name: "service in another namespace", pod: pod("p", podLabels("app", "web")), nodes: three,
			svcs:   []ServiceSelector{{Namespace: "other", Selector: map[string]string{"app": "web"}}},
			placed: map[string][]*corev1.Pod{"b": {pod("x", podLabels("app", "web"))}},
			want:   []int64{100, 100, 100}},
		{name: "zones weigh two thirds", pod: pod("p", rs), nodes: zoned,
			placed: map[string][]*corev1.Pod{"a": {pod("x", rs)}},
			// node: a 0, b 100, c 100; zone z1 has 1 (0), z2 has 0 (100).
			want: []int64{0, 33, 100}},
	})
}

func TestScoreNodeAffinity(t *testing.T) {
	ns := nodes(node("a", "1", "1Gi", withLabels("disk", "ssd")), node("b", "1", "1Gi", withLabels("disk", "ssd", "gpu", "yes")), node("c", "1", "1Gi"))
	runScoreCases(t, NodeAffinity, []scoreCase{
		{name: "no preferences", pod: pod("p"), nodes: ns, want: []int64{0, 0, 0}},
		{name: "weights add up and scale to 100", pod: pod("p", preferredNodeAffinity(20, expr("disk", "In", "ssd")), preferredNodeAffinity(60, expr("gpu", "Exists"))),
			nodes: ns, want: []int64{25, 100, 0}},
	})
}

func TestScoreTaintToleration(t *testing.T) {
	ns := nodes(node("a", "1", "1Gi"), node("b", "1", "1Gi", withTaint("k", "v", "PreferNoSchedule")),
		node("c", "1", "1Gi", withTaint("k", "v", "PreferNoSchedule"), withTaint("k2", "v", "PreferNoSchedule")), node("d", "1", "1Gi", withTaint("k3", "v", "NoSchedule")))
	runScoreCases(t, TaintToleration, []scoreCase{
		{name: "fewer PreferNoSchedule taints score higher", pod: pod("p"), nodes: ns, want: []int64{100, 50, 0, 100}},
		{name: "tolerated taints do not count", pod: pod("p", tolerate("k", "Exists", "", "PreferNoSchedule")), nodes: ns, want: []int64{100, 100, 0, 100}},
		{name: "NoSchedule toleration does not cover PreferNoSchedule", pod: pod("p", tolerate("k", "Exists", "", "NoSchedule")), nodes: ns, want: []int64{100, 50, 0, 100}},
	})
}

func TestScoreInterPodAffinity(t *testing.T) {
	host := "kubernetes.io/hostname"
	zone := func(z string) nodeOpt { return withLabels("zone", z) }
	ns := nodes(node("a", "1", "1Gi", zone("z1")), node("b", "1", "1Gi", zone("z1")), node("c", "1", "1Gi", zone("z2")))
	cache := func(name string) *corev1.Pod { return pod(name, podLabels("app", "cache")) }
	runScoreCases(t, InterPodAffinity, []scoreCase{
		{name: "nothing to prefer", pod: pod("p"), nodes: ns, placed: map[string][]*corev1.Pod{"a": {cache("x")}}, want: []int64{0, 0, 0}},
		{name: "preferred affinity to a host", pod: pod("p", preferredPodAffinity(50, podTerm(host, "app", "cache"))), nodes: ns,
			placed: map[string][]*corev1.Pod{"b": {cache("x")}}, want: []int64{0, 100, 0}},
		{name: "preferred affinity to a zone", pod: pod("p", preferredPodAffinity(50, podTerm("zone", "app", "cache"))), nodes: ns,
			placed: map[string][]*corev1.Pod{"b": {cache("x")}}, want: []int64{100, 100, 0}},
		{name: "preferred anti-affinity", pod: pod("p", preferredPodAntiAffinity(50, podTerm(host, "app", "cache"))), nodes: ns,
			placed: map[string][]*corev1.Pod{"a": {cache("x")}}, want: []int64{0, 100, 100}},
		{name: "affinity and anti-affinity combine", pod: pod("p", preferredPodAffinity(80, podTerm("zone", "app", "cache")), preferredPodAntiAffinity(20, podTerm(host, "app", "cache"))),
			nodes: ns, placed: map[string][]*corev1.Pod{"a": {cache("x")}},
			// a: 80-20 = 60, b: 80, c: 0 -> scaled 75, 100, 0.
			want: []int64{75, 100, 0}},
		{name: "placed pod's preferred affinity is symmetric", pod: pod("p", podLabels("app", "web")), nodes: ns,
			placed: map[string][]*corev1.Pod{"c": {pod("x", preferredPodAffinity(10, podTerm(host, "app", "web")))}}, want: []int64{0, 0, 100}},
		{name: "placed pod's required affinity counts", pod: pod("p", podLabels("app", "web")), nodes: ns,
			placed: map[string][]*corev1.Pod{"a": {pod("x", requiredPodAffinity(podTerm(host, "app", "web")))}}, want: []int64{100, 0, 0}},
		{name: "placed pod's preferred anti-affinity", pod: pod("p", podLabels("app", "web")), nodes: ns,
			placed: map[string][]*corev1.Pod{"a": {pod("x", preferredPodAntiAffinity(10, podTerm(host, "app", "web")))}}, want: []int64{0, 100, 100}},
	})
}

func TestParseWeights(t *testing.T) {
	w := DefaultWeights()
	if err := ParseWeights("LeastAllocated=5, TaintToleration=0", w); err != nil {
		t.Fatal(err)
	}
	if w[LeastAllocated] != 5 || w[TaintToleration] != 0 || w[NodeAffinity] != 2 {
		t.Fatalf("got %v", w)
	}
	for _, bad := range []string{"Nope=1", "LeastAllocated", "LeastAllocated=-1", "LeastAllocated=x"} {
		if err := ParseWeights(bad, Weights{}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if s := (Weights{LeastAllocated: 1, BalancedAllocation: 2}).String(); !strings.Contains(s, "BalancedAllocation=2,LeastAllocated=1") {
		t.Errorf("String: %q", s)
	}
}
