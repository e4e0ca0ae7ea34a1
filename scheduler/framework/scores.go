package framework

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
)

// MaxNodeScore is the best score a score plugin gives a node.
const MaxNodeScore int64 = 100

// hardPodAffinityWeight is what a placed pod's required affinity term
// adds to the score of domains where the incoming pod would satisfy it
// (Kubernetes' default hardPodAffinityWeight).
const hardPodAffinityWeight = 1

// ZoneLabel is the node label spreading balances across, besides nodes.
const ZoneLabel = corev1.LabelTopologyZone

// Weights maps a score plugin name to its weight; a missing or zero
// weight disables the score.
type Weights map[string]int64

// DefaultWeights are Kubernetes' default weights for the equivalent
// plugins (spreading weighs like PodTopologySpread's default spreading).
func DefaultWeights() Weights {
	return Weights{
		LeastAllocated:     1,
		BalancedAllocation: 1,
		SelectorSpread:     2,
		NodeAffinity:       2,
		InterPodAffinity:   2,
		TaintToleration:    3,
	}
}

// ScorePlugins lists the score plugin names, in the order they run.
var ScorePlugins = []string{LeastAllocated, BalancedAllocation, SelectorSpread, NodeAffinity, InterPodAffinity, TaintToleration}

// ParseWeights parses "Name=weight,Name=weight" into w (over the values
// already there), rejecting unknown names and negative weights.
func ParseWeights(s string, w Weights) error {
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return fmt.Errorf("score weight %q: want Name=weight", part)
		}
		weight, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if err != nil || weight < 0 {
			return fmt.Errorf("score weight %q: weight must be a non-negative integer", part)
		}
		if err := w.Set(strings.TrimSpace(name), weight); err != nil {
			return err
		}
	}
	return nil
}

// Set sets one weight, rejecting an unknown plugin name.
func (w Weights) Set(name string, weight int64) error {
	for _, known := range ScorePlugins {
		if known == name {
			w[name] = weight
			return nil
		}
	}
	return fmt.Errorf("unknown score plugin %q (known: %s)", name, strings.Join(ScorePlugins, ", "))
}

// String renders the weights as ParseWeights reads them, sorted by name.
func (w Weights) String() string {
	names := make([]string, 0, len(w))
	for n := range w {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, w[n])
	}
	return strings.Join(parts, ",")
}

// scoreFunc fills scores[i] (0..MaxNodeScore) for nodes[i].
type scoreFunc func(c *cycle, nodes []*NodeInfo, scores []int64)

var scoreFuncs = map[string]scoreFunc{
	LeastAllocated:     scoreLeastAllocated,
	BalancedAllocation: scoreBalancedAllocation,
	SelectorSpread:     scoreSelectorSpread,
	NodeAffinity:       scoreNodeAffinity,
	InterPodAffinity:   scoreInterPodAffinity,
	TaintToleration:    scoreTaintToleration,
}

// fraction returns requested/allocatable for one resource with the pod
// added, and whether allocatable is known.
func fraction(requested, alloc int64) (float64, bool) {
	if alloc <= 0 {
		return 0, false
	}
	return float64(requested) / float64(alloc), true
}

// scoreLeastAllocated prefers nodes with the most cpu and memory left
// after placing the pod: mean over both of (allocatable-requested)/allocatable.
func scoreLeastAllocated(c *cycle, nodes []*NodeInfo, scores []int64) {
	for i, n := range nodes {
		var sum int64
		for _, r := range [2][2]int64{
			{n.NonZero.MilliCPU + c.pod.NonZero.MilliCPU, n.Allocatable.MilliCPU},
			{n.NonZero.Memory + c.pod.NonZero.Memory, n.Allocatable.Memory},
		} {
			req, alloc := r[0], r[1]
			if alloc > 0 && req <= alloc {
				sum += (alloc - req) * MaxNodeScore / alloc
			}
		}
		scores[i] = sum / 2
	}
}

// scoreBalancedAllocation prefers nodes whose cpu and memory use stay
// balanced after placing the pod: (1 - standard deviation of the two
// fractions) * 100.
func scoreBalancedAllocation(c *cycle, nodes []*NodeInfo, scores []int64) {
	for i, n := range nodes {
		fc, ok1 := fraction(n.NonZero.MilliCPU+c.pod.NonZero.MilliCPU, n.Allocatable.MilliCPU)
		fm, ok2 := fraction(n.NonZero.Memory+c.pod.NonZero.Memory, n.Allocatable.Memory)
		if !ok1 || !ok2 {
			scores[i] = 0
			continue
		}
		fc, fm = math.Min(fc, 1), math.Min(fm, 1)
		std := math.Abs(fc-fm) / 2
		scores[i] = int64((1 - std) * float64(MaxNodeScore))
	}
}

// scoreSelectorSpread prefers nodes (and zones) with fewer pods of the same
// controller or service as the pod: 100*(max-count)/max per node, blended
// 1:2 with the same per zone when nodes carry a zone label.
func scoreSelectorSpread(c *cycle, nodes []*NodeInfo, scores []int64) {
	p := c.pod
	var sels []map[string]string
	for _, s := range c.snap.Services {
		if s.Namespace == p.Namespace && len(s.Selector) > 0 && selectorMatches(s.Selector, p.Labels) {
			sels = append(sels, s.Selector)
		}
	}
	if p.OwnerUID == "" && len(sels) == 0 {
		for i := range scores {
			scores[i] = MaxNodeScore
		}
		return
	}
	counts := make([]int64, len(nodes))
	zoneCounts := map[string]int64{}
	var maxCount, maxZone int64
	for i, n := range nodes {
		for _, e := range n.Pods {
			if e.Namespace != p.Namespace || e.UID == p.UID || e.Pod.GetMetadata().GetDeletionTimestamp() != nil {
				continue
			}
			if (p.OwnerUID != "" && e.OwnerUID == p.OwnerUID) || anySelectorMatches(sels, e.Labels) {
				counts[i]++
			}
		}
		maxCount = max(maxCount, counts[i])
		if z, ok := n.Labels[ZoneLabel]; ok {
			zoneCounts[z] += counts[i]
		}
	}
	for _, zc := range zoneCounts {
		maxZone = max(maxZone, zc)
	}
	for i, n := range nodes {
		score := float64(MaxNodeScore)
		if maxCount > 0 {
			score = float64(MaxNodeScore) * float64(maxCount-counts[i]) / float64(maxCount)
		}
		if z, ok := n.Labels[ZoneLabel]; ok && len(zoneCounts) > 0 {
			zoneScore := float64(MaxNodeScore)
			if maxZone > 0 {
				zoneScore = float64(MaxNodeScore) * float64(maxZone-zoneCounts[z]) / float64(maxZone)
			}
			score = score/3 + zoneScore*2/3
		}
		scores[i] = int64(score)
	}
}

func selectorMatches(sel, lbls map[string]string) bool {
	for k, v := range sel {
		if lv, ok := lbls[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

func anySelectorMatches(sels []map[string]string, lbls map[string]string) bool {
	for _, s := range sels {
		if selectorMatches(s, lbls) {
			return true
		}
	}
	return false
}

// scoreNodeAffinity sums the weights of the preferred node-affinity terms
// a node matches, scaled so the best node gets 100.
func scoreNodeAffinity(c *cycle, nodes []*NodeInfo, scores []int64) {
	if len(c.pod.PreferredNodeAffinity) == 0 {
		return
	}
	for i, n := range nodes {
		var s int64
		for _, t := range c.pod.PreferredNodeAffinity {
			if t.GetWeight() != 0 && helper.MatchNodeSelectorTerm(t.GetPreference(), n.Name, n.Labels) {
				s += int64(t.GetWeight())
			}
		}
		scores[i] = s
	}
	normalize(scores, false)
}

// scoreTaintToleration prefers nodes with fewer PreferNoSchedule taints the
// pod does not tolerate: 100 for none, 0 for the node with the most.
func scoreTaintToleration(c *cycle, nodes []*NodeInfo, scores []int64) {
	for i, n := range nodes {
		var count int64
		for _, t := range n.Node.GetSpec().GetTaints() {
			if t.GetEffect() != corev1.TaintEffectPreferNoSchedule {
				continue
			}
			ok := false
			for _, tol := range c.pod.Tolerations {
				if (tol.GetEffect() == "" || tol.GetEffect() == corev1.TaintEffectPreferNoSchedule) && helper.ToleratesTaint(tol, t) {
					ok = true
					break
				}
			}
			if !ok {
				count++
			}
		}
		scores[i] = count
	}
	normalize(scores, true)
}

// normalize scales scores to 0..MaxNodeScore by the highest (reverse:
// the highest gets 0, zero gets the maximum).
func normalize(scores []int64, reverse bool) {
	var hi int64
	for _, s := range scores {
		hi = max(hi, s)
	}
	for i, s := range scores {
		switch {
		case hi == 0 && reverse:
			scores[i] = MaxNodeScore
		case hi == 0:
			scores[i] = 0
		case reverse:
			scores[i] = MaxNodeScore - s*MaxNodeScore/hi
		default:
			scores[i] = s * MaxNodeScore / hi
		}
	}
}

// scoreInterPodAffinity adds, per topology domain, the weights of the
// pod's preferred affinity terms matched by pods in it (minus those of its
// preferred anti-affinity), and symmetrically the placed pods' terms that
// match the pod (required affinity counts hardPodAffinityWeight); scores
// are then scaled between the lowest (0) and highest (100) node.
func scoreInterPodAffinity(c *cycle, nodes []*NodeInfo, scores []int64) {
	p := c.pod
	own := len(p.PreferredAffinity)+len(p.PreferredAntiAffinity) > 0
	topo := map[topoPair]int64{}
	keys := map[string]bool{}
	add := func(n *NodeInfo, key string, w int64) {
		if v, ok := n.Labels[key]; ok {
			topo[topoPair{key, v}] += w
			keys[key] = true
		}
	}
	ns := c.snap.NamespaceLabels
	for _, n := range c.snap.Nodes {
		pods := n.PodsWithAffinity
		if own {
			pods = n.Pods
		}
		for _, e := range pods {
			for i := range p.PreferredAffinity {
				if t := &p.PreferredAffinity[i]; t.Matches(e, ns) {
					add(n, t.TopologyKey, t.Weight)
				}
			}
			for i := range p.PreferredAntiAffinity {
				if t := &p.PreferredAntiAffinity[i]; t.Matches(e, ns) {
					add(n, t.TopologyKey, -t.Weight)
				}
			}
			for i := range e.RequiredAffinity {
				if t := &e.RequiredAffinity[i]; t.Matches(p, ns) {
					add(n, t.TopologyKey, hardPodAffinityWeight)
				}
			}
			for i := range e.PreferredAffinity {
				if t := &e.PreferredAffinity[i]; t.Matches(p, ns) {
					add(n, t.TopologyKey, t.Weight)
				}
			}
			for i := range e.PreferredAntiAffinity {
				if t := &e.PreferredAntiAffinity[i]; t.Matches(p, ns) {
					add(n, t.TopologyKey, -t.Weight)
				}
			}
		}
	}
	if len(topo) == 0 {
		return
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i, n := range nodes {
		var s int64
		for k := range keys {
			if v, ok := n.Labels[k]; ok {
				s += topo[topoPair{k, v}]
			}
		}
		scores[i] = s
		lo, hi = min(lo, s), max(hi, s)
	}
	for i, s := range scores {
		if hi > lo {
			scores[i] = (s - lo) * MaxNodeScore / (hi - lo)
		} else {
			scores[i] = 0
		}
	}
}
