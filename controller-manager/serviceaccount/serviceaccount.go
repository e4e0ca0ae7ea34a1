// Package serviceaccount is the service-account controller: every active
// namespace has a ServiceAccount named "default" (recreated if deleted).
package serviceaccount

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
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
	controller.Base
	api        controller.API[*corev1.ServiceAccount]
	namespaces *informer.Lister[*corev1.Namespace]
	sas        *informer.Lister[*corev1.ServiceAccount]
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	c := &Controller{Base: controller.NewBase("serviceaccount", nil, cfg.Metrics, nil), api: cfg.ServiceAccounts}
	c.Sync = c.sync
	c.Log = slog.Default().With("controller", "serviceaccount-controller")
	c.namespaces = controller.Lister(&c.Base, cfg.NamespaceInformer)
	c.sas = controller.Lister(&c.Base, cfg.SAInformer)
	nsChanged := func(ns *corev1.Namespace) { c.Queue.Add(ns.GetMetadata().GetName()) }
	cfg.NamespaceInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Namespace]{
		AddFunc: nsChanged, UpdateFunc: func(_, ns *corev1.Namespace) { nsChanged(ns) },
	})
	cfg.SAInformer.AddEventHandler(informer.HandlerFuncs[*corev1.ServiceAccount]{
		DeleteFunc: func(sa *corev1.ServiceAccount) { c.Queue.Add(sa.GetMetadata().GetNamespace()) },
	})
	return c
}

func (c *Controller) sync(ctx context.Context, ns string) error {
	n, err := c.namespaces.Get("", ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if helper.IsNamespaceTerminating(n) {
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
		c.Log.Info("created service account", "namespace", ns, "name", DefaultName)
		return nil
	case apierrors.IsAlreadyExists(err), apierrors.IsForbidden(err), apierrors.IsNotFound(err):
		return nil // exists; or the namespace is going away
	}
	return fmt.Errorf("create service account %s/%s: %w", ns, DefaultName, err)
}
