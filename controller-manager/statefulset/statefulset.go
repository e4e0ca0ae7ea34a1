// Package statefulset is the StatefulSet controller: pods with stable
// names NAME-0 .. NAME-(replicas-1), each with hostname and subdomain
// (the headless serviceName) so it has a stable DNS name; with the
// OrderedReady policy they are created one at a time in ordinal order,
// each only after the previous is Running and Ready, and removed in
// reverse order; with Parallel all at once. A RollingUpdate replaces pods
// of an old template from the highest ordinal down to the partition, one
// at a time.
package statefulset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/controller"
)

// Component is the event source of this controller.
const Component = "statefulset-controller"

// Labels the controller puts on its pods.
const (
	PodNameLabel  = "statefulset.kubernetes.io/pod-name"
	PodIndexLabel = "apps.kubernetes.io/pod-index"
	RevisionLabel = "controller-revision-hash"
)

// Config wires a Controller.
type Config struct {
	StatefulSets controller.API[*appsv1.StatefulSet]
	Pods         controller.API[*corev1.Pod]
	SetInformer  *informer.Informer[*appsv1.StatefulSet]
	PodInformer  *informer.Informer[*corev1.Pod]
	Recorder     controller.EventRecorder
	Metrics      *controller.Metrics
	Now          func() time.Time
}

// Controller runs StatefulSets.
type Controller struct {
	controller.Base
	api       controller.API[*appsv1.StatefulSet]
	pods      controller.API[*corev1.Pod]
	sets      *informer.Lister[*appsv1.StatefulSet]
	podLister *informer.Lister[*corev1.Pod]
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	c := &Controller{Base: controller.NewBase("statefulset", cfg.Recorder, cfg.Metrics, cfg.Now), api: cfg.StatefulSets, pods: cfg.Pods}
	c.Sync = c.sync
	c.sets = controller.Lister(&c.Base, cfg.SetInformer)
	c.podLister = controller.Lister(&c.Base, cfg.PodInformer)
	enqueue := func(s *appsv1.StatefulSet) { c.Enqueue(s) }
	cfg.SetInformer.AddEventHandler(informer.HandlerFuncs[*appsv1.StatefulSet]{
		AddFunc: enqueue, UpdateFunc: func(_, s *appsv1.StatefulSet) { enqueue(s) },
	})
	podChanged := func(p *corev1.Pod) {
		ref := controller.ControllerRefOf(p)
		if ref == nil || ref.GetKind() != "StatefulSet" {
			// An orphan may be adopted by a set whose selector matches.
			if ref == nil {
				for _, s := range c.sets.ListNamespace(p.GetMetadata().GetNamespace(), nil) {
					if sel, err := labels.FromLabelSelector(s.GetSpec().GetSelector()); err == nil && !sel.Empty() && sel.Matches(p.GetMetadata().GetLabels()) {
						enqueue(s)
					}
				}
			}
			return
		}
		if s, ok := controller.Resolve(c.sets, "StatefulSet", p.GetMetadata().GetNamespace(), ref); ok {
			enqueue(s)
		}
	}
	cfg.PodInformer.AddEventHandler(controller.OnChange(podChanged))
	return c
}

// Ordinal parses the ordinal of a pod of set name, or -1.
func Ordinal(set string, pod *corev1.Pod) int {
	rest, ok := strings.CutPrefix(pod.GetMetadata().GetName(), set+"-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}

// Revision is the name of the set's current template revision.
func Revision(s *appsv1.StatefulSet) string {
	return s.GetMetadata().GetName() + "-" + controller.ComputeHash(s.GetSpec().GetTemplate(), collisions(s))
}

func replicasOf(s *appsv1.StatefulSet) int {
	if r := s.GetSpec().Replicas; r != nil {
		return int(*r)
	}
	return 1
}

func runningAndReady(p *corev1.Pod) bool {
	return p.GetStatus().GetPhase() == corev1.PodRunning && controller.IsPodReady(p)
}

func terminating(p *corev1.Pod) bool { return p.GetMetadata().GetDeletionTimestamp() != nil }

// Actions is what one step of a StatefulSet does.
type Actions struct {
	Create []int         // ordinals
	Delete []*corev1.Pod // pods
}

// Plan decides the next step for a set whose pods are given by ordinal
// (pods beyond replicas included). Pure: tested on fixed inputs.
func Plan(s *appsv1.StatefulSet, byOrdinal map[int]*corev1.Pod, updateRevision string) Actions {
	var a Actions
	replicas := replicasOf(s)
	ordered := s.GetSpec().GetPodManagementPolicy() != "Parallel"
	healthy := true
	for i := range replicas {
		p := byOrdinal[i]
		switch {
		case p == nil:
			a.Create = append(a.Create, i)
			healthy = false
		case terminating(p):
			healthy = false
		case p.GetStatus().GetPhase() == corev1.PodFailed || p.GetStatus().GetPhase() == corev1.PodSucceeded:
			a.Delete = append(a.Delete, p) // replaced next round, same name
			healthy = false
		case !runningAndReady(p):
			healthy = false
		default:
			continue
		}
		if ordered {
			break // one at a time, in order
		}
	}
	if ordered && !healthy {
		return a
	}
	// Condemned pods: beyond replicas, highest first.
	var condemned []int
	for i, p := range byOrdinal {
		if i >= replicas && p != nil {
			condemned = append(condemned, i)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(condemned)))
	for _, i := range condemned {
		p := byOrdinal[i]
		if terminating(p) {
			if ordered {
				return a
			}
			continue
		}
		a.Delete = append(a.Delete, p)
		if ordered {
			return a
		}
	}
	if !healthy || len(a.Create) > 0 || len(a.Delete) > 0 || len(condemned) > 0 {
		return a
	}
	// Rolling update: one pod of an old revision, from the top down to the partition.
	if s.GetSpec().GetUpdateStrategy().GetType() == "OnDelete" {
		return a
	}
	partition := int(s.GetSpec().GetUpdateStrategy().GetRollingUpdate().GetPartition())
	for i := replicas - 1; i >= partition; i-- {
		if p := byOrdinal[i]; p != nil && p.GetMetadata().GetLabels()[RevisionLabel] != updateRevision {
			a.Delete = append(a.Delete, p)
			break
		}
	}
	return a
}

// NewPod builds the pod of ordinal i.
func NewPod(s *appsv1.StatefulSet, i int, revision string) *corev1.Pod {
	name := fmt.Sprintf("%s-%d", s.GetMetadata().GetName(), i)
	pod := controller.PodFromTemplate(s.GetSpec().GetTemplate(), s.GetMetadata().GetNamespace(), "", controller.NewControllerRef(s, "apps/v1", "StatefulSet"))
	pod.Metadata.Name = name
	l := maps.Clone(pod.Metadata.Labels)
	if l == nil {
		l = map[string]string{}
	}
	l[PodNameLabel], l[PodIndexLabel], l[RevisionLabel] = name, strconv.Itoa(i), revision
	pod.Metadata.Labels = l
	pod.Spec.Hostname = name
	if svc := s.GetSpec().GetServiceName(); svc != "" {
		pod.Spec.Subdomain = svc
	}
	return pod
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name := informer.SplitKey(key)
	s, err := c.sets.Get(ns, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := labels.FromLabelSelector(s.GetSpec().GetSelector())
	if err != nil || sel.Empty() {
		c.Recorder.Eventf(s, controller.EventWarning, "SelectingAll", "This statefulset is selecting all pods. A non-empty selector is required.")
		return nil
	}
	claimer := &controller.Claimer[*corev1.Pod]{API: c.pods, Owner: s, APIVersion: "apps/v1", Kind: "StatefulSet", Selector: sel,
		CanAdopt: controller.RecheckOwner[*appsv1.StatefulSet](c.api, s)}
	var candidates []*corev1.Pod
	for _, p := range c.podLister.ListNamespace(ns, nil) {
		if Ordinal(name, p) >= 0 {
			candidates = append(candidates, p)
		}
	}
	pods, claimErr := claimer.Claim(ctx, candidates)
	byOrdinal := map[int]*corev1.Pod{}
	for _, p := range pods {
		byOrdinal[Ordinal(name, p)] = p
	}
	rev := Revision(s)
	var actErr error
	if s.GetMetadata().GetDeletionTimestamp() == nil {
		actErr = c.act(ctx, s, Plan(s, byOrdinal, rev), rev)
	}
	if err := c.updateStatus(ctx, s, pods, rev); err != nil {
		return errors.Join(claimErr, actErr, err)
	}
	return errors.Join(claimErr, actErr)
}

func (c *Controller) act(ctx context.Context, s *appsv1.StatefulSet, a Actions, rev string) error {
	var errs []error
	for _, i := range a.Create {
		pod := NewPod(s, i, rev)
		_, err := c.pods.Create(ctx, pod)
		switch {
		case err == nil:
			c.Recorder.Eventf(s, controller.EventNormal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", pod.Metadata.Name, s.Metadata.Name)
		case apierrors.IsAlreadyExists(err):
			// Created before; the cache has not seen it yet.
		case apierrors.IsForbidden(err):
			return nil // namespace terminating
		default:
			c.Recorder.Eventf(s, controller.EventWarning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", pod.Metadata.Name, s.Metadata.Name, err)
			errs = append(errs, fmt.Errorf("create pod %s: %w", pod.Metadata.Name, err))
		}
	}
	for _, p := range a.Delete {
		_, err := c.pods.Delete(ctx, p.Metadata.Namespace, p.Metadata.Name, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{Uid: p.Metadata.Uid}})
		switch {
		case err == nil:
			c.Recorder.Eventf(s, controller.EventNormal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", p.Metadata.Name, s.Metadata.Name)
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		default:
			c.Recorder.Eventf(s, controller.EventWarning, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %v", p.Metadata.Name, s.Metadata.Name, err)
			errs = append(errs, fmt.Errorf("delete pod %s: %w", p.Metadata.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) updateStatus(ctx context.Context, s *appsv1.StatefulSet, pods []*corev1.Pod, rev string) error {
	now := c.Now()
	st := &appsv1.StatefulSetStatus{ObservedGeneration: s.GetMetadata().GetGeneration(), UpdateRevision: rev,
		CurrentRevision: s.GetStatus().GetCurrentRevision(), CollisionCount: collisions(s), Conditions: s.GetStatus().GetConditions()}
	if st.CurrentRevision == "" {
		st.CurrentRevision = rev
	}
	for _, p := range pods {
		if terminating(p) {
			continue
		}
		st.Replicas++
		if controller.IsPodReady(p) {
			st.ReadyReplicas++
			if controller.IsPodAvailable(p, s.GetSpec().GetMinReadySeconds(), now) {
				st.AvailableReplicas++
			}
		}
		switch p.GetMetadata().GetLabels()[RevisionLabel] {
		case rev:
			st.UpdatedReplicas++
		case st.CurrentRevision:
			st.CurrentReplicas++
		}
	}
	if st.CurrentRevision == rev {
		st.CurrentReplicas = st.UpdatedReplicas
	}
	// Every replica at the new revision and ready: it becomes current.
	if st.UpdatedReplicas == int32(replicasOf(s)) && st.ReadyReplicas == st.UpdatedReplicas {
		st.CurrentRevision, st.CurrentReplicas = rev, st.UpdatedReplicas
	}
	if proto.Equal(st, s.GetStatus()) {
		return nil
	}
	_, err := controller.UpdateStatus(ctx, c.api, s, func(cur *appsv1.StatefulSet) bool {
		cur.Status = st
		return true
	})
	return controller.IgnoreNotFound(err)
}

// collisions is status.collisionCount, nil when unset or without status.
func collisions(o *appsv1.StatefulSet) *int32 {
	if o.GetStatus() == nil {
		return nil
	}
	return o.GetStatus().CollisionCount
}
