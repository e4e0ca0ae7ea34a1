package nodelifecycle

import (
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
)

// managed reports a taint this controller adds and removes.
func managed(t *corev1.Taint) bool {
	return t.GetKey() == corev1.TaintNodeUnreachable || t.GetKey() == corev1.TaintNodeNotReady || t.GetKey() == corev1.TaintNodeUnschedulable
}

// DesiredTaints returns the node's taints as they should be for its Ready
// status ("True", "False", "Unknown"; "" - not reported yet - adds none) and
// spec.unschedulable: the user's taints, plus not-ready or unreachable
// (NoSchedule and NoExecute) and unschedulable (NoSchedule). Taints kept
// from current keep their timeAdded; new NoExecute ones get now.
func DesiredTaints(current []*corev1.Taint, ready string, unschedulable bool, now time.Time) []*corev1.Taint {
	var want [][2]string
	switch ready {
	case corev1.ConditionFalse:
		want = append(want, [2]string{corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule}, [2]string{corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute})
	case corev1.ConditionUnknown:
		want = append(want, [2]string{corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule}, [2]string{corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute})
	}
	if unschedulable {
		want = append(want, [2]string{corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule})
	}
	var out []*corev1.Taint
	for _, t := range current {
		if !managed(t) {
			out = append(out, t)
		}
	}
	for _, w := range want {
		var kept *corev1.Taint
		for _, t := range current {
			if t.GetKey() == w[0] && t.GetEffect() == w[1] {
				kept = t
			}
		}
		if kept == nil {
			kept = &corev1.Taint{Key: w[0], Effect: w[1]}
			if w[1] == corev1.TaintEffectNoExecute {
				kept.TimeAdded = timestamp(now)
			}
		}
		out = append(out, kept)
	}
	return out
}

// EvictionTime returns when a pod on a node with the given NoExecute
// taints must be evicted, and false if never (it tolerates them all
// forever). A taint the pod does not tolerate evicts at once, except the
// not-ready and unreachable taints, which the pod survives for
// defaultGrace (as Kubernetes' default toleration of 300s gives every
// pod). A matching toleration with tolerationSeconds evicts that long
// after the taint was added; one without it tolerates forever.
func EvictionTime(pod *corev1.Pod, taints []*corev1.Taint, defaultGrace time.Duration, now time.Time) (time.Time, bool) {
	var at time.Time
	found := false
	earliest := func(t time.Time) {
		if !found || t.Before(at) {
			at, found = t, true
		}
	}
	for _, taint := range taints {
		if taint.GetEffect() != corev1.TaintEffectNoExecute {
			continue
		}
		added := now
		if ta := taint.GetTimeAdded(); ta != nil {
			added = ta.AsTime()
		}
		var matching []*corev1.Toleration
		for _, tol := range pod.GetSpec().GetTolerations() {
			if helper.ToleratesTaint(tol, taint) {
				matching = append(matching, tol)
			}
		}
		if len(matching) == 0 {
			if taint.GetKey() == corev1.TaintNodeUnreachable || taint.GetKey() == corev1.TaintNodeNotReady {
				earliest(added.Add(defaultGrace))
			} else {
				earliest(added)
			}
			continue
		}
		forever := false
		var minSecs int64 = -1
		for _, tol := range matching {
			if tol.TolerationSeconds == nil {
				forever = true
				continue
			}
			if minSecs < 0 || *tol.TolerationSeconds < minSecs {
				minSecs = *tol.TolerationSeconds
			}
		}
		if minSecs >= 0 {
			earliest(added.Add(time.Duration(max(minSecs, 0)) * time.Second))
		} else if !forever {
			earliest(added)
		}
	}
	return at, found
}
