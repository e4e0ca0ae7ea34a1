package client

import (
	"context"

	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// Interface is the whole typed API of one kind: what *Resource[T]
// implements and api/client/fake's in-memory API doubles, so that code
// taking an Interface runs unchanged against either.
type Interface[T scheme.Object] interface {
	Kind() *scheme.Kind
	Get(ctx context.Context, namespace, name string) (T, error)
	List(ctx context.Context, namespace string, opts ListOptions) (*List[T], error)
	Watch(ctx context.Context, namespace string, opts ListOptions) (Watch[T], error)
	Create(ctx context.Context, obj T) (T, error)
	Update(ctx context.Context, obj T) (T, error)
	UpdateStatus(ctx context.Context, obj T) (T, error)
	Delete(ctx context.Context, namespace, name string, opts *metav1.DeleteOptions) (T, error)
}

var _ Interface[scheme.Object] = (*Resource[scheme.Object])(nil)
