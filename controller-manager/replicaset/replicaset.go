// Package replicaset is the ReplicaSet controller and the replication
// manager (ReplicationController): one implementation over both kinds.
// Each keeps exactly spec.replicas active pods matching its selector,
// adopting matching orphans and releasing owned pods that stopped
// matching, prefers unscheduled, not-ready and newest pods on scale down,
// and reports replicas, fullyLabeledReplicas, readyReplicas,
// availableReplicas and observedGeneration.
package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/controller-manager/controller"
)

// BurstReplicas caps the pods created or deleted in one sync, so one huge
// scale does not starve the other controllers; the next sync continues.
const BurstReplicas = 500

// Config wires a Controller.
type Config[T scheme.Object] struct {
	Kind        Kind[T]
	API         controller.API[T]
	Pods        controller.API[*corev1.Pod]
	Informer    *informer.Informer[T]
	PodInformer *informer.Informer[*corev1.Pod]
	Recorder    controller.EventRecorder
	Metrics     *controller.Metrics
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Controller manages the pods of every object of kind T.
type Controller[T scheme.Object] struct {
	controller.Base
	kind       Kind[T]
	api        controller.API[T]
	pods       controller.API[*corev1.Pod]
	podControl controller.PodControl
	lister     *informer.Lister[T]
	podLister  *informer.Lister[*corev1.Pod]
	burst      int
}

// New returns a controller and registers its informer handlers.
func New[T scheme.Object](cfg Config[T]) *Controller[T] {
	c := &Controller[T]{
		Base: controller.NewBase(strings.ToLower(cfg.Kind.Kind()), cfg.Recorder, cfg.Metrics, cfg.Now),
		kind: cfg.Kind, api: cfg.API, pods: cfg.Pods, burst: BurstReplicas,
	}
	c.Sync = c.sync
	c.Log = slog.Default().With("controller", cfg.Kind.Component())
	c.podControl = controller.RealPodControl{Pods: cfg.Pods, Recorder: c.Recorder}
	c.lister = controller.Lister(&c.Base, cfg.Informer)
	c.podLister = controller.Lister(&c.Base, cfg.PodInformer)
	cfg.Informer.AddEventHandler(controller.EnqueueHandlers[T](&c.Base))
	cfg.PodInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	return c
}

func (c *Controller[T]) enqueue(o T) { c.Enqueue(o) }

// resolve returns the owner a controller reference names, if it is ours.
func (c *Controller[T]) resolve(namespace string, ref *metav1.OwnerReference) (T, bool) {
	return controller.Resolve(c.lister, c.kind.Kind(), namespace, ref)
}

// matching returns the objects in the pod's namespace whose selector
// matches the pod: the candidates to adopt an orphan.
func (c *Controller[T]) matching(pod *corev1.Pod) []T {
	var out []T
	for _, o := range c.lister.ListNamespace(pod.GetMetadata().GetNamespace(), nil) {
		sel, err := c.kind.Selector(o)
		if err == nil && sel.Matches(pod.GetMetadata().GetLabels()) {
			out = append(out, o)
		}
	}
	return out
}

func (c *Controller[T]) addPod(pod *corev1.Pod) {
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		// Seen for the first time already terminating (after a relist).
		c.deletePod(pod)
		return
	}
	if ref := controller.ControllerRefOf(pod); ref != nil {
		if o, ok := c.resolve(pod.GetMetadata().GetNamespace(), ref); ok {
			key := informer.KeyOf(o)
			c.Expectations.CreationObserved(key)
			c.Queue.Add(key)
		}
		return
	}
	for _, o := range c.matching(pod) {
		c.enqueue(o)
	}
}

func (c *Controller[T]) updatePod(old, cur *corev1.Pod) {
	if old.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion() {
		return // a resync: the owners' own resync covers it
	}
	labelsChanged := !maps.Equal(old.GetMetadata().GetLabels(), cur.GetMetadata().GetLabels())
	if cur.GetMetadata().GetDeletionTimestamp() != nil && old.GetMetadata().GetDeletionTimestamp() == nil {
		// Marked for deletion: its owner may replace it now rather than
		// after the grace period; count the deletion as observed.
		c.deletePod(cur)
		if labelsChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := controller.ControllerRefOf(cur), controller.ControllerRefOf(old)
	if oldRef != nil && (curRef == nil || oldRef.GetUid() != curRef.GetUid()) {
		if o, ok := c.resolve(old.GetMetadata().GetNamespace(), oldRef); ok {
			c.enqueue(o)
		}
	}
	if curRef != nil {
		if o, ok := c.resolve(cur.GetMetadata().GetNamespace(), curRef); ok {
			c.enqueue(o)
			// A pod that just became ready becomes available after
			// minReadySeconds; look again then.
			if mrs := c.kind.MinReadySeconds(o); mrs > 0 && !controller.IsPodReady(old) && controller.IsPodReady(cur) {
				c.Queue.AddAfter(informer.KeyOf(o), time.Duration(mrs)*time.Second+time.Second)
			}
		}
		return
	}
	if labelsChanged || oldRef != nil {
		for _, o := range c.matching(cur) {
			c.enqueue(o)
		}
	}
}

func (c *Controller[T]) deletePod(pod *corev1.Pod) {
	ref := controller.ControllerRefOf(pod)
	if ref == nil {
		return
	}
	if o, ok := c.resolve(pod.GetMetadata().GetNamespace(), ref); ok {
		key := informer.KeyOf(o)
		c.Expectations.DeletionObserved(key, controller.PodKey(pod))
		c.Queue.Add(key)
	}
}

// sync reconciles one object: claim its pods, create or delete pods to
// reach spec.replicas (unless earlier creates or deletes are still
// unobserved), then write status.
func (c *Controller[T]) sync(ctx context.Context, key string) error {
	ns, name := informer.SplitKey(key)
	cached, err := c.lister.Get(ns, name)
	if apierrors.IsNotFound(err) {
		c.Expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	obj := cached
	sel, err := c.kind.Selector(obj)
	if err != nil {
		c.Recorder.Eventf(obj, controller.EventWarning, "InvalidSelector", "Invalid selector: %v", err)
		return nil // nothing will fix it but an edit, which enqueues again
	}
	needsSync := c.Expectations.Satisfied(key) && obj.GetMetadata().GetDeletionTimestamp() == nil

	claimer := &controller.Claimer[*corev1.Pod]{
		API: c.pods, Owner: obj, APIVersion: c.kind.APIVersion(), Kind: c.kind.Kind(), Selector: sel,
		CanAdopt: controller.RecheckOwner[T](c.api, obj),
	}
	all := c.podLister.ListNamespace(ns, nil)
	candidates := make([]*corev1.Pod, 0, len(all))
	for _, p := range all {
		if controller.IsPodActive(p) {
			candidates = append(candidates, p)
		}
	}
	pods, claimErr := claimer.Claim(ctx, candidates)

	var manageErr error
	if needsSync {
		manageErr = c.manageReplicas(ctx, key, obj, pods)
	}
	st := c.calculateStatus(obj, pods, manageErr)
	if err := c.updateStatus(ctx, obj, st); err != nil {
		return errors.Join(manageErr, claimErr, err)
	}
	if manageErr == nil && claimErr == nil {
		if mrs := c.kind.MinReadySeconds(obj); mrs > 0 && st.ReadyReplicas == c.kind.Replicas(obj) && st.AvailableReplicas != st.ReadyReplicas {
			c.Queue.AddAfter(key, time.Duration(mrs)*time.Second)
		}
	}
	return errors.Join(manageErr, claimErr)
}

// manageReplicas creates or deletes pods so that len(pods) reaches the
// desired replicas, at most burst per sync, with expectations set first
// so the pods' watch events are awaited before the next decision.
func (c *Controller[T]) manageReplicas(ctx context.Context, key string, obj T, pods []*corev1.Pod) error {
	diff := len(pods) - int(c.kind.Replicas(obj))
	md := obj.GetMetadata()
	switch {
	case diff < 0:
		n := min(-diff, c.burst)
		c.Expectations.ExpectCreations(key, n)
		c.Log.Debug("too few replicas", "key", key, "need", c.kind.Replicas(obj), "creating", n)
		ref := controller.NewControllerRef(obj, c.kind.APIVersion(), c.kind.Kind())
		template := c.kind.Template(obj)
		ok, err := controller.SlowStartBatch(n, 1, func(int) error {
			pod := controller.PodFromTemplate(template, md.GetNamespace(), controller.GenerateNamePrefix(md.GetName()), ref)
			_, err := c.podControl.CreatePod(ctx, pod, obj)
			if err != nil && apierrors.IsForbidden(err) && isNamespaceTerminating(err) {
				return nil // the namespace is going away: nothing to do
			}
			return err
		})
		// Creates that failed or never ran will not show up as pods.
		for range n - ok {
			c.Expectations.CreationObserved(key)
		}
		if err != nil {
			return fmt.Errorf("create pods for %s %s: %w", c.kind.Kind(), key, err)
		}
	case diff > 0:
		n := min(diff, c.burst)
		victims := controller.PodsToDelete(pods, n)
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = controller.PodKey(p)
		}
		c.Expectations.ExpectDeletions(key, keys)
		c.Log.Debug("too many replicas", "key", key, "need", c.kind.Replicas(obj), "deleting", n)
		var wg sync.WaitGroup
		errs := make([]error, len(victims))
		for i, p := range victims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.podControl.DeletePod(ctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), obj); err != nil {
					c.Expectations.DeletionObserved(key, keys[i])
					errs[i] = err
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("delete pods of %s %s: %w", c.kind.Kind(), key, err)
		}
	}
	return nil
}

func isNamespaceTerminating(err error) bool {
	var se *apierrors.StatusError
	return errors.As(err, &se) && strings.Contains(se.Status.GetMessage(), "because it is being terminated")
}

// calculateStatus counts the claimed pods.
func (c *Controller[T]) calculateStatus(obj T, pods []*corev1.Pod, manageErr error) Status {
	now := c.Now()
	tmplLabels := c.kind.Template(obj).GetMetadata().GetLabels()
	full := labels.SelectorFromSet(tmplLabels)
	st := Status{Replicas: int32(len(pods)), ObservedGeneration: obj.GetMetadata().GetGeneration()}
	for _, p := range pods {
		if full.Matches(p.GetMetadata().GetLabels()) {
			st.FullyLabeledReplicas++
		}
		if controller.IsPodReady(p) {
			st.ReadyReplicas++
			if controller.IsPodAvailable(p, c.kind.MinReadySeconds(obj), now) {
				st.AvailableReplicas++
			}
		}
	}
	prev := c.kind.Status(obj)
	switch {
	case manageErr != nil && int(c.kind.Replicas(obj)) > len(pods):
		st.Failure, st.FailureReason = manageErr.Error(), "FailedCreate"
	case manageErr != nil && int(c.kind.Replicas(obj)) < len(pods):
		st.Failure, st.FailureReason = manageErr.Error(), "FailedDelete"
	case manageErr != nil:
		st.Failure, st.FailureReason = prev.Failure, prev.FailureReason
	}
	return st
}

// updateStatus writes st unless the object already has it.
func (c *Controller[T]) updateStatus(ctx context.Context, obj T, st Status) error {
	if c.kind.Status(obj) == st {
		return nil
	}
	ts := timestamppb.New(c.Now())
	_, err := controller.UpdateStatus(ctx, c.api, obj, func(cur T) bool {
		// Never claim a generation newer than the object written.
		st.ObservedGeneration = min(st.ObservedGeneration, cur.GetMetadata().GetGeneration())
		c.kind.SetStatus(cur, st, ts)
		return true
	})
	return controller.IgnoreNotFound(err)
}
