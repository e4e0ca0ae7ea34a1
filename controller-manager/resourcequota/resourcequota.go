// Package resourcequota is the resource-quota controller: it keeps every
// ResourceQuota's status in step with its namespace. status.hard is the
// quota's spec.hard (what the apiserver's ResourceQuota admission plugin
// enforces: a quota is enforced only once this controller has computed
// it); status.used is recounted from the objects in the namespace with
// the evaluators of api/quota, the same code the plugin charges with.
//
// Admission charges usage when objects are created; this controller is
// what releases it: a quota is recounted when it is created or its spec
// changes, when an object it counts is deleted or stops costing (a pod
// that Succeeded or Failed, a service that is no longer a LoadBalancer),
// and every --resource-quota-sync-period (5m) for all quotas, which also
// corrects any drift (a charge for a request storage then refused).
package resourcequota

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/labels"
	"minik8s/api/quota"
	"minik8s/api/scheme"
	"minik8s/controller-manager/controller"
)

// Component is the controller's name in logs and metrics.
const Component = "resourcequota-controller"

// DefaultSyncPeriod is Kubernetes' --resource-quota-sync-period.
const DefaultSyncPeriod = 5 * time.Minute

// Config wires a Controller. The informers of the kinds quotas commonly
// count are optional; a kind without one is listed through List at each
// recount, and its deletions are noticed only at the periodic resync.
type Config struct {
	Quotas        controller.API[*corev1.ResourceQuota]
	QuotaInformer *informer.Informer[*corev1.ResourceQuota]

	PodInformer                   *informer.Informer[*corev1.Pod]
	ServiceInformer               *informer.Informer[*corev1.Service]
	ConfigMapInformer             *informer.Informer[*corev1.ConfigMap]
	SecretInformer                *informer.Informer[*corev1.Secret]
	ReplicationControllerInformer *informer.Informer[*corev1.ReplicationController]

	// List returns the objects of a group-resource ("deployments.apps")
	// in a namespace, for count/RESOURCE.GROUP of kinds without an
	// informer; nil counts none of them.
	List func(ctx context.Context, groupResource, namespace string) ([]scheme.Object, error)

	// SyncPeriod is how often every quota is recounted (0: DefaultSyncPeriod).
	SyncPeriod time.Duration
	Metrics    *controller.Metrics
	// Now is the clock pods' deletion grace periods are judged by (nil: time.Now).
	Now func() time.Time
}

// Controller recounts ResourceQuotas.
type Controller struct {
	controller.Base
	api        controller.API[*corev1.ResourceQuota]
	quotas     *informer.Lister[*corev1.ResourceQuota]
	cached     map[string]func(ns string) []scheme.Object
	list       func(ctx context.Context, groupResource, namespace string) ([]scheme.Object, error)
	syncPeriod time.Duration
}

// New returns a controller and registers its informer handlers.
func New(cfg Config) *Controller {
	c := &Controller{
		Base:       controller.NewBase("resourcequota", nil, cfg.Metrics, cfg.Now),
		api:        cfg.Quotas,
		cached:     map[string]func(string) []scheme.Object{},
		list:       cfg.List,
		syncPeriod: cfg.SyncPeriod,
	}
	if c.syncPeriod <= 0 {
		c.syncPeriod = DefaultSyncPeriod
	}
	c.Sync = c.sync
	c.Log = slog.Default().With("controller", Component)
	c.quotas = controller.Lister(&c.Base, cfg.QuotaInformer)
	c.cached["resourcequotas"] = objects(c.quotas)
	cfg.QuotaInformer.AddEventHandler(informer.HandlerFuncs[*corev1.ResourceQuota]{
		AddFunc: func(q *corev1.ResourceQuota) { c.Enqueue(q) },
		UpdateFunc: func(old, cur *corev1.ResourceQuota) {
			if !proto.Equal(old.GetSpec(), cur.GetSpec()) || !quota.Equals(cur.GetSpec().GetHard(), cur.GetStatus().GetHard()) {
				c.Enqueue(cur)
			}
		},
		// A status write is the admission plugin's charge: nothing to recount.
	})
	watch(c, "pods", cfg.PodInformer)
	watch(c, "services", cfg.ServiceInformer)
	watch(c, "configmaps", cfg.ConfigMapInformer)
	watch(c, "secrets", cfg.SecretInformer)
	watch(c, "replicationcontrollers", cfg.ReplicationControllerInformer)
	return c
}

// objects lists a namespace from a cache.
func objects[T scheme.Object](l *informer.Lister[T]) func(string) []scheme.Object {
	return func(ns string) []scheme.Object {
		items := l.ListNamespace(ns, labels.Everything())
		out := make([]scheme.Object, len(items))
		for i, o := range items {
			out[i] = o
		}
		return out
	}
}

// watch counts groupResource from inf's cache and recounts the quotas of
// a namespace when one of its objects goes or costs less than before.
func watch[T scheme.Object](c *Controller, groupResource string, inf *informer.Informer[T]) {
	if inf == nil {
		return
	}
	c.cached[groupResource] = objects(controller.Lister(&c.Base, inf))
	k, err := scheme.Lookup(groupResource)
	if err != nil {
		panic(err) // a registered core kind
	}
	ev := quota.For(k)
	inf.AddEventHandler(informer.HandlerFuncs[T]{
		UpdateFunc: func(old, cur T) {
			now := c.Now()
			if !quota.Equals(ev.Usage(old, now), ev.Usage(cur, now)) {
				c.replenish(ev, cur.GetMetadata().GetNamespace())
			}
		},
		DeleteFunc: func(o T) { c.replenish(ev, o.GetMetadata().GetNamespace()) },
	})
}

// replenish queues the quotas of ns that count what ev measures.
func (c *Controller) replenish(ev quota.Evaluator, ns string) {
	for _, q := range c.quotas.ListNamespace(ns, labels.Everything()) {
		if len(ev.MatchingResources(quota.Names(q.GetSpec().GetHard()))) > 0 {
			c.Enqueue(q)
		}
	}
}

// Run recounts every quota each sync period and runs the workers until
// ctx ends; it fails if the caches do not sync.
func (c *Controller) Run(ctx context.Context, workers int) error {
	go func() {
		t := time.NewTicker(c.syncPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.ResyncAll()
			}
		}
	}()
	return c.Base.Run(ctx, workers)
}

// ResyncAll queues every quota for a recount.
func (c *Controller) ResyncAll() {
	for _, q := range c.quotas.List(labels.Everything()) {
		c.Enqueue(q)
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name := informer.SplitKey(key)
	q, err := c.quotas.Get(ns, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	hard := q.GetSpec().GetHard()
	counted, err := quota.CalculateUsage(hard, quota.ScopeSelectors(q), func(gr string) ([]scheme.Object, error) {
		if l, ok := c.cached[gr]; ok {
			return l(ns), nil
		}
		if c.list == nil {
			return nil, nil
		}
		return c.list(ctx, gr, ns)
	}, c.Now())
	if err != nil {
		return fmt.Errorf("recount quota %s: %w", key, err)
	}
	// Names no evaluator measures keep what they had; only limited names stay.
	used := quota.Mask(quota.Add(quota.Mask(q.GetStatus().GetUsed(), missing(quota.Names(hard), counted)), counted), quota.Names(hard))
	if q.GetStatus() != nil && quota.Equals(q.GetStatus().GetHard(), hard) && quota.Equals(q.GetStatus().GetUsed(), used) {
		return nil
	}
	next := proto.Clone(q).(*corev1.ResourceQuota)
	next.Status = &corev1.ResourceQuotaStatus{Hard: quota.Add(nil, hard), Used: used}
	// The write carries the version read from the cache: if admission
	// charged the quota meanwhile it fails with a conflict and the key
	// is retried with back-off, once the cache shows the new objects,
	// rather than overwriting a charge with a count that lacks them.
	if _, err := c.api.UpdateStatus(ctx, next); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("update status of quota %s: %w", key, err)
	}
	c.Log.Debug("recounted quota", "quota", key, "used", quota.Format(used))
	return nil
}

// missing lists the names of names that counted lacks.
func missing(names []string, counted map[string]string) []string {
	var out []string
	for _, n := range names {
		if _, ok := counted[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}

// ClientLister is Config.List over the API: a list of the group-resource
// in the namespace at each recount.
func ClientLister(c *client.Client) func(ctx context.Context, groupResource, namespace string) ([]scheme.Object, error) {
	return func(ctx context.Context, groupResource, namespace string) ([]scheme.Object, error) {
		k, err := scheme.Lookup(groupResource)
		if err != nil {
			return nil, err
		}
		r, err := c.Dynamic(k.Resource)
		if err != nil {
			return nil, err
		}
		l, err := r.List(ctx, namespace, client.ListOptions{})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	}
}
