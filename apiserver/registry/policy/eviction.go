package policy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	policyv1 "minik8s/api/policy/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
)

// MessageViolation is Kubernetes' refusal of an eviction, which kubectl
// drain prints before it retries.
const MessageViolation = "Cannot evict pod as it would violate the pod's disruption budget."

// maxAttempts bounds the retries of a budget update that lost a race.
const maxAttempts = 5

// Eviction is the storage of pods/eviction: creating an Eviction deletes
// the pod gracefully (with the Eviction's deleteOptions), unless the
// PodDisruptionBudget selecting the pod allows no disruption now, which is
// 429 TooManyRequests. An allowed eviction takes one disruption from the
// budget and records the pod in its status.disruptedPods before the pod is
// deleted, so concurrent evictions (on any apiserver: the budget's
// resourceVersion decides) cannot both spend the last one. Pods that are
// not running yet, have ended or are being deleted are evicted without
// consulting budgets, as Kubernetes does.
type Eviction struct {
	Pods *generic.Resource
	// Budgets are the PodDisruptionBudgets (their status is written).
	Budgets *generic.Resource
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// mu orders this apiserver's evictions, so they do not make each
	// other retry.
	mu sync.Mutex
}

var _ rest.NamedCreater = (*Eviction)(nil)

// Kind implements rest.Storage.
func (e *Eviction) Kind() *scheme.Kind { return policyv1.EvictionKind }

func (e *Eviction) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// CreateNamed implements rest.NamedCreater: name is the pod's. It returns
// the Eviction.
func (e *Eviction) CreateNamed(ctx context.Context, ns, name string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	ev, ok := obj.(*policyv1.Eviction)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pods/eviction takes an Eviction, not %T", obj))
	}
	if n := ev.GetMetadata().GetName(); n != "" && n != name {
		return nil, apierrors.NewBadRequest("name in URL does not match name in Eviction object")
	}
	if n := ev.GetMetadata().GetNamespace(); n != "" && n != ns {
		return nil, apierrors.NewBadRequest("namespace in URL does not match namespace in Eviction object")
	}
	opts := ev.GetDeleteOptions()
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for attempt := 1; ; attempt++ {
		err := e.evict(ctx, ns, name, opts, o)
		if err == nil {
			out := proto.Clone(ev).(*policyv1.Eviction)
			scheme.Meta(out).Name, out.Metadata.Namespace = name, ns
			scheme.SetTypeMeta(out, policyv1.EvictionKind)
			return out, nil
		}
		if !apierrors.IsConflict(err) || attempt == maxAttempts {
			return nil, err
		}
	}
}

// evict is one attempt; Conflict means the budget changed meanwhile.
func (e *Eviction) evict(ctx context.Context, ns, name string, opts *metav1.DeleteOptions, o rest.WriteOptions) error {
	obj, err := e.Pods.Get(ctx, ns, name)
	if err != nil {
		return err
	}
	pod := obj.(*corev1.Pod)
	if ignoresBudgets(pod) || e.Budgets == nil {
		return e.delete(ctx, pod, opts, o)
	}
	list, err := e.Budgets.List(ctx, ns, rest.ListOptions{})
	if err != nil {
		return err
	}
	var pdbs []*policyv1.PodDisruptionBudget
	for _, it := range list.Items {
		if b := it.Object.(*policyv1.PodDisruptionBudget); Selects(b, pod) {
			pdbs = append(pdbs, b)
		}
	}
	switch len(pdbs) {
	case 0:
		return e.delete(ctx, pod, opts, o)
	case 1:
	default:
		return apierrors.NewInternal(fmt.Errorf("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
	}
	pdb := proto.Clone(pdbs[0]).(*policyv1.PodDisruptionBudget)
	pods, err := e.Pods.List(ctx, ns, rest.ListOptions{})
	if err != nil {
		return err
	}
	all := make([]*corev1.Pod, len(pods.Items))
	for i, it := range pods.Items {
		all[i] = it.Object.(*corev1.Pod)
	}
	now := e.now()
	st, err := ComputeStatus(pdb, all, now)
	if err != nil {
		return apierrors.NewInternal(fmt.Errorf("disruption budget %s: %w", pdb.GetMetadata().GetName(), err))
	}
	if !Ready(pod) {
		// An unhealthy pod does not count against the budget when the
		// budget is met, or always with the AlwaysAllow policy.
		if pdb.GetSpec().GetUnhealthyPodEvictionPolicy() == "AlwaysAllow" || st.CurrentHealthy >= st.DesiredHealthy {
			return e.delete(ctx, pod, opts, o)
		}
	}
	pdb.Status = st
	if st.DisruptionsAllowed <= 0 {
		if !o.DryRun {
			// Record what was seen, so kubectl get pdb says why.
			_, _ = e.Budgets.Store.Update(ctx, e.Budgets.K, ns, pdb, "status", rest.WriteOptions{})
		}
		err := apierrors.NewTooManyRequests(MessageViolation, 0)
		err.Status.Details.Causes = append(err.Status.Details.Causes, &metav1.StatusCause{Reason: "DisruptionBudget",
			Message: fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.GetMetadata().GetName(), st.DesiredHealthy, st.CurrentHealthy)})
		return err
	}
	st.DisruptionsAllowed--
	if st.DisruptionsAllowed == 0 {
		st.Conditions[0].Status, st.Conditions[0].Reason, st.Conditions[0].LastTransitionTime = "False", "InsufficientPods", timestamppb.New(now)
	}
	st.DisruptedPods[name] = timestamppb.New(now)
	if !o.DryRun {
		// The budget's resourceVersion is the read one: a concurrent
		// eviction that spent the disruption first makes this Conflict.
		if _, err := e.Budgets.Store.Update(ctx, e.Budgets.K, ns, pdb, "status", rest.WriteOptions{}); err != nil {
			return err
		}
	}
	return e.delete(ctx, pod, opts, o)
}

// ignoresBudgets: a pod that is not running yet, has ended or is already
// being deleted disrupts nothing.
func ignoresBudgets(pod *corev1.Pod) bool {
	switch pod.GetStatus().GetPhase() {
	case "Pending", "Succeeded", "Failed", "":
		return true
	}
	return pod.GetMetadata().GetDeletionTimestamp() != nil
}

// delete deletes the pod gracefully, only if it is still the pod that was
// judged (its uid), unless the caller gave preconditions of its own.
func (e *Eviction) delete(ctx context.Context, pod *corev1.Pod, opts *metav1.DeleteOptions, o rest.WriteOptions) error {
	opts = proto.Clone(opts).(*metav1.DeleteOptions)
	if opts.Preconditions == nil {
		opts.Preconditions = &metav1.Preconditions{Uid: pod.GetMetadata().GetUid()}
	}
	_, err := e.Pods.Delete(ctx, pod.GetMetadata().GetNamespace(), pod.GetMetadata().GetName(), opts, o)
	return err
}
