package printers

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	_ "minik8s/api/all"
	"minik8s/api/codec"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/scheme"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var testNow = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

// fixtures decodes testdata/objects.yaml, keeping file order.
func fixtures(t *testing.T) []scheme.Object {
	t.Helper()
	data, err := os.ReadFile("testdata/objects.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []scheme.Object
	for i, doc := range strings.Split(string(data), "\n---\n") {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		k, err := scheme.ByKind(head.APIVersion, head.Kind)
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		obj := k.New()
		if err := codec.UnmarshalYAML([]byte(doc), obj); err != nil {
			t.Fatalf("document %d (%s): %v", i, head.Kind, err)
		}
		out = append(out, obj)
	}
	return out
}

func byKind(t *testing.T, objs []scheme.Object) (map[*scheme.Kind][]scheme.Object, []*scheme.Kind) {
	t.Helper()
	groups := map[*scheme.Kind][]scheme.Object{}
	var order []*scheme.Kind
	for _, o := range objs {
		k, err := scheme.KindOf(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], o)
	}
	return groups, order
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file (run go test -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", name, got, want)
	}
}

func TestTablesGolden(t *testing.T) {
	groups, order := byKind(t, fixtures(t))
	for _, k := range order {
		objs := groups[k]
		t.Run(k.Resource, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("# get " + k.Resource + "\n")
			b.WriteString(Render(TableFor(k, objs, Options{Now: testNow}), false))
			b.WriteString("\n# get " + k.Resource + " -o wide\n")
			b.WriteString(Render(TableFor(k, objs, Options{Now: testNow, Wide: true}), false))
			if k.Namespaced {
				b.WriteString("\n# get " + k.Resource + " -A --show-labels\n")
				b.WriteString(Render(TableFor(k, objs, Options{Now: testNow, WithNamespace: true, ShowLabels: true}), false))
			}
			b.WriteString("\n# get " + k.Resource + ",other --no-headers\n")
			b.WriteString(Render(TableFor(k, objs, Options{Now: testNow, WithKind: true}), true))
			golden(t, filepath.Join("tables", k.Resource+".golden"), b.String())
		})
	}
}

func TestDescribeGolden(t *testing.T) {
	objs := fixtures(t)
	var events []*corev1.Event
	for _, o := range objs {
		if e, ok := o.(*corev1.Event); ok {
			events = append(events, e)
		}
	}
	want := map[string]bool{
		"Pod/web-running": true, "Pod/initing": true, "Deployment/web": true, "ReplicaSet/web-7d4b9c": true,
		"Service/web": true, "Node/node-1": true, "Namespace/default": true, "Job/pi": true,
		"ConfigMap/settings": true, "Secret/token": true, "Endpoints/web": true, "Lease/kube-scheduler": true, "DaemonSet/kube-proxy": true,
	}
	for _, o := range objs {
		k, _ := scheme.KindOf(o)
		id := k.Kind + "/" + o.GetMetadata().GetName()
		if !want[id] {
			continue
		}
		t.Run(id, func(t *testing.T) {
			in := DescribeInput{Object: o, Now: testNow}
			if id == "Pod/web-running" {
				in.Events = events
			}
			if id == "Service/web" {
				in.Endpoints = &corev1.Endpoints{Subsets: []*corev1.EndpointSubset{{
					Addresses: []*corev1.EndpointAddress{{Ip: "10.244.1.5"}},
					Ports:     []*corev1.EndpointPort{{Port: 8080}, {Name: "https", Port: 8443}},
				}}}
			}
			golden(t, filepath.Join("describe", strings.ToLower(k.Kind)+"-"+o.GetMetadata().GetName()+".golden"), Describe(in))
		})
	}
}

func TestTableWriterRemembersWidths(t *testing.T) {
	var b bytes.Buffer
	w := NewTableWriter(&b)
	_ = w.Write(&Table{Columns: []string{"NAME", "STATUS", "AGE"}, Rows: [][]string{{"a", "Running", "1s"}}}, false)
	_ = w.WriteRows([][]string{{"a-much-longer-name", "Pending", "2s"}, {"b", "X", "3s"}})
	want := "NAME   STATUS    AGE\n" +
		"a      Running   1s\n" +
		"a-much-longer-name   Pending   2s\n" +
		"b                    X         3s\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPaths(t *testing.T) {
	obj := map[string]any{
		"metadata": map[string]any{"name": "x", "labels": map[string]any{"app.kubernetes.io/name": "web", "k8s.io/x": "y"}},
		"spec": map[string]any{"containers": []any{
			map[string]any{"name": "a", "image": "nginx", "ports": []any{map[string]any{"containerPort": int64(80)}}},
			map[string]any{"name": "b", "image": "busybox", "ports": []any{map[string]any{"containerPort": int64(8080)}}},
		}},
		"status": map[string]any{"conditions": []any{
			map[string]any{"type": "Initialized", "status": "True"},
			map[string]any{"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
		}},
	}
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{"metadata.name", []string{"x"}},
		{".metadata.name", []string{"x"}},
		{"{.metadata.name}", []string{"x"}},
		{"{metadata.name}", []string{"x"}},
		{".spec.containers[0].image", []string{"nginx"}},
		{".spec.containers[-1].name", []string{"b"}},
		{".spec.containers[*].name", []string{"a", "b"}},
		{".spec.containers[5].name", nil},
		{`.metadata.labels.app\.kubernetes\.io/name`, []string{"web"}},
		{`.metadata.labels['k8s.io/x']`, []string{"y"}},
		{".spec.nodeName", nil},
		{`{.status.conditions[?(@.type=="Ready")].status}`, []string{"False"}},
		{`.status.conditions[?(@.type!='Ready')].type`, []string{"Initialized"}},
		{`.status.conditions[?(@.reason)].type`, []string{"Ready"}},
		{`.spec.containers[?(@.ports[0].containerPort>=1000)].name`, []string{"b"}},
		{`.spec.containers[?(@.ports[*].containerPort==80)].image`, []string{"nginx"}},
		{`.status.conditions[?(@.type=="Gone")].status`, nil},
	} {
		p, err := ParsePath(tc.expr)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.expr, err)
			continue
		}
		var got []string
		for _, v := range p.Find(obj) {
			got = append(got, FormatValue(v))
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: got %q, want %q", tc.expr, got, tc.want)
		}
	}
	for _, bad := range []string{".spec..x", ".spec[abc]", ".spec[0", ".x[?(@.a==", ".x[?(type==1)]", ".x[?(@.a==bare)]"} {
		if _, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) succeeded", bad)
		}
	}
}

func TestCustomColumnsAndSort(t *testing.T) {
	groups, _ := byKind(t, fixtures(t))
	k, _ := scheme.ByResource("pods")
	var maps []map[string]any
	for _, o := range groups[k] {
		maps = append(maps, codec.ToMap(o))
	}
	cols, err := ParseCustomColumns("POD:metadata.name,NODE:.spec.nodeName,IMAGES:{.spec.containers[*].image},LABELS:.metadata.labels")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ParsePath("{.spec.nodeName}")
	order, err := SortOrder(maps, p)
	if err != nil {
		t.Fatal(err)
	}
	sorted := make([]map[string]any, len(order))
	for i, j := range order {
		sorted[i] = maps[j]
	}
	var b strings.Builder
	b.WriteString("# get pods -o custom-columns=POD:metadata.name,NODE:.spec.nodeName,IMAGES:{.spec.containers[*].image},LABELS:.metadata.labels --sort-by spec.nodeName\n")
	b.WriteString(Render(CustomColumnsTable(cols, sorted), false))
	golden(t, "custom-columns.golden", b.String())

	for _, bad := range []string{"", "NAME", "NAME:", ":x"} {
		if _, err := ParseCustomColumns(bad); err == nil {
			t.Errorf("ParseCustomColumns(%q) succeeded", bad)
		}
	}
	missing, _ := ParsePath(".spec.nope")
	if _, err := SortOrder(maps, missing); err == nil || !strings.Contains(err.Error(), `"{.spec.nope}"`) {
		t.Errorf("SortOrder on a missing field: %v", err)
	}
}

func TestSortNumeric(t *testing.T) {
	p, _ := ParsePath("n")
	objs := []map[string]any{{"n": jsonNum("10")}, {"n": jsonNum("9")}, {}, {"n": jsonNum("100")}}
	order, err := SortOrder(objs, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmtInts(order); got != "[2 1 0 3]" {
		t.Errorf("order = %s, want [2 1 0 3]", got)
	}
}

func TestTemplate(t *testing.T) {
	list := map[string]any{"items": []any{
		map[string]any{"metadata": map[string]any{"name": "a"}, "status": map[string]any{"podIP": "10.0.0.1"}},
		map[string]any{"metadata": map[string]any{"name": "b"}, "status": map[string]any{"podIP": "10.0.0.2"}},
	}}
	for _, tc := range []struct{ tmpl, want string }{
		{"{.items[*].metadata.name}", "a b"},
		{`{range .items[*]}{.metadata.name}{"\t"}{.status.podIP}{"\n"}{end}`, "a\t10.0.0.1\nb\t10.0.0.2\n"},
		{"names: {.items[0].metadata.name}", "names: a"},
		{"{.items[0].metadata}", `{"name":"a"}`},
	} {
		tp, err := ParseTemplate(tc.tmpl)
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tc.tmpl, err)
			continue
		}
		got, err := tp.Execute(list)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
	tp, _ := ParseTemplate("{.items[0].spec.x}")
	if _, err := tp.Execute(list); err == nil {
		t.Error("a missing field did not fail")
	}
	for _, bad := range []string{"{range .items[*]}{.x}", "{.a", "{end}"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) succeeded", bad)
		}
	}
}
