package disruption

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	policyv1 "minik8s/api/policy/v1"
	"minik8s/api/record"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

var selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}

func budget(min, maxU *metav1.IntOrString) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ApiVersion: "policy/v1", Kind: "PodDisruptionBudget",
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Uid: "pdb-uid", Generation: 3},
		Spec:     &policyv1.PodDisruptionBudgetSpec{MinAvailable: min, MaxUnavailable: maxU, Selector: selector},
	}
}

func num(n int32) *metav1.IntOrString  { return &metav1.IntOrString{IntVal: n} }
func pct(s string) *metav1.IntOrString { return &metav1.IntOrString{Type: 1, StrVal: s} }
func ref(kind, name string) *metav1.OwnerReference {
	return &metav1.OwnerReference{ApiVersion: "apps/v1", Kind: kind, Name: name, Uid: name + "-uid", Controller: proto.Bool(true)}
}

// pod is a selected pod; owner may be nil.
func pod(name string, ready bool, owner *metav1.OwnerReference) *corev1.Pod {
	st := "False"
	if ready {
		st = "True"
	}
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: name + "-uid", Labels: map[string]string{"app": "web"}},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "x"}}},
		Status:   &corev1.PodStatus{Phase: "Running", Conditions: []*corev1.PodCondition{{Type: "Ready", Status: st}}},
	}
	if owner != nil {
		p.Metadata.OwnerReferences = []*metav1.OwnerReference{owner}
	}
	return p
}

func deleting(p *corev1.Pod) *corev1.Pod {
	p.Metadata.DeletionTimestamp = timestamppb.New(now)
	return p
}

type fixture struct {
	c       *Controller
	budgets *fake.API[*policyv1.PodDisruptionBudget]
	rec     *record.Fake
	err     error
}

// setup syncs pdb once over pods and the workloads, through the fake
// client and informers.
func setup(t *testing.T, pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, workloads ...any) *fixture {
	t.Helper()
	var (
		rss []*appsv1.ReplicaSet
		ds  []*appsv1.Deployment
		sss []*appsv1.StatefulSet
		rcs []*corev1.ReplicationController
	)
	for _, w := range workloads {
		switch w := w.(type) {
		case *appsv1.ReplicaSet:
			rss = append(rss, w)
		case *appsv1.Deployment:
			ds = append(ds, w)
		case *appsv1.StatefulSet:
			sss = append(sss, w)
		case *corev1.ReplicationController:
			rcs = append(rcs, w)
		}
	}
	f := &fixture{budgets: fake.NewAPI(pdb), rec: &record.Fake{}}
	f.c = New(Config{
		Budgets: f.budgets, BudgetInformer: fake.Informer(t, pdb), PodInformer: fake.Informer(t, pods...),
		ReplicaSetInformer: fake.Informer(t, rss...), DeploymentInformer: fake.Informer(t, ds...),
		StatefulSetInformer: fake.Informer(t, sss...), ReplicationControllerInformer: fake.Informer(t, rcs...),
		Recorder: f.rec, Now: func() time.Time { return now },
	})
	f.err = f.c.sync(context.Background(), "default/web")
	return f
}

func (f *fixture) status(t *testing.T) *policyv1.PodDisruptionBudgetStatus {
	t.Helper()
	b, err := f.budgets.Get(context.Background(), "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	return b.GetStatus()
}

func meta(name string, owner *metav1.OwnerReference) *metav1.ObjectMeta {
	m := &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: name + "-uid"}
	if owner != nil {
		m.OwnerReferences = []*metav1.OwnerReference{owner}
	}
	return m
}

func TestSync(t *testing.T) {
	deploy := &appsv1.Deployment{Metadata: meta("web", nil), Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(4)}}
	rsOfDeploy := &appsv1.ReplicaSet{Metadata: meta("web-abc", ref("Deployment", "web")), Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(4)}}
	sts := &appsv1.StatefulSet{Metadata: meta("db", nil), Spec: &appsv1.StatefulSetSpec{Replicas: proto.Int32(3)}}
	rc := &corev1.ReplicationController{Metadata: meta("old", nil), Spec: &corev1.ReplicationControllerSpec{Replicas: proto.Int32(5)}}
	inRS := ref("ReplicaSet", "web-abc")
	rcRef := &metav1.OwnerReference{ApiVersion: "v1", Kind: "ReplicationController", Name: "old", Uid: "old-uid", Controller: proto.Bool(true)}

	recent := timestamppb.New(now.Add(-time.Minute))
	expired := timestamppb.New(now.Add(-3 * time.Minute))

	for _, tc := range []struct {
		name                               string
		pdb                                *policyv1.PodDisruptionBudget
		disrupted                          map[string]*timestamppb.Timestamp
		pods                               []*corev1.Pod
		workloads                          []any
		expected, desired, healthy, allowd int32
		reason                             string
		keptDisrupted                      []string
	}{
		{name: "minAvailable number counts the pods", pdb: budget(num(2), nil),
			pods:     []*corev1.Pod{pod("a", true, nil), pod("b", true, nil), pod("c", true, nil)},
			expected: 3, desired: 2, healthy: 3, allowd: 1, reason: policyv1.SufficientPodsReason},
		{name: "unready and deleting pods are not healthy", pdb: budget(num(2), nil),
			pods:     []*corev1.Pod{pod("a", true, nil), pod("b", false, nil), deleting(pod("c", true, nil))},
			expected: 3, desired: 2, healthy: 1, allowd: 0, reason: policyv1.InsufficientPodsReason},
		{name: "maxUnavailable against the deployment's scale", pdb: budget(nil, num(1)),
			pods:      []*corev1.Pod{pod("a", true, inRS), pod("b", true, inRS), pod("c", true, inRS)},
			workloads: []any{deploy, rsOfDeploy},
			expected:  4, desired: 3, healthy: 3, allowd: 0, reason: policyv1.InsufficientPodsReason},
		{name: "maxUnavailable percentage rounds up", pdb: budget(nil, pct("30%")),
			pods:      []*corev1.Pod{pod("a", true, inRS), pod("b", true, inRS), pod("c", true, inRS), pod("d", true, inRS)},
			workloads: []any{deploy, rsOfDeploy},
			expected:  4, desired: 2, healthy: 4, allowd: 2, reason: policyv1.SufficientPodsReason},
		{name: "minAvailable percentage of a statefulset", pdb: budget(pct("50%"), nil),
			pods:      []*corev1.Pod{pod("db-0", true, ref("StatefulSet", "db")), pod("db-1", true, ref("StatefulSet", "db"))},
			workloads: []any{sts},
			expected:  3, desired: 2, healthy: 2, allowd: 0, reason: policyv1.InsufficientPodsReason},
		{name: "replication controller scale", pdb: budget(nil, num(2)),
			pods:      []*corev1.Pod{pod("a", true, rcRef), pod("b", true, rcRef), pod("c", true, rcRef), pod("d", true, rcRef), pod("e", true, rcRef)},
			workloads: []any{rc},
			expected:  5, desired: 3, healthy: 5, allowd: 2, reason: policyv1.SufficientPodsReason},
		{name: "no pods: nothing expected, nothing allowed", pdb: budget(nil, num(1)),
			expected: 0, desired: 0, healthy: 0, allowd: 0, reason: policyv1.InsufficientPodsReason},
		{name: "recent evictions stay out of the healthy count, expired ones count again", pdb: budget(num(1), nil),
			disrupted: map[string]*timestamppb.Timestamp{"a": recent, "b": expired, "gone": recent},
			pods:      []*corev1.Pod{pod("a", true, nil), pod("b", true, nil), pod("c", true, nil)},
			expected:  3, desired: 1, healthy: 2, allowd: 1, reason: policyv1.SufficientPodsReason, keptDisrupted: []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.disrupted != nil {
				tc.pdb.Status = &policyv1.PodDisruptionBudgetStatus{DisruptedPods: tc.disrupted}
			}
			f := setup(t, tc.pdb, tc.pods, tc.workloads...)
			if f.err != nil {
				t.Fatal(f.err)
			}
			st := f.status(t)
			if st.ExpectedPods != tc.expected || st.DesiredHealthy != tc.desired || st.CurrentHealthy != tc.healthy || st.DisruptionsAllowed != tc.allowd {
				t.Fatalf("expected/desired/healthy/allowed %d/%d/%d/%d, want %d/%d/%d/%d", st.ExpectedPods, st.DesiredHealthy,
					st.CurrentHealthy, st.DisruptionsAllowed, tc.expected, tc.desired, tc.healthy, tc.allowd)
			}
			if st.ObservedGeneration != 3 {
				t.Errorf("observedGeneration %d, want the budget's 3", st.ObservedGeneration)
			}
			if len(st.Conditions) != 1 || st.Conditions[0].Type != policyv1.DisruptionAllowedCondition || st.Conditions[0].Reason != tc.reason ||
				(st.Conditions[0].Status == "True") != (tc.allowd > 0) || st.Conditions[0].ObservedGeneration != 3 {
				t.Errorf("conditions %v, want DisruptionAllowed %s", st.Conditions, tc.reason)
			}
			var kept []string
			for name := range st.DisruptedPods {
				kept = append(kept, name)
			}
			if strings.Join(kept, ",") != strings.Join(tc.keptDisrupted, ",") {
				t.Errorf("disruptedPods %v, want %v", kept, tc.keptDisrupted)
			}
		})
	}
}

func TestSyncFailSafe(t *testing.T) {
	f := setup(t, budget(nil, num(1)), []*corev1.Pod{pod("a", true, nil), pod("b", true, nil)})
	if f.err == nil || !strings.Contains(f.err.Error(), `found no controller ref for pod "a"`) {
		t.Fatalf("sync: %v, want the missing controller", f.err)
	}
	st := f.status(t)
	if st.DisruptionsAllowed != 0 || len(st.Conditions) != 1 || st.Conditions[0].Reason != policyv1.SyncFailedReason || st.Conditions[0].Status != "False" {
		t.Fatalf("fail-safe status %v", st)
	}
	found := false
	for _, e := range f.rec.Events() {
		found = found || strings.HasPrefix(e, "Warning CalculateExpectedPodCountFailed")
	}
	if !found {
		t.Errorf("events %v", f.rec.Events())
	}
}

func TestSyncWritesOnlyChanges(t *testing.T) {
	pods := []*corev1.Pod{pod("a", true, nil), pod("b", true, nil)}
	f := setup(t, budget(num(1), nil), pods)
	if f.err != nil {
		t.Fatal(f.err)
	}
	synced, _ := f.budgets.Get(context.Background(), "default", "web")
	g := setup(t, synced, pods)
	if g.err != nil {
		t.Fatal(g.err)
	}
	for _, a := range g.budgets.Actions() {
		if strings.HasPrefix(a, "update") {
			t.Fatalf("second sync wrote %v", g.budgets.Actions())
		}
	}
}

func TestDisruptedPodsRecheck(t *testing.T) {
	pdb := budget(num(1), nil)
	at := now.Add(-30 * time.Second)
	pdb.Status = &policyv1.PodDisruptionBudgetStatus{DisruptedPods: map[string]*timestamppb.Timestamp{"a": timestamppb.New(at)}}
	_, recheck, err := Compute(pdb, []*corev1.Pod{pod("a", true, nil)}, Scales{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := at.Add(DeletionTimeout); !recheck.Equal(want) {
		t.Fatalf("recheck %v, want %v", recheck, want)
	}
}
