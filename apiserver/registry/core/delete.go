package core

import (
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
)

func init() {
	registry.RegisterDelete("pods", podDelete{})
	registry.RegisterDelete("namespaces", namespaceDelete{})
}

// podDelete gives a bound pod its grace period: the apiserver only marks
// it, the kubelet stops the containers and then deletes with grace 0.
type podDelete struct{}

func (podDelete) BeforeDelete(obj scheme.Object, opts *metav1.DeleteOptions) (int64, bool) {
	pod := obj.(*corev1.Pod)
	grace := int64(30)
	if g := pod.GetSpec().TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	if opts != nil && opts.GracePeriodSeconds != nil {
		grace = *opts.GracePeriodSeconds
	}
	// Nothing runs an unbound or finished pod, so nobody would finish it.
	phase := pod.GetStatus().GetPhase()
	if pod.GetSpec().GetNodeName() == "" || phase == "Succeeded" || phase == "Failed" {
		grace = 0
	}
	if grace < 0 {
		grace = 0
	}
	return grace, grace > 0
}

// CanFinish is false: a marked pod goes only when the kubelet deletes it.
func (podDelete) CanFinish(scheme.Object) bool { return false }

// namespaceDelete marks a namespace Terminating; the namespace controller
// empties it and clears spec.finalizers, after which it is removed.
type namespaceDelete struct{}

func (namespaceDelete) BeforeDelete(obj scheme.Object, _ *metav1.DeleteOptions) (int64, bool) {
	ns := obj.(*corev1.Namespace)
	if ns.Status == nil {
		ns.Status = &corev1.NamespaceStatus{}
	}
	ns.Status.Phase = "Terminating"
	return 0, len(ns.GetSpec().GetFinalizers()) > 0
}

func (namespaceDelete) CanFinish(obj scheme.Object) bool {
	return len(obj.(*corev1.Namespace).GetSpec().GetFinalizers()) == 0
}
