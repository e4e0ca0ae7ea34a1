package endpoints

import (
	"context"
	"testing"

	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func svc(ports ...*corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"tier": "front"}},
		Spec:     &corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: ports},
	}
}

func named(name string, port int32, target string) *corev1.ServicePort {
	return &corev1.ServicePort{Name: name, Port: port, TargetPort: &metav1.IntOrString{Type: 1, StrVal: target}}
}

func numbered(name string, port, target int32) *corev1.ServicePort {
	return &corev1.ServicePort{Name: name, Port: port, TargetPort: &metav1.IntOrString{IntVal: target}}
}

func pod(name, ip string, ready bool, ports ...*corev1.ContainerPort) *corev1.Pod {
	st := "False"
	if ready {
		st = "True"
	}
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, Labels: map[string]string{"app": "web"}},
		Spec:     &corev1.PodSpec{NodeName: "node-1", Containers: []*corev1.Container{{Name: "c", Ports: ports}}},
		Status:   &corev1.PodStatus{Phase: "Running", PodIP: ip, Conditions: []*corev1.PodCondition{{Type: "Ready", Status: st}}},
	}
}

func addrs(as []*corev1.EndpointAddress) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Ip+"@"+a.GetNodeName()+"/"+a.GetTargetRef().GetName())
	}
	return out
}

func TestSubsets(t *testing.T) {
	http := &corev1.ContainerPort{Name: "http", ContainerPort: 8080}
	alt := &corev1.ContainerPort{Name: "http", ContainerPort: 9090}
	terminating := pod("going", "10.0.0.9", true, http)
	terminating.Metadata.DeletionTimestamp = timestamppb.Now()
	finished := pod("done", "10.0.0.8", false, http)
	finished.Status.Phase = "Succeeded"
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want string // subsets as compact text
	}{
		{
			name: "ready and not ready, by number",
			svc:  svc(numbered("", 80, 8080)),
			pods: []*corev1.Pod{pod("b", "10.0.0.2", true), pod("a", "10.0.0.1", false), pod("noip", "", true)},
			want: "[10.0.0.2@node-1/b] [10.0.0.1@node-1/a] :80->8080",
		},
		{
			name: "named target ports group pods by resolved port; pods without the name are left out",
			svc:  svc(named("web", 80, "http")),
			pods: []*corev1.Pod{pod("a", "10.0.0.1", true, http), pod("b", "10.0.0.2", true, alt), pod("c", "10.0.0.3", true)},
			want: "[10.0.0.1@node-1/a] [] web:80->8080 | [10.0.0.2@node-1/b] [] web:80->9090",
		},
		{
			name: "terminating and finished pods are not endpoints",
			svc:  svc(numbered("", 80, 0)),
			pods: []*corev1.Pod{terminating, finished, pod("a", "10.0.0.1", true)},
			want: "[10.0.0.1@node-1/a] [] :80->80",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(Subsets(tt.svc, tt.pods))
			if got != tt.want {
				t.Errorf("subsets %q, want %q", got, tt.want)
			}
		})
	}
}

func render(ss []*corev1.EndpointSubset) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += " | "
		}
		out += fmtList(addrs(s.Addresses)) + " " + fmtList(addrs(s.NotReadyAddresses))
		for _, p := range s.Ports {
			out += " " + p.Name + ":" + itoa(svcPortOf(p)) + "->" + itoa(p.Port)
		}
	}
	return out
}

// svcPortOf is not stored in EndpointPort; tests name ports to tell them apart.
func svcPortOf(p *corev1.EndpointPort) int32 {
	if p.Name == "web" || p.Name == "" {
		return 80
	}
	return 0
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func fmtList(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}

func TestSyncCreatesUpdatesDeletes(t *testing.T) {
	s := svc(numbered("http", 80, 8080))
	s.Spec.ClusterIP = "None"
	eps := fake.NewAPI[*corev1.Endpoints]()
	c := New(Config{
		Endpoints: eps, ServiceInformer: fake.Informer(t, s),
		PodInformer:       fake.Informer(t, pod("a", "10.0.0.1", true)),
		EndpointsInformer: fake.Informer[*corev1.Endpoints](t),
	})
	if err := c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	got, err := eps.Get(context.Background(), "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Subsets) != 1 || got.Subsets[0].Addresses[0].Ip != "10.0.0.1" || got.Subsets[0].Ports[0].Port != 8080 {
		t.Fatalf("endpoints %v", got)
	}
	if _, ok := got.Metadata.Labels[HeadlessLabel]; !ok || got.Metadata.Labels["tier"] != "front" {
		t.Fatalf("labels %v", got.Metadata.Labels)
	}
	// Up to date: no write.
	c2 := New(Config{
		Endpoints: eps, ServiceInformer: fake.Informer(t, s),
		PodInformer:       fake.Informer(t, pod("a", "10.0.0.1", true)),
		EndpointsInformer: fake.Informer(t, got),
	})
	n := len(eps.Actions())
	if err := c2.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	if len(eps.Actions()) != n {
		t.Fatalf("unchanged endpoints were written: %v", eps.Actions())
	}
	// Service gone: endpoints deleted.
	c3 := New(Config{
		Endpoints: eps, ServiceInformer: fake.Informer[*corev1.Service](t),
		PodInformer:       fake.Informer[*corev1.Pod](t),
		EndpointsInformer: fake.Informer(t, got),
	})
	if err := c3.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	if _, err := eps.Get(context.Background(), "default", "web"); err == nil {
		t.Fatal("endpoints of a deleted service survived")
	}
	// A service without selector is left alone.
	manual := proto.Clone(s).(*corev1.Service)
	manual.Spec.Selector = nil
	c4 := New(Config{Endpoints: eps, ServiceInformer: fake.Informer(t, manual), PodInformer: fake.Informer[*corev1.Pod](t), EndpointsInformer: fake.Informer[*corev1.Endpoints](t)})
	n = len(eps.Actions())
	if err := c4.sync(context.Background(), "default/web"); err != nil || len(eps.Actions()) != n {
		t.Fatalf("selector-less service: err %v actions %v", err, eps.Actions()[n:])
	}
}
