package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	kubelet "minik8s/api/kubelet"
	metav1 "minik8s/api/meta/v1"
	metricsv1beta1 "minik8s/api/metrics/v1beta1"
	"minik8s/apiserver/endpoints"
	"minik8s/apiserver/registry/core/pods"
	"minik8s/apiserver/restapi"
)

// statsKubelet serves /stats/summary whose cumulative CPU counters grow
// by a fixed rate per second of its clock, which the test moves.
type statsKubelet struct {
	mu  sync.Mutex
	now time.Time
	// cores is each series' usage in cores: "node", "default/web/main".
	cores map[string]float64
	mem   uint64
	// webUID is the uid of pod default/web.
	webUID string
}

func (k *statsKubelet) advance(d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.now = k.now.Add(d)
}

func (k *statsKubelet) cpu(series string, since time.Time) *kubelet.CPU {
	c := k.cores[series]
	return &kubelet.CPU{Time: k.now, UsageNanoCores: uint64(c * 1e9 / 2), // a stale rate, unlike the counter's
		UsageCoreNanoSeconds: uint64(c * float64(k.now.Sub(since).Nanoseconds()))}
}

func (k *statsKubelet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/stats/summary" {
		http.NotFound(w, r)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	boot := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mem := &kubelet.Memory{Time: k.now, UsageBytes: 2 * k.mem, WorkingSetBytes: k.mem}
	s := kubelet.Summary{
		Node: kubelet.NodeStats{NodeName: "n1", CPU: k.cpu("node", boot), Memory: mem},
		Pods: []kubelet.PodStats{{PodRef: kubelet.PodRef{Namespace: "default", Name: "web", UID: k.webUID}, Containers: []kubelet.ContainerStats{
			{Name: "main", CPU: k.cpu("default/web/main", boot), Memory: mem},
			{Name: "side", CPU: k.cpu("default/web/side", boot), Memory: mem},
		}}},
	}
	_ = json.NewEncoder(w).Encode(s)
}

func TestMetricsAPI(t *testing.T) {
	kl := &statsKubelet{now: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC), mem: 64 << 20,
		cores: map[string]float64{"node": 1.5, "default/web/main": 0.25, "default/web/side": 0.125}}
	ks := httptest.NewServer(kl)
	defer ks.Close()
	st := testStore(t)
	kubeletNode(t, st, "n1", ks.URL)
	kubeletNode(t, st, "n2", "http://127.0.0.1:1") // its kubelet is down: left out
	running := &corev1.PodStatus{Phase: "Running"}
	for i, p := range []*corev1.Pod{
		{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
			Spec: &corev1.PodSpec{NodeName: "n1", Containers: []*corev1.Container{{Name: "main", Image: "x"}, {Name: "side", Image: "x"}}}, Status: running},
		{Metadata: &metav1.ObjectMeta{Name: "db", Namespace: "default", Labels: map[string]string{"app": "db"}},
			Spec: &corev1.PodSpec{NodeName: "n1", Containers: []*corev1.Container{{Name: "main", Image: "x"}}}, Status: running},
	} {
		out := create(t, st, "pods", p)
		if i == 0 {
			kl.mu.Lock()
			kl.webUID = out.GetMetadata().GetUid()
			kl.mu.Unlock()
		}
	}
	api := NewAPI(st, nil, nil, nil, nil, nil)
	RegisterMetrics(api, st, pods.NewKubeletClient(pods.KubeletConfig{}, nil))
	hs := httptest.NewServer(restapi.New(restapi.Config{API: api, Patch: ApplyPatch}))
	defer hs.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// The first scrape has one sample: the kubelet's own rate.
	code, body := get("/apis/metrics.k8s.io/v1beta1/nodes")
	var nl struct {
		Kind, APIVersion string
		Items            []struct {
			Metadata struct{ Name string }
			Window   string
			Usage    map[string]string
		}
	}
	if err := json.Unmarshal([]byte(body), &nl); code != 200 || err != nil || nl.Kind != "NodeMetricsList" || nl.APIVersion != "metrics.k8s.io/v1beta1" ||
		len(nl.Items) != 1 || nl.Items[0].Metadata.Name != "n1" || nl.Items[0].Usage["cpu"] != "750000000n" || nl.Items[0].Usage["memory"] != "65536Ki" || nl.Items[0].Window != "1s" {
		t.Fatalf("nodes: %d %v %s", code, err, body)
	}
	// Ten seconds on, the counter's growth over the window.
	kl.advance(10 * time.Second)
	code, body = get("/apis/metrics.k8s.io/v1beta1/nodes/n1")
	if code != 200 || !strings.Contains(body, `"kind":"NodeMetrics"`) || !strings.Contains(body, `"cpu":"1500000000n"`) || !strings.Contains(body, `"window":"10s"`) {
		t.Errorf("node n1: %d %s", code, body)
	}
	if code, body := get("/apis/metrics.k8s.io/v1beta1/nodes/n2"); code != 404 || !strings.Contains(body, "nodemetrics.metrics.k8s.io") {
		t.Errorf("node n2 (kubelet down): %d %s", code, body)
	}
	// Pods: only those the kubelet reports; containers sorted by name.
	code, body = get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")
	var list struct {
		Kind  string
		Items []json.RawMessage
	}
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil || list.Kind != "PodMetricsList" || len(list.Items) != 1 {
		t.Fatalf("pods: %d %v %s", code, err, body)
	}
	kl.advance(5 * time.Second)
	code, body = get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web")
	if code != 200 || !strings.Contains(body, `"containers":[{"name":"main","usage":{"cpu":"250000000n","memory":"65536Ki"}},{"name":"side","usage":{"cpu":"125000000n","memory":"65536Ki"}}]`) ||
		!strings.Contains(body, `"labels":{"app":"web"}`) {
		t.Errorf("pod web: %d %s", code, body)
	}
	if code, body := get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/db"); code != 404 {
		t.Errorf("pod db (no stats): %d %s", code, body)
	}
	if code, body := get("/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Dweb"); code != 200 || !strings.Contains(body, `"name":"web"`) {
		t.Errorf("pods of all namespaces by label: %d %s", code, body)
	}
	if code, body := get("/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Ddb"); code != 200 || strings.Contains(body, `"name":"web"`) {
		t.Errorf("label selector: %d %s", code, body)
	}

	// The core resources of the same names are untouched.
	if code, body := get("/api/v1/nodes"); code != 200 || !strings.Contains(body, `"kind":"NodeList"`) {
		t.Errorf("core nodes: %d %s", code, body)
	}
	// Discovery lists the group; kubectl top looks for it there.
	if code, body := get("/apis"); code != 200 || !strings.Contains(body, `"name":"metrics.k8s.io"`) || !strings.Contains(body, `"groupVersion":"metrics.k8s.io/v1beta1"`) {
		t.Errorf("/apis: %d %s", code, body)
	}
	code, body = get("/apis/metrics.k8s.io/v1beta1")
	if code != 200 || !strings.Contains(body, `{"name":"nodes","singularName":"nodemetrics","namespaced":false,"kind":"NodeMetrics","verbs":["get","list"]}`) ||
		!strings.Contains(body, `"name":"pods","singularName":"podmetrics","namespaced":true,"kind":"PodMetrics"`) {
		t.Errorf("/apis/metrics.k8s.io/v1beta1: %d %s", code, body)
	}
	if code, body := get("/api/v1"); strings.Contains(body, "NodeMetrics") {
		t.Errorf("/api/v1 lists metrics: %d %s", code, body)
	}

	// A front that knows resource names only (gRPC) addresses the group
	// as Kubernetes writes a group resource.
	obj, err := api.Get(context.Background(), endpoints.Target{Resource: "nodes.metrics.k8s.io", Name: "n1"})
	if _, ok := obj.(*metricsv1beta1.NodeMetrics); err != nil || !ok {
		t.Errorf("Get nodes.metrics.k8s.io: %T %v", obj, err)
	}
	obj, err = api.Get(context.Background(), endpoints.Target{Resource: "nodes", Name: "n1"})
	if _, ok := obj.(*corev1.Node); err != nil || !ok {
		t.Errorf("Get nodes: %T %v", obj, err)
	}
}
