package openapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden pins the rendering of one kind in both dialects: the Pod
// definitions and the pod item path. Regenerate with
// `go test ./apiserver/openapi -run TestGolden -update` and review the diff.
func TestGolden(t *testing.T) {
	v3core, _ := V3("api/v1")
	for _, tc := range []struct {
		file     string
		doc      []byte
		defsKey  []string
		defNames []string
		paths    []string
	}{
		{
			file: "pod.v2.json", doc: V2(), defsKey: []string{"definitions"},
			defNames: []string{"io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.PodList", "io.k8s.api.core.v1.Container", "io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
			paths:    []string{"/api/v1/namespaces/{namespace}/pods/{name}", "/api/v1/namespaces/{namespace}/pods"},
		},
		{
			file: "pod.v3.json", doc: v3core, defsKey: []string{"components", "schemas"},
			defNames: []string{"io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.PodList", "io.k8s.api.core.v1.Container", "io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
			paths:    []string{"/api/v1/namespaces/{namespace}/pods/{name}", "/api/v1/namespaces/{namespace}/pods"},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(tc.doc, &doc); err != nil {
				t.Fatal(err)
			}
			defs := doc
			for _, k := range tc.defsKey {
				defs = defs[k].(map[string]any)
			}
			paths := doc["paths"].(map[string]any)
			pick := func(from map[string]any, keys []string) map[string]any {
				out := map[string]any{}
				for _, k := range keys {
					if from[k] == nil {
						t.Fatalf("no %s", k)
					}
					out[k] = from[k]
				}
				return out
			}
			got, err := json.MarshalIndent(map[string]any{
				"definitions": pick(defs, tc.defNames),
				"paths":       pick(paths, tc.paths),
			}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			file := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the rendering; run with -update and review the diff", file)
			}
		})
	}
}
