package controller

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// UpdateStatus writes a change of obj through api.UpdateStatus: mutate
// changes a copy of obj in place and reports whether there is anything to
// write. The first attempt starts from obj itself (usually the cached
// copy); on a conflict the object is read again and mutate runs on the
// fresh copy, with client.RetryOnConflict's back-off. It returns the
// object as written, or as read when mutate wanted no write.
//
// An object that is gone, or was deleted and created again under the same
// name (another uid), is not written: the error is a NotFound
// (apierrors.IsNotFound), which callers that do not care test with
// IgnoreNotFound.
func UpdateStatus[T scheme.Object](ctx context.Context, api API[T], obj T, mutate func(cur T) bool) (T, error) {
	return modify(ctx, api, obj, api.UpdateStatus, mutate)
}

// Update is UpdateStatus through api.Update, for changes of metadata and
// spec (finalizers, owner references, annotations, taints).
func Update[T scheme.Object](ctx context.Context, api API[T], obj T, mutate func(cur T) bool) (T, error) {
	return modify(ctx, api, obj, api.Update, mutate)
}

// IgnoreNotFound returns nil for a NotFound error and err otherwise.
func IgnoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func modify[T scheme.Object](ctx context.Context, api API[T], obj T, write func(context.Context, T) (T, error), mutate func(T) bool) (T, error) {
	md := obj.GetMetadata()
	cur := proto.Clone(obj).(T)
	first := true
	var out T
	err := client.RetryOnConflict(ctx, client.Backoff{}, func() error {
		if !first {
			fresh, err := api.Get(ctx, md.GetNamespace(), md.GetName())
			if err != nil {
				return err
			}
			if uid := fresh.GetMetadata().GetUid(); uid != md.GetUid() {
				return gone(obj, uid)
			}
			cur = fresh
		}
		first = false
		if !mutate(cur) {
			out = cur
			return nil
		}
		written, err := write(ctx, cur)
		if err != nil {
			return err
		}
		out = written
		return nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// gone is the NotFound of obj replaced by an object with another uid.
func gone(obj scheme.Object, uid string) error {
	resource := "objects"
	if k, err := scheme.KindOf(obj); err == nil {
		resource = k.GroupResource()
	}
	return apierrors.NewNotFound(resource, fmt.Sprintf("%s (uid %s; now uid %s)", key(obj), obj.GetMetadata().GetUid(), uid))
}
