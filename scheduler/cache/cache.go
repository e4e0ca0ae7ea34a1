// Package cache is the scheduler's view of the cluster: nodes and the pods
// placed on them, including pods *assumed* on a node - decided but whose
// binding has not been confirmed by the informer yet - so that decisions
// made while bindings are in flight do not overbook a node.
//
// The life of an assumed pod:
//
//	AssumePod -> FinishBinding (bind call returned) -> AddPod (informer
//	              \                                    confirms: no longer
//	               ForgetPod (bind failed)             assumed)
//
// An assumed pod whose binding finished but that the informer never
// confirms expires after the TTL (the bind was lost), so capacity is not
// leaked.
//
// NodeInfos are copy-on-write: every change replaces a node's NodeInfo
// with a modified clone, so a Snapshot (a slice of the current pointers)
// is consistent and can be read without locks while the cache moves on.
package cache

import (
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/scheduler/framework"
)

// DefaultAssumedTTL is how long an assumed pod whose binding finished
// waits for the informer to confirm it.
const DefaultAssumedTTL = 30 * time.Second

type podState struct {
	info            *framework.PodInfo
	node            string
	assumed         bool
	bindingFinished bool
	deadline        time.Time
}

// Cache is safe for concurrent use.
type Cache struct {
	now func() time.Time
	ttl time.Duration

	mu    sync.Mutex
	nodes map[string]*framework.NodeInfo // including placeholders (Node == nil)
	pods  map[string]*podState           // by UID
	// list holds the nodes with a Node object in snapshot order, index
	// their positions; dirty means a node was added or removed and list
	// must be rebuilt.
	list  []*framework.NodeInfo
	index map[string]int
	dirty bool
}

// New returns an empty cache; now is the clock (time.Now if nil) and ttl
// the assumed-pod expiry (DefaultAssumedTTL if 0).
func New(now func() time.Time, ttl time.Duration) *Cache {
	if now == nil {
		now = time.Now
	}
	if ttl <= 0 {
		ttl = DefaultAssumedTTL
	}
	return &Cache{now: now, ttl: ttl, nodes: map[string]*framework.NodeInfo{}, pods: map[string]*podState{}, index: map[string]int{}}
}

// update replaces node name's info with a clone changed by fn.
func (c *Cache) update(name string, fn func(ni *framework.NodeInfo)) {
	old, ok := c.nodes[name]
	var ni *framework.NodeInfo
	if ok {
		ni = old.Clone()
	} else {
		ni = &framework.NodeInfo{Name: name}
	}
	hadNode := ok && old.Node != nil
	fn(ni)
	if ni.Node == nil && len(ni.Pods) == 0 {
		delete(c.nodes, name)
	} else {
		c.nodes[name] = ni
	}
	if hasNode := ni.Node != nil; hasNode != hadNode {
		c.dirty = true
	} else if i, ok := c.index[name]; ok && hasNode {
		c.list[i] = ni
	}
}

func uidOf(p *corev1.Pod) string { return p.GetMetadata().GetUid() }

// AssumePod places a pod on a node before its binding is confirmed.
func (c *Cache) AssumePod(pi *framework.PodInfo, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pods[pi.UID]; ok {
		return fmt.Errorf("assume pod %s: already in the cache", pi.Key())
	}
	c.pods[pi.UID] = &podState{info: pi, node: node, assumed: true}
	c.update(node, func(ni *framework.NodeInfo) { ni.AddPod(pi) })
	return nil
}

// FinishBinding starts the expiry clock of an assumed pod whose bind call
// succeeded.
func (c *Cache) FinishBinding(uid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.pods[uid]; ok && s.assumed {
		s.bindingFinished = true
		s.deadline = c.now().Add(c.ttl)
	}
}

// ForgetPod removes an assumed pod (its binding failed). A pod already
// confirmed by the informer is left alone.
func (c *Cache) ForgetPod(uid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.pods[uid]; ok && s.assumed {
		c.removeLocked(uid, s)
	}
}

func (c *Cache) removeLocked(uid string, s *podState) {
	delete(c.pods, uid)
	c.update(s.node, func(ni *framework.NodeInfo) { ni.RemovePod(uid) })
}

// AddPod records a pod the informer reports on a node; an assumed pod is
// confirmed (and moved, should the apiserver have placed it elsewhere).
func (c *Cache) AddPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(pod)
}

func (c *Cache) setLocked(pod *corev1.Pod) {
	uid := uidOf(pod)
	if s, ok := c.pods[uid]; ok {
		c.removeLocked(uid, s)
	}
	pi := framework.NewPodInfo(pod)
	node := pod.GetSpec().GetNodeName()
	c.pods[uid] = &podState{info: pi, node: node}
	c.update(node, func(ni *framework.NodeInfo) { ni.AddPod(pi) })
}

// UpdatePod records a change of a placed pod.
func (c *Cache) UpdatePod(_, cur *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(cur)
}

// RemovePod forgets a placed pod (deleted, or finished).
func (c *Cache) RemovePod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.pods[uidOf(pod)]; ok {
		c.removeLocked(uidOf(pod), s)
	}
}

// IsAssumed reports whether the pod is assumed and not yet confirmed.
func (c *Cache) IsAssumed(uid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.pods[uid]
	return ok && s.assumed
}

// Has reports whether the pod is in the cache (assumed or confirmed).
func (c *Cache) Has(uid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pods[uid]
	return ok
}

// AddNode records a node, or a change to it.
func (c *Cache) AddNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.update(node.GetMetadata().GetName(), func(ni *framework.NodeInfo) { ni.SetNode(node) })
}

// UpdateNode records a change to a node.
func (c *Cache) UpdateNode(_, cur *corev1.Node) { c.AddNode(cur) }

// RemoveNode forgets a node. Pods still bound to it stay accounted on a
// placeholder until they are deleted, but no pod is placed there.
func (c *Cache) RemoveNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := node.GetMetadata().GetName()
	if _, ok := c.nodes[name]; !ok {
		return
	}
	c.update(name, func(ni *framework.NodeInfo) {
		ni.Node = nil
		ni.Generation++
	})
}

// CleanupExpired drops assumed pods whose binding finished more than the
// TTL ago without the informer confirming them, and returns their keys.
func (c *Cache) CleanupExpired() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	var expired []string
	for uid, s := range c.pods {
		if s.assumed && s.bindingFinished && now.After(s.deadline) {
			expired = append(expired, s.info.Key())
			c.removeLocked(uid, s)
		}
	}
	return expired
}

// Snapshot returns the current nodes in scheduling order. The slice is
// the caller's; the NodeInfos are shared and must not be modified.
func (c *Cache) Snapshot() []*framework.NodeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirty {
		c.rebuildLocked()
	}
	return append([]*framework.NodeInfo(nil), c.list...)
}

// rebuildLocked orders the nodes zone by zone in turn (each zone by name),
// so a search that stops early still sees every zone, as Kubernetes'
// node tree does.
func (c *Cache) rebuildLocked() {
	zones := map[string][]*framework.NodeInfo{}
	for _, ni := range c.nodes {
		if ni.Node != nil {
			z := ni.Labels[framework.ZoneLabel]
			zones[z] = append(zones[z], ni)
		}
	}
	names := make([]string, 0, len(zones))
	for z, list := range zones {
		names = append(names, z)
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}
	sort.Strings(names)
	c.list = c.list[:0]
	clear(c.index)
	for i := 0; ; i++ {
		added := false
		for _, z := range names {
			if i < len(zones[z]) {
				c.index[zones[z][i].Name] = len(c.list)
				c.list = append(c.list, zones[z][i])
				added = true
			}
		}
		if !added {
			break
		}
	}
	c.dirty = false
}

// Stats returns the number of nodes (with a Node object), pods and assumed pods.
func (c *Cache) Stats() (nodes, pods, assumed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ni := range c.nodes {
		if ni.Node != nil {
			nodes++
		}
	}
	for _, s := range c.pods {
		if s.assumed {
			assumed++
		}
	}
	return nodes, len(c.pods), assumed
}
