package generic

import (
	"context"
	"fmt"
	"strconv"
	"time"

	apierrors "minik8s/api/errors"
	"minik8s/api/fields"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/storage"
)

// Resource is the rest.Storage of one stored kind: every verb, through
// the Store's strategies, storage and watch cache.
type Resource struct {
	Store *Store
	K     *scheme.Kind
}

// For returns the storage of kind k.
func (s *Store) For(k *scheme.Kind) *Resource { return &Resource{Store: s, K: k} }

var (
	_ rest.Getter  = (*Resource)(nil)
	_ rest.Lister  = (*Resource)(nil)
	_ rest.Watcher = (*Resource)(nil)
	_ rest.Creater = (*Resource)(nil)
	_ rest.Updater = (*Resource)(nil)
	_ rest.Deleter = (*Resource)(nil)
)

// Kind implements rest.Storage.
func (r *Resource) Kind() *scheme.Kind { return r.K }

// Get implements rest.Getter.
func (r *Resource) Get(ctx context.Context, ns, name string) (scheme.Object, error) {
	return r.Store.Get(ctx, r.K, ns, name)
}

// Create implements rest.Creater.
func (r *Resource) Create(ctx context.Context, ns string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	return r.Store.Create(ctx, r.K, ns, obj, o)
}

// Update implements rest.Updater.
func (r *Resource) Update(ctx context.Context, ns string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	return r.Store.Update(ctx, r.K, ns, obj, "", o)
}

// Delete implements rest.Deleter.
func (r *Resource) Delete(ctx context.Context, ns, name string, opts *metav1.DeleteOptions, o rest.WriteOptions) (scheme.Object, error) {
	return r.Store.Delete(ctx, r.K, ns, name, opts, o)
}

// List implements rest.Lister: from the watch cache, after it has caught
// up with the resourceVersion asked for (Kubernetes' semantics: "" is a
// consistent read of the latest state, "0" any cached state, N at least N).
func (r *Resource) List(ctx context.Context, ns string, o rest.ListOptions) (*rest.ListResult, error) {
	f, err := Filter(r.K, ns, o.LabelSelector, o.FieldSelector)
	if err != nil {
		return nil, err
	}
	var minRV int64
	switch {
	case o.ResourceVersion == "0":
	case o.ResourceVersion == "":
		// A plain list must see every write acknowledged before it: wait
		// for the cache to reach the store's current revision.
		if minRV, err = r.Store.ConsistentRV(ctx); err != nil {
			return nil, err
		}
	default:
		if minRV, err = storage.ParseRV(o.ResourceVersion); err != nil {
			return nil, err
		}
		if o.ResourceVersionMatch == "Exact" && minRV != 0 {
			if rv := r.Store.Cache(r.K).Revision(); rv != minRV {
				return nil, apierrors.NewExpired(fmt.Sprintf("resourceVersion %d is not the cache's current one (%d): an exact list is served only at the latest revision", minRV, rv))
			}
		}
	}
	switch o.ResourceVersionMatch {
	case "", "NotOlderThan", "Exact":
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersionMatch %q: must be NotOlderThan or Exact", o.ResourceVersionMatch))
	}
	if o.Limit < 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %d: must be >= 0", o.Limit))
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	items, rv, next, err := r.Store.List(wctx, r.K, f, cache.ListOptions{MinRV: minRV, Limit: o.Limit, Continue: o.Continue})
	if err != nil {
		return nil, err
	}
	return &rest.ListResult{Items: items, ResourceVersion: strconv.FormatInt(rv, 10), Continue: next}, nil
}

// Watch implements rest.Watcher.
func (r *Resource) Watch(ctx context.Context, ns string, o rest.ListOptions) (*cache.Watcher, error) {
	f, err := Filter(r.K, ns, o.LabelSelector, o.FieldSelector)
	if err != nil {
		return nil, err
	}
	rv, err := storage.ParseRV(o.ResourceVersion)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if o.SendInitialEvents {
		return r.Store.Cache(r.K).WatchWithInitial(wctx, f, o.AllowBookmarks)
	}
	return r.Store.Watch(wctx, r.K, f, rv, o.AllowBookmarks)
}

// Filter builds the cache filter of a list or watch request. A selector
// that does not parse, or names a field the kind cannot be selected by,
// is a BadRequest.
func Filter(k *scheme.Kind, ns, labelSel, fieldSel string) (cache.Filter, error) {
	ls, err := labels.Parse(labelSel)
	if err != nil {
		return cache.Filter{}, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: invalid label selector %q: %v", labelSel, err))
	}
	fs, err := fields.Parse(fieldSel)
	if err != nil {
		return cache.Filter{}, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector %q: %v", fieldSel, err))
	}
	if err := fields.Supported(k.Resource, fs); err != nil {
		return cache.Filter{}, apierrors.NewBadRequest(err.Error())
	}
	f := cache.Filter{Namespace: ns}
	if !k.Namespaced {
		f.Namespace = ""
	}
	if !ls.Empty() || !fs.Empty() {
		f.Match = func(o scheme.Object) bool {
			return ls.Matches(o.GetMetadata().GetLabels()) && fs.Matches(fields.ResourceGetter(k.Resource, o))
		}
	}
	return f, nil
}

// Status is the rest.Storage of a kind's status subresource (or of
// another subresource its strategy lists in registry.StatusSubresources,
// named by Subresource): get, and an update that changes only the status.
type Status struct {
	*Resource
	// Subresource is "" for "status".
	Subresource string
}

// Get implements rest.Getter.
func (s Status) Get(ctx context.Context, ns, name string) (scheme.Object, error) {
	return s.Resource.Get(ctx, ns, name)
}

// Update implements rest.Updater.
func (s Status) Update(ctx context.Context, ns string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	sub := s.Subresource
	if sub == "" {
		sub = "status"
	}
	return s.Store.Update(ctx, s.K, ns, obj, sub, o)
}
