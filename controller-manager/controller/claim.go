package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// Claimer adopts and releases the dependents (pods, ReplicaSets,
// ControllerRevisions) of one controller object, so that after Claim the
// owner manages exactly the objects that match its selector and have no
// other controller: orphans that match are adopted (an owner reference
// with controller=true is added) and owned objects that stopped matching
// are released (the reference is removed).
type Claimer[T scheme.Object] struct {
	API        API[T]
	Owner      scheme.Object
	APIVersion string // of the owner
	Kind       string // of the owner
	Selector   labels.Selector
	// CanAdopt, if set, is called once before the first adoption and must
	// fail if the owner is gone or being deleted; a live read guards
	// against adopting for an owner the cache still shows but that was
	// deleted.
	CanAdopt func(ctx context.Context) error

	once     sync.Once
	adoptErr error
}

// Claim returns the objects of objs the owner manages after adopting and
// releasing; errors of individual adoptions or releases are joined.
func (c *Claimer[T]) Claim(ctx context.Context, objs []T) ([]T, error) {
	ownerMD := c.Owner.GetMetadata()
	ownerDeleting := ownerMD.GetDeletionTimestamp() != nil
	var claimed []T
	var errs []error
	for _, o := range objs {
		md := o.GetMetadata()
		matches := c.Selector.Matches(md.GetLabels())
		if ref := ControllerRefOf(o); ref != nil {
			if ref.GetUid() != ownerMD.GetUid() {
				continue // someone else's
			}
			if matches {
				claimed = append(claimed, o)
				continue
			}
			if ownerDeleting || md.GetDeletionTimestamp() != nil {
				continue
			}
			if err := c.release(ctx, o); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if ownerDeleting || !matches || md.GetDeletionTimestamp() != nil {
			continue
		}
		adopted, ok, err := c.adopt(ctx, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, adopted)
		}
	}
	return claimed, errors.Join(errs...)
}

// adopt adds the controller reference; ok is false (with no error) when
// the object vanished or got another controller meanwhile.
func (c *Claimer[T]) adopt(ctx context.Context, o T) (adopted T, ok bool, err error) {
	var zero T
	c.once.Do(func() {
		if c.CanAdopt != nil {
			c.adoptErr = c.CanAdopt(ctx)
		}
	})
	if c.adoptErr != nil {
		return zero, false, fmt.Errorf("cannot adopt %s: %w", key(o), c.adoptErr)
	}
	var out T
	wrote, err := c.modify(ctx, o, func(cur T) bool {
		md := cur.GetMetadata()
		if ControllerRefOf(cur) != nil || md.GetDeletionTimestamp() != nil || !c.Selector.Matches(md.GetLabels()) {
			return false
		}
		md.OwnerReferences = append(md.OwnerReferences, NewControllerRef(c.Owner, c.APIVersion, c.Kind))
		return true
	}, &out)
	if err != nil {
		return zero, false, fmt.Errorf("adopt %s: %w", key(o), err)
	}
	return out, wrote, nil
}

// release removes the owner's reference from o.
func (c *Claimer[T]) release(ctx context.Context, o T) error {
	uid := c.Owner.GetMetadata().GetUid()
	var out T
	_, err := c.modify(ctx, o, func(cur T) bool {
		md := cur.GetMetadata()
		n := len(md.OwnerReferences)
		md.OwnerReferences = slices.DeleteFunc(md.OwnerReferences, func(r *metav1.OwnerReference) bool { return r.GetUid() == uid })
		return len(md.OwnerReferences) != n
	}, &out)
	if err != nil {
		return fmt.Errorf("release %s: %w", key(o), err)
	}
	return nil
}

// modify applies change to a copy of o and updates it (see Update).
// change returns false when nothing is to be done. It reports whether it
// wrote; a vanished or replaced object is not an error.
func (c *Claimer[T]) modify(ctx context.Context, o T, change func(T) bool, out *T) (bool, error) {
	wrote := false
	updated, err := Update(ctx, c.API, o, func(cur T) bool {
		wrote = change(cur)
		return wrote
	})
	if err != nil {
		return false, IgnoreNotFound(err)
	}
	if wrote {
		*out = updated
	}
	return wrote, nil
}

func key(o scheme.Object) string {
	md := o.GetMetadata()
	if md.GetNamespace() == "" {
		return md.GetName()
	}
	return md.GetNamespace() + "/" + md.GetName()
}

// RecheckOwner returns a CanAdopt function that reads the owner live and
// fails when it is gone, was replaced (another uid) or is being deleted.
func RecheckOwner[T scheme.Object](api API[T], owner scheme.Object) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		md := owner.GetMetadata()
		fresh, err := api.Get(ctx, md.GetNamespace(), md.GetName())
		if err != nil {
			return err
		}
		if fresh.GetMetadata().GetUid() != md.GetUid() {
			return fmt.Errorf("original %s is gone: got uid %s, wanted %s", key(owner), fresh.GetMetadata().GetUid(), md.GetUid())
		}
		if fresh.GetMetadata().GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s has just been deleted", key(owner))
		}
		return nil
	}
}
