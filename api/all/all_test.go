package all

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"minik8s/api/scheme"
)

func TestEveryKindHasTypeMetaAndMetadata(t *testing.T) {
	kinds := scheme.All()
	if len(kinds) == 0 {
		t.Fatal("no kinds registered")
	}
	for _, k := range kinds {
		fields := k.New().ProtoReflect().Descriptor().Fields()
		want := []string{"apiVersion", "kind", "metadata"}
		for i, name := range want {
			if fields.Len() <= i || string(fields.Get(i).Name()) != name {
				t.Errorf("%s: field %d is not %q", k.Kind, i+1, name)
				continue
			}
			f := fields.Get(i)
			if f.Number() != protoreflect.FieldNumber(i+1) {
				t.Errorf("%s: field %s has number %d, want %d", k.Kind, name, f.Number(), i+1)
			}
		}
		for _, name := range want[:2] {
			if f := fields.ByName(protoreflect.Name(name)); f == nil || f.Kind() != protoreflect.StringKind || f.Cardinality() == protoreflect.Repeated {
				t.Errorf("%s: %s is not a string field", k.Kind, name)
			}
		}
		md := fields.ByName("metadata")
		if md == nil || md.Message() == nil || md.Message().FullName() != "minik8s.meta.v1.ObjectMeta" {
			t.Errorf("%s: metadata is not a minik8s.meta.v1.ObjectMeta", k.Kind)
		}
		o := k.NewObject()
		if o.GetApiVersion() != k.APIVersion() || o.GetKind() != k.Kind {
			t.Errorf("%s: NewObject gave apiVersion %q kind %q", k.Kind, o.GetApiVersion(), o.GetKind())
		}
		if got, err := scheme.KindOf(o); err != nil || got != k {
			t.Errorf("%s: KindOf = %v, %v", k.Kind, got, err)
		}
		if got, err := scheme.ByKind(k.APIVersion(), k.Kind); err != nil || got != k {
			t.Errorf("%s: ByKind = %v, %v", k.Kind, got, err)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, k := range scheme.All() {
		names := append([]string{k.Resource, strings.ToLower(k.Kind), k.Kind, k.GroupResource()}, k.ShortNames...)
		for _, n := range names {
			got, err := scheme.Lookup(n)
			if err != nil {
				t.Errorf("Lookup(%q): %v", n, err)
				continue
			}
			if got != k {
				t.Errorf("Lookup(%q) = %s, want %s", n, got.Kind, k.Kind)
			}
		}
	}
	// kubectl's short names, spot-checked.
	for short, kind := range map[string]string{
		"po": "Pod", "svc": "Service", "ep": "Endpoints", "ns": "Namespace",
		"ev": "Event", "cm": "ConfigMap", "sa": "ServiceAccount", "quota": "ResourceQuota",
		"limits": "LimitRange", "rc": "ReplicationController", "no": "Node",
		"cs": "ComponentStatus", "rs": "ReplicaSet", "deploy": "Deployment",
		"ds": "DaemonSet", "sts": "StatefulSet", "ing": "Ingress", "hpa": "HorizontalPodAutoscaler",
		"jobs": "Job", "leases": "Lease", "controllerrevisions": "ControllerRevision",
		"secrets": "Secret", "bindings": "Binding",
	} {
		k, err := scheme.Lookup(short)
		if err != nil {
			t.Errorf("Lookup(%q): %v", short, err)
			continue
		}
		if k.Kind != kind {
			t.Errorf("Lookup(%q) = %s, want %s", short, k.Kind, kind)
		}
	}
}

// TestFieldConventions walks every message reachable from a kind and checks
// the conventions the JSON codec relies on: camelCase names, no enums.
func TestFieldConventions(t *testing.T) {
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
			return
		}
		seen[md.FullName()] = true
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			f := fields.Get(i)
			if strings.Contains(string(f.Name()), "_") {
				t.Errorf("%s: field %s is not camelCase", md.FullName(), f.Name())
			}
			if f.Kind() == protoreflect.EnumKind {
				t.Errorf("%s: field %s is an enum", md.FullName(), f.Name())
			}
			if f.IsMap() {
				if v := f.MapValue(); v.Kind() == protoreflect.MessageKind {
					walk(v.Message())
				}
				continue
			}
			if f.Kind() == protoreflect.MessageKind {
				walk(f.Message())
			}
		}
	}
	for _, k := range scheme.All() {
		walk(k.New().ProtoReflect().Descriptor())
	}
}
