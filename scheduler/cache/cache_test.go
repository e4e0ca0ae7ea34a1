package cache

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/scheduler/framework"
)

func testNode(name, zone string) *corev1.Node {
	n := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Spec:     &corev1.NodeSpec{},
		Status:   &corev1.NodeStatus{Allocatable: map[string]string{"cpu": "4", "memory": "4Gi", "pods": "10"}},
	}
	if zone != "" {
		n.Metadata.Labels[framework.ZoneLabel] = zone
	}
	return n
}

func testPod(name, node, cpu string) *corev1.Pod {
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name},
		Spec: &corev1.PodSpec{NodeName: node, Containers: []*corev1.Container{{Name: "c",
			Resources: &corev1.ResourceRequirements{Requests: map[string]string{"cpu": cpu}}}}},
	}
}

type fakeTime struct{ t time.Time }

func (f *fakeTime) now() time.Time { return f.t }

func nodeByName(t *testing.T, snap []*framework.NodeInfo, name string) *framework.NodeInfo {
	t.Helper()
	for _, ni := range snap {
		if ni.Name == name {
			return ni
		}
	}
	t.Fatalf("node %s not in snapshot", name)
	return nil
}

func TestAssumeConfirmForget(t *testing.T) {
	clock := &fakeTime{time.Unix(0, 0)}
	c := New(clock.now, 30*time.Second)
	c.AddNode(testNode("n1", ""))
	c.AddNode(testNode("n2", ""))

	pending := testPod("a", "", "1")
	pi := framework.NewPodInfo(pending)
	if err := c.AssumePod(pi, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := c.AssumePod(pi, "n1"); err == nil {
		t.Fatal("assuming twice succeeded")
	}
	before := c.Snapshot()
	if got := nodeByName(t, before, "n1").Requested.MilliCPU; got != 1000 {
		t.Fatalf("assumed pod not accounted: %d", got)
	}

	// The informer confirms it on another node than assumed: it moves.
	bound := proto.Clone(pending).(*corev1.Pod)
	bound.Spec.NodeName = "n2"
	c.AddPod(bound)
	if c.IsAssumed("uid-a") {
		t.Fatal("still assumed after AddPod")
	}
	after := c.Snapshot()
	if nodeByName(t, after, "n1").Requested.MilliCPU != 0 || nodeByName(t, after, "n2").Requested.MilliCPU != 1000 {
		t.Fatal("pod not moved to the node the informer reports")
	}
	// The earlier snapshot is unchanged (copy-on-write).
	if nodeByName(t, before, "n1").Requested.MilliCPU != 1000 {
		t.Fatal("old snapshot changed")
	}
	// Forget does not touch a confirmed pod.
	c.ForgetPod("uid-a")
	if !c.Has("uid-a") {
		t.Fatal("confirmed pod forgotten")
	}

	b := framework.NewPodInfo(testPod("b", "", "2"))
	_ = c.AssumePod(b, "n1")
	c.ForgetPod("uid-b")
	if c.Has("uid-b") || nodeByName(t, c.Snapshot(), "n1").Requested.MilliCPU != 0 {
		t.Fatal("forgotten pod still accounted")
	}
}

func TestAssumedPodExpires(t *testing.T) {
	clock := &fakeTime{time.Unix(0, 0)}
	c := New(clock.now, 30*time.Second)
	c.AddNode(testNode("n1", ""))
	_ = c.AssumePod(framework.NewPodInfo(testPod("a", "", "1")), "n1")
	clock.t = clock.t.Add(time.Hour)
	if got := c.CleanupExpired(); len(got) != 0 {
		t.Fatalf("expired before the binding finished: %v", got)
	}
	c.FinishBinding("uid-a")
	clock.t = clock.t.Add(29 * time.Second)
	if got := c.CleanupExpired(); len(got) != 0 {
		t.Fatalf("expired early: %v", got)
	}
	clock.t = clock.t.Add(2 * time.Second)
	if got := c.CleanupExpired(); len(got) != 1 || got[0] != "default/a" {
		t.Fatalf("expired: %v", got)
	}
	if c.Has("uid-a") {
		t.Fatal("expired pod still in cache")
	}
}

func TestPodsBeforeTheirNode(t *testing.T) {
	c := New(nil, 0)
	c.AddPod(testPod("a", "late", "1"))
	if len(c.Snapshot()) != 0 {
		t.Fatal("placeholder node in snapshot")
	}
	c.AddNode(testNode("late", ""))
	snap := c.Snapshot()
	if len(snap) != 1 || snap[0].Requested.MilliCPU != 1000 {
		t.Fatalf("pod not accounted once its node arrived: %+v", snap)
	}
	c.RemoveNode(testNode("late", ""))
	if len(c.Snapshot()) != 0 {
		t.Fatal("removed node in snapshot")
	}
	if n, p, _ := c.Stats(); n != 0 || p != 1 {
		t.Fatalf("stats nodes=%d pods=%d", n, p)
	}
	c.RemovePod(testPod("a", "late", "1"))
	if _, p, _ := c.Stats(); p != 0 || len(c.nodes) != 0 {
		t.Fatalf("pod or placeholder left: %d %d", p, len(c.nodes))
	}
}

func TestUpdatePodAndNode(t *testing.T) {
	c := New(nil, 0)
	c.AddNode(testNode("n1", ""))
	old := testPod("a", "n1", "1")
	c.AddPod(old)
	cur := testPod("a", "n1", "2")
	c.UpdatePod(old, cur)
	if got := c.Snapshot()[0].Requested.MilliCPU; got != 2000 {
		t.Fatalf("requested %d after update", got)
	}
	n := testNode("n1", "")
	n.Metadata.Labels["disk"] = "ssd"
	c.UpdateNode(nil, n)
	ni := c.Snapshot()[0]
	if ni.Labels["disk"] != "ssd" || len(ni.Pods) != 1 {
		t.Fatalf("node update lost something: %+v", ni)
	}
}

func TestSnapshotInterleavesZones(t *testing.T) {
	c := New(nil, 0)
	for _, n := range []struct{ name, zone string }{{"a1", "a"}, {"a2", "a"}, {"a3", "a"}, {"b1", "b"}, {"c1", "c"}, {"c2", "c"}} {
		c.AddNode(testNode(n.name, n.zone))
	}
	var got []string
	for _, ni := range c.Snapshot() {
		got = append(got, ni.Name)
	}
	want := []string{"a1", "b1", "c1", "a2", "c2", "a3"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}
