// Package serviceaccount is the service-account controller: every active
// namespace has a ServiceAccount named "default" (recreated if deleted).
package serviceaccount

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/workqueue"
	"minik8s/controller-manager/controller"
)

// DefaultName is the service account every namespace gets.
const DefaultName = "default"

// Config wires a Controller.
type Config struct {
	ServiceAccounts   controller.API[*corev1.ServiceAccount]
	NamespaceInformer *informer.Informer[*corev1.Namespace]
	SAInformer        *informer.Informer[*corev1.ServiceAccount]
	Metrics           *controller.Metrics
}

// Controller ensures default service accounts.
type Controller struct {
	api        controller.API[*corev1.ServiceAccount]
	namespaces *informer.Lister[*corev1.Namespace]
	sas        *informer.Lister[*corev1.ServiceAccount]
	synced     []func() bool
	queue      *workqueue.Queue[string]
	metrics    *controller.Metrics
	log        *slog.Logger
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	c := &Controller{
		api: cfg.ServiceAccounts, namespaces: cfg.NamespaceInformer.Lister(), sas: cfg.SAInformer.Lister(),
		synced: []func() bool{cfg.NamespaceInformer.HasSynced, cfg.SAInformer.HasSynced},
		queue:  controller.NewQueue(), metrics: cfg.Metrics,
		log: slog.Default().With("controller", "serviceaccount-controller"),
	}
	nsChanged := func(ns *corev1.Namespace) { c.queue.Add(ns.GetMetadata().GetName()) }
	cfg.NamespaceInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Namespace]{
		AddFunc: nsChanged, UpdateFunc: func(_, ns *corev1.Namespace) { nsChanged(ns) },
	})
	cfg.SAInformer.AddEventHandler(informer.HandlerFuncs[*corev1.ServiceAccount]{
		DeleteFunc: func(sa *corev1.ServiceAccount) { c.queue.Add(sa.GetMetadata().GetNamespace()) },
	})
	return c
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.synced...) {
		return
	}
	controller.Loop{Name: "serviceaccount", Queue: c.queue, Workers: workers, Sync: c.sync, Metrics: c.metrics}.Run(ctx)
}

func (c *Controller) sync(ctx context.Context, ns string) error {
	n, err := c.namespaces.Get("", ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.GetMetadata().GetDeletionTimestamp() != nil || n.GetStatus().GetPhase() == "Terminating" {
		return nil
	}
	if _, err := c.sas.Get(ns, DefaultName); err == nil {
		return nil
	}
	_, err = c.api.Create(ctx, &corev1.ServiceAccount{
		ApiVersion: "v1", Kind: "ServiceAccount",
		Metadata: &metav1.ObjectMeta{Name: DefaultName, Namespace: ns},
	})
	switch {
	case err == nil:
		c.log.Info("created service account", "namespace", ns, "name", DefaultName)
		return nil
	case apierrors.IsAlreadyExists(err), apierrors.IsForbidden(err), apierrors.IsNotFound(err):
		return nil // exists; or the namespace is going away
	}
	return fmt.Errorf("create service account %s/%s: %w", ns, DefaultName, err)
}
