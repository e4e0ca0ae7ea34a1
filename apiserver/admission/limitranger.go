package admission

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/resource"
)

// LimitRangeLister lists the LimitRanges of a namespace; the apiserver
// passes its watch cache.
type LimitRangeLister func(ctx context.Context, ns string) ([]*corev1.LimitRange, error)

// LimitRangerAnnotation records on a pod which defaults LimitRanger set
// (Kubernetes' key and wording).
const LimitRangerAnnotation = "kubernetes.io/limit-ranger"

// LimitRanger is Kubernetes' LimitRanger plugin for pods being created:
// it fills each container's missing requests and limits from the
// defaultRequest and default of the namespace's LimitRange items of type
// Container, then refuses a pod outside any item's min, max or
// maxLimitRequestRatio, per container (type Container) or summed over
// the pod (type Pod). Items are read as Kubernetes stores them after
// defaulting: a missing default is the max, a missing defaultRequest is
// the default. PersistentVolumeClaim items are not enforced.
type LimitRanger struct {
	List LimitRangeLister
}

// Name is the plugin name as Kubernetes spells it.
func (LimitRanger) Name() string { return "LimitRanger" }

func (p LimitRanger) pod(ctx context.Context, a *Attributes) (*corev1.Pod, []*corev1.LimitRange, error) {
	if a.Kind.Resource != "pods" || a.Operation != Create || a.Subresource != "" {
		return nil, nil, nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok || pod.Spec == nil {
		return nil, nil, nil
	}
	ranges, err := p.List(ctx, a.Namespace)
	if err != nil {
		return nil, nil, apierrors.NewForbidden("pods", objectName(a.Object), fmt.Sprintf("error listing LimitRanges of namespace %s: %v", a.Namespace, err))
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].GetMetadata().GetName() < ranges[j].GetMetadata().GetName() })
	return pod, ranges, nil
}

// Admit implements Mutator: the defaults.
func (p LimitRanger) Admit(ctx context.Context, a *Attributes) error {
	pod, ranges, err := p.pod(ctx, a)
	if err != nil || len(ranges) == 0 {
		return err
	}
	var set []string
	mutate := func(c *corev1.Container, what string) {
		if c.Resources == nil {
			c.Resources = &corev1.ResourceRequirements{}
		}
		r := c.Resources
		// Kubernetes defaults a request to its limit before admission;
		// here defaulting runs after it, so do that step first.
		for name, q := range r.Limits {
			if _, ok := r.Requests[name]; !ok {
				r.Requests = put(r.Requests, name, q)
			}
		}
		var reqs, lims []string
		for _, lr := range ranges {
			for _, it := range lr.GetSpec().GetLimits() {
				if it.GetType() != "Container" {
					continue
				}
				def, defReq := itemDefaults(it)
				for _, name := range sortedKeys(def) {
					if _, ok := r.Limits[name]; !ok {
						r.Limits = put(r.Limits, name, def[name])
						lims = append(lims, name)
					}
				}
				for _, name := range sortedKeys(defReq) {
					if _, ok := r.Requests[name]; !ok {
						r.Requests = put(r.Requests, name, defReq[name])
						reqs = append(reqs, name)
					}
				}
			}
		}
		if len(reqs) > 0 {
			sort.Strings(reqs)
			set = append(set, fmt.Sprintf("%s request for %s %s", strings.Join(reqs, ", "), what, c.GetName()))
		}
		if len(lims) > 0 {
			sort.Strings(lims)
			set = append(set, fmt.Sprintf("%s limit for %s %s", strings.Join(lims, ", "), what, c.GetName()))
		}
	}
	for _, c := range pod.Spec.InitContainers {
		mutate(c, "init container")
	}
	for _, c := range pod.Spec.Containers {
		mutate(c, "container")
	}
	if len(set) > 0 {
		if pod.Metadata == nil {
			pod.Metadata = &metav1.ObjectMeta{}
		}
		if pod.Metadata.Annotations == nil {
			pod.Metadata.Annotations = map[string]string{}
		}
		pod.Metadata.Annotations[LimitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(set, "; ")
	}
	return nil
}

// Validate implements Validator: min, max and maxLimitRequestRatio.
func (p LimitRanger) Validate(ctx context.Context, a *Attributes) error {
	pod, ranges, err := p.pod(ctx, a)
	if err != nil || len(ranges) == 0 {
		return err
	}
	var errs []string
	check := func(typ string, it *corev1.LimitRangeItem, requests, limits map[string]string) {
		for _, name := range sortedKeys(it.GetMin()) {
			if msg := minConstraint(typ, name, it.GetMin()[name], requests, limits); msg != "" {
				errs = append(errs, msg)
			}
		}
		for _, name := range sortedKeys(it.GetMax()) {
			if msg := maxConstraint(typ, name, it.GetMax()[name], requests, limits); msg != "" {
				errs = append(errs, msg)
			}
		}
		for _, name := range sortedKeys(it.GetMaxLimitRequestRatio()) {
			if msg := ratioConstraint(typ, name, it.GetMaxLimitRequestRatio()[name], requests, limits); msg != "" {
				errs = append(errs, msg)
			}
		}
	}
	for _, lr := range ranges {
		for _, it := range lr.GetSpec().GetLimits() {
			switch it.GetType() {
			case "Container":
				for _, c := range append(slices.Clone(pod.Spec.Containers), pod.Spec.InitContainers...) {
					check("Container", it, c.GetResources().GetRequests(), c.GetResources().GetLimits())
				}
			case "Pod":
				reqs, _ := helper.PodResources(pod.Spec, false)
				lims, _ := helper.PodResources(pod.Spec, true)
				check("Pod", it, formatAll(reqs), formatAll(lims))
			}
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return apierrors.NewForbidden("pods", objectName(a.Object), errs[0])
	}
	// Kubernetes' aggregate of several errors.
	return apierrors.NewForbidden("pods", objectName(a.Object), "["+strings.Join(errs, ", ")+"]")
}

// itemDefaults are an item's default limits and requests as Kubernetes
// defaults them: default from max, defaultRequest from default.
func itemDefaults(it *corev1.LimitRangeItem) (def, defReq map[string]string) {
	def, defReq = map[string]string{}, map[string]string{}
	for k, v := range it.GetMax() {
		def[k] = v
	}
	for k, v := range it.GetDefault() {
		def[k] = v
	}
	for k, v := range def {
		defReq[k] = v
	}
	for k, v := range it.GetDefaultRequest() {
		defReq[k] = v
	}
	return def, defReq
}

func minConstraint(typ, name, enforced string, requests, limits map[string]string) string {
	e := milli(enforced)
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	switch {
	case !hasReq:
		return fmt.Sprintf("minimum %s usage per %s is %s.  No request is specified", name, typ, enforced)
	case milli(req) < e:
		return fmt.Sprintf("minimum %s usage per %s is %s, but request is %s", name, typ, enforced, req)
	case hasLim && milli(lim) < e:
		return fmt.Sprintf("minimum %s usage per %s is %s, but limit is %s", name, typ, enforced, lim)
	}
	return ""
}

func maxConstraint(typ, name, enforced string, requests, limits map[string]string) string {
	e := milli(enforced)
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	switch {
	case !hasLim:
		return fmt.Sprintf("maximum %s usage per %s is %s.  No limit is specified", name, typ, enforced)
	case milli(lim) > e:
		return fmt.Sprintf("maximum %s usage per %s is %s, but limit is %s", name, typ, enforced, lim)
	case hasReq && milli(req) > e:
		return fmt.Sprintf("maximum %s usage per %s is %s, but request is %s", name, typ, enforced, req)
	}
	return ""
}

func ratioConstraint(typ, name, enforced string, requests, limits map[string]string) string {
	req, lim := milli(requests[name]), milli(limits[name])
	switch {
	case req == 0:
		return fmt.Sprintf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, typ, enforced)
	case lim == 0:
		return fmt.Sprintf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, typ, enforced)
	}
	if ratio := float64(lim) / float64(req); ratio*1000 > float64(milli(enforced)) {
		return fmt.Sprintf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, typ, enforced, ratio)
	}
	return ""
}

// milli parses a quantity validation has already checked; a bad one is 0.
func milli(q string) int64 {
	v, _ := resource.ParseQuantity(q)
	return v
}

func formatAll(m map[string]int64) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = resource.FormatMilli(v)
	}
	return out
}

func put(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
