package informer

import (
	"fmt"

	apierrors "minik8s/api/errors"
	"minik8s/api/labels"
	"minik8s/api/scheme"
)

// Lister reads an informer's cache. Returned objects are shared with the
// cache and other controllers: copy before mutating. Safe for concurrent use.
type Lister[T scheme.Object] struct {
	store *store[T]
	kind  *scheme.Kind
}

// Get returns the cached object, or a NotFound *errors.StatusError.
// namespace is ignored for cluster-scoped kinds.
func (l *Lister[T]) Get(namespace, name string) (T, error) {
	key := name
	if namespace != "" && l.kind.Namespaced {
		key = namespace + "/" + name
	}
	obj, ok := l.store.get(key)
	if !ok {
		return obj, apierrors.NewNotFound(l.kind.GroupResource(), name)
	}
	return obj, nil
}

// List returns the cached objects in all namespaces whose labels match
// selector (nil means everything), in no particular order.
func (l *Lister[T]) List(selector labels.Selector) []T {
	return filter(l.store.list(), selector)
}

// ListNamespace is List restricted to one namespace.
func (l *Lister[T]) ListNamespace(namespace string, selector labels.Selector) []T {
	objs, _ := l.store.byIndex(NamespaceIndex, namespace)
	return filter(objs, selector)
}

// ByIndex returns the cached objects whose index name has value; an index
// never added is an error.
func (l *Lister[T]) ByIndex(name, value string) ([]T, error) {
	objs, ok := l.store.byIndex(name, value)
	if !ok {
		return nil, fmt.Errorf("%s informer has no index %q", l.kind.Resource, name)
	}
	return objs, nil
}

func filter[T scheme.Object](objs []T, selector labels.Selector) []T {
	if selector == nil || selector.Empty() {
		return objs
	}
	out := objs[:0]
	for _, o := range objs {
		if selector.Matches(o.GetMetadata().GetLabels()) {
			out = append(out, o)
		}
	}
	return out
}
