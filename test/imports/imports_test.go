package imports

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		pkg  Package
		want []string // "importer -> import"
	}{
		{name: "own tree and api", pkg: Package{ImportPath: "minik8s/kubelet/pod",
			Imports: []string{"fmt", "minik8s/api/core/v1", "minik8s/kubelet/runtime", "github.com/x/y"}}},
		{name: "another component", pkg: Package{ImportPath: "minik8s/scheduler/framework",
			Imports: []string{"minik8s/apiserver/validation"}},
			want: []string{"minik8s/scheduler/framework -> minik8s/apiserver/validation"}},
		{name: "hack from deploy", pkg: Package{ImportPath: "minik8s/deploy/staticpods",
			Imports: []string{"minik8s/hack/images"}},
			want: []string{"minik8s/deploy/staticpods -> minik8s/hack/images"}},
		{name: "test doubles in tests", pkg: Package{ImportPath: "minik8s/kubelet/network",
			TestImports: []string{"minik8s/test/nodetest"}, XTestImports: []string{"minik8s/kubelet/network"}}},
		{name: "test doubles outside tests", pkg: Package{ImportPath: "minik8s/kube-proxy/app",
			Imports: []string{"minik8s/test/require"}},
			want: []string{"minik8s/kube-proxy/app -> minik8s/test/require"}},
		{name: "another add-on", pkg: Package{ImportPath: "minik8s/addons/dns",
			Imports: []string{"minik8s/addons/kubia"}},
			want: []string{"minik8s/addons/dns -> minik8s/addons/kubia"}},
		{name: "api imports a component", pkg: Package{ImportPath: "minik8s/api/client",
			Imports: []string{"minik8s/apiserver/storage"}},
			want: []string{"minik8s/api/client -> minik8s/apiserver/storage"}},
		{name: "hack from a component's test", pkg: Package{ImportPath: "minik8s/addons/dns",
			TestImports: []string{"minik8s/hack/images"}},
			want: []string{"minik8s/addons/dns -> minik8s/hack/images"}},
		{name: "test and hack import anything", pkg: Package{ImportPath: "minik8s/hack/bench",
			Imports: []string{"minik8s/apiserver/app", "minik8s/test/etcdtest"}}},
		{name: "a tree without a rule", pkg: Package{ImportPath: "minik8s/newthing"},
			want: []string{"minik8s/newthing -> "}},
		{name: "outside the module", pkg: Package{ImportPath: "example.com/x", Imports: []string{"minik8s/kubelet"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, v := range Check([]Package{c.pkg}) {
				got = append(got, v.Importer+" -> "+v.Import)
				if !strings.Contains(v.String(), v.Importer) {
					t.Errorf("message %q does not name the importer", v)
				}
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("Check = %q, want %q", got, c.want)
			}
		})
	}
}

func TestViolationMessage(t *testing.T) {
	v := Check([]Package{{ImportPath: "minik8s/minictl/cmd", Imports: []string{"minik8s/kubelet/client"}}})
	want := "minik8s/minictl/cmd imports minik8s/kubelet/client: rule for minictl/: " + componentWhy
	if len(v) != 1 || v[0].String() != want {
		t.Errorf("got %v, want %q", v, want)
	}
}

// TestModuleImports checks the whole module with `go list`: no component
// reaches into another's packages or into hack/.
func TestModuleImports(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	touchSources(t, "../..")
	cmd := exec.Command(goBin, "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports", Module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []Package
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 50 {
		t.Fatalf("go list found %d packages; is the test run inside the module?", len(pkgs))
	}
	for _, v := range Check(pkgs) {
		t.Error(v)
	}
}

// touchSources stats every directory and Go file below root. go test
// caches a result until a file the test opened or stat'ed changes; go
// list's reads are in another process, so without this a cached pass
// would hide a new import.
func touchSources(t *testing.T, root string) {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestArchitectureDoc keeps docs/architecture.md's import table in step
// with Rules: every tree has its row.
func TestArchitectureDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules {
		if r.Tree == "" {
			continue
		}
		if !bytes.Contains(doc, []byte("| `"+r.Tree+"/`")) {
			t.Errorf("docs/architecture.md has no row | `%s/` | for the rule of %s/", r.Tree, r.Tree)
		}
	}
}
