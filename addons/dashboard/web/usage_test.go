package web_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"minik8s/addons/dashboard/web"
	metav1 "minik8s/api/meta/v1"
	metricsv1beta1 "minik8s/api/metrics/v1beta1"
)

// fakeMetrics stands in for the metrics API where no kubelet runs: it
// answers with fixed usage, after checking the user may read the kinds the
// metrics describe, as the apiserver's own metrics.k8s.io does.
func fakeMetrics(a *web.API) {
	real := *a
	a.NodeMetrics = func(ctx context.Context) ([]*metricsv1beta1.NodeMetrics, error) {
		if _, err := real.NodeMetrics(ctx); err != nil {
			return nil, err
		}
		return []*metricsv1beta1.NodeMetrics{
			{Metadata: &metav1.ObjectMeta{Name: "node-b"}, Window: "15s", Usage: map[string]string{"cpu": "250000000n", "memory": "1048576Ki"}},
			{Metadata: &metav1.ObjectMeta{Name: "node-a"}, Window: "15s", Usage: map[string]string{"cpu": "1500m", "memory": "512Mi"}},
		}, nil
	}
	a.PodMetrics = func(ctx context.Context, namespace, name string) ([]*metricsv1beta1.PodMetrics, error) {
		if _, err := real.PodMetrics(ctx, namespace, name); err != nil {
			return nil, err
		}
		pods := []*metricsv1beta1.PodMetrics{
			{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: "before"}, Window: "15s", Containers: []*metricsv1beta1.ContainerMetrics{
				{Name: "main", Usage: map[string]string{"cpu": "120m", "memory": "30Mi"}},
				{Name: "side", Usage: map[string]string{"cpu": "5000000n", "memory": "2Mi"}},
			}},
			{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: "other"}, Window: "15s", Containers: []*metricsv1beta1.ContainerMetrics{
				{Name: "main", Usage: map[string]string{"cpu": "1m", "memory": "1Mi"}},
			}},
		}
		var out []*metricsv1beta1.PodMetrics
		for _, p := range pods {
			if (namespace == "" || p.Metadata.Namespace == namespace) && (name == "" || p.Metadata.Name == name) {
				out = append(out, p)
			}
		}
		return out, nil
	}
}

func TestMetrics(t *testing.T) {
	t.Run("the real metrics API, as the user", func(t *testing.T) {
		// No kubelet runs here, so the lists are empty; what counts is
		// that RBAC decides, with the user's own token.
		e := start(t)
		viewer, admin := e.login(t, viewerToken), e.login(t, adminToken)
		for _, tc := range []struct {
			name, path string
			code       int
			want       string
		}{
			{"admin's nodes", "/api/metrics/nodes", 200, `"items":[]`},
			{"viewer's nodes", "/api/metrics/nodes", 403, `User \"viewer\" cannot list resource \"nodes\" in API group \"metrics.k8s.io\" at the cluster scope`},
			{"viewer's pods of its namespace", "/api/metrics/pods?namespace=" + ns, 200, `"items":[]`},
			{"viewer's pod", "/api/metrics/pods?namespace=" + ns + "&name=before", 200, `"items":[]`},
			{"viewer's pods of every namespace", "/api/metrics/pods", 403, `cannot list resource \"pods\" in API group \"metrics.k8s.io\"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := viewer
				if strings.HasPrefix(tc.name, "admin") {
					b = admin
				}
				if code, body := get(t, b, e.url+tc.path); code != tc.code || !strings.Contains(body, tc.want) {
					t.Errorf("GET %s: %d %s, want %d with %s", tc.path, code, body, tc.code, tc.want)
				}
			})
		}
		if code, body := get(t, e.browser(t), e.url+"/api/metrics/nodes"); code != 401 {
			t.Errorf("without a session: %d %s", code, body)
		}
	})

	t.Run("usage in millicores and bytes", func(t *testing.T) {
		e := startWith(t, fakeMetrics)
		admin := e.login(t, adminToken)
		var nodes struct{ Items []web.Usage }
		code, body := get(t, admin, e.url+"/api/metrics/nodes")
		if err := json.Unmarshal([]byte(body), &nodes); err != nil || code != 200 {
			t.Fatalf("nodes: %d %s %v", code, body, err)
		}
		want := []web.Usage{{Name: "node-a", CPUMilli: 1500, MemoryBytes: 512 << 20, Window: "15s"}, {Name: "node-b", CPUMilli: 250, MemoryBytes: 1 << 30, Window: "15s"}}
		if len(nodes.Items) != 2 || nodes.Items[0].Name != want[0].Name || nodes.Items[0].CPUMilli != want[0].CPUMilli || nodes.Items[0].MemoryBytes != want[0].MemoryBytes ||
			nodes.Items[1].CPUMilli != want[1].CPUMilli || nodes.Items[1].MemoryBytes != want[1].MemoryBytes {
			t.Errorf("nodes %+v, want %+v", nodes.Items, want)
		}
		var pods struct{ Items []web.Usage }
		code, body = get(t, admin, e.url+"/api/metrics/pods?namespace="+ns+"&name=before")
		if err := json.Unmarshal([]byte(body), &pods); err != nil || code != 200 {
			t.Fatalf("pods: %d %s %v", code, body, err)
		}
		if len(pods.Items) != 1 || pods.Items[0].CPUMilli != 125 || pods.Items[0].MemoryBytes != 32<<20 || len(pods.Items[0].Containers) != 2 ||
			pods.Items[0].Containers[1].Name != "side" || pods.Items[0].Containers[1].CPUMilli != 5 {
			t.Errorf("pod before %s, want 125m and 32Mi over two containers", body)
		}
		if code, body := get(t, e.login(t, viewerToken), e.url+"/api/metrics/nodes"); code != 403 {
			t.Errorf("viewer's nodes with the fake: %d %s", code, body)
		}
	})
}
