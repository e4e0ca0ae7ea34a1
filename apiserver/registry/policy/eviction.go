package policy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
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

// MaxDisruptedPods bounds status.disruptedPods: evictions the disruption
// controller has not confirmed yet beyond it are refused (Kubernetes' 2000).
const MaxDisruptedPods = 2000

// maxAttempts bounds the retries of a budget update that lost a race.
const maxAttempts = 5

// Eviction is the storage of pods/eviction: creating an Eviction deletes
// the pod gracefully (with the Eviction's deleteOptions), unless the
// PodDisruptionBudget selecting the pod allows no disruption now - its
// status.disruptionsAllowed, as the disruption controller
// (controller-manager/disruption) computed it, is 0, or that status is
// older than the budget - which is 429 TooManyRequests. An allowed
// eviction takes one disruption from the budget and records the pod in its
// status.disruptedPods (an update checked against the budget's
// resourceVersion) before the pod is deleted, so concurrent evictions (on
// any apiserver) cannot both spend the last one. Pods that are not running
// yet, have ended or are being deleted are evicted without consulting
// budgets, as Kubernetes does.
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
		if b := it.Object.(*policyv1.PodDisruptionBudget); policyv1.Selects(b, pod) {
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
	st := pdb.GetStatus()
	if pod.GetMetadata().GetDeletionTimestamp() != nil || !helper.IsPodReady(pod) {
		// An unhealthy pod does not count against the budget when the
		// budget is met, or always with the AlwaysAllow policy.
		if pdb.GetSpec().GetUnhealthyPodEvictionPolicy() == "AlwaysAllow" ||
			(st.GetCurrentHealthy() >= st.GetDesiredHealthy() && st.GetDesiredHealthy() > 0) {
			return e.delete(ctx, pod, opts, o)
		}
	}
	if err := checkBudget(pdb); err != nil {
		return err
	}
	if pdb.Status.DisruptedPods == nil {
		pdb.Status.DisruptedPods = map[string]*timestamppb.Timestamp{}
	}
	pdb.Status.DisruptionsAllowed--
	if pdb.Status.DisruptionsAllowed == 0 {
		now := timestamppb.New(e.now().Truncate(time.Second))
		for _, c := range pdb.Status.Conditions {
			if c.GetType() == policyv1.DisruptionAllowedCondition && c.GetStatus() != corev1.ConditionFalse {
				c.Status, c.Reason, c.Message, c.LastTransitionTime = corev1.ConditionFalse, policyv1.InsufficientPodsReason, "", now
			}
		}
	}
	pdb.Status.DisruptedPods[name] = timestamppb.New(e.now())
	if !o.DryRun {
		// The budget's resourceVersion is the read one: a concurrent
		// eviction that spent the disruption first makes this Conflict,
		// and the caller reads the budget again.
		if _, err := e.Budgets.Store.Update(ctx, e.Budgets.K, ns, pdb, "status", rest.WriteOptions{}); err != nil {
			return err
		}
	}
	return e.delete(ctx, pod, opts, o)
}

// checkBudget refuses an eviction the budget's status, as the disruption
// controller last computed it, does not allow: a status older than the
// budget's spec, or no disruption left, is 429 TooManyRequests as in
// Kubernetes (kubectl drain retries it).
func checkBudget(pdb *policyv1.PodDisruptionBudget) error {
	st, name := pdb.GetStatus(), pdb.GetMetadata().GetName()
	tooMany := func(retryAfter int32, cause string) error {
		err := apierrors.NewTooManyRequests(MessageViolation, retryAfter)
		if err.Status.Details == nil {
			err.Status.Details = &metav1.StatusDetails{}
		}
		err.Status.Details.Causes = append(err.Status.Details.Causes, &metav1.StatusCause{Reason: "DisruptionBudget", Message: cause})
		return err
	}
	switch {
	case st.GetObservedGeneration() < pdb.GetMetadata().GetGeneration():
		return tooMany(10, fmt.Sprintf("The disruption budget %s is still being processed by the server.", name))
	case st.GetDisruptionsAllowed() < 0:
		return apierrors.NewForbidden("poddisruptionbudget.policy", name, "pdb disruptions allowed is negative")
	case len(st.GetDisruptedPods()) > MaxDisruptedPods:
		return apierrors.NewForbidden("poddisruptionbudget.policy", name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller")
	case st.GetDisruptionsAllowed() == 0:
		return tooMany(0, fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", name, st.GetDesiredHealthy(), st.GetCurrentHealthy()))
	}
	return nil
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
