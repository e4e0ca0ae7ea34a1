package client

import (
	"reflect"
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestImpersonationMD(t *testing.T) {
	got := impersonationMD(Impersonation{User: "jane", UID: "42", Groups: []string{"a", "b"}, Extra: map[string][]string{"Example.com/Team": {"x"}}})
	want := metadata.MD{"impersonate-user": {"jane"}, "impersonate-uid": {"42"}, "impersonate-group": {"a", "b"},
		"impersonate-extra-example.com%2fteam": {"x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if md := impersonationMD(Impersonation{}); md.Len() != 0 {
		t.Errorf("zero impersonation sends %v", md)
	}
}
