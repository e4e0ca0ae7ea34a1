package patch

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/api/codec"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// TestCreateFastPathMatchesFieldManager: for every example object (and
// with a status subresource's reset fields where the kind has one), the
// create fast path records exactly the entry Kubernetes' field manager
// records for the same create.
func TestCreateFastPathMatchesFieldManager(t *testing.T) {
	files, err := filepath.Glob("../../deploy/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	var objs []scheme.Object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os, err := codec.DecodeObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		objs = append(objs, os...)
	}
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	recorded := 0
	defer func() {
		// Most examples are stored kinds the field manager tracks; a
		// test where neither side records anything would prove nothing.
		if recorded < len(objs)/2 {
			t.Errorf("the field manager recorded %d of %d examples", recorded, len(objs))
		}
	}()
	for _, o := range objs {
		k, err := scheme.KindOf(o)
		if err != nil {
			t.Fatal(err)
		}
		name := k.Kind + "/" + o.GetMetadata().GetName()
		t.Run(name, func(t *testing.T) {
			want, err := trackWrite(k, "", nil, proto.Clone(o).(scheme.Object), "kubectl", now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := trackCreate(k, "", proto.Clone(o).(scheme.Object), "kubectl", now)
			if err != nil {
				t.Fatal(err)
			}
			wj, _ := codec.MarshalJSON(&metav1.ObjectMeta{ManagedFields: want.GetMetadata().GetManagedFields()})
			gj, _ := codec.MarshalJSON(&metav1.ObjectMeta{ManagedFields: got.GetMetadata().GetManagedFields()})
			if len(want.GetMetadata().GetManagedFields()) > 0 {
				recorded++
			}
			if string(wj) != string(gj) {
				t.Errorf("fast path:\n%s\nfield manager:\n%s", gj, wj)
			}
		})
	}
}
