// Package node is the Node authorizer (kube-apiserver's
// --authorization-mode=Node): it lets a kubelet, a user system:node:NAME
// in group system:nodes, read only what the pods bound to its node use,
// and do the writes a kubelet does. Which objects a node may read is a
// graph kept from the apiserver's pod watch cache: pod -> node, and
// secret, config map, persistent volume claim and service account -> the
// nodes whose pods reference them. A lookup is one map access.
//
// As in Kubernetes, the authorizer allows some writes for any name (a
// node's own Node object, pod status, mirror pods) and leaves to the
// NodeRestriction admission plugin the check that the object is the
// node's own.
package node

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	"minik8s/apiserver/cache"
)

// Kind is a type of object a node's pods may reference.
type Kind int

// The kinds the graph tracks.
const (
	Pod Kind = iota
	Secret
	ConfigMap
	PersistentVolumeClaim
	ServiceAccount
)

var kindNames = [...]string{"pod", "secret", "configmap", "persistentvolumeclaim", "serviceaccount"}

func (k Kind) String() string { return kindNames[k] }

// ref names one referenced object.
type ref struct {
	kind      Kind
	namespace string
	name      string
}

// podEntry is what the graph keeps of a pod bound to a node.
type podEntry struct {
	node string
	refs []ref // what the pod references, without duplicates
}

// Graph records which node may reach which object through its pods. It is
// safe for concurrent use; the zero value is not, use NewGraph.
type Graph struct {
	mu sync.RWMutex
	// pods are the pods with spec.nodeName set, by namespace/name.
	pods map[string]podEntry
	// uses counts, for each referenced object, the pods of each node
	// that reference it; an object is readable by a node while its
	// count is positive.
	uses   map[ref]map[string]int
	synced bool
}

// NewGraph returns an empty graph; Run fills it from a watch cache, or
// SetPod and DeletePod from anything else (tests).
func NewGraph() *Graph {
	return &Graph{pods: map[string]podEntry{}, uses: map[ref]map[string]int{}}
}

func podKey(ns, name string) string { return ns + "/" + name }

// refsOf lists what pod references, each object once.
func refsOf(pod *corev1.Pod) []ref {
	ns := pod.GetMetadata().GetNamespace()
	seen := map[ref]bool{}
	var out []ref
	add := func(k Kind) func(string) bool {
		return func(name string) bool {
			r := ref{k, ns, name}
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
			return true
		}
	}
	helper.VisitPodSecretNames(pod, add(Secret))
	helper.VisitPodConfigMapNames(pod, add(ConfigMap))
	helper.VisitPodClaimNames(pod, add(PersistentVolumeClaim))
	if sa := pod.GetSpec().GetServiceAccountName(); sa != "" {
		add(ServiceAccount)(sa)
	}
	return out
}

// SetPod records pod as it is now (added or changed). A pod not bound to
// a node gives no node anything.
func (g *Graph) SetPod(pod *corev1.Pod) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.setLocked(pod)
}

// DeletePod forgets a pod.
func (g *Graph) DeletePod(namespace, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.deleteLocked(podKey(namespace, name))
}

func (g *Graph) setLocked(pod *corev1.Pod) {
	md := pod.GetMetadata()
	key := podKey(md.GetNamespace(), md.GetName())
	g.deleteLocked(key)
	node := pod.GetSpec().GetNodeName()
	if node == "" {
		return
	}
	e := podEntry{node: node, refs: refsOf(pod)}
	g.pods[key] = e
	for _, r := range e.refs {
		m := g.uses[r]
		if m == nil {
			m = map[string]int{}
			g.uses[r] = m
		}
		m[node]++
	}
}

func (g *Graph) deleteLocked(key string) {
	e, ok := g.pods[key]
	if !ok {
		return
	}
	delete(g.pods, key)
	for _, r := range e.refs {
		m := g.uses[r]
		if m[e.node]--; m[e.node] <= 0 {
			delete(m, e.node)
		}
		if len(m) == 0 {
			delete(g.uses, r)
		}
	}
}

// HasPath reports whether node may reach the object: a pod bound to node,
// or an object a pod bound to node references.
func (g *Graph) HasPath(node string, k Kind, namespace, name string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if k == Pod {
		e, ok := g.pods[podKey(namespace, name)]
		return ok && e.node == node
	}
	return g.uses[ref{k, namespace, name}][node] > 0
}

// PodNode returns the node a pod is bound to ("" when unknown or unbound).
func (g *Graph) PodNode(namespace, name string) string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.pods[podKey(namespace, name)].node
}

// Synced reports whether the graph has been filled from its cache once.
func (g *Graph) Synced() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.synced
}

// replace installs the pods of a fresh watch as the whole graph.
func (g *Graph) replace(pods []*corev1.Pod) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pods = make(map[string]podEntry, len(pods))
	g.uses = map[ref]map[string]int{}
	for _, p := range pods {
		g.setLocked(p)
	}
	g.synced = true
}

// Run keeps the graph equal to the pods in c (the apiserver's pod watch
// cache) until ctx ends. Each (re)start of its watch begins with every
// current pod and replaces the graph, so a watch cut off for being slow
// loses nothing.
func (g *Graph) Run(ctx context.Context, c *cache.Cache) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := g.follow(ctx, c); err != nil && ctx.Err() == nil {
			slog.Warn("node authorizer: pod watch failed, restarting", "err", err)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
}

// follow runs one watch until it ends.
func (g *Graph) follow(ctx context.Context, c *cache.Cache) error {
	w, err := c.Watch(ctx, cache.Filter{}, 0, false)
	if err != nil {
		return err
	}
	defer w.Stop()
	var pods []*corev1.Pod
	for _, ev := range w.Initial() {
		if p, ok := ev.Object.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	g.replace(pods)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events():
			if !ok {
				return nil // cut off: start over from the current pods
			}
			g.apply(ev)
		}
	}
}

func (g *Graph) apply(ev *cache.Event) {
	p, ok := ev.Object.(*corev1.Pod)
	if !ok {
		return
	}
	switch ev.Type {
	case cache.Added, cache.Modified:
		g.SetPod(p)
	case cache.Deleted:
		g.DeletePod(p.GetMetadata().GetNamespace(), p.GetMetadata().GetName())
	}
}
