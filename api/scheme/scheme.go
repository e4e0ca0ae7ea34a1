// Package scheme is the table of every kind the API serves: its group,
// version, resource name, scope and Go type. Adding a kind means writing its
// message in a .proto file and adding one Register call in the group's
// register.go; everything else (storage, gRPC, clients, minictl) looks kinds
// up here.
package scheme

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	metav1 "minik8s/api/meta/v1"
)

// Object is what every kind's message satisfies: the generated getters of
// the apiVersion, kind and metadata fields.
type Object interface {
	proto.Message
	GetApiVersion() string
	GetKind() string
	GetMetadata() *metav1.ObjectMeta
}

// Kind describes one served kind.
type Kind struct {
	Group      string // "" for core, "apps", "batch", ...
	Version    string // "v1"
	Kind       string // "Pod"
	Resource   string // plural lower-case: "pods"
	ShortNames []string
	Namespaced bool
	// HasStatus says the kind has a status subresource: Update ignores
	// status changes and UpdateStatus ignores everything else.
	HasStatus bool
	// New returns an empty message of this kind.
	New func() Object
	// CreateOnly marks a review (TokenReview, SubjectAccessReview, ...):
	// answered at create and never stored, so nothing lists, watches,
	// gets or deletes it - controllers that walk every kind skip it.
	CreateOnly bool
}

// APIVersion is the apiVersion string objects of this kind carry ("v1", "apps/v1").
func (k *Kind) APIVersion() string {
	if k.Group == "" {
		return k.Version
	}
	return k.Group + "/" + k.Version
}

// NewObject returns an empty object with apiVersion and kind filled in.
func (k *Kind) NewObject() Object {
	o := k.New()
	SetTypeMeta(o, k)
	return o
}

// GroupResource is "pods" or "deployments.apps", as Kubernetes prints it.
func (k *Kind) GroupResource() string {
	if k.Group == "" {
		return k.Resource
	}
	return k.Resource + "." + k.Group
}

var (
	mu         sync.RWMutex
	byResource = map[string]*Kind{}
	byKind     = map[string]*Kind{} // "apps/v1/Deployment" and "Deployment"
	byAlias    = map[string]*Kind{} // singular, short names, plural, kind lower-case
)

// Register adds a kind. It panics on a duplicate, which is a programming error.
func Register(k *Kind) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := byResource[k.Resource]; dup {
		panic("scheme: resource registered twice: " + k.Resource)
	}
	byResource[k.Resource] = k
	byKind[k.APIVersion()+"/"+k.Kind] = k
	byKind[k.Kind] = k
	for _, a := range append([]string{k.Resource, strings.ToLower(k.Kind), k.GroupResource()}, k.ShortNames...) {
		byAlias[a] = k
	}
}

// ByResource finds a kind by its plural resource name ("pods").
func ByResource(resource string) (*Kind, error) {
	mu.RLock()
	defer mu.RUnlock()
	if k, ok := byResource[resource]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("the server doesn't have a resource type %q", resource)
}

// ByKind finds a kind by apiVersion and kind as written in a manifest.
func ByKind(apiVersion, kind string) (*Kind, error) {
	mu.RLock()
	defer mu.RUnlock()
	if kind == "" {
		return nil, fmt.Errorf("object has no kind")
	}
	k, ok := byKind[apiVersion+"/"+kind]
	if !ok {
		if _, known := byKind[kind]; known {
			return nil, fmt.Errorf("no kind %q is registered for version %q", kind, apiVersion)
		}
		return nil, fmt.Errorf("no kind %q is registered", kind)
	}
	return k, nil
}

// Lookup resolves what a user types on the command line: "po", "pod",
// "pods", "deploy", "deployments.apps", "Pod".
func Lookup(name string) (*Kind, error) {
	mu.RLock()
	defer mu.RUnlock()
	if k, ok := byAlias[strings.ToLower(name)]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("the server doesn't have a resource type %q", name)
}

// All returns every registered kind sorted by resource name.
func All() []*Kind {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]*Kind, 0, len(byResource))
	for _, k := range byResource {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// KindOf returns the registered kind of a message by its Go type.
func KindOf(o Object) (*Kind, error) {
	name := o.ProtoReflect().Descriptor().FullName()
	mu.RLock()
	defer mu.RUnlock()
	for _, k := range byResource {
		if k.New().ProtoReflect().Descriptor().FullName() == name {
			return k, nil
		}
	}
	return nil, fmt.Errorf("message %s is not a registered kind", name)
}

// SetTypeMeta fills apiVersion and kind through reflection, since the
// generated structs have no common setter.
func SetTypeMeta(o Object, k *Kind) {
	m := o.ProtoReflect()
	fields := m.Descriptor().Fields()
	if f := fields.ByName("apiVersion"); f != nil {
		m.Set(f, protoreflectString(k.APIVersion()))
	}
	if f := fields.ByName("kind"); f != nil {
		m.Set(f, protoreflectString(k.Kind))
	}
}

// Meta returns the object's metadata, creating it if absent, so callers can
// set fields without nil checks.
func Meta(o Object) *metav1.ObjectMeta {
	if md := o.GetMetadata(); md != nil {
		return md
	}
	m := o.ProtoReflect()
	f := m.Descriptor().Fields().ByName("metadata")
	md := &metav1.ObjectMeta{}
	m.Set(f, protoreflectMessage(md))
	return md
}
