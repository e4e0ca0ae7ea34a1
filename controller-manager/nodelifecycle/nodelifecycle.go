// Package nodelifecycle is the node lifecycle controller: it watches each
// node's heartbeat (its Lease in kube-node-lease and the Ready
// condition's lastHeartbeatTime) and, when none arrived within the grace
// period, sets the node's conditions to Unknown, marks its pods not
// ready, and taints it node.kubernetes.io/unreachable (not-ready for a
// node reporting Ready=False). Pods on a node with NoExecute taints they
// do not tolerate are evicted - deleted, so that their owners recreate
// them elsewhere - once their toleration period (by default the pod
// eviction timeout) has passed. It also deletes pods bound to nodes that
// no longer exist (pod garbage collection).
package nodelifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/workqueue"
	"minik8s/controller-manager/controller"
)

// Component is the event source of this controller.
const Component = "node-controller"

// NodeNameIndex indexes pods by spec.nodeName.
const NodeNameIndex = "spec.nodeName"

func timestamp(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t.Truncate(time.Second)) }

// Config wires a Controller.
type Config struct {
	Nodes         controller.API[*corev1.Node]
	Pods          controller.API[*corev1.Pod]
	NodeInformer  *informer.Informer[*corev1.Node]
	LeaseInformer *informer.Informer[*coordinationv1.Lease] // kube-node-lease
	PodInformer   *informer.Informer[*corev1.Pod]
	Recorder      controller.EventRecorder
	Metrics       *controller.Metrics
	// MonitorPeriod is how often every node's health is checked;
	// GracePeriod how old a heartbeat may be before the node is unknown;
	// PodEvictionTimeout how long pods without a toleration of the
	// unreachable/not-ready taint stay.
	MonitorPeriod, GracePeriod, PodEvictionTimeout time.Duration
	Now                                            func() time.Time
}

// health is what the controller observed of one node's heartbeat: the
// latest heartbeat time seen and the local time it was first seen. The
// grace period runs on the local clock from that observation, so skew
// between the node's clock and ours does not matter.
type health struct {
	heartbeat time.Time
	observed  time.Time
}

// Controller watches node health.
type Controller struct {
	controller.Base
	nodesAPI controller.API[*corev1.Node]
	podsAPI  controller.API[*corev1.Pod]
	nodes    *informer.Lister[*corev1.Node]
	leases   *informer.Lister[*coordinationv1.Lease]
	pods     *informer.Informer[*corev1.Pod]
	podQueue *workqueue.Queue[string]
	cfg      Config

	mu     sync.Mutex
	health map[string]*health
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	c := &Controller{
		Base:     controller.NewBase("nodelifecycle", cfg.Recorder, cfg.Metrics, cfg.Now),
		nodesAPI: cfg.Nodes, podsAPI: cfg.Pods, pods: cfg.PodInformer,
		podQueue: controller.NewQueue(),
		cfg:      cfg,
		health:   map[string]*health{},
	}
	c.Sync = c.sync
	c.Log = slog.Default().With("controller", Component)
	c.nodes = controller.Lister(&c.Base, cfg.NodeInformer)
	c.leases = controller.Lister(&c.Base, cfg.LeaseInformer)
	c.WaitFor(cfg.PodInformer.HasSynced)
	cfg.PodInformer.AddIndexer(NodeNameIndex, func(p *corev1.Pod) []string {
		if n := p.GetSpec().GetNodeName(); n != "" {
			return []string{n}
		}
		return nil
	})
	cfg.NodeInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Node]{
		AddFunc:    func(n *corev1.Node) { c.Queue.Add(n.GetMetadata().GetName()) },
		UpdateFunc: func(_, n *corev1.Node) { c.Queue.Add(n.GetMetadata().GetName()) },
		DeleteFunc: func(n *corev1.Node) {
			c.mu.Lock()
			delete(c.health, n.GetMetadata().GetName())
			c.mu.Unlock()
			// Its pods are now orphans of a gone node.
			pods, _ := c.pods.ByIndex(NodeNameIndex, n.GetMetadata().GetName())
			for _, p := range pods {
				c.podQueue.Add(informer.KeyOf(p))
			}
		},
	})
	cfg.PodInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		AddFunc: func(p *corev1.Pod) {
			// A pod bound to a tainted node: check its eviction.
			if n := p.GetSpec().GetNodeName(); n != "" {
				c.Queue.Add(n)
			}
		},
		UpdateFunc: func(old, cur *corev1.Pod) {
			if n := cur.GetSpec().GetNodeName(); n != "" && old.GetSpec().GetNodeName() != n {
				c.Queue.Add(n)
			}
		},
	})
	return c
}

// Run waits for the caches, then monitors until ctx ends; it fails when
// the caches do not sync.
func (c *Controller) Run(ctx context.Context, workers int) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	c.Synced = func() {
		c.sweepOrphanPods()
		wg.Add(2)
		go func() {
			defer wg.Done()
			c.monitor(ctx)
		}()
		go func() {
			defer wg.Done()
			controller.Loop{Name: "podgc", Queue: c.podQueue, Workers: 1, Sync: c.syncOrphanPod, Metrics: c.Metrics}.Run(ctx)
		}()
	}
	return c.Base.Run(ctx, workers)
}

// sweepOrphanPods queues the pods of nodes that are gone.
func (c *Controller) sweepOrphanPods() {
	for _, p := range c.pods.Lister().List(nil) {
		if n := p.GetSpec().GetNodeName(); n != "" {
			if _, err := c.nodes.Get("", n); apierrors.IsNotFound(err) {
				c.podQueue.Add(informer.KeyOf(p))
			}
		}
	}
}

// monitor queues every node each MonitorPeriod until ctx ends.
func (c *Controller) monitor(ctx context.Context) {
	t := time.NewTicker(c.cfg.MonitorPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, n := range c.nodes.List(nil) {
			c.Queue.Add(n.GetMetadata().GetName())
		}
	}
}

// heartbeat is the node's latest heartbeat: its lease renewal or its
// Ready condition's heartbeat, whichever is later.
func (c *Controller) heartbeat(n *corev1.Node) time.Time {
	var hb time.Time
	if cond := helper.GetNodeCondition(n, corev1.NodeReady); cond != nil && cond.GetLastHeartbeatTime() != nil {
		hb = cond.GetLastHeartbeatTime().AsTime()
	}
	if l, err := c.leases.Get("kube-node-lease", n.GetMetadata().GetName()); err == nil {
		if rt := l.GetSpec().GetRenewTime(); rt != nil && rt.AsTime().After(hb) {
			hb = rt.AsTime()
		}
	}
	return hb
}

// stale records the node's heartbeat and reports whether it is older
// than the grace period (by local observation).
func (c *Controller) stale(n *corev1.Node) bool {
	now := c.Now()
	hb := c.heartbeat(n)
	name := n.GetMetadata().GetName()
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.health[name]
	if h == nil || hb.After(h.heartbeat) {
		// First sight (a new leader gives every node a fresh grace
		// period) or a new heartbeat.
		c.health[name] = &health{heartbeat: hb, observed: now}
		return false
	}
	return now.Sub(h.observed) > c.cfg.GracePeriod
}

// sync checks one node: conditions, taints and evictions.
func (c *Controller) sync(ctx context.Context, name string) error {
	n, err := c.nodes.Get("", name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.stale(n) {
		if n, err = c.markUnknown(ctx, n); err != nil {
			return err
		}
	}
	ready := helper.NodeReadyStatus(n)
	if n, err = c.updateTaints(ctx, n, ready); err != nil {
		return err
	}
	return c.evict(ctx, n)
}

// markUnknown sets every condition of a silent node to Unknown and marks
// its pods not ready.
func (c *Controller) markUnknown(ctx context.Context, n *corev1.Node) (*corev1.Node, error) {
	cond := helper.GetNodeCondition(n, corev1.NodeReady)
	if cond != nil && cond.GetStatus() == corev1.ConditionUnknown {
		return n, nil
	}
	now := timestamp(c.Now())
	updated, err := controller.UpdateStatus(ctx, c.nodesAPI, n, func(cur *corev1.Node) bool {
		if cur.Status == nil {
			cur.Status = &corev1.NodeStatus{}
		}
		if helper.GetNodeCondition(cur, corev1.NodeReady) == nil {
			cur.Status.Conditions = append(cur.Status.Conditions, &corev1.NodeCondition{Type: corev1.NodeReady, Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status."})
		}
		for _, nc := range cur.Status.Conditions {
			if nc.Status != corev1.ConditionUnknown {
				nc.Status, nc.LastTransitionTime = corev1.ConditionUnknown, now
			}
			if nc.Reason != "NodeStatusNeverUpdated" {
				nc.Reason, nc.Message = "NodeStatusUnknown", "Kubelet stopped posting node status."
			}
		}
		return true
	})
	if err != nil {
		return n, fmt.Errorf("mark node %s unknown: %w", n.GetMetadata().GetName(), err)
	}
	c.Log.Info("node stopped posting status", "node", n.GetMetadata().GetName(), "gracePeriod", c.cfg.GracePeriod)
	c.Recorder.Eventf(updated, controller.EventNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", n.GetMetadata().GetName())
	c.markPodsNotReady(ctx, n.GetMetadata().GetName())
	return updated, nil
}

// markPodsNotReady sets the Ready condition of the node's pods to False,
// so endpoints stop sending them traffic before they are evicted.
func (c *Controller) markPodsNotReady(ctx context.Context, node string) {
	pods, _ := c.pods.ByIndex(NodeNameIndex, node)
	for _, p := range pods {
		if !controller.IsPodReady(p) || controller.IsPodTerminal(p) {
			continue
		}
		up := proto.Clone(p).(*corev1.Pod)
		for _, cond := range up.Status.Conditions {
			if cond.Type == corev1.PodReady {
				cond.Status, cond.Reason, cond.LastTransitionTime = corev1.ConditionFalse, "NodeNotReady", timestamp(c.Now())
			}
		}
		if _, err := c.podsAPI.UpdateStatus(ctx, up); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			c.Log.Warn("could not mark pod not ready", "pod", informer.KeyOf(p), "err", err)
		}
	}
}

// updateTaints writes the taints the node's readiness calls for.
func (c *Controller) updateTaints(ctx context.Context, n *corev1.Node, ready string) (*corev1.Node, error) {
	want := DesiredTaints(n.GetSpec().GetTaints(), ready, n.GetSpec().GetUnschedulable(), c.Now())
	if slices.EqualFunc(want, n.GetSpec().GetTaints(), func(a, b *corev1.Taint) bool { return proto.Equal(a, b) }) {
		return n, nil
	}
	updated, err := controller.Update(ctx, c.nodesAPI, n, func(cur *corev1.Node) bool {
		if cur.Spec == nil {
			cur.Spec = &corev1.NodeSpec{}
		}
		taints := DesiredTaints(cur.Spec.Taints, helper.NodeReadyStatus(cur), cur.Spec.Unschedulable, c.Now())
		if slices.EqualFunc(taints, cur.Spec.Taints, func(a, b *corev1.Taint) bool { return proto.Equal(a, b) }) {
			return false
		}
		cur.Spec.Taints = taints
		return true
	})
	if apierrors.IsNotFound(err) {
		return n, nil
	}
	if err != nil {
		return n, fmt.Errorf("update taints of node %s: %w", n.GetMetadata().GetName(), err)
	}
	c.Log.Info("node taints updated", "node", n.GetMetadata().GetName(), "ready", ready, "taints", len(updated.GetSpec().GetTaints()))
	return updated, nil
}

// evict deletes the node's pods whose toleration of its NoExecute taints
// has run out, and schedules a look when the next one will.
func (c *Controller) evict(ctx context.Context, n *corev1.Node) error {
	var noExec []*corev1.Taint
	for _, t := range n.GetSpec().GetTaints() {
		if t.GetEffect() == corev1.TaintEffectNoExecute {
			noExec = append(noExec, t)
		}
	}
	if len(noExec) == 0 {
		return nil
	}
	now := c.Now()
	pods, _ := c.pods.ByIndex(NodeNameIndex, n.GetMetadata().GetName())
	var next time.Time
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() != nil || controller.IsPodTerminal(p) {
			continue
		}
		at, ok := EvictionTime(p, noExec, c.cfg.PodEvictionTimeout, now)
		if !ok {
			continue
		}
		if at.After(now) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		}
		c.Recorder.Eventf(p, controller.EventNormal, "TaintManagerEviction", "Marking for deletion Pod %s", informer.KeyOf(p))
		_, err := c.podsAPI.Delete(ctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), &metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{Uid: p.GetMetadata().GetUid()},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("evict pod %s: %w", informer.KeyOf(p), err)
		}
		c.Log.Info("evicted pod from tainted node", "pod", informer.KeyOf(p), "node", n.GetMetadata().GetName())
	}
	if !next.IsZero() {
		c.Queue.AddAfter(n.GetMetadata().GetName(), next.Sub(now)+10*time.Millisecond)
	}
	return nil
}

// syncOrphanPod force-deletes a pod bound to a node that does not exist:
// no kubelet will ever finish it.
func (c *Controller) syncOrphanPod(ctx context.Context, key string) error {
	ns, name := informer.SplitKey(key)
	p, err := c.pods.Lister().Get(ns, name)
	if err != nil {
		return nil
	}
	node := p.GetSpec().GetNodeName()
	if node == "" {
		return nil
	}
	if _, err := c.nodes.Get("", node); !apierrors.IsNotFound(err) {
		return nil
	}
	// The cache may lag: confirm the node is really gone.
	if _, err := c.nodesAPI.Get(ctx, "", node); !apierrors.IsNotFound(err) {
		return err
	}
	_, err = c.podsAPI.Delete(ctx, ns, name, &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(0),
		Preconditions: &metav1.Preconditions{Uid: p.GetMetadata().GetUid()}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete orphaned pod %s: %w", key, err)
	}
	c.Log.Info("deleted pod of a node that no longer exists", "pod", key, "node", node)
	return nil
}
