package openapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/util/proto"

	"minik8s/api/scheme"
)

// models parses V2 the way kubectl does (gnostic, then kube-openapi's
// proto package).
func models(t *testing.T) proto.Models {
	t.Helper()
	doc, err := openapiv2.ParseDocument(V2())
	if err != nil {
		t.Fatalf("gnostic cannot parse V2: %v", err)
	}
	m, err := proto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("kube-openapi cannot parse V2: %v", err)
	}
	return m
}

// lookup follows a path of field names ("[]" steps into an array's items)
// from a definition, through references.
func lookup(t *testing.T, m proto.Models, def string, path ...string) proto.Schema {
	t.Helper()
	s := m.LookupModel(def)
	if s == nil {
		t.Fatalf("no definition %s", def)
	}
	for i, step := range path {
		s = deref(s)
		switch {
		case step == "[]":
			a, ok := s.(*proto.Array)
			if !ok {
				t.Fatalf("%s.%s: %T is not an array", def, strings.Join(path[:i], "."), s)
			}
			s = a.SubType
		default:
			k, ok := s.(*proto.Kind)
			if !ok {
				t.Fatalf("%s.%s: %T is not an object", def, strings.Join(path[:i], "."), s)
			}
			if s = k.Fields[step]; s == nil {
				t.Fatalf("%s.%s has no field %s", def, strings.Join(path[:i], "."), step)
			}
		}
	}
	return s
}

func deref(s proto.Schema) proto.Schema {
	for {
		r, ok := s.(proto.Reference)
		if !ok {
			return s
		}
		s = r.SubSchema()
	}
}

func TestV2ParsesAsKubectlDoes(t *testing.T) {
	m := models(t)

	t.Run("container name is a required string", func(t *testing.T) {
		c := deref(lookup(t, m, "io.k8s.api.core.v1.Pod", "spec", "containers", "[]")).(*proto.Kind)
		if !c.IsRequired("name") {
			t.Errorf("Container.name is not required; required = %v", c.RequiredFields)
		}
		if p, ok := c.Fields["name"].(*proto.Primitive); !ok || p.Type != "string" {
			t.Errorf("Container.name = %#v, want a string", c.Fields["name"])
		}
		if c.GetDescription() == "" {
			t.Error("Container has no description")
		}
	})

	merge := []struct {
		def, key, strategy string
		path               []string
	}{
		{"io.k8s.api.core.v1.PodSpec", "name", "merge", []string{"containers"}},
		{"io.k8s.api.core.v1.PodSpec", "name", "merge", []string{"initContainers"}},
		{"io.k8s.api.core.v1.PodSpec", "name", "merge,retainKeys", []string{"volumes"}},
		{"io.k8s.api.core.v1.Container", "containerPort", "merge", []string{"ports"}},
		{"io.k8s.api.core.v1.Container", "name", "merge", []string{"env"}},
		{"io.k8s.api.core.v1.Container", "mountPath", "merge", []string{"volumeMounts"}},
		{"io.k8s.api.core.v1.PodStatus", "type", "merge", []string{"conditions"}},
		{"io.k8s.api.core.v1.NodeStatus", "type", "merge", []string{"conditions"}},
		{"io.k8s.api.core.v1.ServiceSpec", "port", "merge", []string{"ports"}},
		{"io.k8s.api.apps.v1.DeploymentStatus", "type", "merge", []string{"conditions"}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "uid", "merge", []string{"ownerReferences"}},
	}
	for _, tc := range merge {
		t.Run(tc.def+"."+strings.Join(tc.path, "."), func(t *testing.T) {
			e := lookup(t, m, tc.def, tc.path...).GetExtensions()
			if e["x-kubernetes-patch-merge-key"] != tc.key || e["x-kubernetes-patch-strategy"] != tc.strategy {
				t.Errorf("extensions = %v, want merge key %q, strategy %q", e, tc.key, tc.strategy)
			}
		})
	}

	types := []struct {
		def    string
		path   []string
		typ    string
		format string
	}{
		{"io.k8s.api.core.v1.Pod", []string{"metadata", "creationTimestamp"}, "string", "date-time"},
		{"io.k8s.api.core.v1.Container", []string{"livenessProbe", "httpGet", "port"}, "string", "int-or-string"},
		{"io.k8s.api.core.v1.Container", []string{"resources", "limits"}, "", ""}, // a map, checked below
		{"io.k8s.api.core.v1.EmptyDirVolumeSource", []string{"sizeLimit"}, "string", ""},
		{"io.k8s.api.core.v1.PodSpec", []string{"terminationGracePeriodSeconds"}, "integer", "int64"},
		{"io.k8s.api.core.v1.ContainerPort", []string{"containerPort"}, "integer", "int32"},
		{"io.k8s.api.coordination.v1.Lease", []string{"spec", "renewTime"}, "string", "date-time"},
		{"io.k8s.api.core.v1.Secret", []string{"data"}, "", ""},
	}
	for _, tc := range types {
		t.Run(tc.def+"."+strings.Join(tc.path, "."), func(t *testing.T) {
			s := deref(lookup(t, m, tc.def, tc.path...))
			if tc.typ == "" {
				if _, ok := s.(*proto.Map); !ok {
					t.Errorf("%T, want a map", s)
				}
				return
			}
			p, ok := s.(*proto.Primitive)
			if !ok || p.Type != tc.typ || p.Format != tc.format {
				t.Errorf("%#v, want %s/%s", s, tc.typ, tc.format)
			}
		})
	}

	t.Run("quantities refer to Quantity", func(t *testing.T) {
		limits := lookup(t, m, "io.k8s.api.core.v1.ResourceRequirements", "limits").(*proto.Map)
		if r, ok := limits.SubType.(proto.Reference); !ok || r.Reference() != defQuantity {
			t.Errorf("limits values = %#v, want a reference to %s", limits.SubType, defQuantity)
		}
	})
}

// gvks reads x-kubernetes-group-version-kind as kubectl's
// pkg/util/openapi does: a list of maps with group, version and kind.
func gvks(s proto.Schema) []groupVersionKind {
	list, _ := s.GetExtensions()[gvkExtension].([]any)
	var out []groupVersionKind
	for _, e := range list {
		m, ok := e.(map[any]any)
		if !ok {
			continue
		}
		g, _ := m["group"].(string)
		v, _ := m["version"].(string)
		k, _ := m["kind"].(string)
		out = append(out, groupVersionKind{g, v, k})
	}
	return out
}

func TestEveryKindHasADefinitionWithItsGVK(t *testing.T) {
	m := models(t)
	kinds := scheme.All()
	if len(kinds) < 20 {
		t.Fatalf("only %d kinds registered", len(kinds))
	}
	for _, k := range kinds {
		def := definitionName(k.New().ProtoReflect().Descriptor())
		t.Run(k.Resource, func(t *testing.T) {
			for _, c := range []struct{ def, kind string }{{def, k.Kind}, {def + "List", k.Kind + "List"}} {
				s := m.LookupModel(c.def)
				if s == nil {
					t.Fatalf("no definition %s", c.def)
				}
				want := groupVersionKind{k.Group, k.Version, c.kind}
				if got := gvks(s); len(got) != 1 || got[0] != want {
					t.Errorf("%s: group-version-kinds %v, want [%v]", c.def, got, want)
				}
			}
		})
	}
	for _, def := range []string{defStatus, defDeleteOptions, defWatchEvent, defListMeta, defObjectMeta, defPatch, defTime, defIntOrString, defQuantity, defScale, defAPIResourceList} {
		if m.LookupModel(def) == nil {
			t.Errorf("no definition %s", def)
		}
	}
}

// v3 parses one group-version's document with kube-openapi's spec3, as
// kubectl does.
func v3(t *testing.T, gv string) *spec3.OpenAPI {
	t.Helper()
	b, ok := V3(gv)
	if !ok {
		t.Fatalf("no OpenAPI v3 document for %s", gv)
	}
	var doc spec3.OpenAPI
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("spec3 cannot parse %s: %v", gv, err)
	}
	return &doc
}

func TestV3(t *testing.T) {
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(V3Index(), &index); err != nil {
		t.Fatal(err)
	}
	byGV := map[string][]*scheme.Kind{}
	for _, k := range scheme.All() {
		gv := groupVersionPath(k.Group, k.Version)
		byGV[gv] = append(byGV[gv], k)
	}
	for gv, kinds := range byGV {
		t.Run(gv, func(t *testing.T) {
			entry, ok := index.Paths[gv]
			h, _ := Default().V3Hash(gv)
			if !ok || entry.ServerRelativeURL != "/openapi/v3/"+gv+"?hash="+h || len(h) != 128 {
				t.Fatalf("index entry %+v, want the URL with hash %s", entry, h)
			}
			doc := v3(t, gv)
			for _, k := range kinds {
				def := definitionName(k.New().ProtoReflect().Descriptor())
				s := doc.Components.Schemas[def]
				if s == nil {
					t.Fatalf("no schema %s", def)
				}
				var got []map[string]string
				if err := s.Extensions.GetObject(gvkExtension, &got); err != nil || len(got) != 1 || got[0]["kind"] != k.Kind || got[0]["group"] != k.Group || got[0]["version"] != k.Version {
					t.Errorf("%s: group-version-kind %v (%v)", def, got, err)
				}
			}
			// Every schema referred to is in the document.
			b, _ := V3(gv)
			if _, err := v3Protobuf(b); err != nil {
				t.Errorf("gnostic cannot encode the document as protobuf: %v", err)
			}
			for _, ref := range strings.Split(string(b), `"$ref":"#/components/schemas/`)[1:] {
				name := ref[:strings.IndexByte(ref, '"')]
				if doc.Components.Schemas[name] == nil {
					t.Errorf("dangling reference to %s", name)
				}
			}
		})
	}
	if _, ok := V3("apis/nope/v1"); ok {
		t.Error("V3 found a group-version that is not served")
	}
}

// TestFieldValidationOnWrites is what `kubectl --validate=strict` checks
// (cli-runtime's query param verifier): every PATCH of a kind, found by its
// x-kubernetes-group-version-kind, takes fieldValidation; POST and PUT too.
func TestFieldValidationOnWrites(t *testing.T) {
	for _, k := range scheme.All() {
		t.Run(k.Resource, func(t *testing.T) {
			doc := v3(t, groupVersionPath(k.Group, k.Version))
			writes := 0
			for path, item := range doc.Paths.Paths {
				for method, op := range map[string]*spec3.Operation{"POST": item.Post, "PUT": item.Put, "PATCH": item.Patch} {
					if op == nil {
						continue
					}
					var gvk map[string]string
					if err := op.Extensions.GetObject(gvkExtension, &gvk); err != nil || gvk["kind"] != k.Kind || gvk["group"] != k.Group {
						continue
					}
					writes++
					has := map[string]bool{}
					for _, p := range append(op.Parameters, item.Parameters...) {
						if p.In == "query" {
							has[p.Name] = true
						}
					}
					for _, want := range []string{"fieldValidation", "dryRun", "fieldManager"} {
						if !has[want] {
							t.Errorf("%s %s has no %s parameter", method, path, want)
						}
					}
				}
			}
			v, limited := limitedVerbs[k.Resource]
			readOnly := limited && !v.create && !v.update && !v.patch
			if writes == 0 && !readOnly {
				t.Errorf("no POST, PUT or PATCH operation for %s", k.Kind)
			}
		})
	}
}

func TestPodPaths(t *testing.T) {
	doc := v3(t, "api/v1")
	for _, tc := range []struct {
		path    string
		methods []string
	}{
		{"/api/v1/namespaces/{namespace}/pods", []string{"get", "post", "delete"}},
		{"/api/v1/namespaces/{namespace}/pods/{name}", []string{"get", "put", "patch", "delete"}},
		{"/api/v1/namespaces/{namespace}/pods/{name}/status", []string{"get", "put", "patch"}},
		{"/api/v1/pods", []string{"get"}},
		{"/api/v1/nodes", []string{"get", "post", "delete"}},
		{"/api/v1/nodes/{name}", []string{"get", "put", "patch", "delete"}},
		{"/api/v1/namespaces/{namespace}/replicationcontrollers/{name}/scale", []string{"get", "put", "patch"}},
		{"/api/v1/componentstatuses", []string{"get"}},
		{"/api/v1/namespaces/{namespace}/bindings", []string{"post"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			item := doc.Paths.Paths[tc.path]
			if item == nil {
				t.Fatal("no such path")
			}
			ops := map[string]*spec3.Operation{"get": item.Get, "post": item.Post, "put": item.Put, "patch": item.Patch, "delete": item.Delete}
			got := 0
			for _, m := range tc.methods {
				if ops[m] == nil {
					t.Errorf("no %s", m)
				}
			}
			for _, op := range ops {
				if op != nil {
					got++
				}
			}
			if got != len(tc.methods) {
				t.Errorf("%d operations, want %v", got, tc.methods)
			}
		})
	}
	patch := doc.Paths.Paths["/api/v1/namespaces/{namespace}/pods/{name}"].Patch
	for _, ct := range []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"} {
		if patch.RequestBody.Content[ct] == nil {
			t.Errorf("pod PATCH does not take %s", ct)
		}
	}
	list := doc.Paths.Paths["/api/v1/namespaces/{namespace}/pods"].Get
	var names []string
	for _, p := range list.Parameters {
		names = append(names, p.Name)
	}
	for _, want := range []string{"watch", "labelSelector", "fieldSelector", "resourceVersion", "limit", "continue", "allowWatchBookmarks"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("pod list has no %s parameter (has %v)", want, names)
		}
	}
}

// TestDescriptionsAreCurrent checks zz_generated.descriptions.json against
// the compiled messages: a renamed message or field makes it stale (make
// generate).
func TestDescriptionsAreCurrent(t *testing.T) {
	var d map[string]string
	if err := json.Unmarshal(descriptionsJSON, &d); err != nil {
		t.Fatal(err)
	}
	if d["minik8s.core.v1.Pod"] == "" {
		t.Fatal("no description of minik8s.core.v1.Pod")
	}
	for name := range d {
		if _, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name)); err != nil {
			t.Errorf("%s: %v (run make generate)", name, err)
		}
	}
	for name := range metaDescriptions {
		if _, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name)); err != nil {
			t.Errorf("metaDescriptions: %s: %v", name, err)
		}
	}
	for name, r := range conventions {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			t.Errorf("conventions: %s: %v", name, err)
			continue
		}
		fields := d.(protoreflect.MessageDescriptor).Fields()
		for _, f := range append(sortedKeys(r.fields), r.required...) {
			if fields.ByName(protoreflect.Name(f)) == nil {
				t.Errorf("conventions: %s has no field %s", name, f)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, err := Build(scheme.All())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(scheme.All())
	if err != nil {
		t.Fatal(err)
	}
	if string(a.V2()) != string(b.V2()) || string(a.V3Index()) != string(b.V3Index()) {
		t.Error("two builds of the same kinds differ")
	}
	if fmt.Sprint(len(a.V2())) == "0" {
		t.Error("empty document")
	}
}
