package podautoscaler

import (
	"errors"
	"fmt"
	"math"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/controller-manager/controller"
)

// PodState is how one metric's replica calculation treats a pod.
type PodState int

const (
	// PodCounted pods count with their sample; one without a sample is
	// "missing" and is filled in conservatively.
	PodCounted PodState = iota
	// PodUnready pods (pending, or for cpu not ready yet) are left out,
	// except that on a scale up they count as using nothing, so a burst of
	// start-up CPU never inflates the result.
	PodUnready
	// PodIgnored pods (terminating or finished) are not replicas any more.
	PodIgnored
)

// PodSample is one pod as one metric sees it. Values are in thousandths
// of the resource's unit (millicores; bytes x 1000), as quantities' milli
// values are.
type PodSample struct {
	Name  string
	State PodState
	// HasValue is false for a pod the kubelets reported nothing for.
	HasValue bool
	Value    int64
	// Request is the sum of the pod's containers' requests of the resource.
	Request int64
	// MissingRequest names a container without a request ("" if none):
	// a utilization target cannot be computed for such a pod.
	MissingRequest string
}

// ResourceResult is one metric's proposal.
type ResourceResult struct {
	Replicas int32
	// Utilization is the average usage in percent of the requests, for
	// utilization targets; AverageValue the average usage (milli units).
	// Both cover only the pods that reported a sample and were counted.
	Utilization  int32
	AverageValue int64
}

// ErrNoMetrics is the error when no counted pod reported a sample.
var ErrNoMetrics = errors.New("did not receive metrics for targeted pods (pods might be unready)")

// UtilizationReplicas proposes a replica count for a target of
// targetPercent percent of the pods' requests: ceil(counted pods x
// usage/target), no change while usage/target is within 1 +- tolerance,
// missing pods taken as using their full request (or the target, if
// higher) on a scale down and nothing on a scale up, and unready pods as
// using nothing on a scale up.
func UtilizationReplicas(resource string, current int32, pods []PodSample, targetPercent int32, tolerance float64) (ResourceResult, error) {
	if targetPercent <= 0 {
		return ResourceResult{}, fmt.Errorf("invalid utilization target %d%%", targetPercent)
	}
	for _, p := range pods {
		if p.State != PodIgnored && p.MissingRequest != "" {
			return ResourceResult{}, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, p.MissingRequest, p.Name)
		}
	}
	var res ResourceResult
	ratio := func(samples []PodSample, first bool) (float64, error) {
		var used, requested int64
		for _, s := range samples {
			used += s.Value
			requested += s.Request
		}
		if requested <= 0 {
			return 0, errors.New("no metrics returned matched known pods")
		}
		// The percentage is truncated before it is compared, so that the
		// figure shown in status is exactly what was compared.
		util := int32(used * 100 / requested)
		if first {
			res.Utilization, res.AverageValue = util, used/int64(len(samples))
		}
		return float64(util) / float64(targetPercent), nil
	}
	fallback := func(p PodSample) int64 { return p.Request * int64(max(100, targetPercent)) / 100 }
	n, err := propose(current, pods, tolerance, ratio, fallback)
	res.Replicas = n
	return res, err
}

// AverageValueReplicas proposes a replica count for a target average
// usage per pod (milli units), with the rules of UtilizationReplicas;
// missing pods are taken as using exactly the target on a scale down.
func AverageValueReplicas(current int32, pods []PodSample, target int64, tolerance float64) (ResourceResult, error) {
	if target <= 0 {
		return ResourceResult{}, fmt.Errorf("invalid average value target %d", target)
	}
	var res ResourceResult
	ratio := func(samples []PodSample, first bool) (float64, error) {
		var used int64
		for _, s := range samples {
			used += s.Value
		}
		avg := used / int64(len(samples))
		if first {
			res.AverageValue = avg
		}
		return float64(avg) / float64(target), nil
	}
	n, err := propose(current, pods, tolerance, ratio, func(PodSample) int64 { return target })
	res.Replicas = n
	return res, err
}

// propose is the calculation both target types share. ratio gives
// usage/target over samples (never empty); first marks the call over the
// counted pods only, whose figures are the ones reported. fallback is the
// value a missing pod is assumed to use on a scale down.
func propose(current int32, pods []PodSample, tolerance float64,
	ratio func(samples []PodSample, first bool) (float64, error), fallback func(PodSample) int64) (int32, error) {
	var counted, missing, unready []PodSample
	for _, p := range pods {
		switch {
		case p.State == PodIgnored:
		case p.State == PodUnready:
			unready = append(unready, p)
		case !p.HasValue:
			missing = append(missing, p)
		default:
			counted = append(counted, p)
		}
	}
	if len(counted) == 0 {
		return 0, ErrNoMetrics
	}
	r, err := ratio(counted, true)
	if err != nil {
		return 0, err
	}
	withinTolerance := func(r float64) bool { return math.Abs(1-r) <= tolerance }
	upWithUnready := len(unready) > 0 && r > 1
	if !upWithUnready && len(missing) == 0 {
		if withinTolerance(r) {
			return current, nil
		}
		return ceilReplicas(r, len(counted)), nil
	}
	// Fill in the pods without a usable sample so that they pull the
	// result towards "no change": a missing pod on a scale down may be
	// busy, one on a scale up may be idle.
	all := append([]PodSample(nil), counted...)
	for _, p := range missing {
		switch {
		case r < 1:
			p.Value = fallback(p)
			all = append(all, p)
		case r > 1:
			p.Value = 0
			all = append(all, p)
		}
	}
	if upWithUnready {
		for _, p := range unready {
			p.Value = 0
			all = append(all, p)
		}
	}
	nr, err := ratio(all, false)
	if err != nil {
		return 0, err
	}
	// The filled-in pods may only damp the change, never reverse it.
	if withinTolerance(nr) || (r < 1 && nr > 1) || (r > 1 && nr < 1) {
		return current, nil
	}
	n := ceilReplicas(nr, len(all))
	if (nr < 1 && n > current) || (nr > 1 && n < current) {
		return current, nil
	}
	return n, nil
}

func ceilReplicas(ratio float64, pods int) int32 {
	return int32(math.Ceil(ratio * float64(pods)))
}

// Classify tells how a metric of resource treats pod, which has a sample
// (hasSample) or not. Pending pods are unready; for cpu, so is a pod that
// has not become ready during its first cpuInit of life, or that is not
// ready and never was within readinessDelay of its start: the CPU of a
// starting process says nothing about the load.
func Classify(pod *corev1.Pod, resource string, hasSample bool, now time.Time, cpuInit, readinessDelay time.Duration) PodState {
	if pod.GetMetadata().GetDeletionTimestamp() != nil || controller.IsPodTerminal(pod) {
		return PodIgnored
	}
	if ph := pod.GetStatus().GetPhase(); ph == corev1.PodPending || ph == "" {
		return PodUnready
	}
	if !hasSample || resource != "cpu" {
		return PodCounted
	}
	cond := controller.PodReadyCondition(pod)
	start := pod.GetStatus().GetStartTime()
	if cond == nil || start == nil {
		return PodUnready
	}
	if start.AsTime().Add(cpuInit).After(now) {
		if cond.GetStatus() != corev1.ConditionTrue {
			return PodUnready
		}
		return PodCounted
	}
	if cond.GetStatus() == corev1.ConditionFalse && start.AsTime().Add(readinessDelay).After(cond.GetLastTransitionTime().AsTime()) {
		return PodUnready
	}
	return PodCounted
}
