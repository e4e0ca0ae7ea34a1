// Package everykind sends a skeleton object of every stored kind through
// every verb, on both fronts, against a real apiserver on a real etcd
// (issue 13): create, get, list, watch, update, patch, status update and
// delete must each answer with the right code and never a 500.
package everykind

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	_ "minik8s/api/all"
	"minik8s/api/client"
	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/test/apiservertest"
)

// skeletons are the smallest valid objects of the kinds a bare name does
// not satisfy, as JSON without apiVersion, kind and metadata.name (the
// test adds them). Every other stored kind is created from its name alone.
var skeletons = map[string]string{
	"pods":                     `{"spec":{"containers":[{"name":"c","image":"busybox"}]}}`,
	"replicationcontrollers":   `{"spec":{"selector":{"app":"s"},"template":{"metadata":{"labels":{"app":"s"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}`,
	"replicasets":              `{"spec":{"selector":{"matchLabels":{"app":"s"}},"template":{"metadata":{"labels":{"app":"s"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}`,
	"deployments":              `{"spec":{"selector":{"matchLabels":{"app":"s"}},"template":{"metadata":{"labels":{"app":"s"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}`,
	"daemonsets":               `{"spec":{"selector":{"matchLabels":{"app":"s"}},"template":{"metadata":{"labels":{"app":"s"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}`,
	"statefulsets":             `{"spec":{"serviceName":"s","selector":{"matchLabels":{"app":"s"}},"template":{"metadata":{"labels":{"app":"s"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}`,
	"jobs":                     `{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}`,
	"services":                 `{"spec":{"ports":[{"port":80}]}}`,
	"controllerrevisions":      `{"revision":1,"data":{"a":1}}`,
	"horizontalpodautoscalers": `{"spec":{"scaleTargetRef":{"kind":"Deployment","name":"d","apiVersion":"apps/v1"},"maxReplicas":2}}`,
	"poddisruptionbudgets":     `{"spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"s"}}}}`,
	"ingressclasses":           `{"spec":{"controller":"example.com/ingress-controller"}}`,
	"ingresses":                `{"spec":{"defaultBackend":{"service":{"name":"s","port":{"number":80}}}}}`,
	"roles":                    `{"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]}`,
	"clusterroles":             `{"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]}`,
	"rolebindings":             `{"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"},"subjects":[{"kind":"User","name":"u","apiGroup":"rbac.authorization.k8s.io"}]}`,
	"clusterrolebindings":      `{"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"r"},"subjects":[{"kind":"User","name":"u","apiGroup":"rbac.authorization.k8s.io"}]}`,
	"events":                   `{"involvedObject":{"kind":"Pod","name":"p","namespace":"default"},"reason":"Test","message":"m"}`,
	"resourcequotas":           `{"spec":{"hard":{"pods":"10"}}}`,
	"limitranges":              `{"spec":{"limits":[{"type":"Container","default":{"cpu":"100m"}}]}}`,
}

func init() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "skel"}}, key)
	if err != nil {
		panic(err)
	}
	req := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	skeletons["certificatesigningrequests"] = `{"spec":{"signerName":"kubernetes.io/kube-apiserver-client","usages":["client auth"],"request":"` + req + `"}}`
}

// served is the kinds the test runs: stored ones (reviews are CreateOnly;
// componentstatuses and metrics are served, not stored - discovery says
// they take no create).
func served(t *testing.T, c *client.Client) []*scheme.Kind {
	res, err := c.Discovery(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	verbs := map[string][]string{}
	for _, r := range res {
		verbs[r.GetGroup()+"/"+r.GetName()] = r.GetVerbs() // metrics.k8s.io has pods and nodes too
	}
	var out []*scheme.Kind
	for _, k := range scheme.All() {
		v := strings.Join(verbs[k.Group+"/"+k.Resource], ",")
		if k.CreateOnly || !strings.Contains(v, "create") || !strings.Contains(v, "delete") {
			t.Logf("skipped %s (verbs %q)", k.Resource, v)
			continue
		}
		out = append(out, k)
	}
	return out
}

func skeleton(t *testing.T, k *scheme.Kind, name string) scheme.Object {
	t.Helper()
	obj := k.New()
	if s, ok := skeletons[k.Resource]; ok {
		if err := codec.UnmarshalJSON([]byte(s), obj); err != nil {
			t.Fatalf("skeleton of %s: %v", k.Resource, err)
		}
	}
	scheme.SetTypeMeta(obj, k)
	md := scheme.Meta(obj)
	md.Name = name
	if k.Namespaced {
		md.Namespace = "default"
	}
	return obj
}

func TestEveryKindEveryVerb(t *testing.T) {
	srv := apiservertest.StartWithEtcd(t)
	c := srv.Client(t)
	kinds := served(t, c)
	if len(kinds) < 20 {
		t.Fatalf("only %d kinds served", len(kinds))
	}
	for r := range skeletons {
		if _, err := scheme.ByResource(r); err != nil {
			t.Errorf("skeleton of an unknown kind: %v", err)
		}
	}
	hc := restClient(t, srv)
	start := time.Now()
	for _, k := range kinds {
		t.Run(k.Resource, func(t *testing.T) {
			t.Run("grpc", func(t *testing.T) { grpcVerbs(t, c, k) })
			t.Run("rest", func(t *testing.T) { restVerbs(t, hc, "https://"+srv.Addr, k) })
		})
	}
	t.Logf("%d kinds through every verb on both fronts in %v", len(kinds), time.Since(start).Round(time.Millisecond))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// grpcVerbs runs every verb of the gRPC front (it has no patch).
func grpcVerbs(t *testing.T, c *client.Client, k *scheme.Kind) {
	ctx := ctxT(t)
	r, err := c.Dynamic(k.Resource)
	if err != nil {
		t.Fatal(err)
	}
	ns := ""
	if k.Namespaced {
		ns = "default"
	}
	const name = "skel-grpc"
	created, err := r.Create(ctx, skeleton(t, k, name))
	if err != nil {
		t.Fatalf("create: %v (a new kind needs its smallest valid object in skeletons)", err)
	}
	rv := created.GetMetadata().GetResourceVersion()
	w, err := r.Watch(ctx, ns, client.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	got, err := r.Get(ctx, ns, name)
	if err != nil || got.GetMetadata().GetUid() != created.GetMetadata().GetUid() {
		t.Fatalf("get: %v", err)
	}
	l, err := r.List(ctx, ns, client.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(l.Items) != 1 {
		t.Fatalf("list: %d items", len(l.Items))
	}
	md := scheme.Meta(got)
	if md.Labels == nil {
		md.Labels = map[string]string{}
	}
	md.Labels["verb"] = "update"
	updated, err := r.Update(ctx, got)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != "MODIFIED" || ev.Object.GetMetadata().GetName() != name {
			t.Fatalf("watch: %s %v %v", ev.Type, ev.Object, ev.Err)
		}
	case <-ctx.Done():
		t.Fatal("watch: no event for the update")
	}
	if k.HasStatus {
		if _, err := r.UpdateStatus(ctx, updated); err != nil {
			t.Fatalf("update status: %v", err)
		}
	}
	zero := int64(0)
	if _, err := r.Delete(ctx, ns, name, &metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if after, err := r.Get(ctx, ns, name); !apierrors.IsNotFound(err) && (err != nil || after.GetMetadata().GetDeletionTimestamp() == nil) {
		t.Fatalf("get after delete: %v", err)
	}
}

// restClient speaks HTTPS with the admin's client certificate.
func restClient(t *testing.T, srv *apiservertest.Server) *http.Client {
	cfg, err := client.ConfigFromFlags("", srv.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := cfg.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc.Clone(), ForceAttemptHTTP2: false,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}, Timeout: 15 * time.Second}
}

// restPath is the REST path of a kind's collection.
func restPath(k *scheme.Kind) string {
	p := "/api/v1"
	if k.Group != "" {
		p = "/apis/" + k.Group + "/" + k.Version
	}
	if k.Namespaced {
		p += "/namespaces/default"
	}
	return p + "/" + k.Resource
}

// restVerbs runs every verb of the REST front with JSON bodies.
func restVerbs(t *testing.T, hc *http.Client, base string, k *scheme.Kind) {
	const name = "skel-rest"
	coll := base + restPath(k)
	item := coll + "/" + name
	body, err := codec.MarshalJSON(skeleton(t, k, name))
	if err != nil {
		t.Fatal(err)
	}
	created := do(t, hc, "POST", coll, "application/json", body, 201)
	rv := str(created, "metadata", "resourceVersion")

	// A watch from the created version sees the update below.
	ctx := ctxT(t)
	req, _ := http.NewRequestWithContext(ctx, "GET", coll+"?watch=1&resourceVersion="+rv+"&fieldSelector=metadata.name%3D"+name, nil)
	wresp, err := hc.Do(req)
	if err != nil || wresp.StatusCode != 200 {
		t.Fatalf("watch: %v %v", err, wresp)
	}
	defer wresp.Body.Close()
	events := make(chan map[string]any, 4)
	go func() {
		sc := bufio.NewScanner(wresp.Body)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				events <- ev
			}
		}
		close(events)
	}()

	got := do(t, hc, "GET", item, "", nil, 200)
	list := do(t, hc, "GET", coll+"?fieldSelector=metadata.name%3D"+name, "", nil, 200)
	if items, _ := list["items"].([]any); len(items) != 1 {
		t.Fatalf("list: %v", list)
	}
	md := got["metadata"].(map[string]any)
	md["labels"] = map[string]any{"verb": "update"}
	upd, _ := json.Marshal(got)
	do(t, hc, "PUT", item, "application/json", upd, 200)
	select {
	case ev, ok := <-events:
		if !ok || ev["type"] != "MODIFIED" {
			t.Fatalf("watch: %v", ev)
		}
	case <-ctx.Done():
		t.Fatal("watch: no event for the update")
	}
	patched := do(t, hc, "PATCH", item, "application/merge-patch+json", []byte(`{"metadata":{"annotations":{"verb":"patch"}}}`), 200)
	if str(patched, "metadata", "annotations", "verb") != "patch" {
		t.Fatalf("patch: %v", patched)
	}
	if k.HasStatus {
		st, _ := json.Marshal(patched)
		do(t, hc, "PUT", item+"/status", "application/json", st, 200)
		do(t, hc, "PATCH", item+"/status", "application/merge-patch+json", []byte(`{}`), 200)
	}
	del := do(t, hc, "DELETE", item+"?gracePeriodSeconds=0", "", nil, 0)
	if code := int(num(del, "code")); code >= 300 {
		t.Fatalf("delete: %v", del)
	}
	// Gone, or terminating (graceful kinds, finalizers).
	resp := raw(t, hc, "GET", item, "", nil)
	if resp.code == 200 && str(resp.obj, "metadata", "deletionTimestamp") == "" {
		t.Fatalf("get after delete: %v", resp.obj)
	} else if resp.code != 200 && resp.code != 404 {
		t.Fatalf("get after delete: %d %v", resp.code, resp.obj)
	}
}

type answer struct {
	code int
	obj  map[string]any
}

func raw(t *testing.T, hc *http.Client, method, url, ct string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var o map[string]any
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, url, resp.StatusCode, data)
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	return answer{resp.StatusCode, o}
}

// do sends a request and fails unless the code is want (0: any below
// 300, with the answer's code in "code").
func do(t *testing.T, hc *http.Client, method, url, ct string, body []byte, want int) map[string]any {
	t.Helper()
	a := raw(t, hc, method, url, ct, body)
	if want == 0 {
		if a.code >= 300 {
			t.Fatalf("%s %s: %d %v", method, url, a.code, a.obj)
		}
		a.obj["code"] = float64(a.code)
		return a.obj
	}
	if a.code != want {
		t.Fatalf("%s %s: %d, want %d: %v", method, url, a.code, want, a.obj)
	}
	return a.obj
}

func str(o map[string]any, path ...string) string {
	var cur any = o
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

func num(o map[string]any, key string) float64 {
	f, _ := o[key].(float64)
	return f
}
