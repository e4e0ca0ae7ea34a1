package podautoscaler

import (
	"math"
	"time"

	autoscalingv2 "minik8s/api/autoscaling/v2"
)

// Scaling policy types and select policies, as autoscaling/v2 names them.
const (
	PolicyPods     = "Pods"
	PolicyPercent  = "Percent"
	SelectMax      = "Max"
	SelectMin      = "Min"
	SelectDisabled = "Disabled"
)

// Policy limits the change in one direction over a sliding period.
type Policy struct {
	Type   string // PolicyPods or PolicyPercent
	Value  int32
	Period time.Duration
}

// Rules tune one direction of scaling.
type Rules struct {
	// Window is the stabilization window: scaling up applies the lowest
	// recommendation within it, scaling down the highest.
	Window       time.Duration
	SelectPolicy string
	Policies     []Policy
}

// Behavior is an autoscaler's effective spec.behavior, defaults filled in.
type Behavior struct{ Up, Down Rules }

// BehaviorFor fills the unset parts of spec with autoscaling/v2's
// defaults: up at once by up to 4 pods or 100% per 15s, whichever is
// more; down by up to 100% per 15s after downscaleWindow (the
// controller's --horizontal-pod-autoscaler-downscale-stabilization) of
// lower recommendations.
func BehaviorFor(spec *autoscalingv2.HorizontalPodAutoscalerBehavior, downscaleWindow time.Duration) Behavior {
	up := Rules{Window: 0, SelectPolicy: SelectMax, Policies: []Policy{
		{Type: PolicyPods, Value: 4, Period: 15 * time.Second},
		{Type: PolicyPercent, Value: 100, Period: 15 * time.Second},
	}}
	down := Rules{Window: downscaleWindow, SelectPolicy: SelectMax, Policies: []Policy{
		{Type: PolicyPercent, Value: 100, Period: 15 * time.Second},
	}}
	return Behavior{Up: rulesFrom(spec.GetScaleUp(), up), Down: rulesFrom(spec.GetScaleDown(), down)}
}

func rulesFrom(r *autoscalingv2.HPAScalingRules, def Rules) Rules {
	if r == nil {
		return def
	}
	out := def
	if r.StabilizationWindowSeconds != nil {
		out.Window = time.Duration(r.GetStabilizationWindowSeconds()) * time.Second
	}
	if r.SelectPolicy != nil {
		out.SelectPolicy = r.GetSelectPolicy()
	}
	if len(r.GetPolicies()) > 0 {
		out.Policies = nil
		for _, p := range r.GetPolicies() {
			out.Policies = append(out.Policies, Policy{Type: p.GetType(), Value: p.GetValue(), Period: time.Duration(p.GetPeriodSeconds()) * time.Second})
		}
	}
	return out
}

// History is what one autoscaler remembers between syncs: its recent
// recommendations (for the stabilization windows) and its recent scale
// changes (for the rate policies). It lives in the controller's memory
// only; after a restart the first recommendation is the current size,
// so a new leader never scales down before a full window has passed.
// The zero History is empty. Not safe for concurrent use.
type History struct {
	recs    []stamped
	changes []stamped // + for scale ups, - for scale downs
}

type stamped struct {
	at time.Time
	n  int32
}

// Empty reports a History with nothing recorded.
func (h *History) Empty() bool { return len(h.recs) == 0 && len(h.changes) == 0 }

// Recommend records a recommendation without normalizing; the controller
// records the current size when it first sees an autoscaler.
func (h *History) Recommend(at time.Time, n int32) { h.recs = append(h.recs, stamped{at, n}) }

// Decision is the size to scale to and why, as HPA conditions word it.
type Decision struct {
	Replicas int32
	// AbleReason/AbleMessage describe stabilization (condition AbleToScale).
	AbleReason, AbleMessage string
	// Limited is whether min/max or a rate policy changed the stabilized
	// recommendation (condition ScalingLimited).
	Limited                       bool
	LimitedReason, LimitedMessage string
}

// Normalize turns the metrics' recommendation into the size to scale to
// at now: it records recommended, stabilizes it over the windows of b,
// then clamps it to [minReplicas, maxReplicas] and to what the rate
// policies still allow given the recorded scale changes.
func (h *History) Normalize(now time.Time, b Behavior, current, recommended, minReplicas, maxReplicas int32) Decision {
	stabilized := h.stabilize(now, b, current, recommended)
	var d Decision
	switch {
	case stabilized == recommended:
		d.AbleReason, d.AbleMessage = "ReadyForNewScale", "recommended size matches current size"
	case recommended >= current:
		d.AbleReason, d.AbleMessage = "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"
	default:
		d.AbleReason, d.AbleMessage = "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
	}
	d.Replicas, d.LimitedReason, d.LimitedMessage = h.limit(now, b, current, stabilized, minReplicas, maxReplicas)
	d.Limited = d.Replicas != stabilized
	return d
}

// stabilize records recommended and returns current moved towards it no
// further than every recommendation within the windows allows: up to the
// lowest of the scale-up window, down to the highest of the scale-down
// window.
func (h *History) stabilize(now time.Time, b Behavior, current, recommended int32) int32 {
	upCut, downCut := now.Add(-b.Up.Window), now.Add(-b.Down.Window)
	upTo, downTo := recommended, recommended
	kept := h.recs[:0]
	for _, r := range h.recs {
		inUp, inDown := r.at.After(upCut), r.at.After(downCut)
		if inUp {
			upTo = min(upTo, r.n)
		}
		if inDown {
			downTo = max(downTo, r.n)
		}
		if inUp || inDown {
			kept = append(kept, r)
		}
	}
	h.recs = append(kept, stamped{now, recommended})
	out := current
	if out < upTo {
		out = upTo
	}
	if out > downTo {
		out = downTo
	}
	return out
}

// limit clamps desired to the replica bounds and the rate policies.
func (h *History) limit(now time.Time, b Behavior, current, desired, minReplicas, maxReplicas int32) (int32, string, string) {
	switch {
	case desired > current:
		ceiling, reason, msg := maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
		if up := max(h.upLimit(now, b.Up, current), current); up < ceiling {
			ceiling, reason, msg = up, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
		}
		if desired > ceiling {
			return ceiling, reason, msg
		}
	case desired < current:
		floor, reason, msg := minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
		if down := min(h.downLimit(now, b.Down, current), current); down > floor {
			floor, reason, msg = down, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
		}
		if desired < floor {
			return floor, reason, msg
		}
	}
	// Also covers a recommendation equal to current yet outside the
	// bounds (spec.maxReplicas lowered below the current size).
	switch {
	case desired > maxReplicas:
		return maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
	case desired < minReplicas:
		return minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// startOfPeriod is the size period ago: current minus the changes since.
func (h *History) startOfPeriod(now time.Time, period time.Duration, current int32) int32 {
	cut := now.Add(-period)
	start := current
	for _, c := range h.changes {
		if c.at.After(cut) {
			start -= c.n
		}
	}
	return start
}

// upLimit is the largest size the scale-up policies allow now.
func (h *History) upLimit(now time.Time, r Rules, current int32) int32 {
	if r.SelectPolicy == SelectDisabled || len(r.Policies) == 0 {
		return current
	}
	limit := int32(math.MinInt32)
	if r.SelectPolicy == SelectMin {
		limit = math.MaxInt32
	}
	for _, p := range r.Policies {
		start := h.startOfPeriod(now, p.Period, current)
		var n int32
		if p.Type == PolicyPercent {
			n = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		} else {
			n = start + p.Value
		}
		if r.SelectPolicy == SelectMin {
			limit = min(limit, n)
		} else {
			limit = max(limit, n)
		}
	}
	return limit
}

// downLimit is the smallest size the scale-down policies allow now; Max
// picks the policy allowing the biggest change, the lowest size.
func (h *History) downLimit(now time.Time, r Rules, current int32) int32 {
	if r.SelectPolicy == SelectDisabled || len(r.Policies) == 0 {
		return current
	}
	limit := int32(math.MaxInt32)
	if r.SelectPolicy == SelectMin {
		limit = math.MinInt32
	}
	for _, p := range r.Policies {
		start := h.startOfPeriod(now, p.Period, current)
		var n int32
		if p.Type == PolicyPercent {
			n = int32(float64(start) * (1 - float64(p.Value)/100))
		} else {
			n = start - p.Value
		}
		if r.SelectPolicy == SelectMin {
			limit = max(limit, n)
		} else {
			limit = min(limit, n)
		}
	}
	return limit
}

// RecordScale remembers a change of size made at now, for the rate
// policies, and forgets changes older than every policy's period.
func (h *History) RecordScale(now time.Time, b Behavior, from, to int32) {
	longest := time.Duration(0)
	for _, p := range append(append([]Policy(nil), b.Up.Policies...), b.Down.Policies...) {
		longest = max(longest, p.Period)
	}
	kept := h.changes[:0]
	for _, c := range h.changes {
		if c.at.After(now.Add(-longest)) {
			kept = append(kept, c)
		}
	}
	h.changes = kept
	if to != from {
		h.changes = append(h.changes, stamped{now, to - from})
	}
}
