package quota

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/scheme"
)

// Pods measures pods: their count and the compute resources their
// containers request and are limited to.
type Pods struct{}

var podResources = []string{
	"count/pods", "pods",
	"cpu", "memory", "ephemeral-storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage",
	"limits.cpu", "limits.memory", "limits.ephemeral-storage",
}

// mustSpecify are the names that, when a quota limits them, every
// container must state (Kubernetes keeps this for cpu and memory only,
// for compatibility).
var mustSpecify = []string{"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}

// Resource implements Evaluator.
func (Pods) Resource() string { return "pods" }

// Handles implements Evaluator: a pod's resources are fixed at creation.
func (Pods) Handles(op, subresource string) bool { return op == Create && subresource == "" }

// MatchingResources implements Evaluator: the names above, hugepages and
// extended resources ("requests.example.com/gpu").
func (Pods) MatchingResources(names []string) []string {
	out := Intersection(names, podResources)
	for _, n := range names {
		if strings.HasPrefix(n, "hugepages-") || strings.HasPrefix(n, "requests.hugepages-") ||
			strings.HasPrefix(n, "requests.") && !isNative(strings.TrimPrefix(n, "requests.")) {
			out = append(out, n)
		}
	}
	return out
}

// isNative: a resource name without a domain, or in kubernetes.io.
func isNative(name string) bool {
	return !strings.Contains(name, "/") || strings.Contains(name, "kubernetes.io/")
}

// MatchesScope implements Evaluator.
func (Pods) MatchesScope(sel *corev1.ScopedResourceSelectorRequirement, obj scheme.Object) bool {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false
	}
	switch sel.GetScopeName() {
	case ScopeTerminating:
		return IsTerminating(pod)
	case ScopeNotTerminating:
		return !IsTerminating(pod)
	case ScopeBestEffort:
		return IsBestEffort(pod)
	case ScopeNotBestEffort:
		return !IsBestEffort(pod)
	case ScopePriorityClass:
		pc := pod.GetSpec().GetPriorityClassName()
		switch sel.GetOperator() {
		case "Exists":
			return pc != ""
		case "DoesNotExist":
			return pc == ""
		case "In":
			return pc != "" && slices.Contains(sel.GetValues(), pc)
		case "NotIn":
			return pc == "" || !slices.Contains(sel.GetValues(), pc)
		}
		return false
	case ScopeCrossNamespacePodAffinity:
		return crossNamespaceAffinity(pod)
	}
	return false
}

// IsTerminating reports whether a pod has an active deadline (the
// Terminating scope: pods that end on their own).
func IsTerminating(pod *corev1.Pod) bool {
	d := pod.GetSpec().ActiveDeadlineSeconds
	return d != nil && *d >= 0
}

// IsBestEffort reports whether no container of the pod requests or is
// limited in cpu or memory (the BestEffort QoS class).
func IsBestEffort(pod *corev1.Pod) bool {
	for _, c := range containers(pod) {
		for _, list := range []map[string]string{c.GetResources().GetRequests(), c.GetResources().GetLimits()} {
			for _, r := range []string{"cpu", "memory"} {
				if v, ok := list[r]; ok && parse(v).milli != 0 {
					return false
				}
			}
		}
	}
	return true
}

func containers(pod *corev1.Pod) []*corev1.Container {
	return append(slices.Clone(pod.GetSpec().GetInitContainers()), pod.GetSpec().GetContainers()...)
}

func crossNamespaceAffinity(pod *corev1.Pod) bool {
	a := pod.GetSpec().GetAffinity()
	var terms []*corev1.PodAffinityTerm
	for _, pa := range []interface {
		GetRequiredDuringSchedulingIgnoredDuringExecution() []*corev1.PodAffinityTerm
		GetPreferredDuringSchedulingIgnoredDuringExecution() []*corev1.WeightedPodAffinityTerm
	}{a.GetPodAffinity(), a.GetPodAntiAffinity()} {
		terms = append(terms, pa.GetRequiredDuringSchedulingIgnoredDuringExecution()...)
		for _, w := range pa.GetPreferredDuringSchedulingIgnoredDuringExecution() {
			terms = append(terms, w.GetPodAffinityTerm())
		}
	}
	for _, t := range terms {
		if len(t.GetNamespaces()) > 0 || t.GetNamespaceSelector() != nil {
			return true
		}
	}
	return false
}

// Constraints implements Evaluator: when a quota limits cpu or memory,
// every container must request (or limit) it; the error lists what is
// missing and where, as Kubernetes words it ("must specify cpu for: app;
// requests.cpu for: app").
func (Pods) Constraints(required []string, obj scheme.Object) error {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil
	}
	req := Intersection(required, mustSpecify)
	missing := map[string][]string{}
	for _, c := range containers(pod) {
		has := computeUsage(requestsOf(c), c.GetResources().GetLimits())
		for _, r := range req {
			if _, ok := has[r]; !ok && !slices.Contains(missing[r], c.GetName()) {
				missing[r] = append(missing[r], c.GetName())
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var parts []string
	for _, r := range Names(stringSet(missing)) {
		slices.Sort(missing[r])
		parts = append(parts, fmt.Sprintf("%s for: %s", r, strings.Join(missing[r], ",")))
	}
	return fmt.Errorf("must specify %s", strings.Join(parts, "; "))
}

// requestsOf is a container's requests with Kubernetes' default: a
// resource with a limit and no request requests its limit. (Kubernetes
// defaults this when it decodes the pod; here the registry defaults after
// admission, so the evaluator applies the rule itself.)
func requestsOf(c *corev1.Container) map[string]string {
	out := map[string]string{}
	for k, v := range c.GetResources().GetLimits() {
		out[k] = v
	}
	for k, v := range c.GetResources().GetRequests() {
		out[k] = v
	}
	return out
}

// Usage implements Evaluator. count/pods counts every stored pod; the
// compute resources and "pods" only pods that still run or may (see
// Counts).
func (Pods) Usage(obj scheme.Object, now time.Time) map[string]string {
	out := map[string]string{"count/pods": "1"}
	pod, ok := obj.(*corev1.Pod)
	if !ok || !Counts(pod, now) {
		return out
	}
	return Add(out, computeUsage(PodRequests(pod), PodLimits(pod)))
}

// Counts reports whether a pod is charged for compute resources: not
// when it has ended (Succeeded, Failed) or was deleted and its grace
// period is over.
func Counts(pod *corev1.Pod, now time.Time) bool {
	switch pod.GetStatus().GetPhase() {
	case corev1.PodSucceeded, corev1.PodFailed:
		return false
	}
	md := pod.GetMetadata()
	if md.GetDeletionTimestamp() != nil && md.DeletionGracePeriodSeconds != nil {
		end := md.GetDeletionTimestamp().AsTime().Add(time.Duration(md.GetDeletionGracePeriodSeconds()) * time.Second)
		if now.After(end) {
			return false
		}
	}
	return true
}

// computeUsage turns requests and limits into quota names: pods=1,
// cpu and requests.cpu from the cpu request, limits.cpu from its limit,
// the same for memory and ephemeral-storage; hugepages-* and extended
// resources ("requests.example.com/gpu") from requests.
func computeUsage(requests, limits map[string]string) map[string]string {
	out := map[string]string{"pods": "1"}
	for _, r := range []string{"cpu", "memory", "ephemeral-storage"} {
		if v, ok := requests[r]; ok {
			out[r] = v
			out["requests."+r] = v
		}
		if v, ok := limits[r]; ok {
			out["limits."+r] = v
		}
	}
	for r, v := range requests {
		switch {
		case strings.HasPrefix(r, "hugepages-"):
			out[r] = v
			out["requests."+r] = v
		case !isNative(r) && !strings.HasPrefix(r, "requests."):
			out["requests."+r] = v
		}
	}
	return out
}

// PodRequests is what a pod requests as the scheduler sees it: the sum
// of its containers, at least the largest init container (sidecars, the
// init containers with restartPolicy Always, run alongside and add
// up), plus the pod's overhead.
func PodRequests(pod *corev1.Pod) map[string]string {
	return podTotal(pod, requestsOf, true)
}

// PodLimits is PodRequests for limits; overhead adds only to resources
// that are limited.
func PodLimits(pod *corev1.Pod) map[string]string {
	return podTotal(pod, func(c *corev1.Container) map[string]string { return c.GetResources().GetLimits() }, false)
}

func podTotal(pod *corev1.Pod, of func(*corev1.Container) map[string]string, allOverhead bool) map[string]string {
	sum := map[string]string{}
	for _, c := range pod.GetSpec().GetContainers() {
		sum = Add(sum, of(c))
	}
	sidecars := map[string]string{}
	initMax := map[string]string{}
	for _, c := range pod.GetSpec().GetInitContainers() {
		r := of(c)
		if c.GetRestartPolicy() == "Always" {
			sum = Add(sum, r)
			sidecars = Add(sidecars, r)
			r = sidecars
		} else {
			r = Add(r, sidecars)
		}
		initMax = Max(initMax, r)
	}
	total := Max(sum, initMax)
	for k, v := range pod.GetSpec().GetOverhead() {
		if _, ok := total[k]; ok || allOverhead {
			total = Add(total, map[string]string{k: v})
		}
	}
	return total
}
