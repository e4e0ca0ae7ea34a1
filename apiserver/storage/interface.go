package storage

import (
	"context"

	"minik8s/api/scheme"
)

// Interface is the narrow storage every registry writes through. Etcd is
// the real implementation; storage/memory keeps the same contract in
// process for unit tests. The contract, for every implementation:
//
//   - An object's resourceVersion is the revision of its last write; it is
//     never part of the stored bytes, only set on what is returned.
//   - Create fails with AlreadyExists when the key exists.
//   - Update writes only if the key's revision still equals obj's
//     resourceVersion: a mismatch is Conflict, a missing key NotFound.
//   - Delete removes the key only at revision rv (Conflict otherwise) and
//     returns the last stored object stamped with the deletion's revision.
//   - List returns every object of a kind (in ns, or all namespaces for "")
//     with the revision the list was read at.
//   - Watch streams every change after rev (exclusive) in revision order;
//     a compacted rev is an Expired error on errc. Progress events carry
//     only a revision.
//   - Errors are minik8s/api/errors values.
type Interface interface {
	Create(ctx context.Context, k *scheme.Kind, obj scheme.Object) (scheme.Object, error)
	Get(ctx context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error)
	Update(ctx context.Context, k *scheme.Kind, obj scheme.Object) (scheme.Object, error)
	Delete(ctx context.Context, k *scheme.Kind, ns, name string, rv int64) (scheme.Object, error)
	List(ctx context.Context, k *scheme.Kind, ns string) ([]scheme.Object, int64, error)
	Watch(ctx context.Context, k *scheme.Kind, rev int64) (<-chan RawEvent, <-chan error)
	// CurrentRevision is the store's latest revision, read linearizably.
	CurrentRevision(ctx context.Context) (int64, error)
	// WatchContext derives the context that Watch and RequestProgress
	// calls meant for each other must share.
	WatchContext(ctx context.Context) context.Context
	// RequestProgress makes every watch opened with ctx report the
	// current revision with a Progress event.
	RequestProgress(ctx context.Context) error
}

var _ Interface = (*Etcd)(nil)
