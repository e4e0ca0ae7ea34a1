// Package namespace is the namespace controller: when a namespace is
// deleted (the apiserver marks it Terminating and from then on refuses
// new objects in it) it deletes every object in the namespace, waits
// until they are all gone - pods after their graceful termination - and
// then removes the "kubernetes" finalizer from spec.finalizers, upon which
// the apiserver removes the namespace itself.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/scheme"
	"minik8s/controller-manager/controller"
)

// Finalizer is the spec.finalizers entry this controller owns.
const Finalizer = "kubernetes"

// NamedContent is the content client of one resource.
type NamedContent struct {
	Resource string
	// List lists the namespace's objects; consistent asks for a list that
	// reflects every write so far (slower), otherwise the apiserver's
	// cache as it is.
	List func(ctx context.Context, namespace string, consistent bool) ([]scheme.Object, error)
	// Delete deletes one object; gone is false when it stays for now
	// (marked for deletion: a pod's grace period, finalizers).
	Delete func(ctx context.Context, namespace, name, uid string) (gone bool, err error)
}

// Config wires a Controller.
type Config struct {
	Namespaces controller.API[*corev1.Namespace]
	Informer   *informer.Informer[*corev1.Namespace]
	Resources  []NamedContent
	Metrics    *controller.Metrics
	// Recheck is how long to wait before looking again at a namespace
	// whose content is still going (default 500ms).
	Recheck time.Duration
	Now     func() time.Time
}

// Controller finalizes deleted namespaces.
type Controller struct {
	controller.Base
	api       controller.API[*corev1.Namespace]
	lister    *informer.Lister[*corev1.Namespace]
	resources []NamedContent
	recheck   time.Duration
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	if cfg.Recheck == 0 {
		cfg.Recheck = 500 * time.Millisecond
	}
	c := &Controller{Base: controller.NewBase("namespace", nil, cfg.Metrics, cfg.Now), api: cfg.Namespaces, resources: cfg.Resources, recheck: cfg.Recheck}
	c.Sync = c.sync
	c.Log = slog.Default().With("controller", "namespace-controller")
	c.lister = controller.Lister(&c.Base, cfg.Informer)
	enqueue := func(ns *corev1.Namespace) {
		if ns.GetMetadata().GetDeletionTimestamp() != nil {
			c.Queue.Add(ns.GetMetadata().GetName())
		}
	}
	cfg.Informer.AddEventHandler(informer.HandlerFuncs[*corev1.Namespace]{
		AddFunc: enqueue, UpdateFunc: func(_, ns *corev1.Namespace) { enqueue(ns) },
	})
	return c
}

// sync empties a terminating namespace and then finalizes it.
func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.lister.Get("", name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.GetMetadata().GetDeletionTimestamp() == nil || !slices.Contains(ns.GetSpec().GetFinalizers(), Finalizer) {
		return nil
	}
	remaining, err := c.deleteContent(ctx, name, false)
	if err == nil && len(remaining) == 0 {
		// Confirm with consistent lists: the cache may lag behind writes
		// made just before the namespace was marked.
		remaining, err = c.deleteContent(ctx, name, true)
	}
	if err != nil {
		_ = c.setCondition(ctx, ns, "NamespaceDeletionContentFailure", corev1.ConditionTrue, "ContentDeletionFailed", err.Error())
		return err
	}
	if len(remaining) > 0 {
		msg := "Some resources are remaining: " + strings.Join(remaining, ", ")
		if err := c.setCondition(ctx, ns, "NamespaceContentRemaining", corev1.ConditionTrue, "SomeResourcesRemain", msg); err != nil {
			return err
		}
		c.Log.Debug("namespace content remaining", "namespace", name, "remaining", msg)
		c.Queue.AddAfter(name, c.recheck)
		return nil
	}
	return c.finalize(ctx, ns)
}

// deleteContent deletes everything in the namespace and returns what is
// still there, as "pods has 3 resource instances". The resources are
// listed concurrently: a consistent list of a quiet resource waits for
// the apiserver's cache to catch up with etcd.
func (c *Controller) deleteContent(ctx context.Context, ns string, consistent bool) ([]string, error) {
	type result struct {
		remaining string
		err       error
	}
	results := make([]result, len(c.resources))
	var wg sync.WaitGroup
	for i, r := range c.resources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items, err := r.List(ctx, ns, consistent)
			if err != nil {
				results[i].err = fmt.Errorf("list %s in namespace %s: %w", r.Resource, ns, err)
				return
			}
			left := 0
			for _, o := range items {
				md := o.GetMetadata()
				if md.GetDeletionTimestamp() != nil {
					left++ // going already (graceful pods, finalizers)
					continue
				}
				gone, err := r.Delete(ctx, ns, md.GetName(), md.GetUid())
				switch {
				case apierrors.IsNotFound(err):
				case apierrors.IsConflict(err):
					left++ // replaced meanwhile: the next pass deletes it
				case err != nil:
					results[i].err = fmt.Errorf("delete %s %s/%s: %w", r.Resource, ns, md.GetName(), err)
					return
				case !gone:
					left++
				}
			}
			if left > 0 {
				results[i].remaining = fmt.Sprintf("%s has %d resource instances", r.Resource, left)
			}
		}()
	}
	wg.Wait()
	var remaining []string
	var errs []error
	for _, r := range results {
		if r.remaining != "" {
			remaining = append(remaining, r.remaining)
		}
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	sort.Strings(remaining)
	return remaining, errors.Join(errs...)
}

// finalize removes the "kubernetes" finalizer; the apiserver then
// removes the namespace.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	name := ns.GetMetadata().GetName()
	_, err := controller.Update(ctx, c.api, ns, func(cur *corev1.Namespace) bool {
		if !slices.Contains(cur.GetSpec().GetFinalizers(), Finalizer) {
			return false
		}
		cur.Spec.Finalizers = slices.DeleteFunc(cur.Spec.Finalizers, func(f string) bool { return f == Finalizer })
		return true
	})
	err = controller.IgnoreNotFound(err)
	if err != nil {
		return fmt.Errorf("finalize namespace %s: %w", name, err)
	}
	c.Log.Info("namespace emptied and finalized", "namespace", name)
	return nil
}

// setCondition records the deletion progress on the namespace status.
func (c *Controller) setCondition(ctx context.Context, ns *corev1.Namespace, typ, status, reason, msg string) error {
	for _, cond := range ns.GetStatus().GetConditions() {
		if cond.GetType() == typ && cond.GetStatus() == status && cond.GetMessage() == msg {
			return nil
		}
	}
	up := proto.Clone(ns).(*corev1.Namespace)
	if up.Status == nil {
		up.Status = &corev1.NamespaceStatus{}
	}
	up.Status.Conditions = slices.DeleteFunc(up.Status.Conditions, func(x *corev1.NamespaceCondition) bool { return x.GetType() == typ })
	up.Status.Conditions = append(up.Status.Conditions, &corev1.NamespaceCondition{Type: typ, Status: status, Reason: reason, Message: msg,
		LastTransitionTime: timestamppb.New(c.Now().Truncate(time.Second))})
	_, err := c.api.UpdateStatus(ctx, up)
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // the next pass writes it
	}
	return err
}
