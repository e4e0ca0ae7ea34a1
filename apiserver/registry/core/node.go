package core

import (
	"slices"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("nodes", nodeStrategy{}) }

// nodeStrategy checks taints, pod CIDRs and reported capacities, and keeps
// the pod CIDR and provider ID once they are set.
type nodeStrategy struct{ registry.Base }

// Validate checks taints, pod CIDRs and status quantities.
func (nodeStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	n := obj.(*corev1.Node)
	var errs []apierrors.FieldError
	type taintKey struct{ key, effect string }
	seen := map[taintKey]bool{}
	for i, t := range n.GetSpec().GetTaints() {
		tp := index("spec.taints", i)
		if t.Key == "" {
			errs = append(errs, apierrors.Required(child(tp, "key"), ""))
		} else {
			errs = append(errs, msgs(child(tp, "key"), t.Key, validation.IsQualifiedName(t.Key))...)
		}
		errs = append(errs, msgs(child(tp, "value"), t.Value, validation.IsValidLabelValue(t.Value))...)
		errs = append(errs, enum(child(tp, "effect"), t.Effect, taintEffects)...)
		if k := (taintKey{t.Key, t.Effect}); seen[k] {
			errs = append(errs, apierrors.Duplicate(tp, t.Key+":"+t.Effect))
		} else {
			seen[k] = true
		}
	}
	if c := n.GetSpec().GetPodCIDR(); c != "" {
		errs = append(errs, msgs("spec.podCIDR", c, validation.IsCIDR(c))...)
	}
	for i, c := range n.GetSpec().GetPodCIDRs() {
		errs = append(errs, msgs(index("spec.podCIDRs", i), c, validation.IsCIDR(c))...)
	}
	errs = append(errs, validation.ValidateResourceList(n.GetStatus().GetCapacity(), "status.capacity")...)
	errs = append(errs, validation.ValidateResourceList(n.GetStatus().GetAllocatable(), "status.allocatable")...)
	return errs
}

// ValidateUpdate lets the pod CIDR and provider ID go from unset to set,
// never change after.
func (nodeStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	ns, os := newObj.(*corev1.Node).GetSpec(), oldObj.(*corev1.Node).GetSpec()
	var errs []apierrors.FieldError
	if os.GetPodCIDR() != "" && ns.GetPodCIDR() != os.GetPodCIDR() ||
		len(os.GetPodCIDRs()) > 0 && !slices.Equal(ns.GetPodCIDRs(), os.GetPodCIDRs()) {
		errs = append(errs, apierrors.Forbidden("spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid"))
	}
	if os.GetProviderID() != "" && ns.GetProviderID() != os.GetProviderID() {
		errs = append(errs, apierrors.Forbidden("spec.providerID", "node updates may not change providerID except from \"\" to valid"))
	}
	return errs
}
