// Package nodeipam is the node IPAM controller: it gives every Node a pod
// CIDR (spec.podCIDR and spec.podCIDRs) carved from the cluster CIDR, a
// /24 per node by default, never the same to two nodes, and takes it back
// when the node is deleted.
package nodeipam

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/controller-manager/controller"
)

// Component is the event source of this controller.
const Component = "cidrAllocator"

// Config wires a Controller.
type Config struct {
	Nodes        controller.API[*corev1.Node]
	NodeInformer *informer.Informer[*corev1.Node]
	ClusterCIDR  string
	MaskSize     int
	Recorder     controller.EventRecorder
	Metrics      *controller.Metrics
}

// Controller allocates pod CIDRs.
type Controller struct {
	controller.Base
	api    controller.API[*corev1.Node]
	lister *informer.Lister[*corev1.Node]

	mu    sync.Mutex
	set   *CIDRSet
	owner map[netip.Prefix]string // subnet -> node name
}

// New returns a controller and registers its handlers.
func New(cfg Config) (*Controller, error) {
	p, err := netip.ParsePrefix(cfg.ClusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("cluster CIDR %q: %w", cfg.ClusterCIDR, err)
	}
	set, err := NewCIDRSet(p, cfg.MaskSize)
	if err != nil {
		return nil, err
	}
	c := &Controller{Base: controller.NewBase("nodeipam", cfg.Recorder, cfg.Metrics, nil), api: cfg.Nodes, set: set, owner: map[netip.Prefix]string{}}
	c.Sync = c.sync
	c.lister = controller.Lister(&c.Base, cfg.NodeInformer)
	c.Synced = c.occupyAll
	cfg.NodeInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Node]{
		AddFunc:    func(n *corev1.Node) { c.Queue.Add(n.GetMetadata().GetName()) },
		UpdateFunc: func(_, n *corev1.Node) { c.Queue.Add(n.GetMetadata().GetName()) },
		DeleteFunc: c.release,
	})
	return c, nil
}

// occupyAll records the CIDRs every node already has, before any is
// handed out.
func (c *Controller) occupyAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.lister.List(nil) {
		c.occupyLocked(n)
	}
}

// occupyLocked records the CIDRs a node has.
func (c *Controller) occupyLocked(n *corev1.Node) {
	for _, s := range nodeCIDRs(n) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		if err := c.set.Occupy(p); err != nil {
			c.Log.Warn("node has a pod CIDR outside the cluster CIDR", "node", n.GetMetadata().GetName(), "podCIDR", s, "err", err)
			continue
		}
		c.owner[p] = n.GetMetadata().GetName()
	}
}

func nodeCIDRs(n *corev1.Node) []string {
	if cidrs := n.GetSpec().GetPodCIDRs(); len(cidrs) > 0 {
		return cidrs
	}
	if c := n.GetSpec().GetPodCIDR(); c != "" {
		return []string{c}
	}
	return nil
}

// release frees a deleted node's CIDRs.
func (c *Controller) release(n *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range nodeCIDRs(n) {
		p, err := netip.ParsePrefix(s)
		if err != nil || c.owner[p] != n.GetMetadata().GetName() {
			continue
		}
		c.set.Release(p)
		delete(c.owner, p)
		c.Log.Info("released pod CIDR of deleted node", "node", n.GetMetadata().GetName(), "podCIDR", s)
	}
}

// sync gives a node without a pod CIDR the next free one.
func (c *Controller) sync(ctx context.Context, name string) error {
	n, err := c.lister.Get("", name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(nodeCIDRs(n)) > 0 {
		c.mu.Lock()
		c.occupyLocked(n) // set by someone else (or before a restart)
		c.mu.Unlock()
		return nil
	}
	c.mu.Lock()
	p, err := c.set.Allocate()
	if err == nil {
		c.owner[p] = name
	}
	c.mu.Unlock()
	if err != nil {
		c.Recorder.Eventf(n, controller.EventWarning, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable", name)
		return fmt.Errorf("allocate pod CIDR for node %s: %w", name, err)
	}
	cidr := p.String()
	assigned := ""
	_, err = controller.Update(ctx, c.api, n, func(cur *corev1.Node) bool {
		if existing := nodeCIDRs(cur); len(existing) > 0 {
			assigned = existing[0]
			return false // someone was faster
		}
		if cur.Spec == nil {
			cur.Spec = &corev1.NodeSpec{}
		}
		cur.Spec.PodCIDR, cur.Spec.PodCIDRs = cidr, []string{cidr}
		assigned = cidr
		return true
	})
	if err != nil {
		assigned = ""
	}
	if assigned != cidr {
		c.mu.Lock()
		c.set.Release(p)
		delete(c.owner, p)
		c.mu.Unlock()
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		c.Recorder.Eventf(n, controller.EventWarning, "CIDRAssignmentFailed", "Failed to assign pod CIDR %s: %v", cidr, err)
		return fmt.Errorf("set pod CIDR %s on node %s: %w", cidr, name, err)
	}
	if assigned == cidr {
		c.Log.Info("assigned pod CIDR", "node", name, "podCIDR", cidr)
	}
	return nil
}
