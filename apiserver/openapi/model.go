package openapi

import (
	"maps"
	"sort"

	"google.golang.org/protobuf/reflect/protoreflect"

	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// model is the API described once, in the terms both document versions
// share: definitions by Kubernetes name and paths with their operations.
type model struct {
	defs  map[string]*schema
	paths map[string]*pathItem
	// groupVersions are the served group-versions ("api/v1",
	// "apis/apps/v1"), sorted.
	groupVersions []string
}

// newModel describes kinds; descriptions maps full proto names to the
// comments of the .proto files (zz_generated.descriptions.json).
func newModel(kinds []*scheme.Kind, descriptions map[string]string) *model {
	b := &builder{descriptions: descriptions, defs: map[string]*schema{}}
	m := &model{defs: b.defs, paths: map[string]*pathItem{}}

	gvSet := map[string]groupVersionKind{"api/v1": {Version: "v1"}} // the core group is always served
	for _, k := range kinds {
		gvSet[groupVersionPath(k.Group, k.Version)] = groupVersionKind{Group: k.Group, Version: k.Version}
	}
	m.groupVersions = sortedKeys(gvSet)

	// The meta messages every group-version's endpoints return or take.
	for _, msg := range []protoreflect.ProtoMessage{&metav1.Status{}, &metav1.DeleteOptions{}, &metav1.ListMeta{}, &metav1.ObjectMeta{}} {
		b.message(msg.ProtoReflect().Descriptor())
	}
	for name, s := range extraDefinitions() {
		m.defs[name] = s
	}
	setGVK(m.defs[defStatus], groupVersionKind{Version: "v1", Kind: "Status"})
	maps.Copy(m.defs[defDeleteOptions].Properties, deleteOptionsExtras())
	setGVK(m.defs[defScale], groupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"})
	// DeleteOptions and WatchEvent are sent and received in every
	// group-version, as in Kubernetes.
	for _, gv := range m.groupVersions {
		g := gvSet[gv]
		setGVK(m.defs[defDeleteOptions], groupVersionKind{Group: g.Group, Version: g.Version, Kind: "DeleteOptions"})
		setGVK(m.defs[defWatchEvent], groupVersionKind{Group: g.Group, Version: g.Version, Kind: "WatchEvent"})
	}

	// Discovery: each group-version lists its resources.
	for _, gv := range m.groupVersions {
		g := gvSet[gv]
		idGroup, tag := opGroup(g.Group, g.Version)
		m.paths["/"+gv+"/"] = &pathItem{Ops: []*operation{{
			Method: "get", ID: "get" + idGroup + "APIResources", Tag: tag,
			Description: "get available resources",
			Consumes:    []string{mimeJSON, mimeYAML}, Produces: produceObject,
			Responses: []response{{200, "OK", &schema{Ref: defAPIResourceList}}, unauthorized},
		}}}
	}

	for _, k := range kinds {
		def := b.message(k.New().ProtoReflect().Descriptor())
		setGVK(m.defs[def], groupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind})
		listDef := def + "List"
		m.defs[listDef] = listDefinition(k, def)
		kindPaths(m.paths, k, def, listDef)
	}
	return m
}

// setGVK adds g to the x-kubernetes-group-version-kind list of s. The
// extensions are copied first: they may be shared with the conventions
// table.
func setGVK(s *schema, g groupVersionKind) {
	e := maps.Clone(s.Extensions)
	if e == nil {
		e = ext{}
	}
	list, _ := e[gvkExtension].([]map[string]any)
	list = append(append([]map[string]any(nil), list...), g.ext())
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a["group"] != b["group"] {
			return a["group"].(string) < b["group"].(string)
		}
		return a["version"].(string) < b["version"].(string)
	})
	e[gvkExtension] = list
	s.Extensions = e
}

// listDefinition is the XList kind of a kind: what a list call returns.
func listDefinition(k *scheme.Kind, def string) *schema {
	s := &schema{
		Type:        "object",
		Description: k.Kind + "List is a list of " + k.Kind + " objects.",
		Required:    []string{"items"},
		Properties: map[string]*schema{
			"apiVersion": {Type: "string", Description: topLevelFields["apiVersion"]},
			"kind":       {Type: "string", Description: topLevelFields["kind"]},
			"metadata": {Ref: defListMeta,
				Description: "Standard list metadata: the resourceVersion the list was read at, and the continue token of the next page."},
			"items": {Type: "array", Items: &schema{Ref: def},
				Description: "The " + k.Kind + " objects."},
		},
	}
	setGVK(s, groupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind + "List"})
	return s
}

// refs calls fn with every definition name s refers to, directly.
func (s *schema) refs(fn func(string)) {
	if s == nil {
		return
	}
	if s.Ref != "" {
		fn(s.Ref)
	}
	s.Items.refs(fn)
	s.AdditionalProperties.refs(fn)
	for _, p := range s.Properties {
		p.refs(fn)
	}
}

// closure returns the definitions reachable from roots.
func (m *model) closure(roots []string) map[string]*schema {
	out := map[string]*schema{}
	var visit func(string)
	visit = func(name string) {
		if _, seen := out[name]; seen {
			return
		}
		s, ok := m.defs[name]
		if !ok {
			return
		}
		out[name] = s
		s.refs(visit)
	}
	for _, r := range roots {
		visit(r)
	}
	return out
}
