package codec_test

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/codec"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

// TestEdgeValuesRoundTripOrAreRefused: what the codec writes it reads
// back identically, at the very edges of the representable range; what it
// cannot represent (NaN, Inf, years beyond 0001-9999) it refuses to write,
// and Unencodable names the field, so the apiserver refuses it up front.
func TestEdgeValuesRoundTripOrAreRefused(t *testing.T) {
	lease := func(sec int64, nanos int32) proto.Message {
		return &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: "l"},
			Spec: &coordinationv1.LeaseSpec{RenewTime: &timestamppb.Timestamp{Seconds: sec, Nanos: nanos}}}
	}
	revision := func(v float64) proto.Message {
		return &appsv1.ControllerRevision{Metadata: &metav1.ObjectMeta{Name: "r"},
			Data: &structpb.Struct{Fields: map[string]*structpb.Value{"x": structpb.NewNumberValue(v)}}}
	}
	pod := func(sec int64) proto.Message {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"}, Status: &corev1.PodStatus{StartTime: &timestamppb.Timestamp{Seconds: sec}}}
	}
	for _, tc := range []struct {
		name string
		obj  proto.Message
		path string // "" when it must round-trip
	}{
		{"year 0001", lease(-62135596800, 0), ""},
		{"year 9999, last nanosecond", lease(253402300799, 999999999), ""},
		{"beyond 9999", lease(300000000000, 0), "spec.renewTime"},
		{"before 0001", lease(-62135596801, 0), "spec.renewTime"},
		{"negative nanos", lease(0, -1), "spec.renewTime"},
		{"pod start time beyond 9999", pod(253402300800), "status.startTime"},
		{"largest float", revision(math.MaxFloat64), ""},
		{"smallest float", revision(math.SmallestNonzeroFloat64), ""},
		{"NaN", revision(math.NaN()), "data[x]"},
		{"+Inf", revision(math.Inf(1)), "data[x]"},
		{"-Inf", revision(math.Inf(-1)), "data[x]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probs := codec.Unencodable(tc.obj)
			data, err := codec.MarshalJSON(tc.obj)
			if tc.path != "" {
				if len(probs) != 1 || probs[0].Path != tc.path {
					t.Fatalf("Unencodable = %v, want one problem at %s", probs, tc.path)
				}
				if err == nil || !strings.Contains(err.Error(), "cannot encode as JSON") {
					t.Fatalf("MarshalJSON wrote %s (err %v)", data, err)
				}
				if _, err := codec.MarshalIndentJSON(tc.obj); err == nil {
					t.Fatal("MarshalIndentJSON wrote it")
				}
				return
			}
			if len(probs) != 0 || err != nil {
				t.Fatalf("Unencodable = %v, MarshalJSON error %v", probs, err)
			}
			back := tc.obj.ProtoReflect().New().Interface()
			if err := codec.UnmarshalJSON(data, back); err != nil {
				t.Fatalf("read back %s: %v", data, err)
			}
			if !proto.Equal(back, tc.obj) {
				t.Fatalf("round trip changed it:\n%v\n%v", tc.obj, back)
			}
		})
	}
}

// TestYAMLMergeKeyOverride: a key that overrides one a merge brings in is
// valid YAML and decodes, with the override winning.
func TestYAMLMergeKeyOverride(t *testing.T) {
	doc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  labels: &l {a: \"1\", b: \"2\"}\n  annotations:\n    <<: *l\n    b: \"3\"\n"
	var cm corev1.ConfigMap
	if err := codec.UnmarshalYAML([]byte(doc), &cm); err != nil {
		t.Fatal(err)
	}
	if got := cm.Metadata.Annotations; got["a"] != "1" || got["b"] != "3" {
		t.Fatalf("annotations %v", got)
	}
}

// TestUnknownProtoFields: a field number the type does not declare, at
// any depth, is reported with its path.
func TestUnknownProtoFields(t *testing.T) {
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "a"}}}}
	if got := codec.UnknownProtoFields(pod); len(got) != 0 {
		t.Fatalf("clean pod: %v", got)
	}
	raw, _ := proto.Marshal(pod)
	// Field 99, varint 1, appended to the first container.
	c := pod.Spec.Containers[0]
	c.ProtoReflect().SetUnknown([]byte{0x98, 0x06, 0x01})
	raw, _ = proto.Marshal(pod)
	var back corev1.Pod
	if err := proto.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	got := codec.UnknownProtoFields(&back)
	if len(got) != 1 || !strings.HasPrefix(got[0], "spec.containers[0]: unknown field(s) in minik8s.core.v1.Container") {
		t.Fatalf("UnknownProtoFields = %v", got)
	}
}
