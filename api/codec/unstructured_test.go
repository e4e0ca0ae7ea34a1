package codec_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"

	"minik8s/api/codec"
)

// TestToUnstructuredMatchesJSON: for every example object, ToUnstructured
// gives the tree Kubernetes' JSON decoding reads from MarshalJSON's text
// (int64 for integral numbers, float64 otherwise), so the field manager
// sees the same object either way.
func TestToUnstructuredMatchesJSON(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s: %v", examplesDir, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := codec.DecodeObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, o := range objs {
			j, err := codec.MarshalJSON(o)
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := utiljson.Unmarshal(j, &want); err != nil {
				t.Fatal(err)
			}
			got, err := codec.ToUnstructured(o)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s: ToUnstructured\n%#v\nwant (from JSON)\n%#v", filepath.Base(file), o.GetMetadata().GetName(), got, want)
			}
		}
	}
}
