package deployment

import (
	"context"
	"fmt"
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

func intstr(s string) *metav1.IntOrString { return controller.IntOrPercent(s) }

func newD(replicas int32, surge, unavailable string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ApiVersion: "apps/v1", Kind: "Deployment",
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Uid: "d-uid", Generation: 1, ResourceVersion: "1"},
		Spec: &appsv1.DeploymentSpec{
			Replicas: proto.Int32(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "v1"}}}},
			Strategy:                &appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: intstr(surge), MaxUnavailable: intstr(unavailable)}},
			RevisionHistoryLimit:    proto.Int32(10),
			ProgressDeadlineSeconds: proto.Int32(600),
		},
	}
}

func TestResolveFenceposts(t *testing.T) {
	for _, tt := range []struct {
		replicas                 int32
		surge, unavailable       string
		wantSurge, wantUnavailbl int32
	}{
		{10, "25%", "25%", 3, 2},
		{10, "2", "1", 2, 1},
		{1, "25%", "25%", 1, 0},
		{4, "0", "0", 0, 1}, // both zero: one may be unavailable so the rollout can move
		{3, "0%", "50%", 0, 1},
		{100, "10%", "0", 10, 0},
	} {
		s, u, err := ResolveFenceposts(newD(tt.replicas, tt.surge, tt.unavailable))
		if err != nil || s != tt.wantSurge || u != tt.wantUnavailbl {
			t.Errorf("replicas %d surge %s unavailable %s: got %d/%d (%v), want %d/%d", tt.replicas, tt.surge, tt.unavailable, s, u, err, tt.wantSurge, tt.wantUnavailbl)
		}
	}
}

func rs(name string, replicas int32, rev string, created time.Duration) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ApiVersion: "apps/v1", Kind: "ReplicaSet",
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, Generation: 1, ResourceVersion: "1",
			CreationTimestamp: timestamppb.New(now.Add(-created)),
			Annotations:       map[string]string{RevisionAnnotation: rev}},
		Spec:   &appsv1.ReplicaSetSpec{Replicas: proto.Int32(replicas)},
		Status: &appsv1.ReplicaSetStatus{ObservedGeneration: 1},
	}
}

func TestNewRSNewReplicas(t *testing.T) {
	spec := func(rs *appsv1.ReplicaSet) int32 { return RSReplicas(rs) }
	d := newD(10, "2", "1")
	for _, tt := range []struct {
		old, new int32
		want     int32
	}{
		{10, 0, 2}, // surge 2 on top of 10
		{9, 2, 3},  // one old pod went: one more new
		{10, 2, 2}, // at the ceiling
		{0, 9, 10}, // never beyond replicas
	} {
		got := NewRSNewReplicas(d, []*appsv1.ReplicaSet{rs("old", tt.old, "1", time.Hour), rs("new", tt.new, "2", 0)}, rs("new", tt.new, "2", 0), spec)
		if got != tt.want {
			t.Errorf("old %d new %d: new replicas %d, want %d", tt.old, tt.new, got, tt.want)
		}
	}
	r := newD(10, "2", "1")
	r.Spec.Strategy = &appsv1.DeploymentStrategy{Type: "Recreate"}
	if got := NewRSNewReplicas(r, nil, rs("new", 0, "2", 0), spec); got != 10 {
		t.Errorf("recreate: %d", got)
	}
}

func TestProportionalSizes(t *testing.T) {
	// A deployment of 10 (surge 3) mid-rollout, scaled to 20: the two
	// ReplicaSets grow in proportion, the larger one taking the leftover.
	d := newD(20, "25%", "25%")
	old, cur := rs("old", 8, "1", time.Hour), rs("new", 5, "2", 0)
	for _, r := range []*appsv1.ReplicaSet{old, cur} {
		r.Metadata.Annotations[MaxReplicasAnnotation] = "13"
	}
	sizes := ProportionalSizes(d, []*appsv1.ReplicaSet{old, cur})
	if sizes["old"]+sizes["new"] != 25 || sizes["old"] != 15 || sizes["new"] != 10 {
		t.Errorf("scale up: %v, want old 15 new 10 (total 25 = 20 + surge 5)", sizes)
	}
	// Scaled down to 5 (surge 2): total 7.
	d = newD(5, "25%", "25%")
	sizes = ProportionalSizes(d, []*appsv1.ReplicaSet{old, cur})
	if sizes["old"]+sizes["new"] != 7 {
		t.Errorf("scale down: %v, want a total of 7", sizes)
	}
}

func TestFindActiveOrLatest(t *testing.T) {
	a, b, c := rs("a", 0, "1", 3*time.Hour), rs("b", 3, "2", 2*time.Hour), rs("c", 0, "3", time.Hour)
	if got := FindActiveOrLatest(c, []*appsv1.ReplicaSet{a, b}); got.Metadata.Name != "b" {
		t.Errorf("one active: %s", got.Metadata.Name)
	}
	if got := FindActiveOrLatest(c, []*appsv1.ReplicaSet{a}); got.Metadata.Name != "c" {
		t.Errorf("none active: %s, want the new one", got.Metadata.Name)
	}
	if got := FindActiveOrLatest(nil, []*appsv1.ReplicaSet{a, c}); got.Metadata.Name != "c" {
		t.Errorf("none active, no new: %s, want the newest old", got.Metadata.Name)
	}
	if got := FindActiveOrLatest(rs("d", 1, "4", 0), []*appsv1.ReplicaSet{b}); got != nil {
		t.Errorf("two active: %v, want nil", got)
	}
}

func TestProgressConditions(t *testing.T) {
	d := newD(3, "1", "0")
	d.Status = &appsv1.DeploymentStatus{UpdatedReplicas: 1, Replicas: 3, AvailableReplicas: 2}
	if !DeploymentProgressing(d, &appsv1.DeploymentStatus{UpdatedReplicas: 2, Replicas: 3, AvailableReplicas: 2}) {
		t.Error("more updated replicas is progress")
	}
	if DeploymentProgressing(d, proto.Clone(d.Status).(*appsv1.DeploymentStatus)) {
		t.Error("no change is no progress")
	}
	st := &appsv1.DeploymentStatus{Conditions: []*appsv1.DeploymentCondition{{Type: Progressing, Status: "True", Reason: ReasonRSUpdated,
		LastUpdateTime: timestamppb.New(now.Add(-601 * time.Second))}}}
	if !DeploymentTimedOut(d, st, now) {
		t.Error("no progress for 601s with a 600s deadline is a timeout")
	}
	st.Conditions[0].LastUpdateTime = timestamppb.New(now.Add(-599 * time.Second))
	if DeploymentTimedOut(d, st, now) {
		t.Error("599s is within the deadline")
	}
	if !DeploymentComplete(d, &appsv1.DeploymentStatus{UpdatedReplicas: 3, Replicas: 3, AvailableReplicas: 3, ObservedGeneration: 1}) {
		t.Error("all updated and available is complete")
	}
}

// --- sync on fixed inputs ---

type fixture struct {
	c   *Controller
	ds  *fake.API[*appsv1.Deployment]
	rss *fake.API[*appsv1.ReplicaSet]
	rec *record.Fake
}

func setup(t *testing.T, d *appsv1.Deployment, rss []*appsv1.ReplicaSet, pods []*corev1.Pod) *fixture {
	t.Helper()
	f := &fixture{ds: fake.NewAPI(d), rss: fake.NewAPI(rss...), rec: &record.Fake{}}
	f.rss.Now = func() time.Time { return now }
	f.c = New(Config{
		Deployments: f.ds, ReplicaSets: f.rss,
		DInformer: fake.Informer(t, d), RSInformer: fake.Informer(t, rss...), PodInformer: fake.Informer(t, pods...),
		Recorder: f.rec, Now: func() time.Time { return now },
	})
	return f
}

// owned makes a ReplicaSet of d with d's template (image img) and n ready pods.
func owned(d *appsv1.Deployment, name string, replicas int32, rev, img string, created time.Duration) *appsv1.ReplicaSet {
	r := rs(name, replicas, rev, created)
	r.Metadata.OwnerReferences = []*metav1.OwnerReference{controller.NewControllerRef(d, "apps/v1", "Deployment")}
	tmpl := proto.Clone(d.Spec.Template).(*corev1.PodTemplateSpec)
	tmpl.Spec.Containers[0].Image = img
	tmpl.Metadata.Labels[PodTemplateHashLabel] = name
	r.Metadata.Labels = tmpl.Metadata.Labels
	r.Spec.Template = tmpl
	r.Spec.Selector = &metav1.LabelSelector{MatchLabels: tmpl.Metadata.Labels}
	r.Metadata.Annotations[DesiredReplicasAnnotation] = fmt.Sprint(Replicas(d))
	r.Metadata.Annotations[MaxReplicasAnnotation] = fmt.Sprint(Replicas(d) + MaxSurge(d))
	r.Status.Replicas, r.Status.ReadyReplicas, r.Status.AvailableReplicas = replicas, replicas, replicas
	return r
}

func readyPods(r *appsv1.ReplicaSet, n int) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, &corev1.Pod{
			Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", r.Metadata.Name, i), Namespace: "default", Uid: fmt.Sprintf("%s-%d", r.Metadata.Name, i),
				Labels: r.Spec.Template.Metadata.Labels, OwnerReferences: []*metav1.OwnerReference{controller.NewControllerRef(r, "apps/v1", "ReplicaSet")}},
			Spec: &corev1.PodSpec{NodeName: "n1"},
			Status: &corev1.PodStatus{Phase: "Running", Conditions: []*corev1.PodCondition{{Type: "Ready", Status: "True",
				LastTransitionTime: timestamppb.New(now.Add(-time.Hour))}}},
		})
	}
	return out
}

func replicasOf(f *fixture) map[string]int32 {
	out := map[string]int32{}
	for _, r := range f.rss.Objects() {
		out[r.Metadata.Name] = RSReplicas(r)
	}
	return out
}

func TestSyncRollingUpdateSteps(t *testing.T) {
	d := newD(10, "2", "1")
	d.Spec.Template.Spec.Containers[0].Image = "v2"
	oldRS := owned(d, "old", 10, "1", "v1", time.Hour)
	newName := "web-" + controller.ComputeHash(d.Spec.Template, nil)

	tests := []struct {
		name  string
		rss   []*appsv1.ReplicaSet
		pods  []*corev1.Pod
		want  map[string]int32
		event string
	}{
		{
			// ... and, in the same step, lets one old pod go (maxUnavailable 1).
			name:  "template change creates the new replica set at maxSurge",
			rss:   []*appsv1.ReplicaSet{oldRS},
			pods:  readyPods(oldRS, 10),
			want:  map[string]int32{"old": 9, newName: 2},
			event: "Normal ScalingReplicaSet Scaled up replica set " + newName + " to 2 from 0",
		},
		{
			name:  "new pods not ready: old scales down by maxUnavailable only",
			rss:   []*appsv1.ReplicaSet{oldRS, owned(d, newName, 2, "2", "v2", 0)},
			pods:  readyPods(oldRS, 10), // the 2 new pods are not ready yet
			want:  map[string]int32{"old": 9, newName: 2},
			event: "Normal ScalingReplicaSet Scaled down replica set old to 9 from 10",
		},
		{
			name: "old pods not yet gone from the cache: no scale up beyond the surge",
			rss:  []*appsv1.ReplicaSet{owned(d, "old", 9, "1", "v1", time.Hour), owned(d, newName, 2, "2", "v2", 0)},
			pods: append(readyPods(owned(d, "old", 9, "1", "v1", time.Hour), 10), readyPods(owned(d, newName, 2, "2", "v2", 0), 2)...),
			// available: 9 (capped at the old replicas) + 2 = 11; minAvailable 9: old may shrink by 2.
			want: map[string]int32{"old": 7, newName: 2},
		},
		{
			name: "new ready, old shrunk: scale the new one up to the surge ceiling",
			rss:  []*appsv1.ReplicaSet{owned(d, "old", 7, "1", "v1", time.Hour), owned(d, newName, 2, "2", "v2", 0)},
			pods: append(readyPods(owned(d, "old", 7, "1", "v1", time.Hour), 7), readyPods(owned(d, newName, 2, "2", "v2", 0), 2)...),
			want: map[string]int32{"old": 7, newName: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, d, tt.rss, tt.pods)
			if err := f.c.sync(context.Background(), "default/web"); err != nil {
				t.Fatal(err)
			}
			if got := replicasOf(f); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("replicas %v, want %v (actions %v)", got, tt.want, f.rss.Actions())
			}
			if tt.event != "" && !slices.Contains(f.rec.Events(), tt.event) {
				t.Errorf("events %v lack %q", f.rec.Events(), tt.event)
			}
		})
	}
}

func TestSyncCreatesRevisionAndStatus(t *testing.T) {
	d := newD(3, "25%", "25%")
	f := setup(t, d, nil, nil)
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	rss := f.rss.Objects()
	if len(rss) != 1 {
		t.Fatalf("%d replica sets, want 1", len(rss))
	}
	r := rss[0]
	hash := r.Spec.Template.Metadata.Labels[PodTemplateHashLabel]
	if r.Metadata.Name != "web-"+hash || r.Spec.Selector.MatchLabels[PodTemplateHashLabel] != hash || RSReplicas(r) != 3 {
		t.Fatalf("new replica set %s selector %v replicas %d", r.Metadata.Name, r.Spec.Selector.MatchLabels, RSReplicas(r))
	}
	if r.Metadata.Annotations[RevisionAnnotation] != "1" || r.Metadata.Annotations[DesiredReplicasAnnotation] != "3" || r.Metadata.Annotations[MaxReplicasAnnotation] != "4" {
		t.Fatalf("annotations %v", r.Metadata.Annotations)
	}
	got, _ := f.ds.Get(context.Background(), "default", "web")
	if got.Metadata.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("deployment revision annotation %v", got.Metadata.Annotations)
	}
	var conds []string
	for _, c := range got.GetStatus().GetConditions() {
		conds = append(conds, c.Type+"="+c.Status+"/"+c.Reason)
	}
	slices.Sort(conds)
	want := []string{"Available=False/MinimumReplicasUnavailable", "Progressing=True/NewReplicaSetCreated"}
	if !slices.Equal(conds, want) || got.Status.ObservedGeneration != 1 {
		t.Errorf("conditions %v (observed %d), want %v", conds, got.Status.ObservedGeneration, want)
	}
}

func TestSyncPausedScalesButDoesNotRoll(t *testing.T) {
	d := newD(5, "25%", "25%")
	cur := owned(d, "cur", 3, "1", "v1", time.Hour)
	d.Spec.Paused = true
	d.Spec.Template.Spec.Containers[0].Image = "v2" // a template change while paused
	f := setup(t, d, []*appsv1.ReplicaSet{cur}, readyPods(cur, 3))
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	if got := replicasOf(f); fmt.Sprint(got) != "map[cur:5]" {
		t.Fatalf("replicas %v: a paused deployment scales its replica set and creates none", got)
	}
	got, _ := f.ds.Get(context.Background(), "default", "web")
	c := condition(got.Status, Progressing)
	if c == nil || c.Reason != ReasonPaused || c.Status != "Unknown" {
		t.Fatalf("progressing condition %v", c)
	}
}

func TestSyncRecreateWaitsForOldPods(t *testing.T) {
	d := newD(3, "25%", "25%")
	d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: "Recreate"}
	old := owned(d, "old", 3, "1", "v1", time.Hour)
	d.Spec.Template.Spec.Containers[0].Image = "v2"
	f := setup(t, d, []*appsv1.ReplicaSet{old}, readyPods(old, 3))
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	if got := replicasOf(f); fmt.Sprint(got) != "map[old:0]" {
		t.Fatalf("first step %v: old scaled to 0, nothing new yet", got)
	}
	// Old replica set at 0 and its pods gone: the new one comes up in full.
	old0 := owned(d, "old", 0, "1", "v1", time.Hour)
	old0.Status.Replicas = 0
	f = setup(t, d, []*appsv1.ReplicaSet{old0}, nil)
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	got := replicasOf(f)
	total := int32(0)
	for name, n := range got {
		if strings.HasPrefix(name, "web-") {
			total += n
		}
	}
	if total != 3 || got["old"] != 0 {
		t.Fatalf("second step %v: the new replica set has all 3", got)
	}
}

func TestCleanupKeepsRevisionHistoryLimit(t *testing.T) {
	d := newD(2, "25%", "25%")
	d.Spec.RevisionHistoryLimit = proto.Int32(1)
	cur := owned(d, "cur", 2, "4", "v1", 0)
	var rss = []*appsv1.ReplicaSet{cur}
	for i, img := range []string{"a", "b", "c"} {
		r := owned(d, "old"+img, 0, fmt.Sprint(i+1), img, time.Duration(3-i)*time.Hour)
		r.Status.Replicas, r.Status.ReadyReplicas, r.Status.AvailableReplicas = 0, 0, 0
		rss = append(rss, r)
	}
	d.Status = &appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2, ReadyReplicas: 2}
	f := setup(t, d, rss, readyPods(cur, 2))
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, r := range f.rss.Objects() {
		left = append(left, r.Metadata.Name)
	}
	if fmt.Sprint(left) != "[cur oldc]" {
		t.Fatalf("replica sets left %v, want the current one and the newest old one", left)
	}
}

func TestSyncProgressDeadline(t *testing.T) {
	d := newD(2, "1", "0")
	d.Spec.ProgressDeadlineSeconds = proto.Int32(60)
	cur := owned(d, "cur", 2, "1", "v1", time.Hour)
	cur.Status.AvailableReplicas, cur.Status.ReadyReplicas = 0, 0 // stuck: pods never become ready
	d.Status = &appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2,
		Conditions: []*appsv1.DeploymentCondition{{Type: Progressing, Status: "True", Reason: ReasonRSUpdated,
			LastUpdateTime: timestamppb.New(now.Add(-61 * time.Second)), LastTransitionTime: timestamppb.New(now.Add(-2 * time.Minute))}}}
	f := setup(t, d, []*appsv1.ReplicaSet{cur}, nil)
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	got, _ := f.ds.Get(context.Background(), "default", "web")
	c := condition(got.Status, Progressing)
	if c == nil || c.Status != "False" || c.Reason != ReasonTimedOut {
		t.Fatalf("progressing condition %v, want False/ProgressDeadlineExceeded", c)
	}
	if !slices.Contains(f.rec.Events(), `Warning ProgressDeadlineExceeded Deployment "web" has timed out progressing.`) {
		t.Fatalf("events %v", f.rec.Events())
	}
}
