package daemonset

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/controller"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func node(name string, l map[string]string, taints ...*corev1.Taint) *corev1.Node {
	return &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name, Labels: l}, Spec: &corev1.NodeSpec{Taints: taints}}
}

func ds(selector map[string]string, tols ...*corev1.Toleration) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		Metadata: &metav1.ObjectMeta{Name: "agent", Namespace: "kube-system", Uid: "ds-uid"},
		Spec: &appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: &corev1.PodSpec{NodeSelector: selector, Tolerations: tols, Containers: []*corev1.Container{{Name: "a", Image: "agent:1"}}}},
			UpdateStrategy: &appsv1.DaemonSetUpdateStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &metav1.IntOrString{IntVal: 1}}},
		},
	}
}

func dpod(name, node, hash string, ready bool) *corev1.Pod {
	st := "False"
	if ready {
		st = "True"
	}
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "kube-system", Labels: map[string]string{"app": "agent", HashLabel: hash},
			CreationTimestamp: timestamppb.New(now.Add(-time.Hour))},
		Spec:   &corev1.PodSpec{NodeName: node},
		Status: &corev1.PodStatus{Phase: "Running", Conditions: []*corev1.PodCondition{{Type: "Ready", Status: st, LastTransitionTime: timestamppb.New(now.Add(-time.Hour))}}},
	}
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Metadata.Name)
	}
	slices.Sort(out)
	return out
}

func TestShouldRun(t *testing.T) {
	gpu := map[string]string{"gpu": "yes"}
	dedicated := &corev1.Taint{Key: "dedicated", Value: "db", Effect: "NoSchedule"}
	cases := []struct {
		name string
		node *corev1.Node
		ds   *appsv1.DaemonSet
		want bool
	}{
		{"plain", node("n", nil), ds(nil), true},
		{"node selector matches", node("n", gpu), ds(gpu), true},
		{"node selector misses", node("n", nil), ds(gpu), false},
		{"untolerated taint", node("n", nil, dedicated), ds(nil), false},
		{"tolerated taint", node("n", nil, dedicated), ds(nil, &corev1.Toleration{Key: "dedicated", Operator: "Equal", Value: "db", Effect: "NoSchedule"}), true},
		{"unreachable and cordoned nodes keep daemons", node("n", nil,
			&corev1.Taint{Key: "node.kubernetes.io/unreachable", Effect: "NoExecute"}, &corev1.Taint{Key: "node.kubernetes.io/unschedulable", Effect: "NoSchedule"}), ds(nil), true},
		{"PreferNoSchedule is no obstacle", node("n", nil, &corev1.Taint{Key: "x", Effect: "PreferNoSchedule"}), ds(nil), true},
	}
	for _, c := range cases {
		if got := ShouldRun(c.node, c.ds.Spec.Template.Spec); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPlan(t *testing.T) {
	d := ds(map[string]string{"role": "worker"})
	hash := "h2"
	worker := map[string]string{"role": "worker"}
	t.Run("nodes join and leave", func(t *testing.T) {
		nodes := []*corev1.Node{node("a", worker), node("b", worker), node("c", nil)}
		pods := []*corev1.Pod{dpod("on-a", "a", hash, true), dpod("on-c", "c", hash, true), dpod("on-gone", "gone", hash, true)}
		p := Plan(d, nodes, pods, hash, now)
		if !slices.Equal(p.Create, []string{"b"}) || !slices.Equal(names(p.Delete), []string{"on-c", "on-gone"}) {
			t.Fatalf("create %v delete %v", p.Create, names(p.Delete))
		}
	})
	t.Run("duplicates and failures", func(t *testing.T) {
		failed := dpod("failed", "b", hash, false)
		failed.Status.Phase = "Failed"
		newer := dpod("newer", "a", hash, true)
		newer.Metadata.CreationTimestamp = timestamppb.New(now)
		p := Plan(d, []*corev1.Node{node("a", worker), node("b", worker)}, []*corev1.Pod{dpod("older", "a", hash, true), newer, failed}, hash, now)
		if !slices.Equal(p.Create, []string{"b"}) || !slices.Equal(names(p.Delete), []string{"failed", "newer"}) {
			t.Fatalf("create %v delete %v", p.Create, names(p.Delete))
		}
	})
	t.Run("rolling update within maxUnavailable, broken pods first", func(t *testing.T) {
		nodes := []*corev1.Node{node("a", worker), node("b", worker), node("c", worker)}
		pods := []*corev1.Pod{dpod("old-a", "a", "h1", true), dpod("old-b", "b", "h1", false), dpod("new-c", "c", hash, true)}
		p := Plan(d, nodes, pods, hash, now)
		// old-b is unavailable: it goes, and uses up the budget of 1.
		if len(p.Create) != 0 || !slices.Equal(names(p.Delete), []string{"old-b"}) {
			t.Fatalf("create %v delete %v", p.Create, names(p.Delete))
		}
		pods[1] = dpod("new-b", "b", hash, true)
		p = Plan(d, nodes, pods, hash, now)
		if !slices.Equal(names(p.Delete), []string{"old-a"}) {
			t.Fatalf("next step deletes %v, want old-a", names(p.Delete))
		}
	})
	t.Run("a terminating pod is waited for", func(t *testing.T) {
		going := dpod("going", "a", hash, true)
		going.Metadata.DeletionTimestamp = timestamppb.New(now)
		p := Plan(d, []*corev1.Node{node("a", worker)}, []*corev1.Pod{going}, hash, now)
		if len(p.Create) != 0 || len(p.Delete) != 0 {
			t.Fatalf("create %v delete %v", p.Create, names(p.Delete))
		}
	})
}

func TestNewPod(t *testing.T) {
	d := ds(nil)
	p := newPod(d, "n1", "h1")
	if p.Spec.NodeName != "n1" || p.Metadata.Labels[HashLabel] != "h1" || p.Metadata.GenerateName != "agent-" {
		t.Fatalf("pod %v", p)
	}
	if ref := controller.ControllerRefOf(p); ref == nil || ref.Kind != "DaemonSet" || ref.Uid != "ds-uid" {
		t.Fatalf("owner %v", ref)
	}
	if len(p.Spec.Tolerations) != len(DefaultTolerations) {
		t.Fatalf("tolerations %v", p.Spec.Tolerations)
	}
}
