package registry

import (
	"sync"

	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// DeleteStrategy is implemented by kinds whose delete is not immediate:
// pods get a grace period so the kubelet can stop their containers, and
// namespaces stay Terminating until their contents are gone.
type DeleteStrategy interface {
	// BeforeDelete may modify obj (a private copy of the live object) and
	// returns the grace period to give it and whether the object must stay
	// (marked with deletionTimestamp) rather than be removed now.
	BeforeDelete(obj scheme.Object, opts *metav1.DeleteOptions) (grace int64, keep bool)
	// CanFinish reports whether an object already marked for deletion and
	// without metadata.finalizers may now be removed on update.
	CanFinish(obj scheme.Object) bool
}

var deleteStrategies sync.Map // resource -> DeleteStrategy

// RegisterDelete sets the delete strategy of a resource. Called from init.
func RegisterDelete(resource string, s DeleteStrategy) { deleteStrategies.Store(resource, s) }

// DeleteFor returns the delete strategy of a resource, or nil when the
// kind is deleted at once (after its finalizers).
func DeleteFor(resource string) DeleteStrategy {
	if s, ok := deleteStrategies.Load(resource); ok {
		return s.(DeleteStrategy)
	}
	return nil
}
