package framework

import (
	"errors"
	"fmt"
	"testing"

	corev1 "minik8s/api/core/v1"
)

func TestScheduleByFit(t *testing.T) {
	snap := cluster(nodes(node("small", "1", "1Gi"), node("medium", "2", "4Gi"), node("large", "8", "16Gi")), nil)
	a := New(Config{Rand: seeded()})
	cases := []struct {
		pod  *corev1.Pod
		want string
	}{
		{pod("tiny", requests("cpu", "100m", "memory", "64Mi")), "large"},
		{pod("needs-4-cpu", requests("cpu", "4")), "large"},
		{pod("needs-3Gi", requests("cpu", "100m", "memory", "3Gi")), "large"},
	}
	for _, tc := range cases {
		res, err := a.Schedule(NewPodInfo(tc.pod), snap)
		if err != nil {
			t.Fatalf("%s: %v", tc.pod.Metadata.Name, err)
		}
		if res.NodeName != tc.want {
			t.Errorf("%s: got %s, want %s", tc.pod.Metadata.Name, res.NodeName, tc.want)
		}
	}
	// Only medium and large fit 1500m: large is emptier.
	onlyMedium := cluster(nodes(node("small", "1", "1Gi"), node("medium", "2", "4Gi")), nil)
	res, err := a.Schedule(NewPodInfo(pod("p", requests("cpu", "1500m"))), onlyMedium)
	if err != nil || res.NodeName != "medium" || res.Feasible != 1 || res.Evaluated != 2 {
		t.Fatalf("got %+v, %v", res, err)
	}
}

func TestFitErrorMessage(t *testing.T) {
	snap := cluster(nodes(
		node("n1", "1", "1Gi"),
		node("n2", "1", "1Gi"),
		node("n3", "8", "8Gi", withTaint("dedicated", "gpu", "NoSchedule")),
	), nil)
	_, err := New(Config{}).Schedule(NewPodInfo(pod("p", requests("cpu", "2"))), snap)
	var fe *FitError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a FitError", err)
	}
	want := "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}."
	if fe.Error() != want {
		t.Fatalf("message:\n got %q\nwant %q", fe.Error(), want)
	}
	plugins := fe.UnschedulablePlugins()
	if len(plugins) != 2 || !plugins[NodeResourcesFit] || !plugins[TaintToleration] {
		t.Fatalf("plugins %v", plugins)
	}
	// Several reasons on one node are each counted; ties sort by text.
	_, err = New(Config{}).Schedule(NewPodInfo(pod("p", requests("cpu", "2", "memory", "2Gi"))), cluster(nodes(node("n1", "1", "1Gi")), nil))
	if want := "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."; err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
	_, err = New(Config{}).Schedule(NewPodInfo(pod("p")), &Snapshot{})
	if want := "no nodes available to schedule pods"; err == nil || err.Error() != want {
		t.Fatalf("empty cluster: got %v", err)
	}
}

func TestSchedulePodSpecError(t *testing.T) {
	_, err := New(Config{}).Schedule(NewPodInfo(pod("p", requests("cpu", "x"))), cluster(nodes(node("n1", "1", "1Gi")), nil))
	var fe *FitError
	if err == nil || errors.As(err, &fe) {
		t.Fatalf("got %v, want a non-fit error", err)
	}
}

func TestTiesBrokenAtRandom(t *testing.T) {
	snap := cluster(nodes(node("a", "4", "4Gi"), node("b", "4", "4Gi"), node("c", "4", "4Gi")), nil)
	a := New(Config{Rand: seeded()})
	seen := map[string]int{}
	for i := 0; i < 300; i++ {
		res, err := a.Schedule(NewPodInfo(pod("p")), snap)
		if err != nil {
			t.Fatal(err)
		}
		seen[res.NodeName]++
	}
	for _, n := range []string{"a", "b", "c"} {
		if seen[n] < 50 {
			t.Fatalf("ties not spread: %v", seen)
		}
	}
}

func TestWeightsChangeTheWinner(t *testing.T) {
	// "fast" is preferred by node affinity but fuller; weights decide.
	snap := cluster(nodes(node("fast", "4", "4Gi", withLabels("disk", "ssd")), node("empty", "4", "4Gi")),
		map[string][]*corev1.Pod{"fast": {pod("x", requests("cpu", "3", "memory", "3Gi"))}})
	p := NewPodInfo(pod("p", requests("cpu", "100m"), preferredNodeAffinity(10, expr("disk", "In", "ssd"))))
	res, _ := New(Config{Weights: Weights{LeastAllocated: 1, NodeAffinity: 5}}).Schedule(p, snap)
	if res.NodeName != "fast" {
		t.Fatalf("affinity-heavy weights: got %s", res.NodeName)
	}
	res, _ = New(Config{Weights: Weights{LeastAllocated: 5, NodeAffinity: 1}}).Schedule(p, snap)
	if res.NodeName != "empty" {
		t.Fatalf("resource-heavy weights: got %s", res.NodeName)
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	cases := []struct {
		percent int32
		nodes   int
		want    int
	}{
		{0, 50, 50},
		{0, 1000, 420},  // 50 - 1000/125 = 42%
		{0, 5000, 500},  // 10%
		{0, 10000, 500}, // floor at 5%
		{0, 200, 100},   // 49% of 200 = 98, at least 100
		{100, 1000, 1000},
		{10, 1000, 100},
	}
	for _, tc := range cases {
		a := New(Config{PercentageOfNodesToScore: tc.percent})
		if got := a.NumFeasibleNodesToFind(tc.nodes); got != tc.want {
			t.Errorf("%d%% of %d: got %d, want %d", tc.percent, tc.nodes, got, tc.want)
		}
	}
}

func TestSearchRotates(t *testing.T) {
	var ns []*corev1.Node
	for i := 0; i < 300; i++ {
		ns = append(ns, node(fmt.Sprintf("n%03d", i), "4", "4Gi"))
	}
	snap := cluster(ns, nil)
	a := New(Config{PercentageOfNodesToScore: 10, Rand: seeded()})
	res, err := a.Schedule(NewPodInfo(pod("p")), snap)
	if err != nil || res.Evaluated != 100 || res.Feasible != 100 {
		t.Fatalf("first: %+v %v", res, err)
	}
	if a.nextStart != 100 {
		t.Fatalf("next search starts at %d, want 100", a.nextStart)
	}
	// A pod that fits nowhere looks at every node and reports them all.
	_, err = a.Schedule(NewPodInfo(pod("big", requests("cpu", "5"))), snap)
	var fe *FitError
	if !errors.As(err, &fe) || len(fe.Statuses) != 300 {
		t.Fatalf("unschedulable: %v", err)
	}
}

func TestAntiAffinitySpreadsAGroup(t *testing.T) {
	// Ten pods with anti-affinity to their own group on ten nodes: one each.
	var ns []*corev1.Node
	for i := 0; i < 10; i++ {
		ns = append(ns, node(fmt.Sprintf("n%d", i), "4", "4Gi"))
	}
	snap := cluster(ns, nil)
	a := New(Config{Rand: seeded()})
	for i := 0; i < 10; i++ {
		pi := NewPodInfo(pod(fmt.Sprintf("p%d", i), podLabels("group", "g"), requiredPodAntiAffinity(podTerm("kubernetes.io/hostname", "group", "g"))))
		res, err := a.Schedule(pi, snap)
		if err != nil {
			t.Fatalf("pod %d: %v", i, err)
		}
		for j, ni := range snap.Nodes {
			if ni.Name == res.NodeName {
				c := ni.Clone()
				c.AddPod(pi)
				snap.Nodes[j] = c
			}
		}
	}
	for _, ni := range snap.Nodes {
		if len(ni.Pods) != 1 {
			t.Fatalf("node %s has %d pods", ni.Name, len(ni.Pods))
		}
	}
	_, err := a.Schedule(NewPodInfo(pod("extra", podLabels("group", "g"), requiredPodAntiAffinity(podTerm("kubernetes.io/hostname", "group", "g")))), snap)
	if want := "0/10 nodes are available: 10 node(s) didn't satisfy existing pods anti-affinity rules."; err == nil || err.Error() != want {
		t.Fatalf("11th pod: got %v", err)
	}
}

func TestNodeInfoAccounting(t *testing.T) {
	ni := NewNodeInfo(node("n", "4", "4Gi"))
	a := NewPodInfo(pod("a", requests("cpu", "1"), hostPort(80, "TCP", ""), requiredPodAntiAffinity(podTerm("kubernetes.io/hostname", "x", "y"))))
	b := NewPodInfo(pod("b", requests("cpu", "500m")))
	ni.AddPod(a)
	ni.AddPod(b)
	clone := ni.Clone()
	if !clone.RemovePod(a.UID) || clone.RemovePod("nope") {
		t.Fatal("RemovePod results")
	}
	if clone.Requested.MilliCPU != 500 || clone.Requested.Pods != 1 || len(clone.UsedPorts) != 0 || len(clone.PodsWithRequiredAntiAffinity) != 0 {
		t.Fatalf("clone after remove: %+v", clone)
	}
	if ni.Requested.MilliCPU != 1500 || ni.Requested.Pods != 2 || len(ni.UsedPorts) != 1 || len(ni.PodsWithRequiredAntiAffinity) != 1 || len(ni.Pods) != 2 {
		t.Fatalf("original changed by the clone: %+v", ni)
	}
}

// TestAffinityMemoMatchesFreshComputation: the per-node memo of inter-pod
// affinity gives the same verdicts as computing from scratch while pods
// come and go on copy-on-write nodes.
func TestAffinityMemoMatchesFreshComputation(t *testing.T) {
	rnd := seeded()
	var ns []*corev1.Node
	for i := 0; i < 12; i++ {
		ns = append(ns, node(fmt.Sprintf("n%d", i), "64", "64Gi", withLabels("zone", fmt.Sprintf("z%d", i%3))))
	}
	snap := cluster(ns, nil)
	a := New(Config{Rand: seeded()})
	mkPod := func(i int) *PodInfo {
		g := fmt.Sprintf("g%d", rnd.IntN(3))
		opts := []podOpt{podLabels("group", g)}
		switch rnd.IntN(5) {
		case 0:
			opts = append(opts, requiredPodAntiAffinity(podTerm("kubernetes.io/hostname", "group", g)))
		case 1:
			opts = append(opts, requiredPodAntiAffinity(podTerm("zone", "group", fmt.Sprintf("g%d", rnd.IntN(3)))))
		case 2:
			opts = append(opts, requiredPodAffinity(podTerm("zone", "group", fmt.Sprintf("g%d", rnd.IntN(3)))))
		}
		return NewPodInfo(pod(fmt.Sprintf("p%d", i), opts...))
	}
	rejected := 0
	for i := 0; i < 300; i++ {
		p := mkPod(i)
		memoCycle := &cycle{pod: p, snap: snap, memo: a.memo}
		var feasible []int
		for j, ni := range snap.Nodes {
			got := runFilters(memoCycle, ni)
			want := runFilters(&cycle{pod: p, snap: snap}, ni)
			if (got == nil) != (want == nil) || (got != nil && got.Reasons[0] != want.Reasons[0]) {
				t.Fatalf("step %d node %s: memo says %v, fresh says %v", i, ni.Name, got, want)
			}
			if got == nil {
				feasible = append(feasible, j)
			} else {
				rejected++
			}
		}
		if len(feasible) > 0 {
			j := feasible[rnd.IntN(len(feasible))]
			c := snap.Nodes[j].Clone()
			c.AddPod(p)
			snap.Nodes[j] = c
		}
		if rnd.IntN(4) == 0 {
			j := rnd.IntN(len(snap.Nodes))
			if len(snap.Nodes[j].Pods) > 0 {
				c := snap.Nodes[j].Clone()
				c.RemovePod(c.Pods[rnd.IntN(len(c.Pods))].UID)
				snap.Nodes[j] = c
			}
		}
	}
	if rejected < 300 {
		t.Fatalf("only %d rejections: the test does not exercise affinity", rejected)
	}
	t.Logf("%d node rejections checked", rejected)
}
