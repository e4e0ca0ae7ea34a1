package framework

import (
	"fmt"
	"sync/atomic"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
)

// Well-known taints the scheduler checks conditions against: a pod that
// tolerates them may go to nodes that are not ready or are cordoned, as
// in Kubernetes (DaemonSet pods carry such tolerations).
var (
	TaintNodeNotReady      = &corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	TaintNodeUnschedulable = &corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
)

// NodeInfo is a node with the pods the scheduler believes run on it
// (bound, and assumed while their binding is in flight) and their totals.
//
// A NodeInfo handed out in a Snapshot is never modified: the cache clones
// it before every change (copy-on-write), so scheduling cycles read
// snapshots without locks. Only the owner of a fresh clone may call the
// mutating methods.
type NodeInfo struct {
	// Node is nil while pods are known on a node the informer has not
	// delivered yet; such entries never appear in a Snapshot.
	Node        *corev1.Node
	Name        string
	Labels      map[string]string
	Allocatable Resource
	Ready       bool
	// AllocErr is set when the node's allocatable could not be parsed.
	AllocErr error

	Pods []*PodInfo
	// PodsWithAffinity are the pods with any pod (anti-)affinity term;
	// PodsWithRequiredAntiAffinity those with a required anti-affinity term.
	PodsWithAffinity             []*PodInfo
	PodsWithRequiredAntiAffinity []*PodInfo

	Requested Resource // sum of the pods' requests (Pods = number of pods)
	NonZero   Resource // cpu and memory with defaults, for scoring
	UsedPorts []HostPort

	// Generation increases with every change, so callers can tell whether
	// a NodeInfo changed since they last looked.
	Generation int64

	// version identifies this NodeInfo's content: every constructor, clone
	// and change draws a new one, so results computed from a NodeInfo can
	// be remembered by version without holding on to the NodeInfo.
	version uint64
}

// versions hands out NodeInfo versions. It is the package's only shared
// state: a counter, so that versions never repeat in the process.
var versions atomic.Uint64

func (n *NodeInfo) touch() {
	n.Generation++
	n.version = versions.Add(1)
}

// NewNodeInfo returns the info of node with no pods.
func NewNodeInfo(node *corev1.Node) *NodeInfo {
	ni := &NodeInfo{}
	if node != nil {
		ni.SetNode(node)
	}
	ni.touch()
	return ni
}

// SetNode replaces the node object and the values derived from it.
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.Node = node
	n.Name = node.GetMetadata().GetName()
	n.Labels = node.GetMetadata().GetLabels()
	n.Ready = helper.IsNodeReady(node)
	alloc := node.GetStatus().GetAllocatable()
	if len(alloc) == 0 {
		alloc = node.GetStatus().GetCapacity()
	}
	a, err := parseResourceList(alloc)
	n.Allocatable, n.AllocErr = a, nil
	if err != nil {
		n.AllocErr = fmt.Errorf("node %s allocatable: %w", n.Name, err)
	}
	n.touch()
}

// Clone returns a copy that can be changed without affecting n: the pod
// lists and totals are copied, the pods themselves are shared (immutable).
func (n *NodeInfo) Clone() *NodeInfo {
	c := *n
	c.Pods = append([]*PodInfo(nil), n.Pods...)
	c.PodsWithAffinity = append([]*PodInfo(nil), n.PodsWithAffinity...)
	c.PodsWithRequiredAntiAffinity = append([]*PodInfo(nil), n.PodsWithRequiredAntiAffinity...)
	c.UsedPorts = append([]HostPort(nil), n.UsedPorts...)
	c.Requested = n.Requested.Clone()
	c.NonZero = n.NonZero.Clone()
	c.version = versions.Add(1)
	return &c
}

// AddPod accounts pod p on the node.
func (n *NodeInfo) AddPod(p *PodInfo) {
	n.Pods = append(n.Pods, p)
	if p.HasAffinity() {
		n.PodsWithAffinity = append(n.PodsWithAffinity, p)
	}
	if len(p.RequiredAntiAffinity) > 0 {
		n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, p)
	}
	n.Requested.Add(p.Requests)
	n.NonZero.Add(p.NonZero)
	n.UsedPorts = append(n.UsedPorts, p.Ports...)
	n.touch()
}

// RemovePod removes the pod with uid and reports whether it was there.
func (n *NodeInfo) RemovePod(uid string) bool {
	var p *PodInfo
	n.Pods, p = removeByUID(n.Pods, uid)
	if p == nil {
		return false
	}
	n.PodsWithAffinity, _ = removeByUID(n.PodsWithAffinity, uid)
	n.PodsWithRequiredAntiAffinity, _ = removeByUID(n.PodsWithRequiredAntiAffinity, uid)
	n.Requested.Sub(p.Requests)
	n.NonZero.Sub(p.NonZero)
	for _, hp := range p.Ports {
		for i, u := range n.UsedPorts {
			if u == hp {
				n.UsedPorts = append(n.UsedPorts[:i], n.UsedPorts[i+1:]...)
				break
			}
		}
	}
	n.touch()
	return true
}

// removeByUID removes the pod with uid, keeping order, and returns it.
func removeByUID(pods []*PodInfo, uid string) ([]*PodInfo, *PodInfo) {
	for i, p := range pods {
		if p.UID == uid {
			return append(pods[:i], pods[i+1:]...), p
		}
	}
	return pods, nil
}

// Snapshot is the cluster as one scheduling cycle sees it. Nodes and the
// pods on them must not be modified.
type Snapshot struct {
	// Nodes are the known nodes in a stable order.
	Nodes []*NodeInfo
	// NamespaceLabels resolves namespaceSelector terms; nil treats every
	// namespace as unlabelled.
	NamespaceLabels NamespaceLabels
	// Services are the selectors of the services in the cluster, used to
	// spread pods of one service.
	Services []ServiceSelector
}

// ServiceSelector is a service's namespace and pod selector.
type ServiceSelector struct {
	Namespace string
	Selector  map[string]string
}
