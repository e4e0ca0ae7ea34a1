package replicaset

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/record"
	"minik8s/controller-manager/controller"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ApiVersion: "apps/v1", Kind: "ReplicaSet",
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "rs-uid-" + name, Generation: 2, ResourceVersion: "5"},
		Spec: &appsv1.ReplicaSetSpec{
			Replicas: proto.Int32(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: &corev1.PodTemplateSpec{
				Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": name, "tier": "web"}},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "img"}}},
			},
		},
	}
}

type podOpt func(*corev1.Pod)

func owned(rs *appsv1.ReplicaSet) podOpt {
	return func(p *corev1.Pod) {
		p.Metadata.OwnerReferences = []*metav1.OwnerReference{controller.NewControllerRef(rs, "apps/v1", "ReplicaSet")}
	}
}
func onNode(p *corev1.Pod) { p.Spec.NodeName = "n1"; p.Status.Phase = "Running" }
func ready(since time.Duration) podOpt {
	return func(p *corev1.Pod) {
		onNode(p)
		p.Status.Conditions = []*corev1.PodCondition{{Type: "Ready", Status: "True", LastTransitionTime: timestamppb.New(now.Add(-since))}}
	}
}
func created(ago time.Duration) podOpt {
	return func(p *corev1.Pod) { p.Metadata.CreationTimestamp = timestamppb.New(now.Add(-ago)) }
}
func labeled(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Metadata.Labels = l } }
func deleting(p *corev1.Pod)             { p.Metadata.DeletionTimestamp = timestamppb.New(now) }

func newPod(name string, app string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "pod-uid-" + name, ResourceVersion: "3",
			Labels: map[string]string{"app": app, "tier": "web"}, CreationTimestamp: timestamppb.New(now.Add(-time.Hour))},
		Spec:   &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "img"}}},
		Status: &corev1.PodStatus{Phase: "Pending"},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

type fixture struct {
	c    *Controller[*appsv1.ReplicaSet]
	rss  *fake.API[*appsv1.ReplicaSet]
	pods *fake.API[*corev1.Pod]
	rec  *record.Fake
}

func setup(t *testing.T, rss []*appsv1.ReplicaSet, pods []*corev1.Pod) *fixture {
	t.Helper()
	f := &fixture{rss: fake.NewAPI(rss...), pods: fake.NewAPI(pods...), rec: &record.Fake{}}
	f.c = New(Config[*appsv1.ReplicaSet]{
		Kind: ReplicaSets{}, API: f.rss, Pods: f.pods,
		Informer: fake.Informer(t, rss...), PodInformer: fake.Informer(t, pods...),
		Recorder: f.rec, Now: func() time.Time { return now },
	})
	return f
}

func count(actions []string, prefix string) int {
	n := 0
	for _, a := range actions {
		if strings.HasPrefix(a, prefix) {
			n++
		}
	}
	return n
}

func TestSync(t *testing.T) {
	web := newRS("web", 3)
	tests := []struct {
		name        string
		rs          *appsv1.ReplicaSet
		pods        []*corev1.Pod
		wantCreates int
		wantDeleted []string
		wantUpdates []string // pod updates (adopt/release)
		wantStatus  Status
		wantEvents  []string
	}{
		{
			name: "creates missing pods", rs: web,
			wantCreates: 3,
			wantStatus:  Status{ObservedGeneration: 2},
			wantEvents:  []string{"Normal SuccessfulCreate Created pod: web-00001"},
		},
		{
			name:       "steady state writes status only",
			rs:         web,
			pods:       []*corev1.Pod{newPod("a", "web", owned(web), ready(time.Minute)), newPod("b", "web", owned(web), ready(time.Minute)), newPod("c", "web", owned(web))},
			wantStatus: Status{Replicas: 3, FullyLabeledReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, ObservedGeneration: 2},
		},
		{
			name: "scale down prefers unscheduled, not ready, newest",
			rs:   newRS("web", 2),
			pods: []*corev1.Pod{
				newPod("old-ready", "web", owned(web), ready(time.Hour), created(2*time.Hour)),
				newPod("new-ready", "web", owned(web), ready(time.Minute), created(time.Minute)),
				newPod("running-not-ready", "web", owned(web), onNode),
				newPod("unscheduled", "web", owned(web)),
			},
			wantDeleted: []string{"default/running-not-ready", "default/unscheduled"},
			wantStatus:  Status{Replicas: 4, FullyLabeledReplicas: 4, ReadyReplicas: 2, AvailableReplicas: 2, ObservedGeneration: 2},
			wantEvents:  []string{"Normal SuccessfulDelete Deleted pod: unscheduled"},
		},
		{
			name: "adopts a matching orphan, ignores others' and terminating pods",
			rs:   web,
			pods: []*corev1.Pod{
				newPod("orphan", "web", ready(time.Minute)),
				newPod("foreign", "web", owned(newRS("other", 1))),
				newPod("going", "web", owned(web), deleting),
				newPod("unrelated", "db"),
			},
			wantUpdates: []string{"update default/orphan"},
			wantCreates: 2,
			wantStatus:  Status{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 2},
		},
		{
			name: "releases an owned pod that stopped matching",
			rs:   newRS("web", 1),
			pods: []*corev1.Pod{
				newPod("keep", "web", owned(web), ready(time.Minute)),
				newPod("relabeled", "web", owned(web), labeled(map[string]string{"app": "debug"})),
			},
			wantUpdates: []string{"update default/relabeled"},
			wantStatus:  Status{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 2},
		},
		{
			name: "minReadySeconds holds availability back",
			rs: func() *appsv1.ReplicaSet {
				r := newRS("web", 2)
				r.Spec.MinReadySeconds = 30
				return r
			}(),
			pods:       []*corev1.Pod{newPod("a", "web", owned(web), ready(time.Minute)), newPod("b", "web", owned(web), ready(10*time.Second))},
			wantStatus: Status{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, []*appsv1.ReplicaSet{tt.rs}, tt.pods)
			if err := f.c.sync(context.Background(), "default/web"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			acts := f.pods.Actions()
			if n := count(acts, "create "); n != tt.wantCreates {
				t.Errorf("creates = %d, want %d (%v)", n, tt.wantCreates, acts)
			}
			var deleted, updated []string
			for _, a := range acts {
				if k, ok := strings.CutPrefix(a, "delete "); ok {
					deleted = append(deleted, k)
				}
				if strings.HasPrefix(a, "update ") {
					updated = append(updated, a)
				}
			}
			slices.Sort(deleted)
			if !slices.Equal(deleted, tt.wantDeleted) {
				t.Errorf("deleted %v, want %v", deleted, tt.wantDeleted)
			}
			if !slices.Equal(updated, tt.wantUpdates) {
				t.Errorf("pod updates %v, want %v", updated, tt.wantUpdates)
			}
			got, _ := f.rss.Get(context.Background(), "default", "web")
			if st := (ReplicaSets{}).Status(got); st != tt.wantStatus {
				t.Errorf("status %+v, want %+v", st, tt.wantStatus)
			}
			evs := f.rec.Events()
			for _, w := range tt.wantEvents {
				if !slices.Contains(evs, w) {
					t.Errorf("events %v lack %q", evs, w)
				}
			}
		})
	}
}

// TestExpectationsBlockSecondCreate: after creating pods whose events have
// not arrived, a second sync must not create them again.
func TestExpectationsBlockSecondCreate(t *testing.T) {
	f := setup(t, []*appsv1.ReplicaSet{newRS("web", 3)}, nil)
	ctx := context.Background()
	for range 3 {
		if err := f.c.sync(ctx, "default/web"); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(f.pods.Actions(), "create "); n != 3 {
		t.Fatalf("creates after three syncs without pod events = %d, want 3", n)
	}
	if c, _ := f.c.Expectations.Pending("default/web"); c != 3 {
		t.Fatalf("pending creations = %d, want 3", c)
	}
	// The watch delivers the pods: expectations are met.
	for _, p := range f.pods.Objects() {
		f.c.addPod(p)
	}
	if !f.c.Expectations.Satisfied("default/web") {
		t.Fatal("expectations not satisfied after observing the pods")
	}
}

// TestFailedCreatesLowerExpectations: creates the apiserver refuses do not
// leave the controller waiting for pods that will never appear, and the
// failure shows as a ReplicaFailure condition.
func TestFailedCreatesLowerExpectations(t *testing.T) {
	f := setup(t, []*appsv1.ReplicaSet{newRS("web", 4)}, nil)
	f.pods.Fail = func(verb string, _ *corev1.Pod) error {
		if verb == "create" {
			return context.DeadlineExceeded
		}
		return nil
	}
	if err := f.c.sync(context.Background(), "default/web"); err == nil {
		t.Fatal("sync succeeded although every create failed")
	}
	if !f.c.Expectations.Satisfied("default/web") {
		t.Fatal("expectations still pending after failed creates")
	}
	// Slow start: one failed attempt, not four.
	if evs := f.rec.Events(); len(evs) != 1 || !strings.HasPrefix(evs[0], "Warning FailedCreate") {
		t.Fatalf("events %v, want one FailedCreate", evs)
	}
	got, _ := f.rss.Get(context.Background(), "default", "web")
	if st := (ReplicaSets{}).Status(got); st.FailureReason != "FailedCreate" {
		t.Fatalf("status %+v lacks the ReplicaFailure condition", st)
	}
}

func TestReplicationController(t *testing.T) {
	rc := &corev1.ReplicationController{
		ApiVersion: "v1", Kind: "ReplicationController",
		Metadata: &metav1.ObjectMeta{Name: "kubia", Namespace: "default", Uid: "rc-uid", Generation: 1},
		Spec: &corev1.ReplicationControllerSpec{
			Replicas: proto.Int32(2),
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "img"}}}},
		},
	}
	orphan := newPod("orphan", "kubia", ready(time.Minute))
	rcs, pods := fake.NewAPI(rc), fake.NewAPI(orphan)
	rec := &record.Fake{}
	c := New(Config[*corev1.ReplicationController]{
		Kind: ReplicationControllers{}, API: rcs, Pods: pods,
		Informer: fake.Informer(t, rc), PodInformer: fake.Informer(t, orphan), Recorder: rec,
		Now: func() time.Time { return now },
	})
	if err := c.sync(context.Background(), "default/kubia"); err != nil {
		t.Fatal(err)
	}
	// The selector defaults to the template labels: the orphan is adopted
	// as a ReplicationController's, and one more pod is created.
	adopted, _ := pods.Get(context.Background(), "default", "orphan")
	if ref := controller.ControllerRefOf(adopted); ref == nil || ref.Kind != "ReplicationController" || ref.ApiVersion != "v1" {
		t.Fatalf("orphan's controller ref = %v", ref)
	}
	if n := count(pods.Actions(), "create "); n != 1 {
		t.Fatalf("creates = %d, want 1", n)
	}
	got, _ := rcs.Get(context.Background(), "default", "kubia")
	if got.Status.GetReplicas() != 1 || got.Status.GetReadyReplicas() != 1 || got.Status.GetObservedGeneration() != 1 {
		t.Fatalf("status %v", got.Status)
	}
}

func TestPodsToDeleteOrder(t *testing.T) {
	pods := []*corev1.Pod{
		newPod("ready-long", "x", ready(time.Hour)),
		newPod("ready-short", "x", ready(time.Second)),
		newPod("pending", "x"),
		newPod("running", "x", onNode),
		newPod("restarts", "x", ready(time.Hour), func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []*corev1.ContainerStatus{{RestartCount: 3}}
			p.Status.Conditions[0].LastTransitionTime = timestamppb.New(now.Add(-time.Hour))
		}),
	}
	var got []string
	for _, p := range controller.PodsToDelete(pods, len(pods)) {
		got = append(got, p.Metadata.Name)
	}
	want := []string{"pending", "running", "ready-short", "restarts", "ready-long"}
	if !slices.Equal(got, want) {
		t.Fatalf("deletion order %v, want %v", got, want)
	}
}
