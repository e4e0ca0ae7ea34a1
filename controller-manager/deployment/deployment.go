// Package deployment is the Deployment controller: it keeps one
// ReplicaSet per pod template (named after the template's hash), rolls
// from the old ones to the new one with RollingUpdate (within maxSurge
// and maxUnavailable) or Recreate, scales proportionally in the middle of
// a rollout, keeps revisionHistoryLimit old ReplicaSets for rollbacks,
// honours spec.paused and reports the Progressing and Available
// conditions with progressDeadlineSeconds.
package deployment

import (
	"context"
	"fmt"
	"log/slog"
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
const Component = "deployment-controller"

// Config wires a Controller.
type Config struct {
	Deployments controller.API[*appsv1.Deployment]
	ReplicaSets controller.API[*appsv1.ReplicaSet]
	DInformer   *informer.Informer[*appsv1.Deployment]
	RSInformer  *informer.Informer[*appsv1.ReplicaSet]
	PodInformer *informer.Informer[*corev1.Pod]
	Recorder    controller.EventRecorder
	Metrics     *controller.Metrics
	Now         func() time.Time
}

// Controller runs Deployments.
type Controller struct {
	controller.Base
	dAPI     controller.API[*appsv1.Deployment]
	rsAPI    controller.API[*appsv1.ReplicaSet]
	dLister  *informer.Lister[*appsv1.Deployment]
	rsLister *informer.Lister[*appsv1.ReplicaSet]
	pods     *informer.Informer[*corev1.Pod]
}

// New returns a controller and registers its handlers (and the pod index
// by controller uid).
func New(cfg Config) *Controller {
	c := &Controller{Base: controller.NewBase("deployment", cfg.Recorder, cfg.Metrics, cfg.Now), dAPI: cfg.Deployments, rsAPI: cfg.ReplicaSets, pods: cfg.PodInformer}
	c.Sync = c.sync
	c.Log = slog.Default().With("controller", Component)
	c.dLister = controller.Lister(&c.Base, cfg.DInformer)
	c.rsLister = controller.Lister(&c.Base, cfg.RSInformer)
	c.WaitFor(cfg.PodInformer.HasSynced)
	cfg.PodInformer.AddIndexer(controller.ControllerUIDIndex, controller.IndexByControllerUID[*corev1.Pod])
	cfg.DInformer.AddEventHandler(informer.HandlerFuncs[*appsv1.Deployment]{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, d *appsv1.Deployment) { c.enqueue(d) },
		DeleteFunc: c.enqueue,
	})
	cfg.RSInformer.AddEventHandler(informer.HandlerFuncs[*appsv1.ReplicaSet]{
		AddFunc: c.rsChanged,
		UpdateFunc: func(old, cur *appsv1.ReplicaSet) {
			if old.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion() {
				return
			}
			if oldRef, curRef := controller.ControllerRefOf(old), controller.ControllerRefOf(cur); oldRef != nil && (curRef == nil || curRef.GetUid() != oldRef.GetUid()) {
				c.rsChanged(old)
			}
			c.rsChanged(cur)
		},
		DeleteFunc: c.rsChanged,
	})
	// Pod changes move the counts rollouts are decided on (see podCount).
	podChanged := func(p *corev1.Pod) {
		if d := c.deploymentOfPod(p); d != nil {
			c.enqueue(d)
		}
	}
	cfg.PodInformer.AddEventHandler(controller.OnChange(podChanged))
	return c
}

func (c *Controller) enqueue(d *appsv1.Deployment) { c.Enqueue(d) }

func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.Deployment {
	d, _ := controller.Resolve(c.dLister, "Deployment", ns, ref)
	return d
}

func (c *Controller) rsChanged(rs *appsv1.ReplicaSet) {
	ns := rs.GetMetadata().GetNamespace()
	if ref := controller.ControllerRefOf(rs); ref != nil {
		if d := c.resolve(ns, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	// An orphan: the deployments that may adopt it.
	for _, d := range c.dLister.ListNamespace(ns, nil) {
		sel, err := labels.FromLabelSelector(d.GetSpec().GetSelector())
		if err == nil && !sel.Empty() && sel.Matches(rs.GetMetadata().GetLabels()) {
			c.enqueue(d)
		}
	}
}

func (c *Controller) deploymentOfPod(p *corev1.Pod) *appsv1.Deployment {
	rs, ok := controller.ControllerOf(c.rsLister, "ReplicaSet", p)
	if !ok {
		return nil
	}
	return c.resolve(rs.GetMetadata().GetNamespace(), controller.ControllerRefOf(rs))
}

// podCount returns the pods a ReplicaSet has or will have - the larger
// of its replicas and its active pods in the cache (deletions it has made
// but the cache has not seen yet still count) - and how many of those are
// available, at most its replicas (pods it is about to delete do not
// count as available). Deciding on these rather than on the ReplicaSets'
// statuses, which lag behind the pods, keeps a rollout within maxSurge
// and maxUnavailable at every moment.
func (c *Controller) podCount(rs *appsv1.ReplicaSet, minReadySeconds int32) (current, available int32) {
	if rs == nil {
		return 0, 0
	}
	pods, _ := c.pods.ByIndex(controller.ControllerUIDIndex, rs.GetMetadata().GetUid())
	now := c.Now()
	var active, avail int32
	for _, p := range pods {
		if !controller.IsPodActive(p) {
			continue
		}
		active++
		if controller.IsPodAvailable(p, minReadySeconds, now) {
			avail++
		}
	}
	spec := RSReplicas(rs)
	return max(spec, active), min(avail, spec)
}

// sync reconciles one deployment.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name := informer.SplitKey(key)
	cached, err := c.dLister.Get(ns, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	s := &syncState{c: c, d: cloneD(cached), orig: proto.Clone(statusOrEmpty(cached)).(*appsv1.DeploymentStatus)}
	d := s.d
	sel, err := labels.FromLabelSelector(d.GetSpec().GetSelector())
	if err != nil || sel.Empty() {
		c.Recorder.Eventf(d, controller.EventWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if err == nil {
			s.d.Status = statusOrEmpty(d)
			s.d.Status.ObservedGeneration = d.Metadata.Generation
			return s.writeStatusIfChanged(ctx, s.orig)
		}
		return nil
	}
	rsList, err := s.claimReplicaSets(ctx, sel)
	if err != nil {
		return err
	}
	s.rsList = rsList
	if d.Metadata.DeletionTimestamp != nil {
		return s.syncStatusOnly(ctx)
	}
	if err := s.checkPausedConditions(ctx); err != nil {
		return err
	}
	if d.Spec.Paused {
		return s.syncScaleOnly(ctx)
	}
	if s.isScalingEvent() {
		return s.syncScaleOnly(ctx)
	}
	if d.GetSpec().GetStrategy().GetType() == RecreateStrategy {
		return s.rolloutRecreate(ctx)
	}
	return s.rolloutRolling(ctx)
}

// claimReplicaSets adopts and releases ReplicaSets for the deployment.
func (s *syncState) claimReplicaSets(ctx context.Context, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	all := s.c.rsLister.ListNamespace(s.d.Metadata.Namespace, nil)
	cl := &controller.Claimer[*appsv1.ReplicaSet]{
		API: s.c.rsAPI, Owner: s.d, APIVersion: "apps/v1", Kind: "Deployment", Selector: sel,
		CanAdopt: controller.RecheckOwner[*appsv1.Deployment](s.c.dAPI, s.d),
	}
	claimed, err := cl.Claim(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("claim replica sets of %s/%s: %w", s.d.Metadata.Namespace, s.d.Metadata.Name, err)
	}
	return claimed, nil
}
