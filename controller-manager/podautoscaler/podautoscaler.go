// Package podautoscaler is the HorizontalPodAutoscaler controller. Every
// sync period it reads each autoscaler's target (a Deployment, ReplicaSet
// or StatefulSet), lists the target's pods by its selector, reads their
// cpu and memory usage from the stats summaries of the kubelets hosting
// them (through the apiserver's node proxy), and sets the target's
// spec.replicas to what the metrics ask for - within minReplicas and
// maxReplicas, damped by the tolerance, the stabilization windows and the
// scaling policies of spec.behavior - reporting in the autoscaler's
// status, its conditions and events what it saw and did.
//
// The replica arithmetic is pure (replicas.go, behavior.go); this file is
// the informer + work queue + sync around it.
package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	autoscalingv2 "minik8s/api/autoscaling/v2"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/labels"
	"minik8s/api/resource"
	"minik8s/api/workqueue"
	"minik8s/controller-manager/controller"
)

// Component is the event source of the controller, as Kubernetes names it.
const Component = "horizontal-pod-autoscaler"

// Condition types of an autoscaler.
const (
	AbleToScale    = "AbleToScale"
	ScalingActive  = "ScalingActive"
	ScalingLimited = "ScalingLimited"
)

// HPA is the kind this controller manages.
type HPA = autoscalingv2.HorizontalPodAutoscaler

// Config wires a Controller; zero durations take the Kubernetes defaults.
type Config struct {
	HPAs        controller.API[*HPA]
	HPAInformer *informer.Informer[*HPA]
	PodInformer *informer.Informer[*corev1.Pod]
	Targets     Targets
	Stats       StatsSource
	Recorder    controller.EventRecorder
	Metrics     *controller.Metrics

	// SyncPeriod is how often every autoscaler is evaluated (15s).
	SyncPeriod time.Duration
	// DownscaleStabilization is the scale-down window of autoscalers
	// whose behavior does not set one (5m).
	DownscaleStabilization time.Duration
	// Tolerance is how far usage/target may stray from 1 without a
	// change (0.1); negative means the default.
	Tolerance float64
	// CPUInitializationPeriod and InitialReadinessDelay decide which
	// pods' CPU is still start-up noise (5m and 30s); see Classify.
	CPUInitializationPeriod time.Duration
	InitialReadinessDelay   time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Controller scales the targets of every HorizontalPodAutoscaler.
type Controller struct {
	cfg       Config
	lister    *informer.Lister[*HPA]
	podLister *informer.Lister[*corev1.Pod]
	synced    []func() bool
	queue     *workqueue.Queue[string]
	scalers   map[string]scaler
	stats     *statsReader
	log       *slog.Logger

	mu        sync.Mutex
	histories map[string]*History
}

// New returns a controller and registers its informer handlers.
func New(cfg Config) *Controller {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Recorder == nil {
		cfg.Recorder = controller.NopRecorder{}
	}
	if cfg.SyncPeriod <= 0 {
		cfg.SyncPeriod = 15 * time.Second
	}
	if cfg.DownscaleStabilization < 0 {
		cfg.DownscaleStabilization = 5 * time.Minute
	}
	if cfg.Tolerance < 0 {
		cfg.Tolerance = 0.1
	}
	c := &Controller{
		cfg:       cfg,
		lister:    cfg.HPAInformer.Lister(),
		podLister: cfg.PodInformer.Lister(),
		synced:    []func() bool{cfg.HPAInformer.HasSynced, cfg.PodInformer.HasSynced},
		queue:     controller.NewQueue(),
		scalers:   cfg.Targets.scalers(),
		stats:     &statsReader{src: cfg.Stats, ttl: min(cfg.SyncPeriod/2, 5*time.Second), now: cfg.Now},
		log:       slog.Default().With("controller", "horizontalpodautoscaling"),
		histories: map[string]*History{},
	}
	cfg.HPAInformer.AddEventHandler(informer.HandlerFuncs[*HPA]{
		AddFunc: func(h *HPA) { c.queue.Add(informer.KeyOf(h)) },
		UpdateFunc: func(old, cur *HPA) {
			// Our own status writes come back as updates; only a spec
			// change is worth an evaluation before the next period.
			if old.GetMetadata().GetGeneration() != cur.GetMetadata().GetGeneration() || !proto.Equal(old.GetSpec(), cur.GetSpec()) {
				c.queue.Add(informer.KeyOf(cur))
			}
		},
		DeleteFunc: func(h *HPA) { c.queue.Add(informer.KeyOf(h)) },
	})
	return c
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.synced...) {
		return
	}
	controller.Loop{Name: "horizontalpodautoscaling", Queue: c.queue, Workers: workers, Sync: c.sync, Metrics: c.cfg.Metrics, Log: c.log}.Run(ctx)
}

// history returns the autoscaler's memory, empty the first time.
func (c *Controller) history(key string) *History {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.histories[key]
	if !ok {
		h = &History{}
		c.histories[key] = h
	}
	return h
}

func (c *Controller) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.histories, key)
}

// sync evaluates one autoscaler and schedules its next evaluation one
// period later. Problems with the target or the metrics are reported in
// status and events and wait for that next period rather than the
// queue's fast back-off: they rarely fix themselves within milliseconds.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name := informer.SplitKey(key)
	cached, err := c.lister.Get(ns, name)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	defer c.queue.AddAfter(key, c.cfg.SyncPeriod)
	if cached.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	hpa := proto.Clone(cached).(*HPA)
	return c.reconcile(ctx, key, hpa)
}

func (c *Controller) reconcile(ctx context.Context, key string, hpa *HPA) error {
	now := c.cfg.Now()
	orig := proto.Clone(hpa.GetStatus()).(*autoscalingv2.HorizontalPodAutoscalerStatus)
	if hpa.Status == nil {
		hpa.Status = &autoscalingv2.HorizontalPodAutoscalerStatus{}
	}
	st := hpa.Status
	gen := hpa.GetMetadata().GetGeneration()
	st.ObservedGeneration = &gen
	spec := hpa.GetSpec()
	ref := spec.GetScaleTargetRef()
	ns := hpa.GetMetadata().GetNamespace()

	sc, err := scalerFor(c.scalers, ref.GetApiVersion(), ref.GetKind())
	var target scale
	if err == nil {
		target, err = sc.get(ctx, ns, ref.GetName())
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.cfg.Recorder.Event(hpa, controller.EventWarning, "FailedGetScale", err.Error())
		setCondition(st, now, AbleToScale, "False", "FailedGetScale", "the HPA controller was unable to get the target's current scale: "+err.Error())
		return c.writeStatus(ctx, hpa, orig)
	}
	setCondition(st, now, AbleToScale, "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale")

	current := target.replicas
	minReplicas := int32(1)
	if spec.MinReplicas != nil {
		minReplicas = spec.GetMinReplicas()
	}
	maxReplicas := spec.GetMaxReplicas()
	h := c.history(key)
	if h.Empty() {
		// A fresh start remembers the current size as if recommended
		// now, so the first evaluations cannot scale down at once.
		h.Recommend(now, current)
	}
	behavior := BehaviorFor(spec.GetBehavior(), c.cfg.DownscaleStabilization)

	var desired int32
	var reason string
	var statuses []*autoscalingv2.MetricStatus
	switch {
	case current == 0 && minReplicas != 0:
		// Scaled to zero by hand: the autoscaler stands aside.
		desired = 0
		setCondition(st, now, ScalingActive, "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
	case current > maxReplicas:
		desired, reason = maxReplicas, "Current number of replicas above Spec.MaxReplicas"
		setCondition(st, now, ScalingLimited, "True", "TooManyReplicas", "the desired replica count is more than the maximum replica count")
	case current < minReplicas:
		desired, reason = minReplicas, "Current number of replicas below Spec.MinReplicas"
		setCondition(st, now, ScalingLimited, "True", "TooFewReplicas", "the desired replica count is less than the minimum replica count")
	default:
		proposal, metricName, sts, err := c.replicasForMetrics(ctx, hpa, target, current, now)
		statuses = sts
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			st.CurrentReplicas, st.CurrentMetrics = current, statuses
			c.cfg.Recorder.Event(hpa, controller.EventWarning, "FailedComputeMetricsReplicas", err.Error())
			return c.writeStatus(ctx, hpa, orig)
		}
		switch {
		case proposal > current:
			reason = metricName + " above target"
		case proposal < current:
			reason = "All metrics below target"
		}
		d := h.Normalize(now, behavior, current, proposal, minReplicas, maxReplicas)
		setCondition(st, now, AbleToScale, "True", d.AbleReason, d.AbleMessage)
		limited := "False"
		if d.Limited {
			limited = "True"
		}
		setCondition(st, now, ScalingLimited, limited, d.LimitedReason, d.LimitedMessage)
		desired = d.Replicas
	}

	if desired != current {
		if err := sc.set(ctx, ns, ref.GetName(), desired); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.cfg.Recorder.Eventf(hpa, controller.EventWarning, "FailedRescale", "New size: %d; reason: %s; error: %v", desired, reason, err)
			setCondition(st, now, AbleToScale, "False", "FailedUpdateScale", "the HPA controller was unable to update the target scale: "+err.Error())
			st.CurrentReplicas, st.CurrentMetrics = current, statuses
			if werr := c.writeStatus(ctx, hpa, orig); werr != nil {
				return errors.Join(err, werr)
			}
			return fmt.Errorf("rescale %s %s/%s to %d: %w", ref.GetKind(), ns, ref.GetName(), desired, err)
		}
		setCondition(st, now, AbleToScale, "True", "SucceededRescale", fmt.Sprintf("the HPA controller was able to update the target scale to %d", desired))
		c.cfg.Recorder.Eventf(hpa, controller.EventNormal, "SuccessfulRescale", "New size: %d; reason: %s", desired, reason)
		c.log.Info("rescaled", "hpa", key, "target", ref.GetKind()+"/"+ref.GetName(), "from", current, "to", desired, "reason", reason)
		h.RecordScale(now, behavior, current, desired)
		st.LastScaleTime = timestamppb.New(now)
	} else {
		desired = current
	}
	st.CurrentReplicas, st.DesiredReplicas, st.CurrentMetrics = current, desired, statuses
	return c.writeStatus(ctx, hpa, orig)
}

// replicasForMetrics proposes the size the metrics ask for: the largest
// proposal of any metric. A metric that cannot be computed is reported
// (event and condition) and skipped, unless every metric failed or the
// working ones would scale down - the broken one might have asked for more.
func (c *Controller) replicasForMetrics(ctx context.Context, hpa *HPA, target scale, current int32, now time.Time) (int32, string, []*autoscalingv2.MetricStatus, error) {
	st := hpa.Status
	specs := hpa.GetSpec().GetMetrics()
	statuses := make([]*autoscalingv2.MetricStatus, len(specs))
	for i := range statuses {
		statuses[i] = &autoscalingv2.MetricStatus{}
	}
	if target.selector == nil || (len(target.selector.GetMatchLabels()) == 0 && len(target.selector.GetMatchExpressions()) == 0) {
		msg := "selector is required"
		c.cfg.Recorder.Event(hpa, controller.EventWarning, "SelectorRequired", msg)
		setCondition(st, now, ScalingActive, "False", "InvalidSelector", "the HPA target's scale is missing a selector")
		return -1, "", statuses, errors.New(msg)
	}
	sel, err := labels.FromLabelSelector(target.selector)
	if err != nil {
		msg := fmt.Sprintf("couldn't convert selector into a corresponding internal selector object: %v", err)
		c.cfg.Recorder.Event(hpa, controller.EventWarning, "InvalidSelector", msg)
		setCondition(st, now, ScalingActive, "False", "InvalidSelector", msg)
		return -1, "", statuses, errors.New(msg)
	}
	pods := c.podLister.ListNamespace(hpa.GetMetadata().GetNamespace(), sel)
	var used map[string]usage
	var fetchErr error
	if len(pods) > 0 && c.cfg.Stats != nil {
		var errs []error
		used, errs = c.stats.podUsage(ctx, pods)
		fetchErr = fetchError(errs)
	}

	best, bestName := int32(-1), ""
	invalid := 0
	var firstErr error
	var firstCond [2]string
	for i, m := range specs {
		n, name, ms, reason, err := c.replicasForMetric(m, pods, used, fetchErr, current, now)
		if err != nil {
			if invalid == 0 {
				firstErr = err
				firstCond = [2]string{reason, "the HPA was unable to compute the replica count: " + err.Error()}
			}
			invalid++
			c.cfg.Recorder.Event(hpa, controller.EventWarning, reason, err.Error())
			continue
		}
		statuses[i] = ms
		if n > best {
			best, bestName = n, name
		}
	}
	if len(specs) == 0 {
		firstErr, firstCond = errors.New("no metrics to scale on"), [2]string{"InvalidMetricSourceType", "the HPA has no metrics"}
		invalid = 1
	}
	if invalid >= max(len(specs), 1) || (invalid > 0 && best < current) {
		setCondition(st, now, ScalingActive, "False", firstCond[0], firstCond[1])
		return -1, "", statuses, fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %w", invalid, len(specs), firstErr)
	}
	setCondition(st, now, ScalingActive, "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count from "+bestName)
	return best, bestName, statuses, nil
}

// replicasForMetric computes one metric's proposal and status; on error
// it returns the reason of the event and condition.
func (c *Controller) replicasForMetric(m *autoscalingv2.MetricSpec, pods []*corev1.Pod, used map[string]usage, fetchErr error,
	current int32, now time.Time) (int32, string, *autoscalingv2.MetricStatus, string, error) {
	switch m.GetType() {
	case "Resource":
	case "Pods":
		return 0, "", nil, "FailedGetPodsMetric", fmt.Errorf("unable to get metric %s: no custom metrics API is served in this cluster", m.GetPods().GetMetric().GetName())
	default:
		return 0, "", nil, "InvalidMetricSourceType", fmt.Errorf("invalid metric source type %q", m.GetType())
	}
	const reason = "FailedGetResourceMetric"
	res := m.GetResource().GetName()
	t := m.GetResource().GetTarget()
	if res != "cpu" && res != "memory" {
		return 0, "", nil, reason, fmt.Errorf("failed to get %s usage: unable to get metrics for resource %s: kubelets report only cpu and memory", res, res)
	}
	what := res + " utilization"
	if t.GetType() == "AverageValue" {
		what = res + " usage"
	}
	if len(pods) == 0 {
		return 0, "", nil, reason, fmt.Errorf("failed to get %s: no pods returned by selector while calculating replica count", what)
	}
	samples := make([]PodSample, 0, len(pods))
	reported := 0
	for _, p := range pods {
		u, ok := used[p.GetMetadata().GetNamespace()+"/"+p.GetMetadata().GetName()]
		v, has := u.of(res)
		if ok && has {
			reported++
		}
		s := PodSample{Name: p.GetMetadata().GetName(), HasValue: ok && has, Value: v,
			State: Classify(p, res, ok && has, now, c.cfg.CPUInitializationPeriod, c.cfg.InitialReadinessDelay)}
		s.Request, s.MissingRequest = podRequest(p, res)
		samples = append(samples, s)
	}
	if reported == 0 && fetchErr != nil {
		return 0, "", nil, reason, fmt.Errorf("failed to get %s: unable to get metrics for resource %s: %w", what, res, fetchErr)
	}
	ms := &autoscalingv2.MetricStatus{Type: "Resource", Resource: &autoscalingv2.ResourceMetricStatus{Name: res, Current: &autoscalingv2.MetricValueStatus{}}}
	switch t.GetType() {
	case "Utilization":
		if t.AverageUtilization == nil {
			break
		}
		r, err := UtilizationReplicas(res, current, samples, t.GetAverageUtilization(), c.cfg.Tolerance)
		if err != nil {
			return 0, "", nil, reason, fmt.Errorf("failed to get %s: %w", what, err)
		}
		util := r.Utilization
		ms.Resource.Current.AverageUtilization = &util
		ms.Resource.Current.AverageValue = formatMilli(r.AverageValue, res)
		return r.Replicas, res + " resource utilization (percentage of request)", ms, "", nil
	case "AverageValue":
		targetMilli, err := resource.ParseQuantity(t.GetAverageValue())
		if err != nil {
			return 0, "", nil, reason, fmt.Errorf("failed to get %s: invalid averageValue %q: %w", what, t.GetAverageValue(), err)
		}
		r, err := AverageValueReplicas(current, samples, targetMilli, c.cfg.Tolerance)
		if err != nil {
			return 0, "", nil, reason, fmt.Errorf("failed to get %s: %w", what, err)
		}
		ms.Resource.Current.AverageValue = formatMilli(r.AverageValue, res)
		return r.Replicas, res + " resource", ms, "", nil
	}
	return 0, "", nil, reason, errors.New("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set")
}

// podRequest sums the containers' requests of the named resource (milli units) and
// names the first container without one.
func podRequest(p *corev1.Pod, name string) (int64, string) {
	var total int64
	missing := ""
	for _, ctr := range p.GetSpec().GetContainers() {
		q, ok := ctr.GetResources().GetRequests()[name]
		if !ok {
			if missing == "" {
				missing = ctr.GetName()
			}
			continue
		}
		v, err := resource.ParseQuantity(q)
		if err != nil && missing == "" {
			missing = ctr.GetName()
		}
		total += v
	}
	return total, missing
}

// formatMilli writes a milli value as a quantity: "250m" for cpu, and a
// whole number with the largest decimal suffix that keeps it exact
// ("104857600", "20M") otherwise.
func formatMilli(v int64, resource string) string {
	if resource == "cpu" || v%1000 != 0 {
		return strconv.FormatInt(v, 10) + "m"
	}
	v /= 1000
	suffix := ""
	for _, s := range []string{"k", "M", "G", "T", "P", "E"} {
		if v == 0 || v%1000 != 0 {
			break
		}
		v /= 1000
		suffix = s
	}
	return strconv.FormatInt(v, 10) + suffix
}

// setCondition sets a condition, moving lastTransitionTime only when the
// status changes.
func setCondition(st *autoscalingv2.HorizontalPodAutoscalerStatus, now time.Time, typ, status, reason, message string) {
	for _, c := range st.Conditions {
		if c.Type == typ {
			if c.Status != status {
				c.LastTransitionTime = timestamppb.New(now)
			}
			c.Status, c.Reason, c.Message = status, reason, message
			return
		}
	}
	st.Conditions = append(st.Conditions, &autoscalingv2.HorizontalPodAutoscalerCondition{
		Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: timestamppb.New(now)})
}

// writeStatus writes hpa's status if it differs from orig, re-reading the
// autoscaler on a conflict (someone edited the spec meanwhile).
func (c *Controller) writeStatus(ctx context.Context, hpa *HPA, orig *autoscalingv2.HorizontalPodAutoscalerStatus) error {
	if proto.Equal(orig, hpa.GetStatus()) {
		return nil
	}
	obj := hpa
	err := client.RetryOnConflict(ctx, client.Backoff{}, func() error {
		if obj == nil {
			fresh, err := c.cfg.HPAs.Get(ctx, hpa.GetMetadata().GetNamespace(), hpa.GetMetadata().GetName())
			if err != nil {
				return err
			}
			fresh.Status = hpa.Status
			obj = fresh
		}
		_, err := c.cfg.HPAs.UpdateStatus(ctx, obj)
		obj = nil
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update status of autoscaler %s/%s: %w", hpa.GetMetadata().GetNamespace(), hpa.GetMetadata().GetName(), err)
	}
	return nil
}
