package framework

import (
	"fmt"
	"sort"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/resource"
)

// Resource names the scheduler accounts for by name; every other
// requested resource (extended resources such as example.com/gpu,
// ephemeral-storage) is compared generically as a scalar.
const (
	ResourceCPU    = "cpu"
	ResourceMemory = "memory"
	ResourcePods   = "pods"
)

// Defaults charged for a container that requests no cpu or memory, used
// only by the scores (as in Kubernetes), so that many best-effort pods do
// not all land on one node that looks empty.
const (
	DefaultMilliCPURequest int64 = 100                      // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 * 1000 // 200Mi, in milli-bytes
)

// Resource is an amount of every resource, each in thousandths of its unit
// (as resource.ParseQuantity returns it): 1 cpu is 1000, 1Ki memory is
// 1024000. Pods counts pods (whole pods, not thousandths).
type Resource struct {
	MilliCPU int64
	Memory   int64
	Pods     int64
	// Scalar holds the other resources by name; nil when there are none.
	Scalar map[string]int64
}

// Add adds r2 to r (Pods included).
func (r *Resource) Add(r2 Resource) {
	r.MilliCPU += r2.MilliCPU
	r.Memory += r2.Memory
	r.Pods += r2.Pods
	for k, v := range r2.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[string]int64{}
		}
		r.Scalar[k] += v
	}
}

// Sub subtracts r2 from r (Pods included).
func (r *Resource) Sub(r2 Resource) {
	r.MilliCPU -= r2.MilliCPU
	r.Memory -= r2.Memory
	r.Pods -= r2.Pods
	for k, v := range r2.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[string]int64{}
		}
		r.Scalar[k] -= v
	}
}

// Clone returns a deep copy.
func (r Resource) Clone() Resource {
	out := r
	if r.Scalar != nil {
		out.Scalar = make(map[string]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			out.Scalar[k] = v
		}
	}
	return out
}

// setMax raises every field of r to at least r2's.
func (r *Resource) setMax(r2 Resource) {
	r.MilliCPU = max(r.MilliCPU, r2.MilliCPU)
	r.Memory = max(r.Memory, r2.Memory)
	for k, v := range r2.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[string]int64{}
		}
		r.Scalar[k] = max(r.Scalar[k], v)
	}
}

// parseResourceList reads a requests/limits/allocatable map. Pods is taken
// in whole pods.
func parseResourceList(list map[string]string) (Resource, error) {
	var r Resource
	for _, name := range sortedKeys(list) {
		v, err := resource.ParseQuantity(list[name])
		if err != nil {
			return Resource{}, fmt.Errorf("%s quantity %q: %w", name, list[name], err)
		}
		switch name {
		case ResourceCPU:
			r.MilliCPU = v
		case ResourceMemory:
			r.Memory = v
		case ResourcePods:
			r.Pods = v / 1000
		default:
			if r.Scalar == nil {
				r.Scalar = map[string]int64{}
			}
			r.Scalar[name] = v
		}
	}
	return r, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// containerRequests returns a container's requests; a resource with a
// limit and no request requests its limit (the apiserver defaults this
// too, but pods stored before that default existed may lack it).
func containerRequests(c *corev1.Container) (Resource, error) {
	res := c.GetResources()
	reqs := res.GetRequests()
	if lim := res.GetLimits(); len(lim) > 0 {
		merged := make(map[string]string, len(reqs)+len(lim))
		for k, v := range lim {
			merged[k] = v
		}
		for k, v := range reqs {
			merged[k] = v
		}
		reqs = merged
	}
	r, err := parseResourceList(reqs)
	if err != nil {
		return Resource{}, fmt.Errorf("container %q requests: %w", c.GetName(), err)
	}
	r.Pods = 0
	return r, nil
}

// PodRequests computes what a pod asks of a node, as Kubernetes does: the
// sum of its containers; sidecars (init containers with restartPolicy
// Always) run for the whole life of the pod and add to that sum; every
// other init container runs alone (next to the sidecars started before
// it), so the pod needs at least the largest of those; plus the pod
// overhead. Pods is 1.
func PodRequests(spec *corev1.PodSpec) (Resource, error) {
	var reqs Resource
	for _, c := range spec.GetContainers() {
		r, err := containerRequests(c)
		if err != nil {
			return Resource{}, err
		}
		reqs.Add(r)
	}
	var sidecars, initMax Resource
	for _, c := range spec.GetInitContainers() {
		r, err := containerRequests(c)
		if err != nil {
			return Resource{}, err
		}
		var during Resource
		if c.GetRestartPolicy() == "Always" {
			reqs.Add(r)
			sidecars.Add(r)
			during = sidecars.Clone()
		} else {
			during = r.Clone()
			during.Add(sidecars)
		}
		initMax.setMax(during)
	}
	reqs.setMax(initMax)
	if len(spec.GetOverhead()) > 0 {
		o, err := parseResourceList(spec.GetOverhead())
		if err != nil {
			return Resource{}, fmt.Errorf("overhead: %w", err)
		}
		o.Pods = 0
		reqs.Add(o)
	}
	reqs.Pods = 1
	return reqs, nil
}

// nonZeroRequests is cpu and memory as the scores see them: each regular
// container without a cpu (memory) request counts the default, so pods
// that request nothing still spread.
func nonZeroRequests(spec *corev1.PodSpec, reqs Resource) Resource {
	out := Resource{MilliCPU: reqs.MilliCPU, Memory: reqs.Memory}
	for _, c := range spec.GetContainers() {
		rq := c.GetResources().GetRequests()
		lim := c.GetResources().GetLimits()
		if _, ok := rq[ResourceCPU]; !ok {
			if _, ok := lim[ResourceCPU]; !ok {
				out.MilliCPU += DefaultMilliCPURequest
			}
		}
		if _, ok := rq[ResourceMemory]; !ok {
			if _, ok := lim[ResourceMemory]; !ok {
				out.Memory += DefaultMemoryRequest
			}
		}
	}
	return out
}
