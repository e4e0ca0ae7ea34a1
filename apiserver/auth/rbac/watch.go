package rbac

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
)

// Source is where the authorizer reads roles and bindings: the
// apiserver's watch caches.
type Source interface {
	// List returns every object of k, as of a revision at least as new as
	// every write completed before the call, and that revision.
	List(ctx context.Context, k *scheme.Kind) ([]scheme.Object, int64, error)
	// Watch follows k's changes after revision rv.
	Watch(ctx context.Context, k *scheme.Kind, rv int64) (*cache.Watcher, error)
}

// Kinds are the kinds the authorizer follows.
var Kinds = []*scheme.Kind{rbacv1.RoleKind, rbacv1.ClusterRoleKind, rbacv1.RoleBindingKind, rbacv1.ClusterRoleBindingKind}

// Start loads every role and binding from src and keeps them current
// until ctx ends. It returns once the first load is done, so the first
// decision already sees every role and binding stored before Start.
// onChange, if not nil, is called after every change of a ClusterRole
// (the aggregation's trigger).
func (z *Authorizer) Start(ctx context.Context, src Source, onChange func()) error {
	for _, k := range Kinds {
		w, err := z.load(ctx, src, k)
		if err != nil {
			return fmt.Errorf("rbac: %s: %w", k.Resource, err)
		}
		go z.follow(ctx, src, k, w, onChange)
	}
	return nil
}

// load lists k into the index and opens a watch after the list.
func (z *Authorizer) load(ctx context.Context, src Source, k *scheme.Kind) (*cache.Watcher, error) {
	objs, rv, err := src.List(ctx, k)
	if err != nil {
		return nil, err
	}
	w, err := src.Watch(ctx, k, rv)
	if err != nil {
		return nil, err
	}
	z.Replace(k, objs)
	return w, nil
}

// follow applies w's events; when the cache cuts the watcher off (it fell
// behind), it lists and watches again.
func (z *Authorizer) follow(ctx context.Context, src Source, k *scheme.Kind, w *cache.Watcher, onChange func()) {
	changed := func() {
		if onChange != nil && k == rbacv1.ClusterRoleKind {
			onChange()
		}
	}
	for {
		for _, ev := range w.Initial() {
			z.event(ev)
		}
		changed()
	events:
		for {
			select {
			case <-ctx.Done():
				w.Stop()
				return
			case ev, ok := <-w.Events():
				if !ok {
					break events
				}
				if z.event(ev) {
					changed()
				}
			}
		}
		w.Stop()
		for {
			var err error
			if w, err = z.load(ctx, src, k); err == nil {
				break
			}
			slog.Warn("rbac: relist", "resource", k.Resource, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// event applies one watch event and reports whether it changed anything.
func (z *Authorizer) event(ev *cache.Event) bool {
	switch ev.Type {
	case cache.Added, cache.Modified:
		z.Apply(ev.Object, false)
	case cache.Deleted:
		z.Apply(ev.Object, true)
	default:
		return false
	}
	return true
}
