package controller

import (
	corev1 "minik8s/api/core/v1"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// Resolve returns the object of lister that ref names in namespace, when
// ref is of kind and the cached object has ref's uid: the controller a
// dependent points to, as the cache knows it. A nil ref, another kind, an
// object not in the cache or one with another uid (deleted and created
// again) resolve to false.
func Resolve[T scheme.Object](lister *informer.Lister[T], kind, namespace string, ref *metav1.OwnerReference) (T, bool) {
	var zero T
	if ref == nil || ref.GetKind() != kind {
		return zero, false
	}
	o, err := lister.Get(namespace, ref.GetName())
	if err != nil || o.GetMetadata().GetUid() != ref.GetUid() {
		return zero, false
	}
	return o, true
}

// ControllerOf resolves the controller reference of obj in obj's
// namespace (see Resolve).
func ControllerOf[T scheme.Object](lister *informer.Lister[T], kind string, obj scheme.Object) (T, bool) {
	return Resolve(lister, kind, obj.GetMetadata().GetNamespace(), ControllerRefOf(obj))
}

// OwnerKey returns, for OwnedPodEvents, the function that maps a pod to
// the key of its controller of kind in lister, or "" when it has none.
func OwnerKey[T scheme.Object](lister *informer.Lister[T], kind string) func(*corev1.Pod) string {
	return func(p *corev1.Pod) string {
		if o, ok := ControllerOf(lister, kind, p); ok {
			return informer.KeyOf(o)
		}
		return ""
	}
}
