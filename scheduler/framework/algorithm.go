// Package framework is the scheduler's pure decision code: given a pod and
// a snapshot of the nodes (with the pods on them) it filters the nodes
// that can take the pod, scores them and picks one. It does no I/O and
// keeps no cluster state; the caller owns the cache, queue and binding.
package framework

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// Config tunes an Algorithm.
type Config struct {
	// Weights of the score plugins (DefaultWeights when nil).
	Weights Weights
	// PercentageOfNodesToScore stops filtering once this share of the
	// nodes (at least 100 nodes) is found feasible, to bound the work per
	// pod in large clusters. 0 is adaptive as in Kubernetes (50% minus 1%
	// per 125 nodes, at least 5%); 100 always checks every node.
	PercentageOfNodesToScore int32
	// Rand breaks ties between equally scored nodes; a seeded source makes
	// decisions reproducible in tests. Nil uses a random seed.
	Rand *rand.Rand
}

// minFeasibleNodesToFind is the number of feasible nodes always looked
// for, below which the percentage does not apply.
const minFeasibleNodesToFind = 100

// Algorithm schedules one pod at a time. It is not safe for concurrent use:
// it remembers where the last search stopped, so successive pods start at
// different nodes, and owns its random source.
type Algorithm struct {
	weights   Weights
	percent   int32
	rnd       *rand.Rand
	nextStart int
	memo      *affinityMemo
}

// New returns an Algorithm.
func New(cfg Config) *Algorithm {
	w := cfg.Weights
	if w == nil {
		w = DefaultWeights()
	}
	r := cfg.Rand
	if r == nil {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &Algorithm{weights: w, percent: cfg.PercentageOfNodesToScore, rnd: r, memo: newAffinityMemo()}
}

// Result is a successful decision.
type Result struct {
	NodeName string
	// Evaluated is how many nodes were filtered, Feasible how many passed.
	Evaluated, Feasible int
	Score               int64
}

// FitError says that no node can take the pod, and why per node.
type FitError struct {
	Pod         *PodInfo
	NumAllNodes int
	// Statuses maps a rejected node's name to its status.
	Statuses map[string]*Status
}

// Error renders the Kubernetes-style message, reasons counted over nodes,
// most frequent first: "0/3 nodes are available: 2 Insufficient cpu,
// 1 node(s) had untolerated taint {dedicated: gpu}."
func (e *FitError) Error() string {
	if e.NumAllNodes == 0 {
		return "no nodes available to schedule pods"
	}
	counts := map[string]int{}
	for _, st := range e.Statuses {
		for _, r := range st.Reasons {
			counts[r]++
		}
	}
	reasons := make([]string, 0, len(counts))
	for r := range counts {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if counts[reasons[i]] != counts[reasons[j]] {
			return counts[reasons[i]] > counts[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available", e.NumAllNodes)
	for i, r := range reasons {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", counts[r], r)
	}
	b.WriteString(".")
	return b.String()
}

// UnschedulablePlugins returns the names of the filters that rejected a
// node, so the queue retries the pod only on events that could help.
func (e *FitError) UnschedulablePlugins() map[string]bool {
	out := map[string]bool{}
	for _, st := range e.Statuses {
		out[st.Plugin] = true
	}
	return out
}

// cycle is the state of scheduling one pod: the pod, the snapshot and
// data computed lazily once per cycle.
type cycle struct {
	pod  *PodInfo
	snap *Snapshot
	aff  *affinityState
	// memo carries per-node inter-pod affinity results across cycles
	// (nil: compute everything).
	memo *affinityMemo

	existingAnti, existingAntiKnown bool
}

// Schedule picks a node for p in snap. It returns a *FitError when no
// node fits, or another error when the pod itself cannot be evaluated
// (its spec could not be parsed).
func (a *Algorithm) Schedule(p *PodInfo, snap *Snapshot) (Result, error) {
	if p.Err != nil {
		return Result{}, p.Err
	}
	c := &cycle{pod: p, snap: snap, memo: a.memo}
	feasible, statuses := a.findFeasible(c)
	if len(feasible) == 0 {
		return Result{}, &FitError{Pod: p, NumAllNodes: len(snap.Nodes), Statuses: statuses}
	}
	res := Result{Evaluated: len(feasible) + len(statuses), Feasible: len(feasible)}
	if len(feasible) == 1 {
		res.NodeName = feasible[0].Name
		return res, nil
	}
	total := a.score(c, feasible)
	best, ties := 0, 0
	for i := range total {
		switch {
		case total[i] > total[best]:
			best, ties = i, 1
		case total[i] == total[best]:
			// Reservoir sampling: each of the k tied nodes wins with 1/k.
			ties++
			if a.rnd.IntN(ties) == 0 {
				best = i
			}
		}
	}
	res.NodeName, res.Score = feasible[best].Name, total[best]
	return res, nil
}

// NumFeasibleNodesToFind is how many feasible nodes a search among n
// nodes stops at (see Config.PercentageOfNodesToScore).
func (a *Algorithm) NumFeasibleNodesToFind(n int) int {
	if n < minFeasibleNodesToFind || a.percent >= 100 {
		return n
	}
	pct := a.percent
	if pct <= 0 {
		pct = max(50-int32(n/125), 5)
	}
	return max(n*int(pct)/100, minFeasibleNodesToFind)
}

// findFeasible runs the filters over the nodes, starting where the last
// search stopped, until enough feasible nodes are found.
func (a *Algorithm) findFeasible(c *cycle) ([]*NodeInfo, map[string]*Status) {
	nodes := c.snap.Nodes
	n := len(nodes)
	want := a.NumFeasibleNodesToFind(n)
	feasible := make([]*NodeInfo, 0, min(want, n))
	statuses := map[string]*Status{}
	if n == 0 {
		return feasible, statuses
	}
	start := a.nextStart % n
	processed := 0
	for ; processed < n && len(feasible) < want; processed++ {
		ni := nodes[(start+processed)%n]
		if st := runFilters(c, ni); st != nil {
			statuses[ni.Name] = st
			continue
		}
		feasible = append(feasible, ni)
	}
	a.nextStart = (start + processed) % n
	return feasible, statuses
}

// runFilters returns the first rejection of node n, or nil if it fits.
func runFilters(c *cycle, n *NodeInfo) *Status {
	if n.AllocErr != nil {
		return reject(NodeResourcesFit, "node(s) had invalid allocatable resources")
	}
	for _, f := range filters {
		if st := f.fn(c, n); st != nil {
			return st
		}
	}
	return nil
}

// score returns the weighted sum of the enabled scores of each node.
func (a *Algorithm) score(c *cycle, nodes []*NodeInfo) []int64 {
	total := make([]int64, len(nodes))
	scores := make([]int64, len(nodes))
	for _, name := range ScorePlugins {
		w := a.weights[name]
		if w == 0 {
			continue
		}
		clear(scores)
		scoreFuncs[name](c, nodes, scores)
		for i, s := range scores {
			total[i] += w * s
		}
	}
	return total
}

// Filter runs every filter of p against one node of snap; nil means the
// node fits. It is for callers that check a single node (tests, tools).
func Filter(p *PodInfo, snap *Snapshot, n *NodeInfo) *Status {
	return runFilters(&cycle{pod: p, snap: snap}, n)
}

// Scores returns every score plugin's normalized score (unweighted) of
// each node for p, keyed by plugin name.
func Scores(p *PodInfo, snap *Snapshot, nodes []*NodeInfo) map[string][]int64 {
	c := &cycle{pod: p, snap: snap}
	out := map[string][]int64{}
	for _, name := range ScorePlugins {
		s := make([]int64, len(nodes))
		scoreFuncs[name](c, nodes, s)
		out[name] = s
	}
	return out
}
