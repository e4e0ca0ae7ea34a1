package codec_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	_ "minik8s/api/all"
	"minik8s/api/codec"
	"minik8s/api/scheme"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from deploy/examples")

const examplesDir = "../../deploy/examples"

// TestExamplesRoundTrip decodes every manifest in deploy/examples, prints
// it back as YAML and compares with testdata/golden/<file>, then checks
// object -> JSON -> object is lossless.
func TestExamplesRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no examples in %s", examplesDir)
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := codec.DecodeObjects(data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(objs) == 0 {
				t.Fatal("no objects")
			}
			var out bytes.Buffer
			for i, o := range objs {
				k, err := scheme.KindOf(o)
				if err != nil {
					t.Fatal(err)
				}
				seen[k.Kind] = true
				if o.GetApiVersion() != k.APIVersion() || o.GetKind() != k.Kind {
					t.Errorf("object %d: apiVersion/kind %q/%q, want %q/%q", i, o.GetApiVersion(), o.GetKind(), k.APIVersion(), k.Kind)
				}

				y, err := codec.MarshalYAML(o)
				if err != nil {
					t.Fatalf("object %d: MarshalYAML: %v", i, err)
				}
				if i > 0 {
					out.WriteString("---\n")
				}
				out.Write(y)

				// YAML -> object must give the same object back.
				again, gk, err := codec.DecodeObject(y)
				if err != nil {
					t.Fatalf("object %d: decoding printed YAML: %v\n%s", i, err, y)
				}
				if gk != k || !proto.Equal(o, again) {
					t.Errorf("object %d: YAML round trip changed the object", i)
				}

				// object -> JSON -> object.
				j, err := codec.MarshalJSON(o)
				if err != nil {
					t.Fatalf("object %d: MarshalJSON: %v", i, err)
				}
				fromJSON := k.New()
				if err := codec.UnmarshalJSON(j, fromJSON); err != nil {
					t.Fatalf("object %d: UnmarshalJSON: %v\n%s", i, err, j)
				}
				if !proto.Equal(o, fromJSON) {
					t.Errorf("object %d: JSON round trip changed the object\n%s", i, j)
				}
				ij, err := codec.MarshalIndentJSON(o)
				if err != nil {
					t.Fatalf("object %d: MarshalIndentJSON: %v", i, err)
				}
				if o2, _, err := codec.DecodeObject(ij); err != nil || !proto.Equal(o, o2) {
					t.Errorf("object %d: indented JSON round trip: %v", i, err)
				}
			}

			golden := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./api/codec -update)", err)
			}
			if got := out.String(); got != string(want) {
				t.Errorf("YAML differs from %s (rerun with -update if intended)\n%s", golden, lineDiff(string(want), got))
			}
		})
	}
	for _, k := range scheme.All() {
		if !seen[k.Kind] {
			t.Errorf("no example in %s for kind %s", examplesDir, k.Kind)
		}
	}
}

// TestGoldensHaveNoStaleFiles keeps testdata/golden in step with examples.
func TestGoldensHaveNoStaleFiles(t *testing.T) {
	goldens, _ := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	for _, g := range goldens {
		if _, err := os.Stat(filepath.Join(examplesDir, filepath.Base(g))); err != nil {
			t.Errorf("golden %s has no example", g)
		}
	}
}

// lineDiff shows the first differing lines, enough to locate a change.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return ""
}
