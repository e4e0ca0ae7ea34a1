package server_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	_ "minik8s/api/all"
	appsv1 "minik8s/api/apps/v1"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
	"minik8s/apiserver/app"
	"minik8s/apiserver/cache"
	_ "minik8s/apiserver/registry/all"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/server"
	"minik8s/apiserver/storage/memory"
)

var subresources = []string{"", "status", "binding", "eviction", "token", "scale"}

// FuzzWriteRequest sends arbitrary protobuf object bytes, as every kind
// and subresource, through the gRPC front's Create and Update (called in
// process, the whole request path over in-memory storage): garbage,
// unknown fields, NaN and out-of-range timestamps are API errors - never
// an InternalError, which is what a recovered panic becomes.
func FuzzWriteRequest(f *testing.F) {
	st := generic.New(memory.New(), cache.Options{ProgressInterval: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	f.Cleanup(func() { cancel(); <-done })
	if err := st.WaitReady(ctx); err != nil {
		f.Fatal(err)
	}
	nsKind, _ := scheme.ByResource("namespaces")
	if _, err := st.Create(ctx, nsKind, "", &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "default"}}, rest.WriteOptions{}); err != nil {
		f.Fatal(err)
	}
	srv := server.New(server.Config{API: app.NewAPI(st, nil, nil, nil, nil, nil), Store: st})

	idx := func(resource string) uint16 {
		for i, k := range scheme.All() {
			if k.Resource == resource {
				return uint16(i)
			}
		}
		f.Fatalf("no kind %s", resource)
		return 0
	}
	add := func(resource string, mode uint8, o proto.Message) {
		raw, err := proto.Marshal(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(idx(resource), mode, raw)
	}
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "i"}}}}
	add("pods", 0, pod)
	add("pods", 1, pod)
	add("pods", 2, &corev1.Binding{Metadata: &metav1.ObjectMeta{Name: "p"}, Target: &corev1.ObjectReference{Name: "n"}})
	add("leases", 0, &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: "l"}, Spec: &coordinationv1.LeaseSpec{RenewTime: &timestamppb.Timestamp{Seconds: 300000000000}}})
	add("controllerrevisions", 0, &appsv1.ControllerRevision{Metadata: &metav1.ObjectMeta{Name: "r"}, Revision: 1,
		Data: &structpb.Struct{Fields: map[string]*structpb.Value{"n": structpb.NewNumberValue(0), "e": {}}}})
	add("ingresses", 0, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "i"}})
	f.Add(idx("pods"), uint8(0), []byte("\x0a\x00\xf8\x0f\x01"))
	f.Add(idx("pods"), uint8(0), []byte{0xff})
	f.Add(idx("configmaps"), uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, ki uint16, mode uint8, raw []byte) {
		all := scheme.All()
		k := all[int(ki)%len(all)]
		ns := ""
		if k.Namespaced {
			ns = "default"
		}
		sub := subresources[int(mode)/2%len(subresources)]
		name := ""
		if sub != "" {
			name = "p"
		}
		var err error
		if mode%2 == 0 {
			_, err = srv.Create(ctx, &rpc.CreateRequest{Resource: k.Resource, Namespace: ns, Name: name, Subresource: sub, Object: &rpc.Object{Raw: raw}})
		} else {
			_, err = srv.Update(ctx, &rpc.UpdateRequest{Resource: k.Resource, Namespace: ns, Subresource: sub, Object: &rpc.Object{Raw: raw}})
		}
		if r := apierrors.ReasonOf(apierrors.FromGRPC(err)); err != nil && (r == "" || r == apierrors.ReasonInternal) {
			t.Fatalf("%s %s/%s: %v", map[bool]string{true: "create", false: "update"}[mode%2 == 0], k.Resource, sub, err)
		}
	})
}
