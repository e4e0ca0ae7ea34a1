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

// Source opens watches of a kind from the beginning (an ADDED event per
// existing object first): the apiserver's watch caches.
type Source interface {
	Watch(ctx context.Context, k *scheme.Kind) (*cache.Watcher, error)
}

// Kinds are the kinds the authorizer follows.
var Kinds = []*scheme.Kind{rbacv1.RoleKind, rbacv1.ClusterRoleKind, rbacv1.RoleBindingKind, rbacv1.ClusterRoleBindingKind}

// Start loads every role and binding from src and keeps them current
// until ctx ends. It returns once the first load is done (so the first
// decision already sees the stored policy), or with the error of a first
// watch. OnChange, if not nil, is called after every change of a
// ClusterRole (the aggregation loop's trigger).
func (z *Authorizer) Start(ctx context.Context, src Source, onChange func()) error {
	for _, k := range Kinds {
		w, err := src.Watch(ctx, k)
		if err != nil {
			return fmt.Errorf("rbac: watch %s: %w", k.Resource, err)
		}
		z.replaceFrom(k, w)
		go z.follow(ctx, src, k, w, onChange)
	}
	if onChange != nil {
		onChange()
	}
	return nil
}

func (z *Authorizer) replaceFrom(k *scheme.Kind, w *cache.Watcher) {
	var objs []scheme.Object
	for _, ev := range w.Initial() {
		if ev.Type == cache.Added || ev.Type == cache.Modified {
			objs = append(objs, ev.Object)
		}
	}
	z.Replace(k, objs)
}

// follow applies w's events; when the cache cuts the watcher off (it fell
// behind), it watches again from the beginning and replaces the kind.
func (z *Authorizer) follow(ctx context.Context, src Source, k *scheme.Kind, w *cache.Watcher, onChange func()) {
	for {
	events:
		for {
			var ev *cache.Event
			var ok bool
			select {
			case <-ctx.Done():
				w.Stop()
				return
			case ev, ok = <-w.Events():
			}
			if !ok {
				break events
			}
			switch ev.Type {
			case cache.Added, cache.Modified:
				z.Apply(ev.Object, false)
			case cache.Deleted:
				z.Apply(ev.Object, true)
			default:
				continue
			}
			if onChange != nil && k == rbacv1.ClusterRoleKind {
				onChange()
			}
		}
		w.Stop()
		for {
			if ctx.Err() != nil {
				return
			}
			var err error
			if w, err = src.Watch(ctx, k); err == nil {
				break
			}
			slog.Warn("rbac: rewatch", "resource", k.Resource, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		z.replaceFrom(k, w)
		if onChange != nil && k == rbacv1.ClusterRoleKind {
			onChange()
		}
	}
}
