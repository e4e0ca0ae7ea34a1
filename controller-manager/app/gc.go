package app

import (
	"context"
	"log/slog"
	"sort"
	"strings"

	appsv1 "minik8s/api/apps/v1"
	autoscalingv2 "minik8s/api/autoscaling/v2"
	batchv1 "minik8s/api/batch/v1"
	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
	networkingv1 "minik8s/api/networking/v1"
	"minik8s/api/scheme"
	"minik8s/controller-manager/controller"
	"minik8s/controller-manager/garbagecollector"
	"minik8s/controller-manager/namespace"
)

// gcWorkers is the garbage collector's worker count: its syncs are
// mostly cache lookups, and a deleted owner of many dependents queues
// them all at once.
const gcWorkers = 10

func startGarbageCollector(_ context.Context, cc *Context) (func(context.Context) error, error) {
	ignored := map[string]bool{}
	for _, r := range strings.Split(cc.Options.GCIgnoredResources, ",") {
		ignored[strings.TrimSpace(r)] = true
	}
	gc := garbagecollector.New(cc.Metrics)
	for _, k := range scheme.All() {
		if ignored[k.Resource] || k.CreateOnly {
			continue
		}
		api, err := cc.Client.Dynamic(k.Resource)
		if err != nil {
			return nil, err
		}
		if !addTypedToGC(gc, cc.Factory, k, api) {
			slog.Warn("garbage collector does not watch this resource", "resource", k.Resource)
		}
	}
	return func(ctx context.Context) error { return gc.Run(ctx, gcWorkers) }, nil
}

// addTypedToGC registers kind k with the collector through the factory's
// shared typed informer, so the collector adds no watches of its own for
// kinds other controllers already watch.
func addTypedToGC(gc *garbagecollector.Collector, f *informer.Factory, k *scheme.Kind, api controller.API[scheme.Object]) bool {
	switch k.Resource {
	case "pods":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.Pod](f, ""), api)
	case "services":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.Service](f, ""), api)
	case "endpoints":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.Endpoints](f, ""), api)
	case "nodes":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.Node](f, ""), api)
	case "namespaces":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.Namespace](f, ""), api)
	case "events":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.Event](f, ""), api)
	case "configmaps":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.ConfigMap](f, ""), api)
	case "secrets":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.Secret](f, ""), api)
	case "serviceaccounts":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.ServiceAccount](f, ""), api)
	case "resourcequotas":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.ResourceQuota](f, ""), api)
	case "limitranges":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.LimitRange](f, ""), api)
	case "replicationcontrollers":
		garbagecollector.AddTyped(gc, k, informer.For[*corev1.ReplicationController](f, ""), api)
	case "replicasets":
		garbagecollector.AddTyped(gc, k, informer.For[*appsv1.ReplicaSet](f, ""), api)
	case "deployments":
		garbagecollector.AddTyped(gc, k, informer.For[*appsv1.Deployment](f, ""), api)
	case "daemonsets":
		garbagecollector.AddTyped(gc, k, informer.For[*appsv1.DaemonSet](f, ""), api)
	case "statefulsets":
		garbagecollector.AddTyped(gc, k, informer.For[*appsv1.StatefulSet](f, ""), api)
	case "controllerrevisions":
		garbagecollector.AddTyped(gc, k, informer.For[*appsv1.ControllerRevision](f, ""), api)
	case "jobs":
		garbagecollector.AddTyped(gc, k, informer.For[*batchv1.Job](f, ""), api)
	case "horizontalpodautoscalers":
		garbagecollector.AddTyped(gc, k, informer.For[*autoscalingv2.HorizontalPodAutoscaler](f, ""), api)
	case "leases":
		garbagecollector.AddTyped(gc, k, informer.For[*coordinationv1.Lease](f, ""), api)
	case "ingresses":
		garbagecollector.AddTyped(gc, k, informer.For[*networkingv1.Ingress](f, ""), api)
	default:
		return false
	}
	return true
}

// namespaceDeletionOrder puts workload owners first, then pods, so that
// controllers are gone before their pods are deleted.
var namespaceDeletionOrder = []string{"deployments", "statefulsets", "daemonsets", "jobs", "replicasets", "replicationcontrollers", "horizontalpodautoscalers", "pods"}

func namespaceContent(cc *Context) ([]namespace.NamedContent, error) {
	rank := func(r string) int {
		for i, x := range namespaceDeletionOrder {
			if x == r {
				return i
			}
		}
		return len(namespaceDeletionOrder)
	}
	var kinds []*scheme.Kind
	for _, k := range scheme.All() {
		if k.Namespaced && k.Resource != "bindings" && !k.CreateOnly {
			kinds = append(kinds, k)
		}
	}
	sort.SliceStable(kinds, func(i, j int) bool { return rank(kinds[i].Resource) < rank(kinds[j].Resource) })
	var out []namespace.NamedContent
	for _, k := range kinds {
		api, err := cc.Client.Dynamic(k.Resource)
		if err != nil {
			return nil, err
		}
		out = append(out, namespace.NamedContent{
			Resource: k.Resource,
			List: func(ctx context.Context, ns string, consistent bool) ([]scheme.Object, error) {
				opts := client.ListOptions{ResourceVersion: "0"}
				if consistent {
					opts.ResourceVersion = ""
				}
				l, err := api.List(ctx, ns, opts)
				if err != nil {
					return nil, err
				}
				return l.Items, nil
			},
			Delete: func(ctx context.Context, ns, name, uid string) (bool, error) {
				last, err := api.Delete(ctx, ns, name, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{Uid: uid}})
				if err != nil {
					return false, err
				}
				return last == nil || last.GetMetadata().GetDeletionTimestamp() == nil, nil
			},
		})
	}
	return out, nil
}

func startNamespace(_ context.Context, cc *Context) (func(context.Context) error, error) {
	content, err := namespaceContent(cc)
	if err != nil {
		return nil, err
	}
	c := namespace.New(namespace.Config{
		Namespaces: clientFor[*corev1.Namespace](cc),
		Informer:   informer.For[*corev1.Namespace](cc.Factory, ""),
		Resources:  content, Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, 2) }, nil
}
