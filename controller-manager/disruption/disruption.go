// Package disruption is the disruption controller: it keeps each
// PodDisruptionBudget's status (expected, desired and currently healthy
// pods, how many disruptions are allowed now, the pods evicted but not yet
// deleting, the DisruptionAllowed condition) computed from the pods the
// budget selects and the scale of their controllers, as Kubernetes'
// pkg/controller/disruption does. The eviction subresource (apiserver)
// reads that status and spends its disruptions.
package disruption

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	policyv1 "minik8s/api/policy/v1"
	"minik8s/controller-manager/controller"
)

// Component is the event source of this controller.
const Component = "controllermanager"

// DeletionTimeout is how long a pod the eviction subresource recorded in
// status.disruptedPods stays out of the healthy count while its deletion
// has not started (Kubernetes' two minutes); after it the pod counts
// again.
const DeletionTimeout = 2 * time.Minute

// Config wires a Controller. The workload informers resolve the pods'
// controllers for their scale; a nil one leaves that kind unresolved.
type Config struct {
	Budgets                       controller.API[*policyv1.PodDisruptionBudget]
	BudgetInformer                *informer.Informer[*policyv1.PodDisruptionBudget]
	PodInformer                   *informer.Informer[*corev1.Pod]
	ReplicationControllerInformer *informer.Informer[*corev1.ReplicationController]
	ReplicaSetInformer            *informer.Informer[*appsv1.ReplicaSet]
	DeploymentInformer            *informer.Informer[*appsv1.Deployment]
	StatefulSetInformer           *informer.Informer[*appsv1.StatefulSet]
	Recorder                      controller.EventRecorder
	Metrics                       *controller.Metrics
	Now                           func() time.Time
}

// Controller keeps PodDisruptionBudget statuses.
type Controller struct {
	controller.Base
	api     controller.API[*policyv1.PodDisruptionBudget]
	budgets *informer.Lister[*policyv1.PodDisruptionBudget]
	pods    *informer.Lister[*corev1.Pod]
	scales  Scales
}

// New returns a controller and registers its handlers: a budget is
// synced when it changes and when a pod it selects changes.
func New(cfg Config) *Controller {
	c := &Controller{Base: controller.NewBase("disruption", cfg.Recorder, cfg.Metrics, cfg.Now), api: cfg.Budgets}
	c.Sync = c.sync
	c.budgets = controller.Lister(&c.Base, cfg.BudgetInformer)
	c.pods = controller.Lister(&c.Base, cfg.PodInformer)
	if cfg.ReplicationControllerInformer != nil {
		c.scales.ReplicationControllers = controller.Lister(&c.Base, cfg.ReplicationControllerInformer)
	}
	if cfg.ReplicaSetInformer != nil {
		c.scales.ReplicaSets = controller.Lister(&c.Base, cfg.ReplicaSetInformer)
	}
	if cfg.DeploymentInformer != nil {
		c.scales.Deployments = controller.Lister(&c.Base, cfg.DeploymentInformer)
	}
	if cfg.StatefulSetInformer != nil {
		c.scales.StatefulSets = controller.Lister(&c.Base, cfg.StatefulSetInformer)
	}
	cfg.BudgetInformer.AddEventHandler(controller.EnqueueHandlers[*policyv1.PodDisruptionBudget](&c.Base))
	cfg.PodInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		AddFunc:    c.enqueueBudgetsOf,
		UpdateFunc: func(old, cur *corev1.Pod) { c.enqueueBudgetsOf(old); c.enqueueBudgetsOf(cur) },
		DeleteFunc: c.enqueueBudgetsOf,
	})
	return c
}

// enqueueBudgetsOf queues the budgets selecting pod.
func (c *Controller) enqueueBudgetsOf(pod *corev1.Pod) {
	for _, b := range c.budgets.ListNamespace(pod.GetMetadata().GetNamespace(), labels.Everything()) {
		if policyv1.Selects(b, pod) {
			c.Enqueue(b)
		}
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name := informer.SplitKey(key)
	pdb, err := c.budgets.Get(ns, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var pods []*corev1.Pod
	if sel, err := labels.FromLabelSelector(pdb.GetSpec().GetSelector()); err == nil && pdb.GetSpec().GetSelector() != nil {
		pods = c.pods.ListNamespace(ns, sel)
	}
	if len(pods) == 0 {
		c.Recorder.Eventf(pdb, controller.EventNormal, "NoPods", "No matching pods found")
	}
	now := c.Now()
	st, recheck, err := Compute(pdb, pods, c.scales, now)
	if err != nil {
		// Kubernetes' fail-safe: allow nothing and say why, then retry.
		c.Recorder.Eventf(pdb, controller.EventWarning, "CalculateExpectedPodCountFailed", "Failed to calculate the number of expected pods: %v", err)
		if uerr := c.write(ctx, pdb, FailSafe(pdb, err, now)); uerr != nil {
			return errors.Join(err, uerr)
		}
		return err
	}
	if err := c.write(ctx, pdb, st); err != nil {
		return err
	}
	if !recheck.IsZero() {
		c.Queue.AddAfter(key, recheck.Sub(now))
	}
	return nil
}

// write stores st as pdb's status unless it is already the stored one.
func (c *Controller) write(ctx context.Context, pdb *policyv1.PodDisruptionBudget, st *policyv1.PodDisruptionBudgetStatus) error {
	if proto.Equal(pdb.GetStatus(), st) {
		return nil
	}
	next := proto.Clone(pdb).(*policyv1.PodDisruptionBudget)
	next.Status = st
	_, err := c.api.UpdateStatus(ctx, next)
	return err
}

// Scales finds the scale of the controllers of pods, from the caches of
// the kinds Kubernetes' disruption controller knows.
type Scales struct {
	ReplicationControllers *informer.Lister[*corev1.ReplicationController]
	ReplicaSets            *informer.Lister[*appsv1.ReplicaSet]
	Deployments            *informer.Lister[*appsv1.Deployment]
	StatefulSets           *informer.Lister[*appsv1.StatefulSet]
}

// scaleOf returns the uid and spec.replicas of the controller of pod: a
// ReplicationController, a Deployment (through the ReplicaSet it owns), a
// ReplicaSet of no Deployment, or a StatefulSet.
func (s Scales) scaleOf(pod *corev1.Pod) (uid string, replicas int32, err error) {
	ref := controller.ControllerRefOf(pod)
	if ref == nil {
		return "", 0, fmt.Errorf("found no controller ref for pod %q", pod.GetMetadata().GetName())
	}
	ns := pod.GetMetadata().GetNamespace()
	switch {
	case ref.GetKind() == "ReplicationController" && s.ReplicationControllers != nil:
		if rc, ok := controller.Resolve(s.ReplicationControllers, ref.GetKind(), ns, ref); ok {
			return rc.GetMetadata().GetUid(), replicasOr1(rc.GetSpec().Replicas), nil
		}
	case ref.GetKind() == "ReplicaSet" && s.ReplicaSets != nil:
		rs, ok := controller.Resolve(s.ReplicaSets, ref.GetKind(), ns, ref)
		if !ok {
			break
		}
		if dref := controller.ControllerRefOf(rs); dref != nil && dref.GetKind() == "Deployment" {
			if s.Deployments != nil {
				if d, ok := controller.Resolve(s.Deployments, "Deployment", ns, dref); ok {
					return d.GetMetadata().GetUid(), replicasOr1(d.GetSpec().Replicas), nil
				}
			}
			break
		}
		return rs.GetMetadata().GetUid(), replicasOr1(rs.GetSpec().Replicas), nil
	case ref.GetKind() == "StatefulSet" && s.StatefulSets != nil:
		if ss, ok := controller.Resolve(s.StatefulSets, ref.GetKind(), ns, ref); ok {
			return ss.GetMetadata().GetUid(), replicasOr1(ss.GetSpec().Replicas), nil
		}
	}
	return "", 0, fmt.Errorf("found no controllers for pod %q", pod.GetMetadata().GetName())
}

// replicasOr1 is spec.replicas with its API default.
func replicasOr1(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// expectedScale sums the scale of the distinct controllers of pods.
func (s Scales) expectedScale(pods []*corev1.Pod) (int32, error) {
	seen := map[string]bool{}
	var total int32
	for _, p := range pods {
		uid, n, err := s.scaleOf(p)
		if err != nil {
			return 0, err
		}
		if !seen[uid] {
			seen[uid] = true
			total += n
		}
	}
	return total, nil
}

// Compute is pdb's status for the pods it selects at now, as Kubernetes'
// disruption controller computes it:
//
//   - minAvailable as a number: expectedPods is the number of selected
//     pods and desiredHealthy that number;
//   - minAvailable as a percentage, or maxUnavailable: expectedPods is the
//     summed scale of the pods' controllers (an error when a pod has none
//     the controller knows), desiredHealthy the percentage of it rounded
//     up, or expectedPods less maxUnavailable (rounded up);
//   - currentHealthy counts the Ready pods that are not being deleted and
//     not in disruptedPods (evicted less than DeletionTimeout ago);
//   - disruptionsAllowed is currentHealthy - desiredHealthy, 0 when that
//     is negative or nothing is expected; the DisruptionAllowed condition
//     says whether it is positive.
//
// recheck, when not zero, is when the oldest disruptedPods entry expires
// and the budget must be computed again.
func Compute(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, scales Scales, now time.Time) (st *policyv1.PodDisruptionBudgetStatus, recheck time.Time, err error) {
	spec := pdb.GetSpec()
	var expected, desired int32
	switch {
	case spec.GetMaxUnavailable() != nil:
		if expected, err = scales.expectedScale(pods); err != nil {
			return nil, time.Time{}, err
		}
		u, err := controller.ScaledValue(spec.GetMaxUnavailable(), int(expected), true, 0)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("spec.maxUnavailable: %w", err)
		}
		desired = max(expected-int32(u), 0)
	case spec.GetMinAvailable() != nil:
		if spec.GetMinAvailable().GetType() == 0 {
			desired, expected = spec.GetMinAvailable().GetIntVal(), int32(len(pods))
			break
		}
		if expected, err = scales.expectedScale(pods); err != nil {
			return nil, time.Time{}, err
		}
		m, err := controller.ScaledValue(spec.GetMinAvailable(), int(expected), true, 0)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("spec.minAvailable: %w", err)
		}
		desired = int32(m)
	}

	disrupted, recheck := disruptedPods(pdb, pods, now)
	var healthy int32
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		if _, ok := disrupted[p.GetMetadata().GetName()]; ok {
			continue
		}
		if controller.IsPodReady(p) {
			healthy++
		}
	}
	allowed := healthy - desired
	if expected <= 0 || allowed < 0 {
		allowed = 0
	}
	st = &policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: pdb.GetMetadata().GetGeneration(),
		DisruptedPods:      disrupted,
		DisruptionsAllowed: allowed,
		CurrentHealthy:     healthy,
		DesiredHealthy:     desired,
		ExpectedPods:       expected,
	}
	cond := &metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: corev1.ConditionTrue, Reason: policyv1.SufficientPodsReason}
	if allowed == 0 {
		cond.Status, cond.Reason = corev1.ConditionFalse, policyv1.InsufficientPodsReason
	}
	st.Conditions = setCondition(pdb.GetStatus().GetConditions(), cond, st.ObservedGeneration, now)
	return st, recheck, nil
}

// FailSafe is the status Kubernetes writes when the budget cannot be
// computed: no disruption allowed, the condition False with reason
// SyncFailed and the error, the rest as last computed.
func FailSafe(pdb *policyv1.PodDisruptionBudget, cause error, now time.Time) *policyv1.PodDisruptionBudgetStatus {
	st := proto.Clone(pdb.GetStatus()).(*policyv1.PodDisruptionBudgetStatus)
	if st == nil {
		st = &policyv1.PodDisruptionBudgetStatus{}
	}
	st.DisruptionsAllowed = 0
	cond := &metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: corev1.ConditionFalse, Reason: policyv1.SyncFailedReason, Message: cause.Error()}
	st.Conditions = setCondition(st.GetConditions(), cond, st.GetObservedGeneration(), now)
	return st
}

// setCondition puts cond into conds, keeping the transition time when the
// status did not change, as meta.SetStatusCondition does.
func setCondition(conds []*metav1.Condition, cond *metav1.Condition, generation int64, now time.Time) []*metav1.Condition {
	cond.ObservedGeneration = generation
	cond.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
	out := make([]*metav1.Condition, 0, len(conds)+1)
	replaced := false
	for _, c := range conds {
		if c.GetType() != cond.Type {
			out = append(out, proto.Clone(c).(*metav1.Condition))
			continue
		}
		if c.GetStatus() == cond.Status && c.GetLastTransitionTime() != nil {
			cond.LastTransitionTime = c.LastTransitionTime
		}
		out, replaced = append(out, cond), true
	}
	if !replaced {
		out = append(out, cond)
	}
	return out
}

// disruptedPods keeps the entries of pdb's disruptedPods whose pod is
// still selected, not yet deleting, and evicted less than DeletionTimeout
// ago; recheck is when the first kept entry expires.
func disruptedPods(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (map[string]*timestamppb.Timestamp, time.Time) {
	old := pdb.GetStatus().GetDisruptedPods()
	if len(old) == 0 {
		return nil, time.Time{}
	}
	out := map[string]*timestamppb.Timestamp{}
	var recheck time.Time
	for _, p := range pods {
		name := p.GetMetadata().GetName()
		at, ok := old[name]
		if !ok || p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		expires := at.AsTime().Add(DeletionTimeout)
		if !expires.After(now) {
			continue // the eviction did not delete it: count it again
		}
		out[name] = at
		if recheck.IsZero() || expires.Before(recheck) {
			recheck = expires
		}
	}
	if len(out) == 0 {
		return nil, time.Time{}
	}
	return out, recheck
}
