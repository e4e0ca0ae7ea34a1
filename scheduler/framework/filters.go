package framework

import (
	"fmt"
	"sort"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
)

// Filter (and score) plugin names. They appear in FitError diagnoses, in
// the queue's decisions about which cluster events can make a pod
// schedulable, and (for scores) as keys of Weights.
const (
	NodeReady          = "NodeReady"
	NodeUnschedulable  = "NodeUnschedulable"
	TaintToleration    = "TaintToleration"
	NodeAffinity       = "NodeAffinity"
	NodePorts          = "NodePorts"
	NodeResourcesFit   = "NodeResourcesFit"
	InterPodAffinity   = "InterPodAffinity"
	LeastAllocated     = "LeastAllocated"
	BalancedAllocation = "BalancedAllocation"
	SelectorSpread     = "SelectorSpread"
)

// The reasons a node is rejected, worded as Kubernetes words them so the
// FailedScheduling event reads the same.
const (
	ReasonNotReady             = "node(s) were not ready"
	ReasonUnschedulable        = "node(s) were unschedulable"
	ReasonNodeAffinity         = "node(s) didn't match Pod's node affinity/selector"
	ReasonNodePorts            = "node(s) didn't have free ports for the requested pod ports"
	ReasonTooManyPods          = "Too many pods"
	ReasonPodAffinity          = "node(s) didn't match pod affinity rules"
	ReasonPodAntiAffinity      = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules"
)

// ReasonInsufficient is the reason for a resource the node lacks: "Insufficient cpu".
func ReasonInsufficient(resource string) string { return "Insufficient " + resource }

// ReasonUntoleratedTaint is the reason for a NoSchedule/NoExecute taint the
// pod does not tolerate: "node(s) had untolerated taint {dedicated: gpu}".
func ReasonUntoleratedTaint(key, value string) string {
	return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", key, value)
}

// Status is why one node cannot take the pod: the rejecting filter and
// its reasons (several when, e.g., both cpu and memory are short).
type Status struct {
	Plugin  string
	Reasons []string
}

func reject(plugin string, reasons ...string) *Status {
	return &Status{Plugin: plugin, Reasons: reasons}
}

// filter is one filter plugin: nil means the node fits.
type filter struct {
	name string
	fn   func(c *cycle, n *NodeInfo) *Status
}

// filters run in this order and a node stops at the first rejection,
// cheap checks first, as in Kubernetes.
var filters = []filter{
	{NodeUnschedulable, filterUnschedulable},
	{NodeReady, filterReady},
	{TaintToleration, filterTaints},
	{NodeAffinity, filterNodeAffinity},
	{NodePorts, filterPorts},
	{NodeResourcesFit, filterResources},
	{InterPodAffinity, filterInterPodAffinity},
}

// filterUnschedulable rejects cordoned nodes unless the pod tolerates the
// unschedulable taint.
func filterUnschedulable(c *cycle, n *NodeInfo) *Status {
	if n.Node.GetSpec().GetUnschedulable() && !helper.TolerationsTolerateTaint(c.pod.Tolerations, TaintNodeUnschedulable) {
		return reject(NodeUnschedulable, ReasonUnschedulable)
	}
	return nil
}

// filterReady rejects nodes whose Ready condition is not True unless the
// pod tolerates the not-ready taint.
func filterReady(c *cycle, n *NodeInfo) *Status {
	if !n.Ready && !helper.TolerationsTolerateTaint(c.pod.Tolerations, TaintNodeNotReady) {
		return reject(NodeReady, ReasonNotReady)
	}
	return nil
}

// filterTaints rejects a node with a NoSchedule or NoExecute taint the pod
// does not tolerate, naming the first one.
func filterTaints(c *cycle, n *NodeInfo) *Status {
	for _, t := range n.Node.GetSpec().GetTaints() {
		if t.GetEffect() != corev1.TaintEffectNoSchedule && t.GetEffect() != corev1.TaintEffectNoExecute {
			continue
		}
		if !helper.TolerationsTolerateTaint(c.pod.Tolerations, t) {
			return reject(TaintToleration, ReasonUntoleratedTaint(t.GetKey(), t.GetValue()))
		}
	}
	return nil
}

// filterNodeAffinity checks spec.nodeSelector and required node affinity.
func filterNodeAffinity(c *cycle, n *NodeInfo) *Status {
	if !MatchesNodeSelectorAndAffinity(c.pod, n.Name, n.Labels) {
		return reject(NodeAffinity, ReasonNodeAffinity)
	}
	return nil
}

// MatchesNodeSelectorAndAffinity reports whether a node with this name
// and labels satisfies the pod's nodeSelector and required node affinity.
func MatchesNodeSelectorAndAffinity(p *PodInfo, nodeName string, nodeLabels map[string]string) bool {
	for k, v := range p.NodeSelector {
		if nv, ok := nodeLabels[k]; !ok || nv != v {
			return false
		}
	}
	if p.RequiredNodeAffinity != nil {
		return helper.MatchNodeSelectorTerms(p.RequiredNodeAffinity.GetNodeSelectorTerms(), nodeName, nodeLabels)
	}
	return true
}

// filterPorts rejects a node where a host port the pod wants is taken.
func filterPorts(c *cycle, n *NodeInfo) *Status {
	for _, want := range c.pod.Ports {
		for _, used := range n.UsedPorts {
			if want.conflicts(used) {
				return reject(NodePorts, ReasonNodePorts)
			}
		}
	}
	return nil
}

// filterResources checks the pod count and every requested resource
// against allocatable minus what the node's pods request.
func filterResources(c *cycle, n *NodeInfo) *Status {
	var reasons []string
	if n.Requested.Pods+1 > n.Allocatable.Pods {
		reasons = append(reasons, ReasonTooManyPods)
	}
	req := c.pod.Requests
	if req.MilliCPU > 0 && req.MilliCPU > n.Allocatable.MilliCPU-n.Requested.MilliCPU {
		reasons = append(reasons, ReasonInsufficient(ResourceCPU))
	}
	if req.Memory > 0 && req.Memory > n.Allocatable.Memory-n.Requested.Memory {
		reasons = append(reasons, ReasonInsufficient(ResourceMemory))
	}
	if len(req.Scalar) > 0 {
		names := make([]string, 0, len(req.Scalar))
		for name := range req.Scalar {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if v := req.Scalar[name]; v > 0 && v > n.Allocatable.Scalar[name]-n.Requested.Scalar[name] {
				reasons = append(reasons, ReasonInsufficient(name))
			}
		}
	}
	if len(reasons) > 0 {
		return reject(NodeResourcesFit, reasons...)
	}
	return nil
}

// topoPair is one topology domain: a label key and its value on a node.
type topoPair struct{ key, value string }

// domainCounts counts pods per topology domain: key -> value -> count.
type domainCounts map[string]map[string]int

func (d domainCounts) add(key, value string, n int) {
	m, ok := d[key]
	if !ok {
		m = map[string]int{}
		d[key] = m
	}
	m[value] += n
}

// empty reports whether no domain has a count.
func (d domainCounts) empty() bool {
	for _, m := range d {
		for _, n := range m {
			if n != 0 {
				return false
			}
		}
	}
	return true
}

// in returns the count of the domain node labels place a node in for key.
func (d domainCounts) in(key string, nodeLabels map[string]string) int {
	m, ok := d[key]
	if !ok {
		return 0
	}
	v, ok := nodeLabels[key]
	if !ok {
		return 0
	}
	return m[v]
}

// affinityState is the inter-pod affinity data of one cycle, computed
// once over all nodes before filtering (Kubernetes' PreFilter). The maps
// belong to the Algorithm's memo: read them only during this cycle.
type affinityState struct {
	// existingAnti counts placed pods whose required anti-affinity selects
	// the incoming pod, per domain of those pods' nodes.
	existingAnti domainCounts
	// affinity counts placed pods matching all the pod's required
	// affinity terms, per domain of each term.
	affinity domainCounts
	// anti counts, per term of the pod's required anti-affinity, the
	// placed pods it selects per domain.
	anti []domainCounts
	// noAffinityMatch: no placed pod matches the required affinity terms.
	noAffinityMatch bool
}

func (c *cycle) affinityState() *affinityState {
	if c.aff != nil {
		return c.aff
	}
	p := c.pod
	s := &affinityState{existingAnti: c.existingAntiDomains(), affinity: domainCounts{}}
	if len(p.RequiredAffinity) > 0 {
		s.affinity = c.matchingDomains("affinity", p.RequiredAffinity)
		s.noAffinityMatch = s.affinity.empty()
	}
	for i := range p.RequiredAntiAffinity {
		s.anti = append(s.anti, c.matchingDomains("anti", p.RequiredAntiAffinity[i:i+1]))
	}
	c.aff = s
	return s
}

func matchesAllTerms(terms []AffinityTerm, e *PodInfo, nsLabels NamespaceLabels) bool {
	for i := range terms {
		if !terms[i].Matches(e, nsLabels) {
			return false
		}
	}
	return true
}

// filterInterPodAffinity enforces required pod affinity and anti-affinity,
// both the incoming pod's and that of the pods already placed.
func filterInterPodAffinity(c *cycle, n *NodeInfo) *Status {
	p := c.pod
	if len(p.RequiredAffinity)+len(p.RequiredAntiAffinity) == 0 && !c.anyExistingAnti() {
		return nil
	}
	s := c.affinityState()
	for k := range s.existingAnti {
		if s.existingAnti.in(k, n.Labels) > 0 {
			return reject(InterPodAffinity, ReasonExistingAntiAffinity)
		}
	}
	for i := range p.RequiredAntiAffinity {
		if s.anti[i].in(p.RequiredAntiAffinity[i].TopologyKey, n.Labels) > 0 {
			return reject(InterPodAffinity, ReasonPodAntiAffinity)
		}
	}
	if len(p.RequiredAffinity) > 0 {
		found := true
		for _, t := range p.RequiredAffinity {
			v, ok := n.Labels[t.TopologyKey]
			if !ok {
				// Every topology key must exist on the node.
				return reject(InterPodAffinity, ReasonPodAffinity)
			}
			if s.affinity[t.TopologyKey][v] == 0 {
				found = false
			}
		}
		// The first pod of a group with affinity to itself may go
		// anywhere: no pod matches yet, but it matches its own terms.
		if !found && !(s.noAffinityMatch && matchesAllTerms(p.RequiredAffinity, p, c.snap.NamespaceLabels)) {
			return reject(InterPodAffinity, ReasonPodAffinity)
		}
	}
	return nil
}

// anyExistingAnti reports whether any placed pod has required
// anti-affinity (cached for the cycle).
func (c *cycle) anyExistingAnti() bool {
	if c.existingAntiKnown {
		return c.existingAnti
	}
	c.existingAntiKnown = true
	for _, n := range c.snap.Nodes {
		if len(n.PodsWithRequiredAntiAffinity) > 0 {
			c.existingAnti = true
			break
		}
	}
	return c.existingAnti
}
