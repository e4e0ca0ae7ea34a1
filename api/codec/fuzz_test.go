package codec_test

import (
	"math"

	yaml3 "go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/codec"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// The fuzz targets of the codec (issue 13: a fuzz target for each
// decoder). Their seeds run with every `go test`; `make fuzz` explores
// each for $FUZZTIME. A failure found by the engine lands in
// testdata/fuzz/<Target>/ and from then on runs as a seed.

// kindAt picks a registered kind by a fuzzed index, so one target covers
// every kind.
func kindAt(i uint16) *scheme.Kind {
	all := scheme.All()
	return all[int(i)%len(all)]
}

func kindIndex(resource string) uint16 {
	for i, k := range scheme.All() {
		if k.Resource == resource {
			return uint16(i)
		}
	}
	panic("no kind " + resource)
}

// FuzzDecodeYAML: multi-document streams, duplicate keys, merge keys,
// anchors and aliases never panic the YAML decoder, and what decodes
// prints back as YAML that decodes to the same objects.
func FuzzDecodeYAML(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n...\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  labels: &l {a: \"1\", b: \"2\"}\n  annotations:\n    <<: *l\n    b: \"3\"\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  labels: &l {a: \"1\"}\n  annotations:\n    <<: [*l, {c: \"2\"}]\n    c: \"4\"\n    c: \"5\"\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"<<\"}\ndata: {a: x, a: y}\n",
		"a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\n",
		"--- # first\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n--- \n# only a comment\n---\n",
		"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}, stringData: {a: b}}\n",
		"apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: l}\nspec: {renewTime: \"9999-12-31T23:59:59.999999Z\"}\n",
		"apiVersion: apps/v1\nkind: ControllerRevision\nmetadata: {name: r}\ndata: {x: .nan, y: .inf, z: -.Inf}\nrevision: 1\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: !!binary aGk=}\n",
		"\xef\xbb\xbfapiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: crlf\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := codec.DecodeObjects(data)
		if err != nil {
			return
		}
		// A mapping that writes one key twice (merge keys aside) is
		// refused, also beside a merge key or a "<<" in a string.
		if docs, err := codec.SplitYAMLDocuments(data); err == nil {
			for _, d := range docs {
				var n yaml3.Node
				if yaml3.Unmarshal(d, &n) == nil {
					if k := duplicateKey(&n); k != "" {
						t.Fatalf("decoded a document that sets %q twice:\n%s", k, d)
					}
				}
			}
		}
		for _, o := range objs {
			y, err := codec.MarshalYAML(o)
			if err != nil {
				t.Fatalf("decoded %v but cannot print it as YAML: %v", o, err)
			}
			back, err := codec.DecodeObjects(y)
			if err != nil || len(back) != 1 {
				t.Fatalf("re-decoding\n%s: %v (%d objects)", y, err, len(back))
			}
			if !proto.Equal(o, back[0]) {
				t.Fatalf("YAML round trip changed\n%s", y)
			}
		}
	})
}

// FuzzUnmarshalJSON decodes arbitrary JSON into every kind, strictly and
// leniently: no panics, and what decodes strictly survives a JSON round
// trip unchanged.
func FuzzUnmarshalJSON(f *testing.F) {
	for _, seed := range []struct {
		resource, json string
	}{
		{"pods", `{"metadata":{"name":"p","labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"250m","memory":1e3}}}]}}`},
		{"pods", `{"metadata":{"name":"p"},"metadata":{"name":"q"}}`},
		{"pods", `{"spec":{"containers":[{"name":"c","imagee":"x"}]}}`},
		{"pods", `{"status":{"startTime":"0001-01-01T00:00:00Z"}}`},
		{"leases", `{"spec":{"renewTime":"9999-12-31T23:59:59.999999999Z","leaseDurationSeconds":9223372036854775807}}`},
		{"leases", `{"spec":{"renewTime":"10000-01-01T00:00:00Z"}}`},
		{"controllerrevisions", `{"data":{"a":[1,{"b":null}],"c":1e308,"d":-0,"e":"\u0000"},"revision":-9223372036854775808}`},
		{"services", `{"spec":{"ports":[{"port":80,"targetPort":"http"},{"port":81,"targetPort":8080}]}}`},
		{"deployments", `{"spec":{"replicas":2,"strategy":{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":0}}}}`},
		{"secrets", `{"data":{"a":"YQ=="},"stringData":{"b":"c"}}`},
		{"configmaps", `{"data":{"a":"b"},"binaryData":{"c":"!!"}}`},
		{"pods", `[1,2]`},
		{"pods", `{"metadata":{"name":"\ud800"}}`},
	} {
		f.Add(kindIndex(seed.resource), []byte(seed.json))
	}
	f.Fuzz(func(t *testing.T, ki uint16, data []byte) {
		k := kindAt(ki)
		lenient := k.New()
		_, _ = codec.UnmarshalJSONLenient(data, lenient)
		obj := k.New()
		if err := codec.UnmarshalJSON(data, obj); err != nil {
			return
		}
		j, err := codec.MarshalJSON(obj)
		if err != nil {
			t.Fatalf("%s: decoded %s but cannot encode it: %v", k.Kind, data, err)
		}
		back := k.New()
		if err := codec.UnmarshalJSON(j, back); err != nil {
			t.Fatalf("%s: re-decoding %s: %v", k.Kind, j, err)
		}
		if !proto.Equal(obj, back) {
			t.Fatalf("%s: JSON round trip changed %s into %s", k.Kind, data, j)
		}
	})
}

// FuzzRoundTrip builds objects of every kind from arbitrary protobuf
// bytes (any field values at all: NaN, infinities, timestamps past 9999,
// extreme integers) and checks the codec's promise: what Unencodable
// accepts, JSON and YAML write and read back identically; what it refuses,
// the codec refuses to write - it never writes what it cannot read.
func FuzzRoundTrip(f *testing.F) {
	edge := []scheme.Object{
		&coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: "first"},
			Spec: &coordinationv1.LeaseSpec{RenewTime: &timestamppb.Timestamp{Seconds: -62135596800}, AcquireTime: &timestamppb.Timestamp{Seconds: 253402300799, Nanos: 999999999}}},
		&coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: "past"}, Spec: &coordinationv1.LeaseSpec{RenewTime: &timestamppb.Timestamp{Seconds: 253402300800}}},
		&coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: "before"}, Spec: &coordinationv1.LeaseSpec{RenewTime: &timestamppb.Timestamp{Seconds: -62135596801}}},
		&appsv1.ControllerRevision{Metadata: &metav1.ObjectMeta{Name: "nan"}, Revision: math.MinInt64,
			Data: &structpb.Struct{Fields: map[string]*structpb.Value{"n": structpb.NewNumberValue(math.NaN())}}},
		&appsv1.ControllerRevision{Metadata: &metav1.ObjectMeta{Name: "inf"}, Revision: math.MaxInt64,
			Data: &structpb.Struct{Fields: map[string]*structpb.Value{"i": structpb.NewNumberValue(math.Inf(-1)), "m": structpb.NewNumberValue(math.MaxFloat64)}}},
		&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", CreationTimestamp: &timestamppb.Timestamp{Seconds: -62135596800}},
			Status: &corev1.PodStatus{StartTime: &timestamppb.Timestamp{Seconds: 253402300799, Nanos: 1}}},
		&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "nanos"}, Status: &corev1.PodStatus{StartTime: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}}},
	}
	for _, o := range edge {
		k, err := scheme.KindOf(o)
		if err != nil {
			f.Fatal(err)
		}
		raw, err := proto.Marshal(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(kindIndex(k.Resource), raw)
	}
	// Every kind once, with just a name.
	for i, k := range scheme.All() {
		o := k.NewObject()
		scheme.Meta(o).Name = "x"
		raw, _ := proto.Marshal(o)
		f.Add(uint16(i), raw)
	}
	f.Fuzz(func(t *testing.T, ki uint16, raw []byte) {
		k := kindAt(ki)
		obj := k.New()
		if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, obj); err != nil {
			return
		}
		probs := codec.Unencodable(obj)
		j, err := codec.MarshalJSON(obj)
		if len(probs) > 0 {
			if err == nil {
				t.Fatalf("%s: Unencodable says %v but MarshalJSON wrote %s", k.Kind, probs, j)
			}
			if _, err := codec.MarshalYAML(obj); err == nil {
				t.Fatalf("%s: Unencodable says %v but MarshalYAML wrote it", k.Kind, probs)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: Unencodable finds nothing but MarshalJSON fails: %v", k.Kind, err)
		}
		back := k.New()
		if err := codec.UnmarshalJSON(j, back); err != nil {
			t.Fatalf("%s: cannot read back %s: %v", k.Kind, j, err)
		}
		// Shapes JSON has one spelling for read back in that one.
		canonical(obj.ProtoReflect())
		if !proto.Equal(obj, back) {
			t.Fatalf("%s: JSON round trip changed the object:\n%v\n%s\n%v", k.Kind, obj, j, back)
		}
		y, err := codec.MarshalYAML(obj)
		if err != nil {
			t.Fatalf("%s: MarshalYAML: %v", k.Kind, err)
		}
		back = k.New()
		if err := codec.UnmarshalYAML(y, back); err != nil {
			t.Fatalf("%s: cannot read back YAML\n%s: %v", k.Kind, y, err)
		}
		if !proto.Equal(obj, back) {
			t.Fatalf("%s: YAML round trip changed the object:\n%s", k.Kind, y)
		}
	})
}

// canonical rewrites, in place, the protobuf shapes that JSON has a single
// spelling for into the shape that spelling decodes to: a
// google.protobuf.Value without a kind is null (a null_value), an
// IntOrString is its integer unless its type says string (1), and then
// only its string.
func canonical(m protoreflect.Message) {
	fs := m.Descriptor().Fields()
	switch m.Descriptor().FullName() {
	case "google.protobuf.Value":
		if m.WhichOneof(m.Descriptor().Oneofs().ByName("kind")) == nil {
			m.Set(fs.ByName("null_value"), protoreflect.ValueOfEnum(0))
			return
		}
	case "minik8s.meta.v1.IntOrString":
		if m.Get(fs.ByName("type")).Int() == 1 {
			m.Clear(fs.ByName("intVal"))
		} else {
			m.Clear(fs.ByName("type"))
			m.Clear(fs.ByName("strVal"))
		}
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				canonical(v.List().Get(i).Message())
			}
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				return true
			}
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				canonical(mv.Message())
				return true
			})
		default:
			canonical(v.Message())
		}
		return true
	})
}

// duplicateKey returns a scalar key some mapping under n sets twice, not
// counting merge keys and without following aliases ("" when none).
func duplicateKey(n *yaml3.Node) string {
	if n.Kind == yaml3.MappingNode {
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml3.ScalarNode || k.Tag == "!!merge" || k.Value == "<<" {
				continue
			}
			if seen[k.Value] {
				return k.Value
			}
			seen[k.Value] = true
		}
	}
	for _, c := range n.Content {
		if d := duplicateKey(c); d != "" {
			return d
		}
	}
	return ""
}
