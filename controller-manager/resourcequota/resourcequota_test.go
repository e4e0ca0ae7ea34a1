package resourcequota

import (
	"context"
	"testing"
	"time"

	_ "minik8s/api/all"
	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/quota"
	"minik8s/api/scheme"
)

func pod(ns, name, phase, cpu string) *corev1.Pod {
	c := &corev1.Container{Name: "app", Image: "x"}
	if cpu != "" {
		c.Resources = &corev1.ResourceRequirements{Requests: map[string]string{"cpu": cpu}, Limits: map[string]string{"memory": "64Mi"}}
	}
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "1"},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{c}}, Status: &corev1.PodStatus{Phase: phase}}
}

type fixture struct {
	c      *Controller
	quotas *fake.API[*corev1.ResourceQuota]
	pods   *fake.API[*corev1.Pod]
}

func newFixture(t *testing.T, quotas []*corev1.ResourceQuota, pods []*corev1.Pod, others ...scheme.Object) *fixture {
	t.Helper()
	f := &fixture{quotas: fake.NewAPI(quotas...), pods: fake.NewAPI(pods...)}
	var cms []*corev1.ConfigMap
	var svcs []*corev1.Service
	var deps []scheme.Object
	for _, o := range others {
		switch o := o.(type) {
		case *corev1.ConfigMap:
			cms = append(cms, o)
		case *corev1.Service:
			svcs = append(svcs, o)
		default:
			deps = append(deps, o)
		}
	}
	f.c = New(Config{
		Quotas: f.quotas, QuotaInformer: fake.InformerFor(t, f.quotas),
		PodInformer:       fake.InformerFor(t, f.pods),
		ServiceInformer:   fake.Informer(t, svcs...),
		ConfigMapInformer: fake.Informer(t, cms...),
		List: func(_ context.Context, gr, ns string) ([]scheme.Object, error) {
			var out []scheme.Object
			for _, o := range deps {
				if k, _ := scheme.KindOf(o); k.GroupResource() == gr && o.GetMetadata().GetNamespace() == ns {
					out = append(out, o)
				}
			}
			return out, nil
		},
		Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	return f
}

func (f *fixture) sync(t *testing.T, key string) *corev1.ResourceQuota {
	t.Helper()
	if err := f.c.sync(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	ns, name := splitKey(key)
	q, err := f.quotas.Get(context.Background(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	// Let the informer see the write, as the next sync would in the
	// controller-manager.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if c, err := f.c.quotas.Get(ns, name); err == nil && c.GetMetadata().GetResourceVersion() == q.GetMetadata().GetResourceVersion() {
			break
		}
	}
	return q
}

func splitKey(key string) (string, string) {
	for i := range key {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}

// queued waits until key is queued, taking everything queued before it.
func (f *fixture) queued(t *testing.T, key string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for f.c.Queue.Len() > 0 {
			item, _ := f.c.Queue.Get()
			f.c.Queue.Done(item)
			if item == key {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s was not queued", key)
}

func (f *fixture) drain() {
	for f.c.Queue.Len() > 0 {
		item, _ := f.c.Queue.Get()
		f.c.Queue.Done(item)
	}
}

func TestRecount(t *testing.T) {
	no := false
	q := &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: "all", Namespace: "a", ResourceVersion: "1"},
		Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{
			"pods": "10", "count/pods": "20", "requests.cpu": "4", "cpu": "4", "limits.memory": "1Gi", "requests.memory": "1Gi",
			"configmaps": "5", "count/configmaps": "5", "services": "3", "services.nodeports": "9", "services.loadbalancers": "1",
			"count/deployments.apps": "2", "requests.storage": "10Gi",
		}}}
	f := newFixture(t, []*corev1.ResourceQuota{q},
		[]*corev1.Pod{pod("a", "run", "Running", "500m"), pod("a", "pend", "Pending", "250m"), pod("a", "done", "Succeeded", "1"),
			pod("a", "best", "Running", ""), pod("b", "elsewhere", "Running", "2")},
		&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "c1", Namespace: "a"}},
		&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "c2", Namespace: "b"}},
		&corev1.Service{Metadata: &metav1.ObjectMeta{Name: "np", Namespace: "a"}, Spec: &corev1.ServiceSpec{Type: "NodePort",
			Ports: []*corev1.ServicePort{{Port: 80}, {Port: 443}}}},
		&corev1.Service{Metadata: &metav1.ObjectMeta{Name: "lb", Namespace: "a"}, Spec: &corev1.ServiceSpec{Type: "LoadBalancer",
			AllocateLoadBalancerNodePorts: &no, Ports: []*corev1.ServicePort{{Port: 80, NodePort: 30080}, {Port: 81}}}},
		&appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "d", Namespace: "a"}},
	)
	got := f.sync(t, "a/all")
	want := map[string]string{
		"pods": "3", "count/pods": "4", "requests.cpu": "750m", "cpu": "750m", "limits.memory": "128Mi", "requests.memory": "128Mi",
		"configmaps": "1", "count/configmaps": "1", "services": "2", "services.nodeports": "3", "services.loadbalancers": "1",
		"count/deployments.apps": "1",
	}
	if !quota.Equals(got.GetStatus().GetUsed(), want) {
		t.Errorf("status.used = %v\nwant %v", got.GetStatus().GetUsed(), want)
	}
	if !quota.Equals(got.GetStatus().GetHard(), q.Spec.Hard) {
		t.Errorf("status.hard = %v, want spec.hard", got.GetStatus().GetHard())
	}
	// Nothing changed: no second write.
	before := len(f.quotas.Actions())
	f.sync(t, "a/all")
	if n := len(f.quotas.Actions()); n != before {
		t.Errorf("a recount without change wrote the quota: %v", f.quotas.Actions())
	}
}

func TestScopes(t *testing.T) {
	deadline := int64(60)
	job := pod("a", "job", "Running", "")
	job.Spec.ActiveDeadlineSeconds = &deadline
	quotas := []*corev1.ResourceQuota{
		{Metadata: &metav1.ObjectMeta{Name: "best", Namespace: "a"}, Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{"pods": "9"}, Scopes: []string{"BestEffort"}}},
		{Metadata: &metav1.ObjectMeta{Name: "notbest", Namespace: "a"}, Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{"pods": "9", "requests.cpu": "9"}, Scopes: []string{"NotBestEffort"}}},
		{Metadata: &metav1.ObjectMeta{Name: "term", Namespace: "a"}, Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{"pods": "9"}, Scopes: []string{"Terminating"}}},
		{Metadata: &metav1.ObjectMeta{Name: "longrun", Namespace: "a"}, Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{"pods": "9"},
			ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []*corev1.ScopedResourceSelectorRequirement{{ScopeName: "NotTerminating", Operator: "Exists"}}}}},
		// Scopes are about pods: a scoped quota does not count config maps.
		{Metadata: &metav1.ObjectMeta{Name: "cm", Namespace: "a"}, Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{"configmaps": "9"}, Scopes: []string{"NotTerminating"}}},
	}
	f := newFixture(t, quotas, []*corev1.Pod{pod("a", "web", "Running", "1"), job, pod("a", "idle", "Running", "")},
		&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "c1", Namespace: "a"}})
	for _, tt := range []struct {
		name string
		want map[string]string
	}{
		{"best", map[string]string{"pods": "2"}},
		{"notbest", map[string]string{"pods": "1", "requests.cpu": "1"}},
		{"term", map[string]string{"pods": "1"}},
		{"longrun", map[string]string{"pods": "2"}},
		{"cm", map[string]string{"configmaps": "0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.sync(t, "a/"+tt.name).GetStatus().GetUsed(); !quota.Equals(got, tt.want) {
				t.Errorf("status.used = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestReleaseOnDeleteAndEnd: deleting a pod, or its reaching a terminal
// phase, queues the namespace's quota, whose recount releases the pod.
func TestReleaseOnDeleteAndEnd(t *testing.T) {
	q := &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: "compute", Namespace: "a"},
		Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{"pods": "2", "requests.cpu": "2"}}}
	other := &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: "maps", Namespace: "a"},
		Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{"configmaps": "2"}}}
	f := newFixture(t, []*corev1.ResourceQuota{q, other}, []*corev1.Pod{pod("a", "p1", "Running", "1"), pod("a", "p2", "Running", "1")})
	if used := f.sync(t, "a/compute").GetStatus().GetUsed(); !quota.Equals(used, map[string]string{"pods": "2", "requests.cpu": "2"}) {
		t.Fatalf("status.used = %v", used)
	}
	f.drain()

	if _, err := f.pods.Delete(context.Background(), "a", "p1", nil); err != nil {
		t.Fatal(err)
	}
	f.queued(t, "a/compute")
	if used := f.sync(t, "a/compute").GetStatus().GetUsed(); !quota.Equals(used, map[string]string{"pods": "1", "requests.cpu": "1"}) {
		t.Errorf("after delete status.used = %v, want pods=1 requests.cpu=1", used)
	}

	p2, _ := f.pods.Get(context.Background(), "a", "p2")
	p2.Status.Phase = "Failed"
	if _, err := f.pods.UpdateStatus(context.Background(), p2); err != nil {
		t.Fatal(err)
	}
	f.queued(t, "a/compute")
	if used := f.sync(t, "a/compute").GetStatus().GetUsed(); !quota.Equals(used, map[string]string{"pods": "0", "requests.cpu": "0"}) {
		t.Errorf("after the pod failed status.used = %v, want zeros", used)
	}
	if f.c.Queue.Len() != 0 {
		item, _ := f.c.Queue.Get()
		t.Errorf("%s queued; the config-map quota does not count pods", item)
	}
}

// TestConflictRetriesLater: a quota charged meanwhile (a newer version
// than the cache's) is not overwritten; the sync fails and is retried.
func TestConflictRetriesLater(t *testing.T) {
	q := &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: "compute", Namespace: "a", ResourceVersion: "5"},
		Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{"pods": "2"}}}
	f := newFixture(t, []*corev1.ResourceQuota{q}, nil)
	// Admission charges behind the informer's back.
	charged := &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: "compute", Namespace: "a", ResourceVersion: "6"},
		Spec: q.Spec, Status: &corev1.ResourceQuotaStatus{Hard: q.Spec.Hard, Used: map[string]string{"pods": "1"}}}
	f.quotas.Put(charged)
	if err := f.c.sync(context.Background(), "a/compute"); err == nil {
		t.Fatal("sync over a stale cache succeeded")
	}
	got, _ := f.quotas.Get(context.Background(), "a", "compute")
	if got.GetStatus().GetUsed()["pods"] != "1" {
		t.Errorf("the charge was overwritten: %v", got.GetStatus())
	}
}
