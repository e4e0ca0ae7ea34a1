package codec

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// treeJSON is the encoding by way of the value tree (toValue, then
// appendValue), the reference appendMessage must reproduce byte for byte.
func treeJSON(m proto.Message) ([]byte, error) {
	var e encoder
	v := e.toValue(m.ProtoReflect())
	if e.err != nil {
		return nil, e.err
	}
	return appendValue(nil, v), nil
}

// checkStreamMatchesTree fails t unless MarshalJSON and the tree encoding
// agree on m: the same bytes, or both refuse it.
func checkStreamMatchesTree(t *testing.T, name string, m proto.Message) {
	t.Helper()
	want, werr := treeJSON(m)
	got, gerr := MarshalJSON(m)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: MarshalJSON error %v, tree encoding error %v", name, gerr, werr)
	}
	if string(got) != string(want) {
		t.Fatalf("%s: MarshalJSON\n%s\ntree encoding\n%s", name, got, want)
	}
	// AppendJSON appends the same text, and leaves b alone on an error.
	prefix := []byte(`{"x":`)
	app, aerr := AppendJSON(prefix, m)
	switch {
	case (aerr == nil) != (gerr == nil):
		t.Fatalf("%s: AppendJSON error %v, MarshalJSON error %v", name, aerr, gerr)
	case aerr != nil && string(app) != string(prefix):
		t.Fatalf("%s: AppendJSON wrote %q on error", name, app)
	case aerr == nil && string(app) != string(prefix)+string(got):
		t.Fatalf("%s: AppendJSON %s, want %s%s", name, app, prefix, got)
	}
}

// managedPod is a pod as the apiserver stores one after a create: labels,
// an annotation, a container with a port, and managedFields whose
// fieldsV1 is a tree of many small objects.
func managedPod() *corev1.Pod {
	empty := structpb.NewStructValue(&structpb.Struct{})
	obj := func(kv ...any) *structpb.Value {
		s := &structpb.Struct{Fields: map[string]*structpb.Value{".": empty}}
		for i := 0; i < len(kv); i += 2 {
			s.Fields[kv[i].(string)] = kv[i+1].(*structpb.Value)
		}
		return structpb.NewStructValue(s)
	}
	fields := &structpb.Struct{Fields: map[string]*structpb.Value{
		"f:metadata": obj("f:labels", obj("f:app", empty, "f:tier", empty), "f:annotations", obj("f:bench/padding", empty)),
		"f:spec": obj("f:containers", obj(`k:{"name":"app"}`, obj("f:image", empty, "f:name", empty,
			"f:ports", obj(`k:{"containerPort":8080,"protocol":"TCP"}`, obj("f:containerPort", empty, "f:protocol", empty)))),
			"f:dnsPolicy", empty, "f:restartPolicy", empty, "f:schedulerName", empty),
	}}
	return &corev1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &metav1.ObjectMeta{Name: "bench-0", Namespace: "rest", Uid: "ea8720b9-7d7a-46c7-a3d6-5093e56f3c0e", ResourceVersion: "43", Generation: 1,
			CreationTimestamp: &timestamppb.Timestamp{Seconds: 1796497152},
			Labels:            map[string]string{"tier": "backend", "app": "bench"},
			Annotations:       map[string]string{"bench/padding": strings.Repeat("p", 560)},
			ManagedFields: []*metav1.ManagedFieldsEntry{{Manager: "Go-http-client", Operation: "Update", ApiVersion: "v1",
				Time: &timestamppb.Timestamp{Seconds: 1796497152}, FieldsType: "FieldsV1", FieldsV1: fields}}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "registry.local/kubia:1",
			Ports: []*corev1.ContainerPort{{ContainerPort: 8080, Name: "http", Protocol: "TCP"}}}},
			RestartPolicy: "Always", DnsPolicy: "ClusterFirst", SchedulerName: "default-scheduler"},
		Status: &corev1.PodStatus{Phase: "Pending", QosClass: "BestEffort"},
	}
}

// TestStreamMatchesTree: the direct writer prints exactly what the value
// tree printed, for every example manifest and for the values the tree
// treats specially (IntOrString, MicroTime, bytes, Struct numbers, null
// and empty Struct values, unsorted maps, zero-valued required fields,
// values JSON cannot carry).
func TestStreamMatchesTree(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("../../deploy/examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := DecodeObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, o := range objs {
			checkStreamMatchesTree(t, filepath.Base(file)+" "+o.GetMetadata().GetName(), o)
		}
	}
	num := structpb.NewNumberValue
	for _, tc := range []struct {
		name string
		obj  proto.Message
	}{
		{"managed pod", managedPod()},
		{"empty pod", &corev1.Pod{}},
		{"every kind empty", nil},
		{"struct values", &appsv1.ControllerRevision{Metadata: &metav1.ObjectMeta{Name: "r"}, Revision: -3,
			Data: &structpb.Struct{Fields: map[string]*structpb.Value{
				"int": num(42), "neg": num(-7), "frac": num(0.5), "big": num(1e15), "huge": num(1e300), "negzero": num(math.Copysign(0, -1)),
				"s": structpb.NewStringValue("q\"<é\u2028\xff"), "t": structpb.NewBoolValue(true), "null": structpb.NewNullValue(),
				"none": {}, "nilptr": nil, "emptystruct": structpb.NewStructValue(nil), "emptylist": structpb.NewListValue(nil),
				"list": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{num(1), nil, structpb.NewStringValue("x"),
					structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"b": num(2), "a": num(1)}})}}),
			}}}},
		{"nan in struct", &appsv1.ControllerRevision{Data: &structpb.Struct{Fields: map[string]*structpb.Value{"n": num(math.NaN())}}}},
		{"inf in list", &appsv1.ControllerRevision{Data: &structpb.Struct{Fields: map[string]*structpb.Value{
			"l": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{num(math.Inf(1))}})}}}},
		{"micro time", &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: "l"},
			Spec: &coordinationv1.LeaseSpec{RenewTime: &timestamppb.Timestamp{Seconds: 1, Nanos: 1000}, AcquireTime: &timestamppb.Timestamp{Seconds: 2}}}},
		{"bad timestamp", &coordinationv1.Lease{Spec: &coordinationv1.LeaseSpec{RenewTime: &timestamppb.Timestamp{Seconds: 253402300800}}}},
		{"nanos", &corev1.Pod{Status: &corev1.PodStatus{StartTime: &timestamppb.Timestamp{Seconds: 1, Nanos: 5}}}},
		{"bytes and maps", &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "s", Labels: map[string]string{"b": "2", "a": "1", "": "0"}},
			Data: map[string][]byte{"z": []byte("\x00\xffbin"), "a": nil}}},
		{"int or string", &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "svc"}, Spec: &corev1.ServiceSpec{Ports: []*corev1.ServicePort{
			{Port: 80, TargetPort: &metav1.IntOrString{Type: 1, StrVal: "http"}}, {Port: 81, TargetPort: &metav1.IntOrString{IntVal: 8081}}}}}},
		{"required zero", &corev1.ContainerStatus{Name: "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.obj != nil {
				checkStreamMatchesTree(t, tc.name, tc.obj)
				return
			}
			for _, k := range scheme.All() {
				checkStreamMatchesTree(t, k.Kind, k.New())
			}
		})
	}
}

// FuzzStreamMatchesTree builds objects of every kind from arbitrary
// protobuf bytes and checks the direct writer against the value tree.
func FuzzStreamMatchesTree(f *testing.F) {
	for i, k := range scheme.All() {
		o := k.NewObject()
		scheme.Meta(o).Name = "x"
		raw, _ := proto.Marshal(o)
		f.Add(uint16(i), raw)
	}
	raw, _ := proto.Marshal(managedPod())
	for i, k := range scheme.All() {
		if k.Resource == "pods" {
			f.Add(uint16(i), raw)
		}
	}
	f.Fuzz(func(t *testing.T, ki uint16, raw []byte) {
		all := scheme.All()
		k := all[int(ki)%len(all)]
		obj := k.New()
		if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, obj); err != nil {
			return
		}
		checkStreamMatchesTree(t, k.Kind, obj)
	})
}

// BenchmarkMarshalManagedPod writes the pod hack/bench lists (a 560-byte
// annotation, managedFields of its creator) as one Table row or list item
// is written.
func BenchmarkMarshalManagedPod(b *testing.B) {
	p := managedPod()
	b.Run("stream", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = AppendJSON(buf[:0], p)
		}
	})
	b.Run("tree", func(b *testing.B) {
		for b.Loop() {
			_, _ = treeJSON(p)
		}
	})
}
