package core

import (
	"strings"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/resource"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("pods", podStrategy{}) }

// podStrategy defaults and validates pods and keeps a pod's spec fixed
// after creation except for images, the deadline, added tolerations and
// binding to a node.
type podStrategy struct{ registry.Base }

// Default fills the pod-spec defaults, the service account and, on
// creation (no phase yet), status.phase Pending and the QoS class.
func (podStrategy) Default(obj scheme.Object) {
	pod := obj.(*corev1.Pod)
	if pod.Spec == nil {
		pod.Spec = &corev1.PodSpec{}
	}
	s := pod.Spec
	DefaultPodSpec(s)
	if s.ServiceAccountName == "" {
		s.ServiceAccountName = s.ServiceAccount // the deprecated alias
	}
	if s.ServiceAccountName == "" {
		s.ServiceAccountName = "default"
	}
	s.ServiceAccount = s.ServiceAccountName
	if s.EnableServiceLinks == nil {
		s.EnableServiceLinks = new(true)
	}
	// A limit without a request requests the limit.
	for _, c := range append(append([]*corev1.Container{}, s.InitContainers...), s.Containers...) {
		r := c.Resources
		if r == nil {
			continue
		}
		for name, limit := range r.Limits {
			if _, ok := r.Requests[name]; !ok {
				if r.Requests == nil {
					r.Requests = map[string]string{}
				}
				r.Requests[name] = limit
			}
		}
	}
	if pod.Status == nil {
		pod.Status = &corev1.PodStatus{}
	}
	if pod.Status.Phase == "" {
		pod.Status.Phase = "Pending"
		pod.Status.QosClass = QOSClass(s)
	}
}

// Validate checks the pod spec.
func (podStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	pod := obj.(*corev1.Pod)
	if pod.Spec == nil {
		return []apierrors.FieldError{apierrors.Required("spec", "")}
	}
	return ValidatePodSpec(pod.Spec, "spec")
}

const podUpdateForbidden = "pod updates may not change fields other than `spec.containers[*].image`," +
	"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations)"

// ValidateUpdate allows only the spec changes Kubernetes allows, plus
// setting spec.nodeName once (that is how a binding lands).
func (podStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	ns, os := newObj.(*corev1.Pod).GetSpec(), oldObj.(*corev1.Pod).GetSpec()
	if ns == nil || os == nil {
		return nil // Validate has required spec on both
	}
	var errs []apierrors.FieldError
	if os.ActiveDeadlineSeconds != nil {
		p := "spec.activeDeadlineSeconds"
		switch {
		case ns.ActiveDeadlineSeconds == nil:
			errs = append(errs, apierrors.Invalid(p, nil, "must not update from a positive integer to nil value"))
		case *ns.ActiveDeadlineSeconds > *os.ActiveDeadlineSeconds:
			errs = append(errs, apierrors.Invalid(p, *ns.ActiveDeadlineSeconds, "must be less than or equal to previous value"))
		}
	}
	if !keepsTolerations(ns.Tolerations, os.Tolerations) {
		errs = append(errs, apierrors.Forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"))
	}
	// Start from the old spec, take over what may change, and compare.
	allowed := proto.Clone(os).(*corev1.PodSpec)
	copyImages(allowed.Containers, ns.Containers)
	copyImages(allowed.InitContainers, ns.InitContainers)
	allowed.ActiveDeadlineSeconds = ns.ActiveDeadlineSeconds
	allowed.Tolerations = ns.Tolerations
	if os.NodeName == "" {
		allowed.NodeName = ns.NodeName
	}
	if changed := validation.ChangedFields(allowed, ns); len(changed) > 0 {
		for i := range changed {
			changed[i] = "spec." + changed[i]
		}
		errs = append(errs, apierrors.Forbidden("spec", podUpdateForbidden+" (changed: "+strings.Join(changed, ", ")+")"))
	}
	return errs
}

// copyImages sets the images of dst from src when both list the same containers.
func copyImages(dst, src []*corev1.Container) {
	if len(dst) != len(src) {
		return
	}
	for i := range dst {
		dst[i].Image = src[i].Image
	}
}

// keepsTolerations reports whether every old toleration is still present;
// only its tolerationSeconds may differ.
func keepsTolerations(newT, oldT []*corev1.Toleration) bool {
	type tk struct{ key, op, value, effect string }
	norm := func(t *corev1.Toleration) tk {
		op := t.Operator
		if op == "" {
			op = "Equal"
		}
		return tk{t.Key, op, t.Value, t.Effect}
	}
	have := map[tk]bool{}
	for _, t := range newT {
		have[norm(t)] = true
	}
	for _, t := range oldT {
		if !have[norm(t)] {
			return false
		}
	}
	return true
}

// QOSClass is the pod's quality-of-service class: Guaranteed when every
// container limits cpu and memory and requests exactly its limits,
// BestEffort when no container requests or limits either, else Burstable.
func QOSClass(s *corev1.PodSpec) string {
	guaranteed, any := true, false
	for _, c := range append(append([]*corev1.Container{}, s.InitContainers...), s.Containers...) {
		for _, name := range []string{"cpu", "memory"} {
			req, hasReq := quantity(c.GetResources().GetRequests(), name)
			lim, hasLim := quantity(c.GetResources().GetLimits(), name)
			if hasReq || hasLim {
				any = true
			}
			if !hasLim || (hasReq && req != lim) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return "BestEffort"
	case guaranteed:
		return "Guaranteed"
	}
	return "Burstable"
}

// quantity returns a resource's non-zero milli-value from a resource list.
func quantity(list map[string]string, name string) (int64, bool) {
	v, ok := list[name]
	if !ok {
		return 0, false
	}
	m, err := resource.ParseQuantity(v)
	return m, err == nil && m != 0
}
