package nodelifecycle

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client/fake"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	metav1 "minik8s/api/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func taintKeys(ts []*corev1.Taint) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Key+":"+t.Effect)
	}
	return out
}

func TestDesiredTaints(t *testing.T) {
	user := &corev1.Taint{Key: "dedicated", Value: "gpu", Effect: "NoSchedule"}
	old := &corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: timestamppb.New(t0.Add(-time.Minute))}
	for _, tt := range []struct {
		current       []*corev1.Taint
		ready         string
		unschedulable bool
		want          []string
	}{
		{[]*corev1.Taint{user}, "True", false, []string{"dedicated:NoSchedule"}},
		{[]*corev1.Taint{user}, "Unknown", false, []string{"dedicated:NoSchedule", corev1.TaintNodeUnreachable + ":NoSchedule", corev1.TaintNodeUnreachable + ":NoExecute"}},
		{[]*corev1.Taint{old}, "False", false, []string{corev1.TaintNodeNotReady + ":NoSchedule", corev1.TaintNodeNotReady + ":NoExecute"}},
		{[]*corev1.Taint{old}, "True", true, []string{corev1.TaintNodeUnschedulable + ":NoSchedule"}},
		{nil, "", false, nil},
	} {
		got := DesiredTaints(tt.current, tt.ready, tt.unschedulable, t0)
		if !slices.Equal(taintKeys(got), tt.want) {
			t.Errorf("ready %q: taints %v, want %v", tt.ready, taintKeys(got), tt.want)
		}
	}
	// An existing taint keeps its timeAdded (eviction deadlines do not move).
	got := DesiredTaints([]*corev1.Taint{old}, "Unknown", false, t0)
	for _, tn := range got {
		if tn.Effect == corev1.TaintEffectNoExecute && !tn.TimeAdded.AsTime().Equal(t0.Add(-time.Minute)) {
			t.Errorf("timeAdded moved to %v", tn.TimeAdded.AsTime())
		}
	}
}

func TestEvictionTime(t *testing.T) {
	unreachable := &corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: timestamppb.New(t0)}
	custom := &corev1.Taint{Key: "maintenance", Effect: corev1.TaintEffectNoExecute, TimeAdded: timestamppb.New(t0)}
	pod := func(tols ...*corev1.Toleration) *corev1.Pod {
		return &corev1.Pod{Spec: &corev1.PodSpec{Tolerations: tols}}
	}
	secs := func(n int64) *int64 { return &n }
	for _, tt := range []struct {
		name   string
		pod    *corev1.Pod
		taints []*corev1.Taint
		after  time.Duration
		never  bool
	}{
		{"no toleration of unreachable: the default grace", pod(), []*corev1.Taint{unreachable}, 300 * time.Second, false},
		{"toleration seconds", pod(&corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: "Exists", Effect: "NoExecute", TolerationSeconds: secs(30)}), []*corev1.Taint{unreachable}, 30 * time.Second, false},
		{"tolerates forever", pod(&corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: "Exists", Effect: "NoExecute"}), []*corev1.Taint{unreachable}, 0, true},
		{"wildcard toleration", pod(&corev1.Toleration{Operator: "Exists"}), []*corev1.Taint{unreachable, custom}, 0, true},
		{"untolerated custom taint: at once", pod(), []*corev1.Taint{custom}, 0, false},
		{"earliest of several", pod(&corev1.Toleration{Key: "maintenance", Operator: "Exists", TolerationSeconds: secs(10)}), []*corev1.Taint{unreachable, custom}, 10 * time.Second, false},
		{"NoSchedule taints do not evict", pod(), []*corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}}, 0, true},
	} {
		at, ok := EvictionTime(tt.pod, tt.taints, 300*time.Second, t0)
		if ok == tt.never || ok && !at.Equal(t0.Add(tt.after)) {
			t.Errorf("%s: eviction at %v (ok %v), want +%s never=%v", tt.name, at.Sub(t0), ok, tt.after, tt.never)
		}
	}
}

// TestSilentNodeIsTaintedAndEvicted drives the controller's clock: a node
// whose heartbeat stops becomes Unknown and unreachable after the grace
// period, and its pods are deleted after the eviction timeout.
func TestSilentNodeIsTaintedAndEvicted(t *testing.T) {
	now := t0
	node := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: "n1", ResourceVersion: "1"},
		Spec:     &corev1.NodeSpec{},
		Status: &corev1.NodeStatus{Conditions: []*corev1.NodeCondition{{Type: "Ready", Status: "True",
			LastHeartbeatTime: timestamppb.New(t0.Add(-time.Second))}}},
	}
	lease := &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: "n1", Namespace: "kube-node-lease"},
		Spec: &coordinationv1.LeaseSpec{RenewTime: timestamppb.New(t0)}}
	var pods []*corev1.Pod
	for i := range 2 {
		pods = append(pods, &corev1.Pod{
			Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "default", Uid: fmt.Sprintf("u%d", i)},
			Spec:     &corev1.PodSpec{NodeName: "n1"},
			Status:   &corev1.PodStatus{Phase: "Running", Conditions: []*corev1.PodCondition{{Type: "Ready", Status: "True"}}},
		})
	}
	// A DaemonSet-like pod tolerates unreachable forever and stays.
	pods[1].Spec.Tolerations = []*corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: "Exists", Effect: "NoExecute"}}
	nodes, podAPI := fake.NewAPI(node), fake.NewAPI(pods...)
	c := New(Config{
		Nodes: nodes, Pods: podAPI,
		NodeInformer: fake.Informer(t, node), LeaseInformer: fake.Informer(t, lease), PodInformer: fake.Informer(t, pods...),
		MonitorPeriod: time.Second, GracePeriod: 40 * time.Second, PodEvictionTimeout: 5 * time.Minute,
		Now: func() time.Time { return now },
	})
	ctx := context.Background()
	if err := c.sync(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if len(nodes.Actions()) != 0 {
		t.Fatalf("a healthy node was written: %v", nodes.Actions())
	}
	now = t0.Add(41 * time.Second)
	if err := c.sync(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	got, _ := nodes.Get(ctx, "", "n1")
	if rc := helper.GetNodeCondition(got, corev1.NodeReady); rc.Status != "Unknown" || rc.Reason != "NodeStatusUnknown" {
		t.Fatalf("ready condition after the grace period: %v", rc)
	}
	if keys := taintKeys(got.Spec.Taints); !slices.Equal(keys, []string{corev1.TaintNodeUnreachable + ":NoSchedule", corev1.TaintNodeUnreachable + ":NoExecute"}) {
		t.Fatalf("taints %v", keys)
	}
	p0, _ := podAPI.Get(ctx, "default", "p0")
	if p0.Status.Conditions[0].Status != "False" {
		t.Fatal("pods of the unknown node were not marked not ready")
	}
	if slices.Contains(podAPI.Actions(), "delete default/p0") {
		t.Fatal("evicted before the eviction timeout")
	}
	// The controller's next look uses the node as written (taint added at "now").
	c2 := New(Config{
		Nodes: nodes, Pods: podAPI,
		NodeInformer: fake.Informer(t, got), LeaseInformer: fake.Informer(t, lease), PodInformer: fake.Informer(t, pods...),
		MonitorPeriod: time.Second, GracePeriod: 40 * time.Second, PodEvictionTimeout: 5 * time.Minute,
		Now: func() time.Time { return now },
	})
	now = t0.Add(41*time.Second + 5*time.Minute + time.Second)
	if err := c2.sync(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	acts := podAPI.Actions()
	if !slices.Contains(acts, "delete default/p0") || slices.Contains(acts, "delete default/p1") {
		t.Fatalf("pod actions %v: p0 evicted, the tolerating p1 kept", acts)
	}
}
