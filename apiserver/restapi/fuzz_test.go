package restapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	k8sappsv1 "k8s.io/api/apps/v1"
	k8scorev1 "k8s.io/api/core/v1"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/app"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/restapi"
	"minik8s/apiserver/storage/memory"
)

// fuzzServer is the REST front over the request path and in-memory
// storage, as newServer builds it, for a fuzz target's *testing.F.
func fuzzServer(f *testing.F) string {
	st := generic.New(memory.New(), cache.Options{ProgressInterval: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	f.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := st.WaitReady(wctx); err != nil {
		f.Fatal(err)
	}
	nsKind, _ := scheme.ByResource("namespaces")
	if _, err := st.Create(wctx, nsKind, "", &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "default"}}, rest.WriteOptions{}); err != nil {
		f.Fatal(err)
	}
	hs := httptest.NewServer(restapi.New(restapi.Config{API: app.NewAPI(st, nil, nil, nil, nil, nil), Patch: app.ApplyPatch}))
	f.Cleanup(hs.Close)
	return hs.URL
}

// collectionPath is the REST path of a kind's collection in "default".
func collectionPath(k *scheme.Kind) string {
	p := "/api/v1"
	if k.Group != "" {
		p = "/apis/" + k.Group + "/" + k.Version
	}
	if k.Namespaced {
		p += "/namespaces/default"
	}
	return p + "/" + k.Resource
}

var bodyTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
var validations = []string{"", "Strict", "Warn", "Ignore"}

// FuzzRequestBody posts arbitrary bodies - JSON, YAML, and Kubernetes'
// protobuf envelope as client-go's typed clients send it - to every kind's
// collection through the whole REST request path: the answer is never a
// 500 (a panic, recovered, is one) and an error is a Status.
func FuzzRequestBody(f *testing.F) {
	url := fuzzServer(f)
	kindIdx := func(resource string) uint16 {
		for i, k := range scheme.All() {
			if k.Resource == resource {
				return uint16(i)
			}
		}
		f.Fatalf("no kind %s", resource)
		return 0
	}
	ser := protobuf.NewSerializer(clientgoscheme.Scheme, clientgoscheme.Scheme)
	pb := func(o runtime.Object) []byte {
		var buf bytes.Buffer
		if err := ser.Encode(o, &buf); err != nil {
			f.Fatal(err)
		}
		return buf.Bytes()
	}
	replicas := int32(2)
	f.Add(kindIdx("pods"), uint8(2), pb(&k8scorev1.Pod{TypeMeta: k8smetav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: k8smetav1.ObjectMeta{Name: "pb"}, Spec: k8scorev1.PodSpec{Containers: []k8scorev1.Container{{Name: "c", Image: "i"}}}}))
	f.Add(kindIdx("deployments"), uint8(2), pb(&k8sappsv1.Deployment{TypeMeta: k8smetav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: k8smetav1.ObjectMeta{Name: "d"}, Spec: k8sappsv1.DeploymentSpec{Replicas: &replicas,
			Selector: &k8smetav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: k8scorev1.PodTemplateSpec{ObjectMeta: k8smetav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec: k8scorev1.PodSpec{Containers: []k8scorev1.Container{{Name: "c", Image: "i"}}}}}}))
	f.Add(kindIdx("configmaps"), uint8(6), pb(&k8scorev1.ConfigMap{TypeMeta: k8smetav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: k8smetav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"a": "b"}}))
	f.Add(kindIdx("services"), uint8(2), pb(&k8scorev1.Service{TypeMeta: k8smetav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: k8smetav1.ObjectMeta{Name: "s"}, Spec: k8scorev1.ServiceSpec{Ports: []k8scorev1.ServicePort{{Port: 80}}}}))
	f.Add(kindIdx("pods"), uint8(2), []byte("k8s\x00garbage"))
	f.Add(kindIdx("pods"), uint8(2), []byte("k8s\x00\x0a\x02\x0a\x00"))
	f.Add(kindIdx("pods"), uint8(0), []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"j"},"spec":{"containers":[{"name":"c","image":"i"}]}}`))
	f.Add(kindIdx("pods"), uint8(6), []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"w","name":"x"},"spec":{"containerz":1}}`))
	f.Add(kindIdx("pods"), uint8(9), []byte("{"))
	f.Add(kindIdx("leases"), uint8(0), []byte(`{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},"spec":{"renewTime":"9999-12-31T23:59:59Z"}}`))
	f.Add(kindIdx("controllerrevisions"), uint8(1), []byte("apiVersion: apps/v1\nkind: ControllerRevision\nmetadata: {name: r}\ndata: {a: .nan}\nrevision: 1\n"))
	f.Add(kindIdx("configmaps"), uint8(1), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y, labels: &l {a: b}, annotations: {<<: *l, a: c}}\n"))
	f.Add(kindIdx("ingresses"), uint8(0), []byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"}}`))
	f.Fuzz(func(t *testing.T, ki uint16, mode uint8, body []byte) {
		all := scheme.All()
		k := all[int(ki)%len(all)]
		u := url + collectionPath(k)
		if v := validations[int(mode)/len(bodyTypes)%len(validations)]; v != "" {
			u += "?fieldValidation=" + v
		}
		req, err := http.NewRequest("POST", u, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", bodyTypes[int(mode)%len(bodyTypes)])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("POST %s (%s): %d %s", u, req.Header.Get("Content-Type"), resp.StatusCode, data)
		}
		if resp.StatusCode >= 400 {
			var st struct{ Kind, Status string }
			if err := json.Unmarshal(data, &st); err != nil || st.Kind != "Status" || st.Status != "Failure" {
				t.Fatalf("POST %s: %d answer is not a Status: %s", u, resp.StatusCode, data)
			}
		}
	})
}
