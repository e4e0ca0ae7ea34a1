package statefulset

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func set(replicas int32, policy string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Uid: "sts-uid"},
		Spec: &appsv1.StatefulSetSpec{Replicas: proto.Int32(replicas), PodManagementPolicy: policy, ServiceName: "nginx",
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx"}}}},
			UpdateStrategy: &appsv1.StatefulSetUpdateStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: proto.Int32(0)}}},
	}
}

type state int

const (
	pending state = iota
	ready
	gone
	failed
)

func pods(rev string, states ...state) map[int]*corev1.Pod {
	out := map[int]*corev1.Pod{}
	for i, st := range states {
		p := NewPod(set(1, ""), i, rev)
		p.Status = &corev1.PodStatus{Phase: "Pending"}
		switch st {
		case ready:
			p.Status = &corev1.PodStatus{Phase: "Running", Conditions: []*corev1.PodCondition{{Type: "Ready", Status: "True"}}}
		case gone:
			p.Metadata.DeletionTimestamp = timestamppb.Now()
		case failed:
			p.Status.Phase = "Failed"
		}
		out[i] = p
	}
	return out
}

func render(a Actions) string {
	var del []string
	for _, p := range a.Delete {
		del = append(del, p.Metadata.Name)
	}
	slices.Sort(del)
	return fmt.Sprintf("create %v delete %v", a.Create, del)
}

func TestPlan(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  *appsv1.StatefulSet
		pods map[int]*corev1.Pod
		want string
	}{
		{"ordered: first pod", set(3, "OrderedReady"), nil, "create [0] delete []"},
		{"ordered: waits for web-0 to be ready", set(3, "OrderedReady"), pods("r", pending), "create [] delete []"},
		{"ordered: then web-1", set(3, "OrderedReady"), pods("r", ready), "create [1] delete []"},
		{"ordered: a failed pod is replaced before going on", set(3, "OrderedReady"), pods("r", ready, failed), "create [] delete [web-1]"},
		{"parallel: all at once", set(3, "Parallel"), nil, "create [0 1 2] delete []"},
		{"ordered scale down: highest first, one at a time", set(1, "OrderedReady"), pods("r", ready, ready, ready), "create [] delete [web-2]"},
		{"ordered scale down waits for the terminating one", set(1, "OrderedReady"), pods("r", ready, ready, gone), "create [] delete []"},
		{"parallel scale down", set(1, "Parallel"), pods("r", ready, ready, ready), "create [] delete [web-1 web-2]"},
		{"rolling update from the top", set(3, "OrderedReady"), pods("old", ready, ready, ready), "create [] delete [web-2]"},
		{"rolling update stops at the partition", func() *appsv1.StatefulSet {
			s := set(3, "OrderedReady")
			s.Spec.UpdateStrategy.RollingUpdate.Partition = proto.Int32(2)
			return s
		}(), map[int]*corev1.Pod{0: pods("old", ready)[0], 1: pods("old", ready, ready)[1], 2: pods("new", ready, ready, ready)[2]}, "create [] delete []"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rev := "r"
			if tt.name[:7] == "rolling" {
				rev = "new"
			}
			if got := render(Plan(tt.set, tt.pods, rev)); got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
}

func TestNewPodIdentity(t *testing.T) {
	p := NewPod(set(3, ""), 2, "web-abc")
	if p.Metadata.Name != "web-2" || p.Spec.Hostname != "web-2" || p.Spec.Subdomain != "nginx" {
		t.Fatalf("identity: name %s hostname %s subdomain %s", p.Metadata.Name, p.Spec.Hostname, p.Spec.Subdomain)
	}
	if p.Metadata.Labels[PodNameLabel] != "web-2" || p.Metadata.Labels[PodIndexLabel] != "2" || p.Metadata.Labels[RevisionLabel] != "web-abc" || p.Metadata.Labels["app"] != "nginx" {
		t.Fatalf("labels %v", p.Metadata.Labels)
	}
	for _, name := range []string{"web-0", "web-12"} {
		if Ordinal("web", &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name}}) < 0 {
			t.Errorf("%s not recognised", name)
		}
	}
	for _, name := range []string{"web-x", "web-01", "webby-1", "web--1"} {
		if Ordinal("web", &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name}}) >= 0 {
			t.Errorf("%s taken for a member", name)
		}
	}
}
