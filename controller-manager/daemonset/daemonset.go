// Package daemonset is the DaemonSet controller: one pod per eligible
// node (nodeSelector, required node affinity, taints and tolerations),
// created when a node joins or becomes eligible and deleted when it
// leaves or stops being eligible, with RollingUpdate replacing pods of an
// old template node by node within maxUnavailable.
package daemonset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/labels"
	"minik8s/controller-manager/controller"
)

// Component is the event source of this controller.
const Component = "daemonset-controller"

// HashLabel carries the template hash on daemon pods.
const HashLabel = "controller-revision-hash"

// Config wires a Controller.
type Config struct {
	DaemonSets   controller.API[*appsv1.DaemonSet]
	Pods         controller.API[*corev1.Pod]
	DSInformer   *informer.Informer[*appsv1.DaemonSet]
	NodeInformer *informer.Informer[*corev1.Node]
	PodInformer  *informer.Informer[*corev1.Pod]
	Recorder     controller.EventRecorder
	Metrics      *controller.Metrics
	Now          func() time.Time
}

// Controller runs DaemonSets.
type Controller struct {
	controller.Base
	api        controller.API[*appsv1.DaemonSet]
	pods       controller.API[*corev1.Pod]
	podControl controller.PodControl
	dsLister   *informer.Lister[*appsv1.DaemonSet]
	nodes      *informer.Lister[*corev1.Node]
	podLister  *informer.Lister[*corev1.Pod]
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	c := &Controller{Base: controller.NewBase("daemonset", cfg.Recorder, cfg.Metrics, cfg.Now), api: cfg.DaemonSets, pods: cfg.Pods}
	c.Sync = c.sync
	c.podControl = controller.RealPodControl{Pods: cfg.Pods, Recorder: c.Recorder}
	c.dsLister = controller.Lister(&c.Base, cfg.DSInformer)
	c.nodes = controller.Lister(&c.Base, cfg.NodeInformer)
	c.podLister = controller.Lister(&c.Base, cfg.PodInformer)
	enqueue := func(ds *appsv1.DaemonSet) { c.Enqueue(ds) }
	cfg.DSInformer.AddEventHandler(informer.HandlerFuncs[*appsv1.DaemonSet]{
		AddFunc: enqueue, UpdateFunc: func(_, ds *appsv1.DaemonSet) { enqueue(ds) },
		DeleteFunc: func(ds *appsv1.DaemonSet) { c.Expectations.Delete(informer.KeyOf(ds)) },
	})
	all := func() {
		for _, ds := range c.dsLister.List(nil) {
			enqueue(ds)
		}
	}
	cfg.NodeInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Node]{
		AddFunc: func(*corev1.Node) { all() },
		UpdateFunc: func(old, cur *corev1.Node) {
			if !maps.Equal(old.GetMetadata().GetLabels(), cur.GetMetadata().GetLabels()) ||
				!proto.Equal(&corev1.NodeSpec{Taints: old.GetSpec().GetTaints()}, &corev1.NodeSpec{Taints: cur.GetSpec().GetTaints()}) ||
				(old.GetMetadata().GetDeletionTimestamp() == nil) != (cur.GetMetadata().GetDeletionTimestamp() == nil) {
				all()
			}
		},
		DeleteFunc: func(*corev1.Node) { all() },
	})
	cfg.PodInformer.AddEventHandler(c.OwnedPodEvents(controller.OwnerKey(c.dsLister, "DaemonSet")))
	return c
}

// TemplateHash is the hash that marks pods of the DaemonSet's current template.
func TemplateHash(ds *appsv1.DaemonSet) string {
	return controller.ComputeHash(ds.GetSpec().GetTemplate(), collisions(ds))
}

// Actions is what one sync decided.
type Actions struct {
	Create []string      // node names that need a pod
	Delete []*corev1.Pod // pods to delete
}

// Plan decides, for the pods a DaemonSet owns, which nodes need a pod and
// which pods must go: pods on nodes that should not run it, extra pods on
// a node (the oldest is kept), failed pods, and - for a rolling update -
// old-template pods within maxUnavailable (unavailable ones first). Pure:
// tested on fixed inputs.
func Plan(ds *appsv1.DaemonSet, nodes []*corev1.Node, pods []*corev1.Pod, hash string, now time.Time) Actions {
	var p Actions
	byNode := map[string][]*corev1.Pod{}
	for _, pod := range pods {
		byNode[pod.GetSpec().GetNodeName()] = append(byNode[pod.GetSpec().GetNodeName()], pod)
	}
	spec := ds.GetSpec().GetTemplate().GetSpec()
	known := map[string]bool{}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].GetMetadata().GetName() < nodes[j].GetMetadata().GetName() })
	var desired int
	var old []*corev1.Pod // old-template pods on eligible nodes
	unavailable := 0
	for _, n := range nodes {
		name := n.GetMetadata().GetName()
		known[name] = true
		onNode := byNode[name]
		if !ShouldRun(n, spec) {
			for _, pod := range onNode {
				if pod.GetMetadata().GetDeletionTimestamp() == nil {
					p.Delete = append(p.Delete, pod)
				}
			}
			continue
		}
		desired++
		var live []*corev1.Pod
		for _, pod := range onNode {
			switch {
			case pod.GetMetadata().GetDeletionTimestamp() != nil:
			case pod.GetStatus().GetPhase() == corev1.PodFailed:
				p.Delete = append(p.Delete, pod) // recreated next round
			default:
				live = append(live, pod)
			}
		}
		if len(live) == 0 {
			// A terminating pod is let go first (it may hold host ports).
			if !anyTerminating(onNode) {
				p.Create = append(p.Create, name)
			}
			unavailable++
			continue
		}
		sort.Slice(live, func(i, j int) bool {
			return live[i].GetMetadata().GetCreationTimestamp().AsTime().Before(live[j].GetMetadata().GetCreationTimestamp().AsTime())
		})
		p.Delete = append(p.Delete, live[1:]...)
		keep := live[0]
		if !controller.IsPodAvailable(keep, ds.GetSpec().GetMinReadySeconds(), now) {
			unavailable++
		}
		if keep.GetMetadata().GetLabels()[HashLabel] != hash {
			old = append(old, keep)
		}
	}
	// Pods on nodes that are gone.
	for name, onNode := range byNode {
		if known[name] {
			continue
		}
		for _, pod := range onNode {
			if pod.GetMetadata().GetDeletionTimestamp() == nil {
				p.Delete = append(p.Delete, pod)
			}
		}
	}
	if ds.GetSpec().GetUpdateStrategy().GetType() != "OnDelete" && len(p.Create) == 0 && len(old) > 0 {
		maxUnavailable, err := controller.ScaledValue(ds.GetSpec().GetUpdateStrategy().GetRollingUpdate().GetMaxUnavailable(), desired, true, 1)
		if err != nil || maxUnavailable < 1 {
			maxUnavailable = 1
		}
		budget := maxUnavailable - unavailable
		sort.SliceStable(old, func(i, j int) bool {
			return !controller.IsPodAvailable(old[i], ds.GetSpec().GetMinReadySeconds(), now) && controller.IsPodAvailable(old[j], ds.GetSpec().GetMinReadySeconds(), now)
		})
		for _, pod := range old {
			if !controller.IsPodAvailable(pod, ds.GetSpec().GetMinReadySeconds(), now) {
				p.Delete = append(p.Delete, pod) // already down: replacing costs nothing
				continue
			}
			if budget <= 0 {
				break
			}
			p.Delete = append(p.Delete, pod)
			budget--
		}
	}
	return p
}

func anyTerminating(pods []*corev1.Pod) bool {
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			return true
		}
	}
	return false
}

// newPod builds the daemon pod for a node: bound to it directly (no
// scheduler needed), with the default tolerations and the hash label.
func newPod(ds *appsv1.DaemonSet, node, hash string) *corev1.Pod {
	pod := controller.PodFromTemplate(ds.GetSpec().GetTemplate(), ds.GetMetadata().GetNamespace(),
		controller.GenerateNamePrefix(ds.GetMetadata().GetName()), controller.NewControllerRef(ds, "apps/v1", "DaemonSet"))
	if pod.Metadata.Labels == nil {
		pod.Metadata.Labels = map[string]string{}
	}
	pod.Metadata.Labels[HashLabel] = hash
	pod.Spec.NodeName = node
	pod.Spec.Tolerations = withDefaultTolerations(pod.Spec.Tolerations)
	return pod
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name := informer.SplitKey(key)
	ds, err := c.dsLister.Get(ns, name)
	if apierrors.IsNotFound(err) {
		c.Expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := labels.FromLabelSelector(ds.GetSpec().GetSelector())
	if err != nil || sel.Empty() {
		c.Recorder.Eventf(ds, controller.EventWarning, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	claimer := &controller.Claimer[*corev1.Pod]{API: c.pods, Owner: ds, APIVersion: "apps/v1", Kind: "DaemonSet", Selector: sel,
		CanAdopt: controller.RecheckOwner[*appsv1.DaemonSet](c.api, ds)}
	pods, claimErr := claimer.Claim(ctx, c.podLister.ListNamespace(ns, nil))
	hash := TemplateHash(ds)
	nodes := c.nodes.List(nil)
	p := Plan(ds, nodes, pods, hash, c.Now())
	var manageErr error
	if c.Expectations.Satisfied(key) && ds.GetMetadata().GetDeletionTimestamp() == nil {
		manageErr = c.manage(ctx, key, ds, p, hash)
	}
	if err := c.updateStatus(ctx, ds, nodes, pods, hash); err != nil {
		return errors.Join(claimErr, manageErr, err)
	}
	return errors.Join(claimErr, manageErr)
}

func (c *Controller) manage(ctx context.Context, key string, ds *appsv1.DaemonSet, p Actions, hash string) error {
	var errs []error
	if len(p.Create) > 0 {
		c.Expectations.ExpectCreations(key, len(p.Create))
		ok, err := controller.SlowStartBatch(len(p.Create), 1, func(i int) error {
			_, err := c.podControl.CreatePod(ctx, newPod(ds, p.Create[i], hash), ds)
			return err
		})
		for range len(p.Create) - ok {
			c.Expectations.CreationObserved(key)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("create daemon pods of %s: %w", key, err))
		}
	}
	if len(p.Delete) > 0 {
		keys := make([]string, len(p.Delete))
		for i, pod := range p.Delete {
			keys[i] = controller.PodKey(pod)
		}
		if len(p.Create) == 0 {
			c.Expectations.ExpectDeletions(key, keys)
		}
		var wg sync.WaitGroup
		derrs := make([]error, len(p.Delete))
		for i, pod := range p.Delete {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.podControl.DeletePod(ctx, pod.Metadata.Namespace, pod.Metadata.Name, ds); err != nil {
					c.Expectations.DeletionObserved(key, keys[i])
					derrs[i] = err
				}
			}()
		}
		wg.Wait()
		errs = append(errs, derrs...)
	}
	return errors.Join(errs...)
}

func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, pods []*corev1.Pod, hash string) error {
	now := c.Now()
	st := &appsv1.DaemonSetStatus{ObservedGeneration: ds.GetMetadata().GetGeneration(), CollisionCount: collisions(ds),
		Conditions: ds.GetStatus().GetConditions()}
	byNode := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() == nil {
			byNode[p.GetSpec().GetNodeName()] = append(byNode[p.GetSpec().GetNodeName()], p)
		}
	}
	for _, n := range nodes {
		onNode := byNode[n.GetMetadata().GetName()]
		should := ShouldRun(n, ds.GetSpec().GetTemplate().GetSpec())
		if should {
			st.DesiredNumberScheduled++
		}
		if len(onNode) == 0 {
			continue
		}
		if !should {
			st.NumberMisscheduled++
			continue
		}
		st.CurrentNumberScheduled++
		pod := onNode[0]
		if controller.IsPodReady(pod) {
			st.NumberReady++
			if controller.IsPodAvailable(pod, ds.GetSpec().GetMinReadySeconds(), now) {
				st.NumberAvailable++
			}
		}
		if pod.GetMetadata().GetLabels()[HashLabel] == hash {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = max(st.DesiredNumberScheduled-st.NumberAvailable, 0)
	if proto.Equal(st, ds.GetStatus()) {
		return nil
	}
	_, err := controller.UpdateStatus(ctx, c.api, ds, func(cur *appsv1.DaemonSet) bool {
		cur.Status = st
		return true
	})
	return controller.IgnoreNotFound(err)
}

// collisions is status.collisionCount, nil when unset or without status.
func collisions(o *appsv1.DaemonSet) *int32 {
	if o.GetStatus() == nil {
		return nil
	}
	return o.GetStatus().CollisionCount
}
