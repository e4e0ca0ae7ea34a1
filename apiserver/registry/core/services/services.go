// Package services is the storage of Services: the generic store, with
// cluster IPs and node ports allocated around each write.
package services

import (
	"context"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/allocator"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
)

// Storage serves the services resource.
type Storage struct {
	*generic.Resource
	Alloc *allocator.Services
}

// Create implements rest.Creater. A dry run allocates nothing.
func (s *Storage) Create(ctx context.Context, ns string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok || o.DryRun {
		return s.Resource.Create(ctx, ns, obj, o)
	}
	return s.Alloc.Create(ctx, ns, svc, func(ctx context.Context) (scheme.Object, error) {
		return s.Resource.Create(ctx, ns, svc, o)
	})
}

// Update implements rest.Updater.
func (s *Storage) Update(ctx context.Context, ns string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, apierrors.NewBadRequest("services take a Service")
	}
	if o.DryRun {
		return s.Resource.Update(ctx, ns, svc, o)
	}
	return s.Alloc.Update(ctx, ns, svc, func(ctx context.Context, svc *corev1.Service) (scheme.Object, error) {
		return s.Resource.Update(ctx, ns, svc, o)
	})
}

// Delete implements rest.Deleter; the service's IP and ports are released.
func (s *Storage) Delete(ctx context.Context, ns, name string, opts *metav1.DeleteOptions, o rest.WriteOptions) (scheme.Object, error) {
	write := func(ctx context.Context) (scheme.Object, error) { return s.Resource.Delete(ctx, ns, name, opts, o) }
	if o.DryRun {
		return write(ctx)
	}
	return s.Alloc.Delete(ctx, write)
}
