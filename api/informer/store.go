package informer

import (
	"strings"
	"sync"

	"minik8s/api/scheme"
)

// NamespaceIndex is the index every informer keeps: objects by namespace.
const NamespaceIndex = "namespace"

// IndexFunc returns the index values of an object (for example the node
// name of a pod); an object may have none or several.
type IndexFunc[T scheme.Object] func(obj T) []string

// KeyOf returns the cache key of an object: "namespace/name", or "name"
// for cluster-scoped objects. Controllers queue these keys.
func KeyOf(obj scheme.Object) string {
	md := obj.GetMetadata()
	if md.GetNamespace() == "" {
		return md.GetName()
	}
	return md.GetNamespace() + "/" + md.GetName()
}

// SplitKey splits a key made by KeyOf into namespace ("" when
// cluster-scoped) and name.
func SplitKey(key string) (namespace, name string) {
	if ns, n, ok := strings.Cut(key, "/"); ok {
		return ns, n
	}
	return "", key
}

type changeType int

const (
	changeAdd changeType = iota
	changeUpdate
	changeDelete
)

// change is one difference applied to the store, for the handlers.
type change[T scheme.Object] struct {
	typ      changeType
	old, obj T // old is set for updates; obj is the new (or, for deletes, last) state
}

// store is the thread-safe indexed cache behind an informer's Lister.
// It holds the objects as received; nobody may mutate them.
type store[T scheme.Object] struct {
	mu       sync.RWMutex
	items    map[string]T
	indexers map[string]IndexFunc[T]
	indices  map[string]map[string]map[string]struct{} // index -> value -> keys
}

func newStore[T scheme.Object]() *store[T] {
	s := &store[T]{
		items:    map[string]T{},
		indexers: map[string]IndexFunc[T]{},
		indices:  map[string]map[string]map[string]struct{}{},
	}
	s.addIndexer(NamespaceIndex, func(obj T) []string { return []string{obj.GetMetadata().GetNamespace()} })
	return s
}

// addIndexer adds (or replaces) an index and builds it from the current items.
func (s *store[T]) addIndexer(name string, fn IndexFunc[T]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indexers[name] = fn
	idx := map[string]map[string]struct{}{}
	s.indices[name] = idx
	for key, obj := range s.items {
		for _, v := range fn(obj) {
			addToIndex(idx, v, key)
		}
	}
}

func addToIndex(idx map[string]map[string]struct{}, value, key string) {
	set := idx[value]
	if set == nil {
		set = map[string]struct{}{}
		idx[value] = set
	}
	set[key] = struct{}{}
}

func (s *store[T]) indexLocked(key string, old T, hasOld bool, obj T, hasNew bool) {
	for name, fn := range s.indexers {
		idx := s.indices[name]
		if hasOld {
			for _, v := range fn(old) {
				if set := idx[v]; set != nil {
					delete(set, key)
					if len(set) == 0 {
						delete(idx, v)
					}
				}
			}
		}
		if hasNew {
			for _, v := range fn(obj) {
				addToIndex(idx, v, key)
			}
		}
	}
}

func (s *store[T]) putLocked(key string, obj T) (old T, existed bool) {
	old, existed = s.items[key]
	s.items[key] = obj
	s.indexLocked(key, old, existed, obj, true)
	return old, existed
}

func (s *store[T]) deleteLocked(key string) (old T, existed bool) {
	old, existed = s.items[key]
	if existed {
		delete(s.items, key)
		var zero T
		s.indexLocked(key, old, true, zero, false)
	}
	return old, existed
}

// apply records one watch event and returns the change handlers must see.
// ADDED for a known object is an update and MODIFIED for an unknown one is
// an add (both happen when a re-watch overlaps what a list returned); a
// DELETED for an unknown object changes nothing.
func (s *store[T]) apply(eventType string, obj T) (change[T], bool) {
	key := KeyOf(obj)
	s.mu.Lock()
	defer s.mu.Unlock()
	if eventType == "DELETED" {
		if _, ok := s.deleteLocked(key); !ok {
			return change[T]{}, false
		}
		return change[T]{typ: changeDelete, obj: obj}, true
	}
	old, existed := s.putLocked(key, obj)
	if !existed {
		return change[T]{typ: changeAdd, obj: obj}, true
	}
	return change[T]{typ: changeUpdate, old: old, obj: obj}, true
}

// replace makes the store hold exactly items (a fresh list) and returns the
// differences: adds for new keys, updates where the resourceVersion moved,
// and deletes - carrying the last known state - for keys no longer listed,
// that is objects deleted while the watch was down.
func (s *store[T]) replace(items []T) []change[T] {
	s.mu.Lock()
	defer s.mu.Unlock()
	var changes []change[T]
	seen := make(map[string]struct{}, len(items))
	for _, obj := range items {
		key := KeyOf(obj)
		seen[key] = struct{}{}
		old, existed := s.putLocked(key, obj)
		switch {
		case !existed:
			changes = append(changes, change[T]{typ: changeAdd, obj: obj})
		case old.GetMetadata().GetResourceVersion() != obj.GetMetadata().GetResourceVersion():
			changes = append(changes, change[T]{typ: changeUpdate, old: old, obj: obj})
		}
	}
	for key := range s.items {
		if _, ok := seen[key]; !ok {
			old, _ := s.deleteLocked(key)
			changes = append(changes, change[T]{typ: changeDelete, obj: old})
		}
	}
	return changes
}

func (s *store[T]) get(key string) (T, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	obj, ok := s.items[key]
	return obj, ok
}

func (s *store[T]) list() []T {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]T, 0, len(s.items))
	for _, obj := range s.items {
		out = append(out, obj)
	}
	return out
}

// byIndex returns the objects whose index name has value; ok is false for
// an unknown index.
func (s *store[T]) byIndex(name, value string) (out []T, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx, ok := s.indices[name]
	if !ok {
		return nil, false
	}
	for key := range idx[value] {
		out = append(out, s.items[key])
	}
	return out, true
}
