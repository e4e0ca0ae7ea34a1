// Package app wires the scheduler: informers feed the cache (placed pods,
// nodes) and the queue (pending pods of this scheduler); one goroutine pops
// a pod, runs the pure framework over a cache snapshot, assumes the pod on
// the chosen node and hands the binding to a bounded pool of goroutines;
// a failed binding forgets the pod and requeues it. Leader election,
// /healthz and /metrics are in run.go.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/record"
	"minik8s/scheduler/cache"
	"minik8s/scheduler/framework"
	"minik8s/scheduler/queue"
)

// Event reasons and types, as Kubernetes' scheduler writes them.
const (
	ReasonScheduled        = "Scheduled"
	ReasonFailedScheduling = "FailedScheduling"

	// PodScheduled condition reasons.
	ConditionUnschedulable  = "Unschedulable"
	ConditionSchedulerError = "SchedulerError"
)

// Scheduler schedules the pending pods that name it.
type Scheduler struct {
	name     string
	client   *client.Client
	pods     *client.Resource[*corev1.Pod]
	recorder record.EventRecorder
	metrics  *Metrics
	log      *slog.Logger

	factory   *informer.Factory
	podLister *informer.Lister[*corev1.Pod]
	svcLister *informer.Lister[*corev1.Service]
	nsLister  *informer.Lister[*corev1.Namespace]

	cache *cache.Cache
	queue *queue.Queue
	algo  *framework.Algorithm

	bindSem  chan struct{}
	inFlight sync.WaitGroup
	now      func() time.Time
}

// Config is what New needs besides the client.
type Config struct {
	SchedulerName string
	Framework     framework.Config
	Queue         queue.Config
	ParallelBinds int
	// Recorder writes the Scheduled and FailedScheduling events (none
	// when nil).
	Recorder record.EventRecorder
	Metrics  *Metrics
}

// New builds a scheduler and registers its informer handlers; Start runs
// the informers and Schedule the scheduling loop.
func New(c *client.Client, cfg Config) *Scheduler {
	if cfg.ParallelBinds < 1 {
		cfg.ParallelBinds = 64
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(cfg.SchedulerName)
	}
	s := &Scheduler{
		name:     cfg.SchedulerName,
		client:   c,
		pods:     client.For[*corev1.Pod](c),
		recorder: record.Or(cfg.Recorder),
		metrics:  cfg.Metrics,
		log:      slog.Default().With("scheduler", cfg.SchedulerName),
		factory:  informer.NewFactory(c, 0),
		cache:    cache.New(nil, 0),
		queue:    queue.New(cfg.Queue),
		algo:     framework.New(cfg.Framework),
		bindSem:  make(chan struct{}, cfg.ParallelBinds),
		now:      time.Now,
	}
	podInf := informer.For[*corev1.Pod](s.factory, "")
	nodeInf := informer.For[*corev1.Node](s.factory, "")
	svcInf := informer.For[*corev1.Service](s.factory, "")
	nsInf := informer.For[*corev1.Namespace](s.factory, "")
	s.podLister, s.svcLister, s.nsLister = podInf.Lister(), svcInf.Lister(), nsInf.Lister()
	podInf.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{AddFunc: s.onPodAdd, UpdateFunc: s.onPodUpdate, DeleteFunc: s.onPodDelete})
	nodeInf.AddEventHandler(informer.HandlerFuncs[*corev1.Node]{AddFunc: s.onNodeAdd, UpdateFunc: s.onNodeUpdate, DeleteFunc: s.cache.RemoveNode})
	s.queue.SetOnMove(func(ev string, n int) { s.metrics.queueMoves.WithLabelValues(ev).Add(float64(n)) })
	s.metrics.registerQueue(s.queue.Pending, s.cache.Stats)
	return s
}

// Start runs the informers until ctx ends and waits for their first list.
// A standby runs them too, so it takes over with a warm cache.
func (s *Scheduler) Start(ctx context.Context) error {
	s.factory.Start(ctx)
	if !s.factory.WaitForCacheSync(ctx) {
		return fmt.Errorf("scheduler %s: informers did not sync: %w", s.name, ctx.Err())
	}
	n, p, _ := s.cache.Stats()
	a, _, _ := s.queue.Pending()
	s.log.Info("caches synced", "nodes", n, "placedPods", p, "pendingPods", a)
	return nil
}

// Schedule runs the scheduling loop until ctx ends, then waits for the
// bindings in flight (which ctx also cancels).
func (s *Scheduler) Schedule(ctx context.Context) {
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); s.queue.Run(ctx, 100*time.Millisecond) }()
	go func() { defer bg.Done(); s.cleanupLoop(ctx) }()
	s.log.Info("scheduling")
	for {
		p, err := s.queue.Pop(ctx)
		if err != nil {
			break
		}
		s.scheduleOne(ctx, p)
	}
	s.inFlight.Wait()
	bg.Wait()
	s.log.Info("stopped scheduling")
}

// Close releases the queue; call it after Schedule returned.
func (s *Scheduler) Close() { s.queue.Close() }

// cleanupLoop expires assumed pods whose binding was never confirmed.
func (s *Scheduler) cleanupLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, key := range s.cache.CleanupExpired() {
				s.log.Warn("assumed pod expired: its binding was never observed", "pod", key)
			}
		}
	}
}

func assigned(p *corev1.Pod) bool { return p.GetSpec().GetNodeName() != "" }

// responsible reports whether p is a pending pod this scheduler should place.
func (s *Scheduler) responsible(p *corev1.Pod) bool {
	return !assigned(p) && !helper.IsPodTerminal(p) && p.GetSpec().GetSchedulerName() == s.name &&
		p.GetMetadata().GetDeletionTimestamp() == nil
}

func (s *Scheduler) onPodAdd(p *corev1.Pod) {
	switch {
	case assigned(p):
		if !helper.IsPodTerminal(p) {
			s.cache.AddPod(p)
			s.queue.OnEvent(queue.AssignedPodAdded())
		}
	case s.responsible(p):
		s.queue.Add(p)
	}
}

func (s *Scheduler) onPodUpdate(old, cur *corev1.Pod) {
	switch {
	case assigned(cur):
		if !assigned(old) {
			s.queue.Delete(cur) // its binding landed
		}
		switch {
		case helper.IsPodTerminal(cur):
			s.cache.RemovePod(cur)
			if !helper.IsPodTerminal(old) {
				s.queue.OnEvent(queue.AssignedPodDeleted())
			}
		case assigned(old) && !helper.IsPodTerminal(old):
			s.cache.UpdatePod(old, cur)
			if ev, ok := queue.AssignedPodUpdated(old, cur); ok {
				s.queue.OnEvent(ev)
			}
		default:
			s.cache.AddPod(cur)
			s.queue.OnEvent(queue.AssignedPodAdded())
		}
	case s.responsible(cur):
		s.queue.Update(old, cur)
	default:
		s.queue.Delete(cur) // being deleted, finished, or not ours
	}
}

func (s *Scheduler) onPodDelete(p *corev1.Pod) {
	if assigned(p) {
		s.cache.RemovePod(p)
		s.queue.OnEvent(queue.AssignedPodDeleted())
		return
	}
	s.queue.Delete(p)
}

func (s *Scheduler) onNodeAdd(n *corev1.Node) {
	s.cache.AddNode(n)
	s.queue.OnEvent(queue.NodeAdded())
}

func (s *Scheduler) onNodeUpdate(old, cur *corev1.Node) {
	s.cache.UpdateNode(old, cur)
	if ev, ok := queue.NodeUpdated(old, cur); ok {
		s.queue.OnEvent(ev)
	}
}

// snapshot is the cluster as the next decision sees it.
func (s *Scheduler) snapshot() *framework.Snapshot {
	snap := &framework.Snapshot{Nodes: s.cache.Snapshot(), NamespaceLabels: s.namespaceLabels}
	for _, svc := range s.svcLister.List(nil) {
		if sel := svc.GetSpec().GetSelector(); len(sel) > 0 {
			snap.Services = append(snap.Services, framework.ServiceSelector{Namespace: svc.GetMetadata().GetNamespace(), Selector: sel})
		}
	}
	return snap
}

func (s *Scheduler) namespaceLabels(ns string) map[string]string {
	n, err := s.nsLister.Get("", ns)
	if err != nil {
		return nil
	}
	return n.GetMetadata().GetLabels()
}

// scheduleOne decides for one pod, assumes it and starts its binding.
func (s *Scheduler) scheduleOne(ctx context.Context, p *queue.QueuedPodInfo) {
	if s.cache.Has(p.UID) {
		// Placed meanwhile (bound by a previous leader, or already assumed).
		s.queue.Done(p.ID())
		return
	}
	start := s.now()
	res, err := s.algo.Schedule(p.PodInfo, s.snapshot())
	s.metrics.algorithmLatency.Observe(s.now().Sub(start).Seconds())
	if err != nil {
		s.failed(ctx, p, err, false)
		return
	}
	if err := s.cache.AssumePod(p.PodInfo, res.NodeName); err != nil {
		s.failed(ctx, p, fmt.Errorf("assume: %w", err), false)
		return
	}
	s.queue.Done(p.ID())
	s.log.Debug("assumed", "pod", p.Key(), "node", res.NodeName, "feasible", res.Feasible, "evaluated", res.Evaluated)
	s.async(ctx, func() { s.bind(ctx, p, res.NodeName) })
}

// async runs fn on the bounded pool of binding goroutines; it blocks while
// the pool is full, which paces decisions to what the apiserver takes.
func (s *Scheduler) async(ctx context.Context, fn func()) {
	select {
	case s.bindSem <- struct{}{}:
	case <-ctx.Done():
		fn() // let fn see the cancelled context and clean up
		return
	}
	s.inFlight.Add(1)
	go func() {
		defer s.inFlight.Done()
		defer func() { <-s.bindSem }()
		fn()
	}()
}

// bind writes the decision through the binding subresource.
func (s *Scheduler) bind(ctx context.Context, p *queue.QueuedPodInfo, node string) {
	pod := p.Pod
	md := pod.GetMetadata()
	start := s.now()
	binding := &corev1.Binding{
		ApiVersion: "v1", Kind: "Binding",
		Metadata: &metav1.ObjectMeta{Name: md.GetName(), Namespace: md.GetNamespace(), Uid: md.GetUid()},
		Target:   &corev1.ObjectReference{ApiVersion: "v1", Kind: "Node", Name: node},
	}
	err := s.client.Bind(ctx, md.GetNamespace(), md.GetName(), binding)
	s.metrics.bindingLatency.Observe(s.now().Sub(start).Seconds())
	if err != nil {
		s.cache.ForgetPod(p.UID)
		if ctx.Err() != nil {
			s.log.Info("binding abandoned: scheduling stopped", "pod", p.Key(), "node", node)
			return
		}
		s.failed(ctx, p, fmt.Errorf("binding rejected: %w", err), true)
		return
	}
	s.cache.FinishBinding(p.UID)
	s.metrics.attempts.WithLabelValues(resultScheduled).Inc()
	s.metrics.e2eLatency.WithLabelValues(resultScheduled).Observe(s.now().Sub(p.Added).Seconds())
	s.log.Debug("bound", "pod", p.Key(), "node", node, "attempts", p.Attempts)
	s.recorder.Eventf(pod, record.Normal, ReasonScheduled, "Successfully assigned %s/%s to %s", md.GetNamespace(), md.GetName(), node)
	// The binding does not touch status: a pod that was reported
	// unschedulable before gets PodScheduled=True here.
	if c := podScheduledCondition(pod); c != nil && c.GetStatus() != corev1.ConditionTrue {
		if err := s.setCondition(ctx, pod, corev1.ConditionTrue, "", ""); err != nil {
			s.log.Warn("could not set PodScheduled=True", "pod", p.Key(), "err", err)
		}
	}
}

// failed handles a pod that could not be placed: it goes back to the
// queue (unless it is gone or was placed meanwhile), and the failure is
// reported as a FailedScheduling event and a PodScheduled=False condition.
// onWorker is true on a binding goroutine, which writes the condition
// itself rather than wait for a free slot in the pool it occupies.
func (s *Scheduler) failed(ctx context.Context, p *queue.QueuedPodInfo, err error, onWorker bool) {
	var fitErr *framework.FitError
	reason, result := ConditionSchedulerError, resultError
	var rejectedBy map[string]bool
	if errors.As(err, &fitErr) {
		reason, result = ConditionUnschedulable, resultUnschedulable
		rejectedBy = fitErr.UnschedulablePlugins()
	}
	s.metrics.attempts.WithLabelValues(result).Inc()
	cur, gerr := s.podLister.Get(p.Namespace, p.Name)
	if gerr != nil || cur.GetMetadata().GetUid() != p.UID || !s.responsible(cur) {
		s.queue.Done(p.ID())
		s.log.Debug("pod gone or placed meanwhile, not requeued", "pod", p.Key())
		return
	}
	s.queue.AddUnschedulable(p, rejectedBy)
	msg := err.Error()
	if fitErr != nil {
		s.log.Info("pod unschedulable", "pod", p.Key(), "reason", msg, "attempts", p.Attempts)
	} else {
		s.log.Warn("scheduling failed", "pod", p.Key(), "err", err, "attempts", p.Attempts)
	}
	s.recorder.Eventf(cur, record.Warning, ReasonFailedScheduling, "%s", msg)
	write := func() {
		if err := s.setCondition(ctx, cur, corev1.ConditionFalse, reason, msg); err != nil && ctx.Err() == nil {
			s.log.Warn("could not set PodScheduled=False", "pod", p.Key(), "err", err)
		}
	}
	if onWorker {
		write()
		return
	}
	s.async(ctx, write)
}

func podScheduledCondition(p *corev1.Pod) *corev1.PodCondition {
	return helper.GetPodCondition(p, corev1.PodScheduled)
}

// setCondition writes PodScheduled with status/reason/message through the
// status subresource, re-reading on conflict. It writes nothing when the
// condition already says so, or (for False) once the pod is bound.
func (s *Scheduler) setCondition(ctx context.Context, pod *corev1.Pod, status, reason, message string) error {
	first := true
	return client.RetryOnConflict(ctx, client.Backoff{}, func() error {
		cur := pod
		if !first {
			var err error
			if cur, err = s.pods.Get(ctx, pod.GetMetadata().GetNamespace(), pod.GetMetadata().GetName()); err != nil {
				if apierrors.IsNotFound(err) {
					return nil
				}
				return err
			}
		}
		first = false
		if cur.GetMetadata().GetUid() != pod.GetMetadata().GetUid() || (status == corev1.ConditionFalse && assigned(cur)) {
			return nil
		}
		old := podScheduledCondition(cur)
		if old != nil && old.GetStatus() == status && old.GetReason() == reason && old.GetMessage() == message {
			return nil
		}
		next := proto.Clone(cur).(*corev1.Pod)
		if next.Status == nil {
			next.Status = &corev1.PodStatus{}
		}
		cond := &corev1.PodCondition{Type: "PodScheduled", Status: status, Reason: reason, Message: message,
			LastTransitionTime: timestamppb.New(s.now().Truncate(time.Second))}
		if old != nil && old.GetStatus() == status {
			cond.LastTransitionTime = old.GetLastTransitionTime()
		}
		replaced := false
		for i, c := range next.Status.Conditions {
			if c.GetType() == "PodScheduled" {
				next.Status.Conditions[i] = cond
				replaced = true
			}
		}
		if !replaced {
			next.Status.Conditions = append(next.Status.Conditions, cond)
		}
		_, err := s.pods.UpdateStatus(ctx, next)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}
