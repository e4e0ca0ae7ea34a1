// Package rootcacertpublisher is Kubernetes' root-ca-cert-publisher: every
// active namespace has a ConfigMap kube-root-ca.crt whose ca.crt is the
// cluster CA bundle (the controller-manager's --root-ca-file), so pods
// verify the apiserver at https://kubernetes.default.svc with the ca.crt
// their service-account volume projects from it. A changed or deleted
// ConfigMap is put back.
package rootcacertpublisher

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/controller"
)

// Names Kubernetes gives the published bundle.
const (
	ConfigMapName = "kube-root-ca.crt"
	Key           = "ca.crt"
	// DescriptionAnnotation says what the ConfigMap is for.
	DescriptionAnnotation = "kubernetes.io/description"
	description           = "The cluster CA bundle, for verifying the apiserver at its in-cluster addresses (kubernetes.default.svc)."
)

// Config wires a Controller.
type Config struct {
	ConfigMaps        controller.API[*corev1.ConfigMap]
	NamespaceInformer *informer.Informer[*corev1.Namespace]
	ConfigMapInformer *informer.Informer[*corev1.ConfigMap]
	// RootCA is the PEM bundle to publish.
	RootCA  []byte
	Metrics *controller.Metrics
}

// Controller publishes the root CA bundle.
type Controller struct {
	controller.Base
	api        controller.API[*corev1.ConfigMap]
	namespaces *informer.Lister[*corev1.Namespace]
	configMaps *informer.Lister[*corev1.ConfigMap]
	rootCA     string
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	c := &Controller{
		Base: controller.NewBase("root-ca-cert-publisher", nil, cfg.Metrics, nil),
		api:  cfg.ConfigMaps, rootCA: string(cfg.RootCA),
	}
	c.namespaces = controller.Lister(&c.Base, cfg.NamespaceInformer)
	c.configMaps = controller.Lister(&c.Base, cfg.ConfigMapInformer)
	c.Sync = c.sync
	nsChanged := func(ns *corev1.Namespace) { c.Queue.Add(ns.GetMetadata().GetName()) }
	cfg.NamespaceInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Namespace]{
		AddFunc: nsChanged, UpdateFunc: func(_, ns *corev1.Namespace) { nsChanged(ns) },
	})
	cmChanged := func(cm *corev1.ConfigMap) {
		if cm.GetMetadata().GetName() == ConfigMapName {
			c.Queue.Add(cm.GetMetadata().GetNamespace())
		}
	}
	cfg.ConfigMapInformer.AddEventHandler(informer.HandlerFuncs[*corev1.ConfigMap]{
		UpdateFunc: func(_, cm *corev1.ConfigMap) { cmChanged(cm) }, DeleteFunc: cmChanged,
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
	cur, err := c.configMaps.Get(ns, ConfigMapName)
	if apierrors.IsNotFound(err) {
		_, err = c.api.Create(ctx, &corev1.ConfigMap{
			ApiVersion: "v1", Kind: "ConfigMap",
			Metadata: &metav1.ObjectMeta{Name: ConfigMapName, Namespace: ns, Annotations: map[string]string{DescriptionAnnotation: description}},
			Data:     map[string]string{Key: c.rootCA},
		})
		switch {
		case err == nil:
			c.Log.Info("published root CA", "namespace", ns)
			return nil
		case apierrors.IsAlreadyExists(err), apierrors.IsForbidden(err), apierrors.IsNotFound(err):
			return nil // the informer brings it; or the namespace is going away
		}
		return fmt.Errorf("create configmap %s/%s: %w", ns, ConfigMapName, err)
	}
	if err != nil {
		return err
	}
	if cur.GetData()[Key] == c.rootCA && len(cur.GetData()) == 1 && len(cur.GetBinaryData()) == 0 &&
		cur.GetMetadata().GetAnnotations()[DescriptionAnnotation] == description {
		return nil
	}
	upd := proto.Clone(cur).(*corev1.ConfigMap)
	upd.Data = map[string]string{Key: c.rootCA}
	upd.BinaryData = nil
	if upd.Metadata.Annotations == nil {
		upd.Metadata.Annotations = map[string]string{}
	}
	upd.Metadata.Annotations[DescriptionAnnotation] = description
	if _, err := c.api.Update(ctx, upd); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update configmap %s/%s: %w", ns, ConfigMapName, err)
	}
	return nil
}
