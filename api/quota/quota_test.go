package quota

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	_ "minik8s/api/all"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func container(name string, req, lim map[string]string) *corev1.Container {
	return &corev1.Container{Name: name, Image: "x", Resources: &corev1.ResourceRequirements{Requests: req, Limits: lim}}
}

func podOf(cs ...*corev1.Container) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Namespace: "a"}, Spec: &corev1.PodSpec{Containers: cs}}
}

func TestQuantities(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"1000m", "1"}, {"1500m", "1500m"}, {"0.5", "500m"}, {"1024Mi", "1Gi"}, {"1536Mi", "1536Mi"},
		{"1000", "1k"}, {"1500", "1500"}, {"2G", "2G"}, {"0", "0"}, {"10", "10"}, {"1Ki", "1Ki"},
	} {
		if got := Canonical(tt.in); got != tt.want {
			t.Errorf("Canonical(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	sum := Add(map[string]string{"memory": "512Mi", "cpu": "250m"}, map[string]string{"memory": "512Mi", "cpu": "750m", "pods": "1"})
	if want := map[string]string{"memory": "1Gi", "cpu": "1", "pods": "1"}; !Equals(sum, want) || sum["memory"] != "1Gi" || sum["cpu"] != "1" {
		t.Errorf("Add = %v, want %v", sum, want)
	}
	if ok, over := LessThanOrEqual(map[string]string{"pods": "11", "cpu": "1"}, map[string]string{"pods": "10", "cpu": "2"}); ok || len(over) != 1 || over[0] != "pods" {
		t.Errorf("LessThanOrEqual = %v %v", ok, over)
	}
	if got := Format(map[string]string{"requests.cpu": "500m", "pods": "1"}); got != "pods=1,requests.cpu=500m" {
		t.Errorf("Format = %q", got)
	}
	if got := SubtractNonNegative(map[string]string{"a": "1", "b": "3"}, map[string]string{"a": "2", "b": "1"}); got["a"] != "0" || got["b"] != "2" {
		t.Errorf("SubtractNonNegative = %v", got)
	}
}

func TestPodUsage(t *testing.T) {
	grace := int64(30)
	deleted := podOf(container("a", map[string]string{"cpu": "1"}, nil))
	deleted.Metadata.DeletionTimestamp = timestamppb.New(now.Add(-time.Minute))
	deleted.Metadata.DeletionGracePeriodSeconds = &grace
	deleting := podOf(container("a", map[string]string{"cpu": "1"}, nil))
	deleting.Metadata.DeletionTimestamp = timestamppb.New(now)
	deleting.Metadata.DeletionGracePeriodSeconds = &grace
	failed := podOf(container("a", map[string]string{"cpu": "1"}, nil))
	failed.Status = &corev1.PodStatus{Phase: "Failed"}
	withInit := podOf(container("a", map[string]string{"cpu": "100m", "memory": "64Mi"}, nil), container("b", map[string]string{"cpu": "100m"}, nil))
	always := "Always"
	sidecar := container("side", map[string]string{"cpu": "50m"}, nil)
	sidecar.RestartPolicy = &always
	withInit.Spec.InitContainers = []*corev1.Container{container("init", map[string]string{"cpu": "1", "memory": "32Mi"}, nil), sidecar}
	withInit.Spec.Overhead = map[string]string{"cpu": "10m"}

	for _, tt := range []struct {
		name string
		pod  *corev1.Pod
		want map[string]string
	}{
		{"requests and limits", podOf(container("a", map[string]string{"cpu": "250m", "memory": "64Mi"}, map[string]string{"cpu": "500m", "memory": "128Mi"}),
			container("b", map[string]string{"cpu": "250m", "ephemeral-storage": "1Gi"}, nil)),
			map[string]string{"count/pods": "1", "pods": "1", "cpu": "500m", "requests.cpu": "500m", "limits.cpu": "500m",
				"memory": "64Mi", "requests.memory": "64Mi", "limits.memory": "128Mi", "ephemeral-storage": "1Gi", "requests.ephemeral-storage": "1Gi"}},
		{"limits only request their limit", podOf(container("a", nil, map[string]string{"cpu": "2"})),
			map[string]string{"count/pods": "1", "pods": "1", "cpu": "2", "requests.cpu": "2", "limits.cpu": "2"}},
		{"best effort", podOf(container("a", nil, nil)), map[string]string{"count/pods": "1", "pods": "1"}},
		{"init containers, sidecars and overhead", withInit,
			// max(100m+100m+50m sidecar, 1 init + 0 sidecars before it) + 10m overhead
			map[string]string{"count/pods": "1", "pods": "1", "cpu": "1010m", "requests.cpu": "1010m", "memory": "64Mi", "requests.memory": "64Mi"}},
		{"hugepages and extended resources", podOf(container("a", map[string]string{"hugepages-2Mi": "4Mi", "example.com/gpu": "1"}, map[string]string{"example.com/gpu": "1"})),
			map[string]string{"count/pods": "1", "pods": "1", "hugepages-2Mi": "4Mi", "requests.hugepages-2Mi": "4Mi", "requests.example.com/gpu": "1"}},
		{"terminal pods only count as objects", failed, map[string]string{"count/pods": "1"}},
		{"deleted past the grace period", deleted, map[string]string{"count/pods": "1"}},
		{"deleting within the grace period", deleting, map[string]string{"count/pods": "1", "pods": "1", "cpu": "1", "requests.cpu": "1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Pods{}).Usage(tt.pod, now); !Equals(got, tt.want) {
				t.Errorf("Usage = %v\nwant    %v", got, tt.want)
			}
		})
	}
}

func TestPodConstraints(t *testing.T) {
	p := podOf(container("app", map[string]string{"memory": "1Gi"}, nil), container("db", map[string]string{"cpu": "1"}, map[string]string{"cpu": "1"}))
	p.Spec.InitContainers = []*corev1.Container{container("init", nil, map[string]string{"cpu": "1"})}
	for _, tt := range []struct {
		required []string
		want     string
	}{
		{[]string{"pods", "requests.storage"}, ""},
		{[]string{"requests.cpu"}, "must specify requests.cpu for: app"},
		{[]string{"cpu", "limits.cpu", "memory"}, "must specify cpu for: app; limits.cpu for: app; memory for: db,init"},
	} {
		err := (Pods{}).Constraints(tt.required, p)
		if got := ""; err != nil {
			got = err.Error()
			if got != tt.want {
				t.Errorf("Constraints(%v) = %q, want %q", tt.required, got, tt.want)
			}
		} else if tt.want != "" {
			t.Errorf("Constraints(%v) = nil, want %q", tt.required, tt.want)
		}
	}
}

func TestPodScopes(t *testing.T) {
	dl := int64(10)
	terminating := podOf(container("a", map[string]string{"cpu": "1"}, nil))
	terminating.Spec.ActiveDeadlineSeconds = &dl
	best := podOf(container("a", nil, nil))
	best.Spec.PriorityClassName = "high"
	cross := podOf(container("a", nil, nil))
	cross.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []*corev1.PodAffinityTerm{{TopologyKey: "zone", Namespaces: []string{"b"}}}}}
	sel := func(scope, op string, values ...string) *corev1.ScopedResourceSelectorRequirement {
		return &corev1.ScopedResourceSelectorRequirement{ScopeName: scope, Operator: op, Values: values}
	}
	for _, tt := range []struct {
		name string
		sel  *corev1.ScopedResourceSelectorRequirement
		pod  *corev1.Pod
		want bool
	}{
		{"terminating", sel("Terminating", "Exists"), terminating, true},
		{"not terminating", sel("NotTerminating", "Exists"), terminating, false},
		{"not terminating without deadline", sel("NotTerminating", "Exists"), best, true},
		{"best effort", sel("BestEffort", "Exists"), best, true},
		{"best effort with requests", sel("BestEffort", "Exists"), terminating, false},
		{"not best effort", sel("NotBestEffort", "Exists"), terminating, true},
		{"priority class in", sel("PriorityClass", "In", "high", "low"), best, true},
		{"priority class not in", sel("PriorityClass", "NotIn", "high"), best, false},
		{"priority class exists", sel("PriorityClass", "Exists"), terminating, false},
		{"priority class does not exist", sel("PriorityClass", "DoesNotExist"), terminating, true},
		{"cross-namespace affinity", sel("CrossNamespacePodAffinity", "Exists"), cross, true},
		{"no cross-namespace affinity", sel("CrossNamespacePodAffinity", "Exists"), best, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Pods{}).MatchesScope(tt.sel, tt.pod); got != tt.want {
				t.Errorf("MatchesScope = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestServiceAndObjectCountUsage(t *testing.T) {
	no := false
	ports := []*corev1.ServicePort{{Port: 80, NodePort: 30080}, {Port: 81}}
	for _, tt := range []struct {
		name string
		svc  *corev1.ServiceSpec
		want map[string]string
	}{
		{"cluster ip", &corev1.ServiceSpec{Type: "ClusterIP", Ports: ports}, map[string]string{"services": "1", "count/services": "1"}},
		{"node port", &corev1.ServiceSpec{Type: "NodePort", Ports: ports}, map[string]string{"services": "1", "count/services": "1", "services.nodeports": "2"}},
		{"load balancer", &corev1.ServiceSpec{Type: "LoadBalancer", Ports: ports},
			map[string]string{"services": "1", "count/services": "1", "services.nodeports": "2", "services.loadbalancers": "1"}},
		{"load balancer without node ports", &corev1.ServiceSpec{Type: "LoadBalancer", Ports: ports, AllocateLoadBalancerNodePorts: &no},
			map[string]string{"services": "1", "count/services": "1", "services.nodeports": "1", "services.loadbalancers": "1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := RemoveZeros((Services{}).Usage(&corev1.Service{Spec: tt.svc}, now))
			if !Equals(got, tt.want) {
				t.Errorf("Usage = %v, want %v", got, tt.want)
			}
		})
	}

	kind := func(r string) *scheme.Kind { k, _ := scheme.ByResource(r); return k }
	for _, tt := range []struct {
		resource string
		want     map[string]string
		matches  []string
	}{
		{"configmaps", map[string]string{"configmaps": "1", "count/configmaps": "1"}, []string{"configmaps", "count/configmaps"}},
		{"secrets", map[string]string{"secrets": "1", "count/secrets": "1"}, []string{"secrets", "count/secrets"}},
		{"replicationcontrollers", map[string]string{"replicationcontrollers": "1", "count/replicationcontrollers": "1"}, []string{"replicationcontrollers", "count/replicationcontrollers"}},
		{"resourcequotas", map[string]string{"resourcequotas": "1", "count/resourcequotas": "1"}, []string{"resourcequotas", "count/resourcequotas"}},
		{"deployments", map[string]string{"count/deployments.apps": "1"}, []string{"count/deployments.apps"}},
	} {
		t.Run(tt.resource, func(t *testing.T) {
			e := For(kind(tt.resource))
			if got := e.Usage(nil, now); !Equals(got, tt.want) {
				t.Errorf("Usage = %v, want %v", got, tt.want)
			}
			all := append([]string{"pods", "cpu", "count/pods", "services"}, tt.matches...)
			if got := e.MatchingResources(all); !Equals(toSet(got), toSet(tt.matches)) {
				t.Errorf("MatchingResources = %v, want %v", got, tt.matches)
			}
			if !e.Handles(Create, "") || e.Handles(Update, "") {
				t.Error("object counts change on create only")
			}
			for _, n := range tt.matches {
				if ForName(n) == nil || ForName(n).Resource() != e.Resource() {
					t.Errorf("ForName(%q) = %v", n, ForName(n))
				}
			}
		})
	}
	for _, r := range []string{"events", "namespaces", "nodes"} {
		if e := For(kind(r)); e != nil {
			t.Errorf("For(%s) = %v, want nil: not counted", r, e)
		}
	}
	for _, n := range []string{"count/widgets.example.com", "requests.storage", "count/deploy"} {
		if e := ForName(n); e != nil {
			t.Errorf("ForName(%q) = %v, want nil", n, e)
		}
	}
}

func toSet(names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = "1"
	}
	return out
}

func TestMatchesAndCalculateUsage(t *testing.T) {
	best := podOf(container("a", nil, nil))
	busy := podOf(container("a", map[string]string{"cpu": "2"}, nil))
	scoped := []*corev1.ScopedResourceSelectorRequirement{{ScopeName: "BestEffort", Operator: "Exists"}}
	if Matches(Pods{}, map[string]string{"configmaps": "1"}, nil, best) {
		t.Error("a quota not limiting pods matched a pod")
	}
	if !Matches(Pods{}, map[string]string{"pods": "1"}, scoped, best) || Matches(Pods{}, map[string]string{"pods": "1"}, scoped, busy) {
		t.Error("BestEffort scope")
	}
	if Matches(For(&scheme.Kind{Resource: "configmaps", Namespaced: true}), map[string]string{"configmaps": "1"}, scoped, &corev1.ConfigMap{}) {
		t.Error("a scoped quota matched a config map")
	}
	used, err := CalculateUsage(map[string]string{"pods": "5", "requests.cpu": "4", "count/configmaps": "2", "unknown": "1"}, nil,
		func(gr string) ([]scheme.Object, error) {
			switch gr {
			case "pods":
				return []scheme.Object{best, busy}, nil
			case "configmaps":
				return nil, nil
			}
			t.Errorf("listed %s", gr)
			return nil, nil
		}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"pods": "2", "requests.cpu": "2", "count/configmaps": "0"}; !Equals(used, want) {
		t.Errorf("CalculateUsage = %v, want %v", used, want)
	}
}
