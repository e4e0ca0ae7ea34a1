package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/core/pods"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/restapi"
	"minik8s/apiserver/storage/memory"
)

// testStore is a generic store over in-memory storage, with namespace
// default, stopped at test end.
func testStore(t *testing.T) *generic.Store {
	t.Helper()
	st := generic.New(memory.New(), cache.Options{ProgressInterval: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := st.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	create(t, st, "namespaces", &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "default"}})
	return st
}

func create(t *testing.T, st *generic.Store, resource string, obj scheme.Object) scheme.Object {
	t.Helper()
	k, _ := scheme.ByResource(resource)
	out, err := st.Create(context.Background(), k, obj.GetMetadata().GetNamespace(), obj, rest.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kubeletNode stores a Node whose status leads to the server at url, as
// a kubelet publishes it (InternalIP and daemonEndpoints).
func kubeletNode(t *testing.T, st *generic.Store, name, url string) {
	t.Helper()
	host, port, err := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	n := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name}, Status: &corev1.NodeStatus{
		Addresses:       []*corev1.NodeAddress{{Type: "InternalIP", Address: host}, {Type: "Hostname", Address: name}},
		DaemonEndpoints: &corev1.NodeDaemonEndpoints{KubeletEndpoint: &corev1.DaemonEndpoint{Port: int32(p)}},
	}}
	create(t, st, "nodes", n)
}

// denyAll refuses everything but what allow says.
type denyAll struct{ allow func(auth.Attributes) bool }

func (d denyAll) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if d.allow != nil && d.allow(a) {
		return auth.Allow, "", nil
	}
	return auth.Deny, "denied", nil
}

func restFront(t *testing.T, st *generic.Store, authz auth.Authorizer) *httptest.Server {
	t.Helper()
	api := NewAPI(st, nil, nil, nil, authz, nil)
	hs := httptest.NewServer(restapi.New(restapi.Config{API: api, Patch: ApplyPatch,
		Connect: newConnector(st, pods.NewKubeletClient(pods.KubeletConfig{}, nil)).serve}))
	t.Cleanup(hs.Close)
	return hs
}

func TestNodeProxy(t *testing.T) {
	kubelet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the caller's credentials reached the kubelet")
		}
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	}))
	defer kubelet.Close()
	st := testStore(t)
	kubeletNode(t, st, "n1", kubelet.URL)
	create(t, st, "nodes", &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "silent"}})
	var verbs []string
	hs := restFront(t, st, denyAll{allow: func(a auth.Attributes) bool {
		verbs = append(verbs, a.Verb+" "+a.Resource+"/"+a.Subresource)
		return a.Verb != "delete"
	}})

	for _, tc := range []struct {
		name, method, path string
		code               int
		body               string
	}{
		{"stats summary", "GET", "/api/v1/nodes/n1/proxy/stats/summary?only_cpu_and_memory=true", 200, "GET /stats/summary?only_cpu_and_memory=true"},
		{"root", "GET", "/api/v1/nodes/n1/proxy/", 200, "GET /?"},
		{"post is create", "POST", "/api/v1/nodes/n1/proxy/run/x", 200, "POST /run/x?"},
		{"delete refused", "DELETE", "/api/v1/nodes/n1/proxy/x", 403, "Forbidden"},
		{"unknown node", "GET", "/api/v1/nodes/ghost/proxy/healthz", 404, `nodes \"ghost\" not found`},
		{"node without kubelet endpoint", "GET", "/api/v1/nodes/silent/proxy/healthz", 503, "does not publish its kubelet port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, hs.URL+tc.path, nil)
			req.Header.Set("Authorization", "Bearer secret")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.body) {
				t.Errorf("%s %s: %d %s; want %d with %q", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.body)
			}
		})
	}
	want := "get nodes/proxy"
	if len(verbs) == 0 || verbs[0] != want || !strings.Contains(strings.Join(verbs, ","), "create nodes/proxy") {
		t.Errorf("authorized %v; want %q first and a create", verbs, want)
	}
}

func TestNodeProxyKubeletDown(t *testing.T) {
	st := testStore(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	url := "http://" + l.Addr().String()
	l.Close()
	kubeletNode(t, st, "n1", url)
	hs := restFront(t, st, nil)
	resp, err := http.Get(hs.URL + "/api/v1/nodes/n1/proxy/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || !strings.Contains(string(body), "cannot reach the kubelet of node n1") {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
}
