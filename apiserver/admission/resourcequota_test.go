package admission

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// fakeQuotas is a QuotaStore whose cached list may lag: stale, when set,
// is what a non-fresh List returns.
type fakeQuotas struct {
	mu      sync.Mutex
	quotas  map[string]*corev1.ResourceQuota
	rv      int
	stale   []*corev1.ResourceQuota
	writes  int
	lists   []bool                        // fresh flags, in order
	onWrite func(q *corev1.ResourceQuota) // runs before a write: another apiserver's charge
}

func newFakeQuotas(qs ...*corev1.ResourceQuota) *fakeQuotas {
	f := &fakeQuotas{quotas: map[string]*corev1.ResourceQuota{}}
	for _, q := range qs {
		f.rv++
		q = proto.Clone(q).(*corev1.ResourceQuota)
		q.Metadata.ResourceVersion = strconv.Itoa(f.rv)
		f.quotas[q.Metadata.Name] = q
	}
	return f
}

func (f *fakeQuotas) List(_ context.Context, ns string, fresh bool) ([]*corev1.ResourceQuota, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, fresh)
	if !fresh && f.stale != nil {
		return f.stale, nil
	}
	var out []*corev1.ResourceQuota
	for _, q := range f.quotas {
		if q.Metadata.Namespace == ns {
			out = append(out, proto.Clone(q).(*corev1.ResourceQuota))
		}
	}
	return out, nil
}

func (f *fakeQuotas) UpdateStatus(_ context.Context, q *corev1.ResourceQuota) (*corev1.ResourceQuota, error) {
	if f.onWrite != nil {
		f.onWrite(q)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.quotas[q.Metadata.Name]
	if !ok {
		return nil, apierrors.NewNotFound("resourcequotas", q.Metadata.Name)
	}
	if cur.Metadata.ResourceVersion != q.Metadata.ResourceVersion {
		return nil, apierrors.NewConflict("resourcequotas", q.Metadata.Name, "the object has been modified")
	}
	f.rv++
	f.writes++
	next := proto.Clone(cur).(*corev1.ResourceQuota)
	next.Status = proto.Clone(q.Status).(*corev1.ResourceQuotaStatus)
	next.Metadata.ResourceVersion = strconv.Itoa(f.rv)
	f.quotas[q.Metadata.Name] = next
	return proto.Clone(next).(*corev1.ResourceQuota), nil
}

// charge adds used to quota name directly, as another apiserver would.
func (f *fakeQuotas) charge(name, resource string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.quotas[name]
	v, _ := strconv.Atoi(q.Status.Used[resource])
	q.Status.Used[resource] = strconv.Itoa(v + n)
	f.rv++
	q.Metadata.ResourceVersion = strconv.Itoa(f.rv)
}

func (f *fakeQuotas) used(name string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.quotas[name].GetStatus().GetUsed()
}

func rq(name string, hard, used map[string]string, scopes ...string) *corev1.ResourceQuota {
	q := &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "team", Uid: "uid-" + name},
		Spec: &corev1.ResourceQuotaSpec{Hard: hard, Scopes: scopes}}
	if used != nil {
		q.Status = &corev1.ResourceQuotaStatus{Hard: hard, Used: used}
	}
	return q
}

func kindOf(resource string) *scheme.Kind {
	k, err := scheme.ByResource(resource)
	if err != nil {
		panic(err)
	}
	return k
}

func podWith(name string, requests map[string]string) *corev1.Pod {
	c := &corev1.Container{Name: "app", Image: "x"}
	if requests != nil {
		c.Resources = &corev1.ResourceRequirements{Requests: requests}
	}
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "team"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{c}}}
}

func createAttrs(obj scheme.Object, resource string) *Attributes {
	return &Attributes{Operation: Create, Kind: kindOf(resource), Namespace: "team", Name: obj.GetMetadata().GetName(), Object: obj}
}

func TestResourceQuotaRefusals(t *testing.T) {
	for _, tt := range []struct {
		name   string
		quotas []*corev1.ResourceQuota
		attrs  *Attributes
		want   string // "" admits
		used   map[string]map[string]string
	}{
		{"charges the pod", []*corev1.ResourceQuota{rq("compute", map[string]string{"pods": "10", "requests.cpu": "2"}, map[string]string{"pods": "3", "requests.cpu": "1"})},
			createAttrs(podWith("x", map[string]string{"cpu": "500m"}), "pods"), "",
			map[string]map[string]string{"compute": {"pods": "4", "requests.cpu": "1500m"}}},
		{"pods exceeded", []*corev1.ResourceQuota{rq("compute", map[string]string{"pods": "10"}, map[string]string{"pods": "10"})},
			createAttrs(podWith("x", nil), "pods"),
			`pods "x" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=10, limited: pods=10`, nil},
		{"cpu exceeded names only what exceeds", []*corev1.ResourceQuota{rq("compute", map[string]string{"pods": "10", "requests.cpu": "1"}, map[string]string{"pods": "1", "requests.cpu": "800m"})},
			createAttrs(podWith("x", map[string]string{"cpu": "300m"}), "pods"),
			`pods "x" is forbidden: exceeded quota: compute, requested: requests.cpu=300m, used: requests.cpu=800m, limited: requests.cpu=1`, nil},
		{"cpu quota needs a request", []*corev1.ResourceQuota{rq("compute", map[string]string{"cpu": "4", "memory": "1Gi"}, map[string]string{"cpu": "0", "memory": "0"})},
			createAttrs(podWith("x", map[string]string{"memory": "64Mi"}), "pods"),
			`pods "x" is forbidden: failed quota: compute: must specify cpu for: app`, nil},
		{"status not computed: not enforced", []*corev1.ResourceQuota{rq("compute", map[string]string{"pods": "0"}, nil)},
			createAttrs(podWith("x", nil), "pods"), "", map[string]map[string]string{"compute": nil}},
		{"status unknown", []*corev1.ResourceQuota{{Metadata: &metav1.ObjectMeta{Name: "compute", Namespace: "team"},
			Status: &corev1.ResourceQuotaStatus{Hard: map[string]string{"pods": "5", "requests.cpu": "1"}, Used: map[string]string{"pods": "1"}}}},
			createAttrs(podWith("x", map[string]string{"cpu": "1"}), "pods"),
			`pods "x" is forbidden: status unknown for quota: compute, resources: pods,requests.cpu`, nil},
		{"scoped quota skips other pods", []*corev1.ResourceQuota{rq("best", map[string]string{"pods": "0"}, map[string]string{"pods": "0"}, "BestEffort")},
			createAttrs(podWith("x", map[string]string{"cpu": "1"}), "pods"), "", map[string]map[string]string{"best": {"pods": "0"}}},
		{"scoped quota", []*corev1.ResourceQuota{rq("best", map[string]string{"pods": "0"}, map[string]string{"pods": "0"}, "BestEffort")},
			createAttrs(podWith("x", nil), "pods"), `pods "x" is forbidden: exceeded quota: best, requested: pods=1, used: pods=0, limited: pods=0`, nil},
		{"config maps", []*corev1.ResourceQuota{rq("objects", map[string]string{"configmaps": "2", "count/secrets": "1"}, map[string]string{"configmaps": "2", "count/secrets": "0"})},
			createAttrs(&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "c"}}, "configmaps"),
			`configmaps "c" is forbidden: exceeded quota: objects, requested: configmaps=1, used: configmaps=2, limited: configmaps=2`, nil},
		{"secrets", []*corev1.ResourceQuota{rq("objects", map[string]string{"configmaps": "2", "count/secrets": "1"}, map[string]string{"configmaps": "2", "count/secrets": "0"})},
			createAttrs(&corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "s"}}, "secrets"), "",
			map[string]map[string]string{"objects": {"configmaps": "2", "count/secrets": "1"}}},
		{"count of another group", []*corev1.ResourceQuota{rq("objects", map[string]string{"count/deployments.apps": "0"}, map[string]string{"count/deployments.apps": "0"})},
			&Attributes{Operation: Create, Kind: kindOf("deployments"), Namespace: "team", Name: "d", Object: &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "d"}}},
			`deployments.apps "d" is forbidden: exceeded quota: objects, requested: count/deployments.apps=1, used: count/deployments.apps=0, limited: count/deployments.apps=0`, nil},
		{"node ports", []*corev1.ResourceQuota{rq("svc", map[string]string{"services": "5", "services.nodeports": "1"}, map[string]string{"services": "0", "services.nodeports": "0"})},
			createAttrs(&corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web"}, Spec: &corev1.ServiceSpec{Type: "NodePort",
				Ports: []*corev1.ServicePort{{Port: 80}, {Port: 81}}}}, "services"),
			`services "web" is forbidden: exceeded quota: svc, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1`, nil},
		{"resource quotas", []*corev1.ResourceQuota{rq("meta", map[string]string{"resourcequotas": "1"}, map[string]string{"resourcequotas": "1"})},
			createAttrs(rq("another", map[string]string{"pods": "1"}, nil), "resourcequotas"),
			`resourcequotas "another" is forbidden: exceeded quota: meta, requested: resourcequotas=1, used: resourcequotas=1, limited: resourcequotas=1`, nil},
		{"replication controllers", []*corev1.ResourceQuota{rq("meta", map[string]string{"replicationcontrollers": "1"}, map[string]string{"replicationcontrollers": "0"})},
			createAttrs(&corev1.ReplicationController{Metadata: &metav1.ObjectMeta{Name: "rc"}}, "replicationcontrollers"), "",
			map[string]map[string]string{"meta": {"replicationcontrollers": "1"}}},
		{"dry run charges nothing", []*corev1.ResourceQuota{rq("compute", map[string]string{"pods": "10"}, map[string]string{"pods": "3"})},
			func() *Attributes { a := createAttrs(podWith("x", nil), "pods"); a.DryRun = true; return a }(), "",
			map[string]map[string]string{"compute": {"pods": "3"}}},
		{"dry run is refused like a real request", []*corev1.ResourceQuota{rq("compute", map[string]string{"pods": "3"}, map[string]string{"pods": "3"})},
			func() *Attributes { a := createAttrs(podWith("x", nil), "pods"); a.DryRun = true; return a }(),
			`pods "x" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=3, limited: pods=3`, nil},
		{"every matching quota is charged", []*corev1.ResourceQuota{
			rq("a", map[string]string{"pods": "10"}, map[string]string{"pods": "1"}),
			rq("b", map[string]string{"pods": "5", "configmaps": "1"}, map[string]string{"pods": "2", "configmaps": "1"}),
			rq("c", map[string]string{"configmaps": "1"}, map[string]string{"configmaps": "1"})},
			createAttrs(podWith("x", nil), "pods"), "",
			map[string]map[string]string{"a": {"pods": "2"}, "b": {"pods": "3", "configmaps": "1"}, "c": {"configmaps": "1"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeQuotas(tt.quotas...)
			err := NewResourceQuota(store, nil).Validate(context.Background(), tt.attrs)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want || !apierrors.IsForbidden(err)):
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
			for name, want := range tt.used {
				if got := store.used(name); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("quota %s used = %v, want %v", name, got, want)
				}
			}
		})
	}
}

func TestResourceQuotaServiceUpdateChargesGrowth(t *testing.T) {
	store := newFakeQuotas(rq("svc", map[string]string{"services": "1", "services.loadbalancers": "1"}, map[string]string{"services": "1", "services.loadbalancers": "0"}))
	old := &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "team", ResourceVersion: "7"}, Spec: &corev1.ServiceSpec{Type: "ClusterIP"}}
	cur := proto.Clone(old).(*corev1.Service)
	cur.Spec.Type = "LoadBalancer"
	a := &Attributes{Operation: Update, Kind: kindOf("services"), Namespace: "team", Name: "web", Object: cur,
		OldObject: func(context.Context) (scheme.Object, error) { return old, nil }}
	if err := NewResourceQuota(store, nil).Validate(context.Background(), a); err != nil {
		t.Fatal(err) // services=1 is at its limit, but the update adds no service
	}
	if got := store.used("svc"); got["services"] != "1" || got["services.loadbalancers"] != "1" {
		t.Errorf("used = %v, want services=1 services.loadbalancers=1", got)
	}
	// Updates of objects quotas only count change nothing.
	cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "c", Namespace: "team"}}
	store = newFakeQuotas(rq("objects", map[string]string{"configmaps": "0"}, map[string]string{"configmaps": "0"}))
	if err := NewResourceQuota(store, nil).Validate(context.Background(), &Attributes{Operation: Update, Kind: kindOf("configmaps"),
		Namespace: "team", Name: "c", Object: cm}); err != nil {
		t.Errorf("config map update: %v", err)
	}
}

func TestResourceQuotaPrecheck(t *testing.T) {
	store := newFakeQuotas(rq("compute", map[string]string{"pods": "10"}, map[string]string{"pods": "0"}))
	p := NewResourceQuota(store, nil)
	p.Precheck = func(_ context.Context, a *Attributes) error {
		if a.Name == "taken" {
			return apierrors.NewAlreadyExists("pods", a.Name)
		}
		return nil
	}
	for _, name := range []string{"taken", "free"} {
		if err := p.Validate(context.Background(), createAttrs(podWith(name, nil), "pods")); err != nil {
			t.Fatalf("%s: %v (storage, not quota, refuses it)", name, err)
		}
	}
	if got := store.used("compute")["pods"]; got != "1" {
		t.Errorf("used pods = %s, want 1: a create storage refuses is not charged", got)
	}
}

// TestResourceQuotaStaleCache: a cached quota whose status does not
// enforce its spec yet is read again, fresh.
func TestResourceQuotaStaleCache(t *testing.T) {
	store := newFakeQuotas(rq("compute", map[string]string{"pods": "1"}, map[string]string{"pods": "1"}))
	store.stale = []*corev1.ResourceQuota{rq("compute", map[string]string{"pods": "1"}, nil)} // before the controller's write
	err := NewResourceQuota(store, nil).Validate(context.Background(), createAttrs(podWith("x", nil), "pods"))
	if !apierrors.IsForbidden(err) {
		t.Fatalf("got %v, want exceeded quota", err)
	}
	if fmt.Sprint(store.lists) != "[false true]" {
		t.Errorf("lists (fresh?) = %v, want the cache, then fresh", store.lists)
	}
}

// TestResourceQuotaConflictRetry: a charge that loses the
// compare-and-swap re-reads the quota fresh and evaluates again.
func TestResourceQuotaConflictRetry(t *testing.T) {
	t.Run("another apiserver charged meanwhile", func(t *testing.T) {
		store := newFakeQuotas(rq("compute", map[string]string{"pods": "2"}, map[string]string{"pods": "0"}))
		once := sync.Once{}
		store.onWrite = func(*corev1.ResourceQuota) { once.Do(func() { store.charge("compute", "pods", 1) }) }
		p := NewResourceQuota(store, nil)
		if err := p.Validate(context.Background(), createAttrs(podWith("x", nil), "pods")); err != nil {
			t.Fatal(err)
		}
		if got := store.used("compute")["pods"]; got != "2" {
			t.Errorf("used pods = %s, want 2 (the other charge and ours)", got)
		}
		if fmt.Sprint(store.lists) != "[false true]" {
			t.Errorf("lists (fresh?) = %v, want a cached read, then a fresh one after the conflict", store.lists)
		}
		// The quota is now full: the next pod is refused.
		err := p.Validate(context.Background(), createAttrs(podWith("y", nil), "pods"))
		if want := `pods "y" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2`; err == nil || err.Error() != want {
			t.Errorf("third pod: %v", err)
		}
	})
	t.Run("the re-evaluation refuses", func(t *testing.T) {
		store := newFakeQuotas(rq("compute", map[string]string{"pods": "1"}, map[string]string{"pods": "0"}))
		once := sync.Once{}
		store.onWrite = func(*corev1.ResourceQuota) { once.Do(func() { store.charge("compute", "pods", 1) }) }
		err := NewResourceQuota(store, nil).Validate(context.Background(), createAttrs(podWith("x", nil), "pods"))
		if !apierrors.IsForbidden(err) {
			t.Fatalf("got %v, want exceeded quota", err)
		}
		if got := store.used("compute")["pods"]; got != "1" {
			t.Errorf("used pods = %s, want 1", got)
		}
	})
	t.Run("only the quotas that lost are charged again", func(t *testing.T) {
		store := newFakeQuotas(rq("a", map[string]string{"pods": "5"}, map[string]string{"pods": "0"}),
			rq("b", map[string]string{"pods": "5"}, map[string]string{"pods": "0"}))
		once := sync.Once{}
		store.onWrite = func(q *corev1.ResourceQuota) {
			if q.Metadata.Name == "b" {
				once.Do(func() { store.charge("b", "pods", 1) })
			}
		}
		if err := NewResourceQuota(store, nil).Validate(context.Background(), createAttrs(podWith("x", nil), "pods")); err != nil {
			t.Fatal(err)
		}
		if a, b := store.used("a")["pods"], store.used("b")["pods"]; a != "1" || b != "2" {
			t.Errorf("used a=%s b=%s, want 1 and 2", a, b)
		}
	})
	t.Run("gives up after the retries with the conflict", func(t *testing.T) {
		store := newFakeQuotas(rq("compute", map[string]string{"pods": "100"}, map[string]string{"pods": "0"}))
		store.onWrite = func(*corev1.ResourceQuota) { store.charge("compute", "pods", 1) }
		err := NewResourceQuota(store, nil).Validate(context.Background(), createAttrs(podWith("x", nil), "pods"))
		if !apierrors.IsConflict(err) {
			t.Fatalf("got %v, want a conflict", err)
		}
	})
	t.Run("a lagging cache does not cost a conflict per request", func(t *testing.T) {
		store := newFakeQuotas(rq("compute", map[string]string{"pods": "10"}, map[string]string{"pods": "0"}))
		store.stale, _ = store.List(context.Background(), "team", true) // the cache never catches up
		p := NewResourceQuota(store, nil)
		for i := range 5 {
			if err := p.Validate(context.Background(), createAttrs(podWith(fmt.Sprint("p", i), nil), "pods")); err != nil {
				t.Fatal(err)
			}
		}
		if got := store.used("compute")["pods"]; got != "5" || store.writes != 5 {
			t.Errorf("used pods = %s after %d writes, want 5 and 5", got, store.writes)
		}
	})
}

// TestResourceQuotaConcurrent: concurrent creates through one plugin
// never pass the limit.
func TestResourceQuotaConcurrent(t *testing.T) {
	store := newFakeQuotas(rq("compute", map[string]string{"pods": "10"}, map[string]string{"pods": "0"}))
	p := NewResourceQuota(store, func() time.Time { return time.Unix(0, 0) })
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p.Validate(context.Background(), createAttrs(podWith(fmt.Sprint("p", i), nil), "pods")) == nil {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if admitted != 10 || store.used("compute")["pods"] != "10" {
		t.Errorf("admitted %d, used %v; want 10 and 10", admitted, store.used("compute"))
	}
	if len(p.locks) != 0 {
		t.Errorf("namespace locks left: %v", p.locks)
	}
}
