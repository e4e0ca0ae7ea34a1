package main

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestJoinComment(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []string
		want  string
	}{
		{"one line", []string{" Pod is a pod.\n"}, "Pod is a pod."},
		{"lines join", []string{" type is 0 for an integer,\n 1 for a string.\n"}, "type is 0 for an integer, 1 for a string."},
		{"paragraphs", []string{" First.\n\n Second\n line.\n"}, "First.\n\nSecond line."},
		{"leading and trailing", []string{" Leading.\n", " trailing\n"}, "Leading.\n\ntrailing"},
		{"none", []string{"", ""}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := joinComment(tc.parts...); got != tc.want {
				t.Errorf("joinComment(%q) = %q, want %q", tc.parts, got, tc.want)
			}
		})
	}
}

func TestDescriptions(t *testing.T) {
	loc := func(c string, path ...int32) *descriptorpb.SourceCodeInfo_Location {
		return &descriptorpb.SourceCodeInfo_Location{Path: path, LeadingComments: proto.String(c)}
	}
	file := func(pkg string) *descriptorpb.FileDescriptorProto {
		return &descriptorpb.FileDescriptorProto{
			Package: proto.String(pkg),
			MessageType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("Pod"),
				Field: []*descriptorpb.FieldDescriptorProto{
					{Name: proto.String("apiVersion")},
					{Name: proto.String("spec")},
				},
				NestedType: []*descriptorpb.DescriptorProto{{
					Name:  proto.String("Inner"),
					Field: []*descriptorpb.FieldDescriptorProto{{Name: proto.String("x")}},
				}},
			}},
			SourceCodeInfo: &descriptorpb.SourceCodeInfo{Location: []*descriptorpb.SourceCodeInfo_Location{
				loc(" Pod runs containers.\n", 4, 0),
				loc(" spec is the desired state.\n", 4, 0, 2, 1),
				loc(" Inner is nested.\n", 4, 0, 3, 0),
				loc(" x is a field of Inner.\n", 4, 0, 3, 0, 2, 0),
			}},
		}
	}
	got := descriptions(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		file("minik8s.core.v1"),
		file("minik8s.rpc"), // the gRPC envelope is not described
		file("google.protobuf"),
	}})
	want := map[string]string{
		"minik8s.core.v1.Pod":         "Pod runs containers.",
		"minik8s.core.v1.Pod.spec":    "spec is the desired state.",
		"minik8s.core.v1.Pod.Inner":   "Inner is nested.",
		"minik8s.core.v1.Pod.Inner.x": "x is a field of Inner.",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("descriptions = %v, want %v", got, want)
	}
}
