package helper

import (
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func TestToleratesTaint(t *testing.T) {
	taint := &corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	for _, c := range []struct {
		name string
		tol  *corev1.Toleration
		want bool
	}{
		{"equal key and value", &corev1.Toleration{Key: "dedicated", Value: "gpu"}, true},
		{"empty operator is Equal", &corev1.Toleration{Key: "dedicated", Operator: "", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}, true},
		{"other value", &corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "cpu"}, false},
		{"exists with key", &corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists}, true},
		{"exists without key tolerates all", &corev1.Toleration{Operator: corev1.TolerationOpExists}, true},
		{"equal without key tolerates nothing", &corev1.Toleration{Operator: corev1.TolerationOpEqual}, false},
		{"other effect", &corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}, false},
		{"other key", &corev1.Toleration{Key: "zone", Operator: corev1.TolerationOpExists}, false},
		{"unknown operator", &corev1.Toleration{Key: "dedicated", Operator: "Maybe"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ToleratesTaint(c.tol, taint); got != c.want {
				t.Errorf("ToleratesTaint = %v, want %v", got, c.want)
			}
			if got := TolerationsTolerateTaint([]*corev1.Toleration{{Key: "x", Operator: corev1.TolerationOpExists}, c.tol}, taint); got != c.want {
				t.Errorf("TolerationsTolerateTaint = %v, want %v", got, c.want)
			}
		})
	}
}

func req(key, op string, values ...string) *corev1.NodeSelectorRequirement {
	return &corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func TestMatchNodeSelectorTerms(t *testing.T) {
	labels := map[string]string{"zone": "a", "cores": "8"}
	for _, c := range []struct {
		name  string
		terms []*corev1.NodeSelectorTerm
		want  bool
	}{
		{"no terms", nil, false},
		{"empty term matches nothing", []*corev1.NodeSelectorTerm{{}}, false},
		{"in", []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "a", "b")}}}, true},
		{"not in", []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpNotIn, "a")}}}, false},
		{"not in, label missing", []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{req("rack", corev1.NodeSelectorOpNotIn, "a")}}}, true},
		{"exists", []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpExists)}}}, true},
		{"does not exist", []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpDoesNotExist)}}}, false},
		{"gt", []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{req("cores", corev1.NodeSelectorOpGt, "4")}}}, true},
		{"lt", []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{req("cores", corev1.NodeSelectorOpLt, "4")}}}, false},
		{"gt on a non-integer", []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpGt, "4")}}}, false},
		{"expressions are ANDed", []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "a"), req("cores", corev1.NodeSelectorOpLt, "4")}}}, false},
		{"terms are ORed", []*corev1.NodeSelectorTerm{
			{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "b")}},
			{MatchFields: []*corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "node-1")}}}, true},
		{"unsupported field", []*corev1.NodeSelectorTerm{{MatchFields: []*corev1.NodeSelectorRequirement{req("spec.podCIDR", corev1.NodeSelectorOpExists)}}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := MatchNodeSelectorTerms(c.terms, "node-1", labels); got != c.want {
				t.Errorf("MatchNodeSelectorTerms = %v, want %v", got, c.want)
			}
		})
	}
}

func TestMatchesNodeSelectorAndAffinity(t *testing.T) {
	node := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"disk": "ssd"}}}
	affinity := func(terms ...*corev1.NodeSelectorTerm) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	}
	for _, c := range []struct {
		name string
		spec *corev1.PodSpec
		want bool
	}{
		{"no constraints", &corev1.PodSpec{}, true},
		{"selector matches", &corev1.PodSpec{NodeSelector: map[string]string{"disk": "ssd"}}, true},
		{"selector misses", &corev1.PodSpec{NodeSelector: map[string]string{"disk": "hdd"}}, false},
		{"affinity matches", &corev1.PodSpec{Affinity: affinity(&corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("disk", corev1.NodeSelectorOpExists)}})}, true},
		{"affinity misses", &corev1.PodSpec{Affinity: affinity(&corev1.NodeSelectorTerm{MatchFields: []*corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "node-2")}})}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := MatchesNodeSelectorAndAffinity(c.spec, node); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestReadiness(t *testing.T) {
	pod := func(phase string, conds ...*corev1.PodCondition) *corev1.Pod {
		return &corev1.Pod{Status: &corev1.PodStatus{Phase: phase, Conditions: conds}}
	}
	ready := &corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
	notReady := &corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse}
	for _, c := range []struct {
		name            string
		pod             *corev1.Pod
		ready, terminal bool
	}{
		{"ready", pod(corev1.PodRunning, &corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, ready), true, false},
		{"not ready", pod(corev1.PodRunning, notReady), false, false},
		{"no conditions", pod(corev1.PodPending), false, false},
		{"nil pod", nil, false, false},
		{"succeeded", pod(corev1.PodSucceeded), false, true},
		{"failed", pod(corev1.PodFailed, notReady), false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := IsPodReady(c.pod); got != c.ready {
				t.Errorf("IsPodReady = %v, want %v", got, c.ready)
			}
			if got := IsPodTerminal(c.pod); got != c.terminal {
				t.Errorf("IsPodTerminal = %v, want %v", got, c.terminal)
			}
		})
	}
	node := func(conds ...*corev1.NodeCondition) *corev1.Node {
		return &corev1.Node{Status: &corev1.NodeStatus{Conditions: conds}}
	}
	for _, c := range []struct {
		name   string
		node   *corev1.Node
		status string
	}{
		{"ready", node(&corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, &corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}), corev1.ConditionTrue},
		{"unknown", node(&corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}), corev1.ConditionUnknown},
		{"not reported", node(), ""},
	} {
		t.Run("node "+c.name, func(t *testing.T) {
			if got := NodeReadyStatus(c.node); got != c.status {
				t.Errorf("NodeReadyStatus = %q, want %q", got, c.status)
			}
			if got := IsNodeReady(c.node); got != (c.status == corev1.ConditionTrue) {
				t.Errorf("IsNodeReady = %v", got)
			}
		})
	}
}

func TestControllerOf(t *testing.T) {
	yes, no := true, false
	meta := &metav1.ObjectMeta{OwnerReferences: []*metav1.OwnerReference{
		{Kind: "Node", Name: "n", Uid: "u-node", Controller: &no},
		{Kind: "ReplicaSet", Name: "web", Uid: "u-rs", Controller: &yes},
	}}
	if ref := GetControllerOf(meta); ref.GetName() != "web" {
		t.Errorf("GetControllerOf = %v, want the ReplicaSet", ref)
	}
	if GetControllerOf(&metav1.ObjectMeta{}) != nil || GetControllerOf(nil) != nil {
		t.Error("GetControllerOf of an object without a controller is not nil")
	}
	for uid, want := range map[string]bool{"u-rs": true, "u-node": false, "": false} {
		if got := IsControlledBy(meta, uid); got != want {
			t.Errorf("IsControlledBy(%q) = %v, want %v", uid, got, want)
		}
	}
}

func TestIsNamespaceTerminating(t *testing.T) {
	for _, tt := range []struct {
		name string
		ns   *corev1.Namespace
		want bool
	}{
		{"active", &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "a"}, Status: &corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}, false},
		{"terminating phase", &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "a"}, Status: &corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}, true},
		{"deletion timestamp", &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "a", DeletionTimestamp: timestamppb.Now()}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsNamespaceTerminating(tt.ns); got != tt.want {
				t.Fatalf("IsNamespaceTerminating = %v, want %v", got, tt.want)
			}
		})
	}
}
