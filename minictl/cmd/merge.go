package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"

	"minik8s/api/codec"
	"minik8s/api/scheme"
	"minik8s/minictl/printers"
)

// lastApplied returns the last-applied-configuration annotation value for
// raw: its JSON without the annotation itself, newline-terminated as
// kubectl writes it.
func lastApplied(raw map[string]any) (string, error) {
	clean := deepCopy(raw).(map[string]any)
	if md, ok := clean["metadata"].(map[string]any); ok {
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, printers.LastAppliedAnnotation)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(clean); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// withLastApplied returns raw with the last-applied annotation set.
func withLastApplied(raw map[string]any) (map[string]any, string, error) {
	la, err := lastApplied(raw)
	if err != nil {
		return nil, "", err
	}
	out := deepCopy(raw).(map[string]any)
	md, _ := out["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		out["metadata"] = md
	}
	ann, _ := md["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		md["annotations"] = ann
	}
	ann[printers.LastAppliedAnnotation] = la
	return out, la, nil
}

// parseLastApplied reads the annotation of a live object; nil when absent
// or unreadable.
func parseLastApplied(obj scheme.Object) map[string]any {
	s, ok := obj.GetMetadata().GetAnnotations()[printers.LastAppliedAnnotation]
	if !ok || s == "" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil
	}
	return m
}

// threeWayMerge computes what apply stores: the live object (current) with
// every field of the new configuration (modified) set and every field that
// the previous configuration (original) set but the new one drops removed.
// Fields neither configuration mentions - server defaults, fields other
// clients own, status - stay as they are live. Lists of objects whose
// elements carry a "name" merge element by element by name (containers,
// ports, env); other lists of objects of unchanged length merge by
// position; anything else is replaced.
func threeWayMerge(original, modified, current map[string]any) map[string]any {
	out := make(map[string]any, len(current))
	for k, v := range current {
		out[k] = v
	}
	for k, mv := range modified {
		out[k] = mergeValue(original[k], mv, current[k])
	}
	for k := range original {
		if _, kept := modified[k]; !kept {
			delete(out, k)
		}
	}
	return out
}

func mergeValue(orig, mod, cur any) any {
	switch m := mod.(type) {
	case map[string]any:
		if c, ok := cur.(map[string]any); ok {
			o, _ := orig.(map[string]any)
			return threeWayMerge(o, m, c)
		}
	case []any:
		if c, ok := cur.([]any); ok {
			o, _ := orig.([]any)
			return mergeList(o, m, c)
		}
	}
	return mod
}

func mergeList(orig, mod, cur []any) []any {
	if keysOf(mod) != nil && keysOf(cur) != nil {
		curByName, origByName := keysOf(cur), keysOf(orig)
		out := make([]any, len(mod))
		for i, e := range mod {
			name := e.(map[string]any)["name"].(string)
			if c, ok := curByName[name]; ok {
				out[i] = threeWayMerge(origByName[name], e.(map[string]any), c)
			} else {
				out[i] = e
			}
		}
		return out
	}
	if len(mod) != len(cur) {
		return mod
	}
	out := make([]any, len(mod))
	for i := range mod {
		var o any
		if i < len(orig) {
			o = orig[i]
		}
		mm, ok1 := mod[i].(map[string]any)
		cm, ok2 := cur[i].(map[string]any)
		if ok1 && ok2 {
			om, _ := o.(map[string]any)
			out[i] = threeWayMerge(om, mm, cm)
		} else {
			out[i] = mod[i]
		}
	}
	return out
}

// keysOf indexes a list of objects by their "name" field, or returns nil
// when some element is not an object with a unique string name.
func keysOf(l []any) map[string]map[string]any {
	if len(l) == 0 {
		return map[string]map[string]any{}
	}
	out := make(map[string]map[string]any, len(l))
	for _, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return nil
		}
		n, ok := m["name"].(string)
		if !ok || n == "" {
			return nil
		}
		if _, dup := out[n]; dup {
			return nil
		}
		out[n] = m
	}
	return out
}

// applyPatch merges the new configuration into live and returns the
// object to send and whether it changes anything. Only what apply owns is
// taken from the merge - every top-level field but metadata and status,
// plus labels, annotations, finalizers and owner references - so that
// server-set metadata (uid, resourceVersion, timestamps) goes back exactly
// as read.
func applyPatch(k *scheme.Kind, live scheme.Object, desired map[string]any) (scheme.Object, bool, error) {
	mod := deepCopy(desired).(map[string]any)
	delete(mod, "status") // status belongs to the controllers
	merged := threeWayMerge(parseLastApplied(live), mod, codec.ToMap(live))
	m := k.New()
	if err := codec.FromMap(merged, m); err != nil {
		return nil, false, fmt.Errorf("merge %s: %w", objectName(k, live.GetMetadata().GetName()), err)
	}
	out := proto.Clone(live).(scheme.Object)
	src, dst := m.ProtoReflect(), out.ProtoReflect()
	fields := dst.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch fd.Name() {
		case "apiVersion", "kind", "metadata", "status":
			continue
		}
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
	}
	outMeta, newMeta := scheme.Meta(out), scheme.Meta(m)
	outMeta.Labels = newMeta.GetLabels()
	outMeta.Annotations = newMeta.GetAnnotations()
	outMeta.Finalizers = newMeta.GetFinalizers()
	outMeta.OwnerReferences = newMeta.GetOwnerReferences()
	return out, !proto.Equal(out, live), nil
}

// deepCopy copies a generic JSON tree.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
