package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	apierrors "minik8s/api/errors"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/auth/rbac"
	"minik8s/apiserver/auth/rbac/bootstrappolicy"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
)

// rbacIn finds the RBAC authorizer among the modes of z (nil when RBAC
// is not on).
func rbacIn(z auth.Authorizer) *rbac.Authorizer {
	switch v := z.(type) {
	case *rbac.Authorizer:
		return v
	case auth.UnionAuthorizer:
		for _, x := range v {
			if r := rbacIn(x); r != nil {
				return r
			}
		}
	}
	return nil
}

// startRBAC puts the bootstrap policy in place, fills z from the watch
// caches and keeps it current, and keeps aggregated ClusterRoles equal to
// the union of the roles they select, until ctx ends. It returns once z
// decides with the stored policy, aggregation included.
//
// Aggregation runs here rather than as a controller-manager controller:
// the bootstrap admin, edit and view must be usable from the first
// request this apiserver serves, without waiting for another component,
// and this loop already follows every ClusterRole. Several apiservers
// compute the same rules and write only when the stored ones differ, so
// they converge (a lost update is retried on the next change).
func startRBAC(ctx context.Context, st *generic.Store, z *rbac.Authorizer) error {
	bs := bootstrapStore{st}
	for attempt := 0; ; attempt++ {
		n, err := bootstrappolicy.Reconcile(ctx, bs)
		if err == nil {
			if n > 0 {
				slog.Info("rbac: reconciled the bootstrap policy", "written", n)
			}
			break
		}
		if attempt >= 30 {
			return fmt.Errorf("rbac bootstrap policy: %w", err)
		}
		slog.Warn("rbac: bootstrap policy, retrying", "err", err)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	kick := make(chan struct{}, 1)
	trigger := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	if err := z.Start(ctx, cacheSource{st}, trigger); err != nil {
		return err
	}
	aggregate(ctx, st, z)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				aggregate(ctx, st, z)
			}
		}
	}()
	return nil
}

// aggregate writes the rules of every aggregated ClusterRole whose stored
// rules differ from the union of the roles it selects, and applies what
// it wrote to z at once (its watch would see it a moment later).
func aggregate(ctx context.Context, st *generic.Store, z *rbac.Authorizer) {
	roles := z.ClusterRoles()
	byName := map[string]*rbacv1.ClusterRole{}
	for _, r := range roles {
		byName[r.GetMetadata().GetName()] = r
	}
	for name, rules := range rbac.Aggregate(roles) {
		up := proto.Clone(byName[name]).(*rbacv1.ClusterRole)
		up.Rules = rules
		obj, err := st.Update(ctx, rbacv1.ClusterRoleKind, "", up, "", rest.WriteOptions{})
		if err != nil {
			if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) && ctx.Err() == nil {
				slog.Warn("rbac: aggregate", "clusterrole", name, "err", err)
			}
			continue
		}
		z.Apply(obj, false)
	}
}

// cacheSource reads roles and bindings from the watch caches.
type cacheSource struct{ st *generic.Store }

func (s cacheSource) List(ctx context.Context, k *scheme.Kind) ([]scheme.Object, int64, error) {
	res, err := s.st.For(k).List(ctx, "", rest.ListOptions{})
	if err != nil {
		return nil, 0, err
	}
	objs := make([]scheme.Object, len(res.Items))
	for i, it := range res.Items {
		objs[i] = it.Object
	}
	rv, err := strconv.ParseInt(res.ResourceVersion, 10, 64)
	return objs, rv, err
}

func (s cacheSource) Watch(ctx context.Context, k *scheme.Kind, rv int64) (*cache.Watcher, error) {
	return s.st.Cache(k).Watch(ctx, cache.Filter{}, rv, false)
}

// bootstrapStore writes the bootstrap policy straight to the store: the
// apiserver itself is not subject to the escalation check.
type bootstrapStore struct{ st *generic.Store }

func (b bootstrapStore) Get(ctx context.Context, k *scheme.Kind, name string) (scheme.Object, error) {
	return b.st.Get(ctx, k, "", name)
}

func (b bootstrapStore) Create(ctx context.Context, k *scheme.Kind, obj scheme.Object) error {
	_, err := b.st.Create(ctx, k, "", obj, rest.WriteOptions{})
	return err
}

func (b bootstrapStore) Update(ctx context.Context, k *scheme.Kind, obj scheme.Object) error {
	_, err := b.st.Update(ctx, k, "", obj, "", rest.WriteOptions{})
	return err
}

func (b bootstrapStore) Delete(ctx context.Context, k *scheme.Kind, name string) error {
	_, err := b.st.Delete(ctx, k, "", name, nil, rest.WriteOptions{})
	return err
}
