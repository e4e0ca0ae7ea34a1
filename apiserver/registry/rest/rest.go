// Package rest names what a resource's storage can do, in the shape of
// Kubernetes' registry: each resource and subresource ("pods",
// "pods/status", "pods/binding", "componentstatuses") is served by one
// Storage, which implements the verb interfaces below that it supports.
// The request path (apiserver/endpoints) finds the storage, checks the
// caller and runs admission; the gRPC and HTTP fronts only decode and
// encode. Errors are minik8s/api/errors values.
package rest

import (
	"context"

	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
)

// Storage serves one resource or subresource.
type Storage interface {
	// Kind is the kind of the objects the storage takes and returns (for
	// "pods/binding" a Binding, for "pods/status" a Pod).
	Kind() *scheme.Kind
}

// WriteOptions are what every write carries besides its object.
type WriteOptions struct {
	// DryRun runs every stage of the write but stores nothing.
	DryRun bool
	// FieldManager names the writer for managedFields.
	FieldManager string
}

// ListOptions select what a list or watch returns.
type ListOptions struct {
	LabelSelector   string
	FieldSelector   string
	ResourceVersion string
	// ResourceVersionMatch is "", "NotOlderThan" or "Exact".
	ResourceVersionMatch string
	Limit                int64
	Continue             string
	AllowBookmarks       bool
	// SendInitialEvents makes a watch start with an ADDED event for each
	// existing object, then a bookmark marking the end of them.
	SendInitialEvents bool
}

// ListResult is one page of a list.
type ListResult struct {
	Items           []cache.Item
	ResourceVersion string
	Continue        string
}

// Getter reads one object.
type Getter interface {
	Get(ctx context.Context, ns, name string) (scheme.Object, error)
}

// Lister lists objects of a namespace ("" for all, or cluster-scoped).
type Lister interface {
	List(ctx context.Context, ns string, o ListOptions) (*ListResult, error)
}

// Watcher opens a watch; the caller stops it.
type Watcher interface {
	Watch(ctx context.Context, ns string, o ListOptions) (*cache.Watcher, error)
}

// Creater stores a new object.
type Creater interface {
	Create(ctx context.Context, ns string, obj scheme.Object, o WriteOptions) (scheme.Object, error)
}

// NamedCreater creates something for an existing object: a pod's binding
// or eviction. name is the object's, from the request path.
type NamedCreater interface {
	CreateNamed(ctx context.Context, ns, name string, obj scheme.Object, o WriteOptions) (scheme.Object, error)
}

// Updater replaces an object; a non-empty resourceVersion must match.
type Updater interface {
	Update(ctx context.Context, ns string, obj scheme.Object, o WriteOptions) (scheme.Object, error)
}

// Deleter removes an object (or marks it for graceful deletion) and
// returns what was removed or marked.
type Deleter interface {
	Delete(ctx context.Context, ns, name string, opts *metav1.DeleteOptions, o WriteOptions) (scheme.Object, error)
}

// Verbs lists the Kubernetes verbs a storage serves, for discovery and for
// refusing the others with MethodNotSupported.
func Verbs(s Storage) []string {
	var v []string
	if _, ok := s.(Creater); ok {
		v = append(v, "create")
	} else if _, ok := s.(NamedCreater); ok {
		v = append(v, "create")
	}
	if _, ok := s.(Deleter); ok {
		v = append(v, "delete")
		if _, ok := s.(Lister); ok {
			v = append(v, "deletecollection")
		}
	}
	if _, ok := s.(Getter); ok {
		v = append(v, "get")
	}
	if _, ok := s.(Lister); ok {
		v = append(v, "list")
	}
	if _, ok := s.(Updater); ok {
		v = append(v, "patch", "update")
	}
	if _, ok := s.(Watcher); ok {
		v = append(v, "watch")
	}
	return v
}
