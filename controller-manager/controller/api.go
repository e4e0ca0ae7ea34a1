package controller

import (
	"context"

	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// API is the part of a typed client a controller writes through;
// *client.Resource[T] implements it, and tests substitute a fake.
type API[T scheme.Object] interface {
	Get(ctx context.Context, namespace, name string) (T, error)
	Create(ctx context.Context, obj T) (T, error)
	Update(ctx context.Context, obj T) (T, error)
	UpdateStatus(ctx context.Context, obj T) (T, error)
	Delete(ctx context.Context, namespace, name string, opts *metav1.DeleteOptions) (T, error)
}
