package restapi_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	k8serrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	restclient "k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"

	"minik8s/apiserver/cache"
)

func k8sPod(name string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
	}
}

// TestProtobufBody: a body in Kubernetes' protobuf encoding (what
// client-go's typed clients send) creates the object.
func TestProtobufBody(t *testing.T) {
	s := newServer(t, cache.Options{})
	var buf bytes.Buffer
	if err := protobuf.NewSerializer(clientgoscheme.Scheme, clientgoscheme.Scheme).Encode(k8sPod("proto"), &buf); err != nil {
		t.Fatal(err)
	}
	created := s.mustDo(201, "POST", pods, buf.String(), "Content-Type: application/vnd.kubernetes.protobuf")
	if created.str("metadata.name") != "proto" || created.str("spec.containers.0.image") != "nginx:1.25" || created.str("metadata.labels.app") != "web" {
		t.Fatalf("created %v", created)
	}
	s.mustDo(200, "GET", pods+"/proto", "")
	wantStatus(t, s.do("POST", pods, "k8s\x00garbage", "Content-Type: application/vnd.kubernetes.protobuf"), 400, "BadRequest", "protobuf")
}

func clientset(t *testing.T, s *server, protobuf bool) *kubernetes.Clientset {
	t.Helper()
	cfg := &restclient.Config{Host: s.URL, UserAgent: "restapi-test/v0"}
	if protobuf {
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestClientGoPods drives pods through client-go's typed client, in JSON
// and in protobuf.
func TestClientGoPods(t *testing.T) {
	for _, pb := range []bool{false, true} {
		name := "json"
		if pb {
			name = "protobuf"
		}
		t.Run(name, func(t *testing.T) {
			s := newServer(t, cache.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			pods := clientset(t, s, pb).CoreV1().Pods("default")

			created, err := pods.Create(ctx, k8sPod("web"), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if created.UID == "" || created.ResourceVersion == "" || created.Namespace != "default" {
				t.Fatalf("created %+v", created.ObjectMeta)
			}
			if _, err := pods.Create(ctx, k8sPod("web"), metav1.CreateOptions{}); !k8serrors.IsAlreadyExists(err) {
				t.Fatalf("second create: %v, want AlreadyExists", err)
			}
			got, err := pods.Get(ctx, "web", metav1.GetOptions{})
			if err != nil || got.Spec.Containers[0].Image != "nginx:1.25" {
				t.Fatalf("get: %v %+v", err, got)
			}
			if _, err := pods.Get(ctx, "missing", metav1.GetOptions{}); !k8serrors.IsNotFound(err) {
				t.Fatalf("get missing: %v, want NotFound", err)
			}
			list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil || len(list.Items) != 1 || list.ResourceVersion == "" {
				t.Fatalf("list: %v %+v", err, list)
			}

			got.Labels["tier"] = "front"
			updated, err := pods.Update(ctx, got, metav1.UpdateOptions{})
			if err != nil || updated.Labels["tier"] != "front" {
				t.Fatalf("update: %v %+v", err, updated)
			}
			// got still carries the old resourceVersion.
			if _, err := pods.Update(ctx, got, metav1.UpdateOptions{}); !k8serrors.IsConflict(err) {
				t.Fatalf("stale update: %v, want Conflict", err)
			}

			patched, err := pods.Patch(ctx, "web", types.StrategicMergePatchType,
				[]byte(`{"metadata":{"labels":{"tier":null}},"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}`), metav1.PatchOptions{})
			if err != nil || patched.Labels["tier"] != "" || len(patched.Spec.Containers) != 1 || patched.Spec.Containers[0].Image != "nginx:1.26" {
				t.Fatalf("patch: %v %+v", err, patched)
			}

			if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web"},
				Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
				t.Fatalf("bind: %v", err)
			}
			if bound, err := pods.Get(ctx, "web", metav1.GetOptions{}); err != nil || bound.Spec.NodeName != "node-1" {
				t.Fatalf("after bind: %v nodeName %q", err, bound.Spec.NodeName)
			}
			if err := pods.Delete(ctx, "web", metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions("other")}); !k8serrors.IsConflict(err) {
				t.Fatalf("delete with a wrong uid: %v, want Conflict", err)
			}
			// A bound pod is only marked; the kubelet's delete with grace 0 removes it.
			if err := pods.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			if marked, err := pods.Get(ctx, "web", metav1.GetOptions{}); err != nil || marked.DeletionTimestamp == nil {
				t.Fatalf("after a graceful delete: %v %+v", err, marked)
			}
			zero := int64(0)
			if err := pods.Delete(ctx, "web", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
				t.Fatal(err)
			}
			if _, err := pods.Get(ctx, "web", metav1.GetOptions{}); !k8serrors.IsNotFound(err) {
				t.Fatalf("get after delete: %v", err)
			}
		})
	}
}

func TestClientGoDeployments(t *testing.T) {
	s := newServer(t, cache.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	deploys := clientset(t, s, true).AppsV1().Deployments("default")
	replicas := int32(1)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}}},
		},
	}
	created, err := deploys.Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Generation != 1 {
		t.Fatalf("generation %d", created.Generation)
	}
	list, err := deploys.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v %+v", err, list)
	}
	three := int32(3)
	created.Spec.Replicas = &three
	updated, err := deploys.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil || *updated.Spec.Replicas != 3 || updated.Generation != 2 {
		t.Fatalf("update: %v %+v", err, updated)
	}
	updated.Status.ReadyReplicas = 3
	st, err := deploys.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil || st.Status.ReadyReplicas != 3 || st.Generation != 2 {
		t.Fatalf("update status: %v %+v", err, st)
	}
	patched, err := deploys.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{})
	if err != nil || *patched.Spec.Replicas != 5 || patched.Status.ReadyReplicas != 3 {
		t.Fatalf("patch: %v %+v", err, patched)
	}
	if err := deploys.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := deploys.Get(ctx, "web", metav1.GetOptions{}); !k8serrors.IsNotFound(err) {
		t.Fatalf("get after delete: %v", err)
	}
}

// TestClientGoInformer: a SharedInformer lists and watches pods through
// the REST front and sees an update and a delete.
func TestClientGoInformer(t *testing.T) {
	t.Run("json", func(t *testing.T) { testInformer(t, false) })
	t.Run("protobuf", func(t *testing.T) { testInformer(t, true) })
}

func testInformer(t *testing.T, protobuf bool) {
	s := newServer(t, cache.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := clientset(t, s, protobuf)
	pods := cs.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, k8sPod("before"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().Pods()
	events := make(chan string, 100)
	if _, err := inf.Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { events <- "add " + obj.(*corev1.Pod).Name },
		UpdateFunc: func(_, obj any) {
			if v := obj.(*corev1.Pod).Labels["v"]; v != "" {
				events <- "update " + obj.(*corev1.Pod).Name + " v=" + v
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			events <- "delete " + obj.(*corev1.Pod).Name
		},
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	// Shutdown waits for the informers, which end when stop closes.
	defer func() { close(stop); factory.Shutdown() }()
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		t.Fatal("the pod informer did not sync")
	}

	expect := func(want string) {
		t.Helper()
		for {
			select {
			case got := <-events:
				if got == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("never saw %q", want)
			}
		}
	}
	expect("add before")
	if _, err := pods.Create(ctx, k8sPod("after"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("add after")
	if _, err := pods.Patch(ctx, "before", types.MergePatchType, []byte(`{"metadata":{"labels":{"v":"2"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("update before v=2")
	cached, err := inf.Lister().Pods("default").Get("before")
	if err != nil || cached.Labels["v"] != "2" {
		t.Fatalf("lister: %v %+v", err, cached)
	}
	if err := pods.Delete(ctx, "after", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("delete after")
}
