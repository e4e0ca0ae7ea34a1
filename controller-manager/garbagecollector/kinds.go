package garbagecollector

import (
	"minik8s/api/informer"
	"minik8s/api/scheme"
	"minik8s/controller-manager/controller"
)

// typedCache adapts a typed informer to Cache.
type typedCache[T scheme.Object] struct{ inf *informer.Informer[T] }

func (c typedCache[T]) Get(namespace, name string) (scheme.Object, bool) {
	o, err := c.inf.Lister().Get(namespace, name)
	if err != nil {
		return nil, false
	}
	return o, true
}

func (c typedCache[T]) Dependents(uid string) []scheme.Object {
	objs, _ := c.inf.ByIndex(OwnerIndex, uid)
	out := make([]scheme.Object, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out
}

func (c typedCache[T]) List() []scheme.Object {
	objs := c.inf.Lister().List(nil)
	out := make([]scheme.Object, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out
}

func (c typedCache[T]) HasSynced() bool { return c.inf.HasSynced() }

// indexByOwners indexes an object under the uid of each of its owners.
func indexByOwners[T scheme.Object](obj T) []string {
	refs := obj.GetMetadata().GetOwnerReferences()
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.GetUid())
	}
	return out
}

// AddTyped registers a kind watched by a typed informer (usually shared
// with other controllers through the informer factory): it adds the owner
// index and the collector's handlers.
func AddTyped[T scheme.Object](gc *Collector, k *scheme.Kind, inf *informer.Informer[T], api controller.API[scheme.Object]) {
	inf.AddIndexer(OwnerIndex, indexByOwners[T])
	res := k.Resource
	inf.AddEventHandler(informer.HandlerFuncs[T]{
		AddFunc:    func(o T) { gc.OnAdd(res, o) },
		UpdateFunc: func(old, cur T) { gc.OnUpdate(res, old, cur) },
		DeleteFunc: func(o T) { gc.OnDelete(res, o) },
	})
	gc.Add(&Kind{Kind: k, Cache: typedCache[T]{inf}, API: api})
}
