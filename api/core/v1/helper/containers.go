package helper

import (
	"fmt"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/resource"
)

// VisitContainers calls fn for every init container, then every
// container of spec, with the container's field path
// ("spec.initContainers[0]", "spec.containers[1]"), the order and paths
// Kubernetes' admission and validation messages use.
func VisitContainers(spec *corev1.PodSpec, fn func(c *corev1.Container, path string)) {
	for i, c := range spec.GetInitContainers() {
		fn(c, fmt.Sprintf("spec.initContainers[%d]", i))
	}
	for i, c := range spec.GetContainers() {
		fn(c, fmt.Sprintf("spec.containers[%d]", i))
	}
}

// AllContainers returns the init containers, then the containers of spec.
func AllContainers(spec *corev1.PodSpec) []*corev1.Container {
	out := make([]*corev1.Container, 0, len(spec.GetInitContainers())+len(spec.GetContainers()))
	out = append(out, spec.GetInitContainers()...)
	return append(out, spec.GetContainers()...)
}

// IsSidecar reports whether an init container runs beside the app
// containers (restartPolicy Always).
func IsSidecar(c *corev1.Container) bool { return c.GetRestartPolicy() == corev1.RestartPolicyAlways }

// PodResources returns what a pod asks for, per resource, in
// thousandths (resource.ParseQuantity's unit), from the requests or
// the limits of its containers (limits: true): the sum over the app
// containers and sidecars, or the largest non-sidecar init container
// with the sidecars started before it, whichever is larger, as
// Kubernetes' resource helpers count it. Quantities that do not parse
// count as zero (validation refuses them). The second result names the
// resources some container leaves unset (a limit missing makes the
// pod's limit unbounded).
func PodResources(spec *corev1.PodSpec, limits bool) (map[string]int64, map[string]bool) {
	get := func(c *corev1.Container) map[string]string {
		if limits {
			return c.GetResources().GetLimits()
		}
		return c.GetResources().GetRequests()
	}
	total := map[string]int64{}
	unset := map[string]bool{}
	seen := map[string]bool{}
	add := func(into map[string]int64, list map[string]string) {
		for name, q := range list {
			seen[name] = true
			v, _ := resource.ParseQuantity(q)
			into[name] += v
		}
	}
	sidecars := map[string]int64{}
	initMax := map[string]int64{}
	for _, c := range spec.GetInitContainers() {
		if IsSidecar(c) {
			add(sidecars, get(c))
			add(total, get(c))
			continue
		}
		// An init container runs with the sidecars started before it.
		step := map[string]int64{}
		for k, v := range sidecars {
			step[k] = v
		}
		add(step, get(c))
		for k, v := range step {
			initMax[k] = max(initMax[k], v)
		}
	}
	for _, c := range spec.GetContainers() {
		add(total, get(c))
	}
	for k, v := range initMax {
		total[k] = max(total[k], v)
	}
	for name := range seen {
		for _, c := range AllContainers(spec) {
			if _, ok := get(c)[name]; !ok {
				unset[name] = true
			}
		}
	}
	return total, unset
}
