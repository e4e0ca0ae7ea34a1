// Package nodeipam is the node IPAM controller: it gives every Node a pod
// CIDR (spec.podCIDR and spec.podCIDRs) carved from the cluster CIDR, a
// /24 per node by default, never the same to two nodes, and takes it back
// when the node is deleted.
package nodeipam

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/record"
	"minik8s/api/workqueue"
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
	api      controller.API[*corev1.Node]
	lister   *informer.Lister[*corev1.Node]
	inf      *informer.Informer[*corev1.Node]
	queue    *workqueue.Queue[string]
	recorder controller.EventRecorder
	metrics  *controller.Metrics
	log      *slog.Logger

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
	if cfg.Recorder == nil {
		cfg.Recorder = record.Nop{}
	}
	c := &Controller{
		api: cfg.Nodes, lister: cfg.NodeInformer.Lister(), inf: cfg.NodeInformer, queue: controller.NewQueue(),
		recorder: cfg.Recorder, metrics: cfg.Metrics, log: slog.Default().With("controller", "nodeipam"),
		set: set, owner: map[netip.Prefix]string{},
	}
	cfg.NodeInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Node]{
		AddFunc:    func(n *corev1.Node) { c.queue.Add(n.GetMetadata().GetName()) },
		UpdateFunc: func(_, n *corev1.Node) { c.queue.Add(n.GetMetadata().GetName()) },
		DeleteFunc: c.release,
	})
	return c, nil
}

// Run occupies the CIDRs nodes already have, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.inf.HasSynced) {
		return
	}
	c.mu.Lock()
	for _, n := range c.lister.List(nil) {
		c.occupyLocked(n)
	}
	c.mu.Unlock()
	controller.Loop{Name: "nodeipam", Queue: c.queue, Workers: workers, Sync: c.sync, Metrics: c.metrics}.Run(ctx)
}

// occupyLocked records the CIDRs a node has.
func (c *Controller) occupyLocked(n *corev1.Node) {
	for _, s := range nodeCIDRs(n) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		if err := c.set.Occupy(p); err != nil {
			c.log.Warn("node has a pod CIDR outside the cluster CIDR", "node", n.GetMetadata().GetName(), "podCIDR", s, "err", err)
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
		c.log.Info("released pod CIDR of deleted node", "node", n.GetMetadata().GetName(), "podCIDR", s)
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
		c.recorder.Eventf(n, controller.EventWarning, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable", name)
		return fmt.Errorf("allocate pod CIDR for node %s: %w", name, err)
	}
	cidr := p.String()
	assigned := ""
	err = client.RetryOnConflict(ctx, client.Backoff{}, func() error {
		cur, err := c.api.Get(ctx, "", name)
		if err != nil {
			return err
		}
		if existing := nodeCIDRs(cur); len(existing) > 0 {
			assigned = existing[0]
			return nil // someone was faster
		}
		up := proto.Clone(cur).(*corev1.Node)
		if up.Spec == nil {
			up.Spec = &corev1.NodeSpec{}
		}
		up.Spec.PodCIDR, up.Spec.PodCIDRs = cidr, []string{cidr}
		if _, err := c.api.Update(ctx, up); err != nil {
			return err
		}
		assigned = cidr
		return nil
	})
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
		c.recorder.Eventf(n, controller.EventWarning, "CIDRAssignmentFailed", "Failed to assign pod CIDR %s: %v", cidr, err)
		return fmt.Errorf("set pod CIDR %s on node %s: %w", cidr, name, err)
	}
	if assigned == cidr {
		c.log.Info("assigned pod CIDR", "node", name, "podCIDR", cidr)
	}
	return nil
}
