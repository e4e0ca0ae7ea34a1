package app

import (
	"context"

	corev1 "minik8s/api/core/v1"
	metricsv1beta1 "minik8s/api/metrics/v1beta1"
	"minik8s/api/scheme"
	"minik8s/apiserver/admission"
	"minik8s/apiserver/allocator"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/componentstatus"
	"minik8s/apiserver/endpoints"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/registry/authorization"
	"minik8s/apiserver/registry/core/componentstatuses"
	"minik8s/apiserver/registry/core/pods"
	"minik8s/apiserver/registry/core/services"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/metrics"
	"minik8s/apiserver/registry/policy"
	rbacregistry "minik8s/apiserver/registry/rbac"
)

// NewAPI serves every kind of the scheme from the generic store, with
// the status subresource where the kind has one, and the resources that
// are more than stored objects from their own storage: services
// (allocation), componentstatuses (probed), bindings, pods/binding and
// pods/eviction.
// services and prober may be nil (tests): Services are then stored as
// they come, and componentstatuses list nothing.
func NewAPI(st *generic.Store, svcs *allocator.Services, prober *componentstatus.Prober,
	authn auth.Authenticator, authz auth.Authorizer, adm admission.Chain) *endpoints.API {
	if adm == nil {
		adm = admission.Chain{NamespaceLifecycle(st)}
	}
	api := endpoints.New(authn, authz, adm)
	podsKind, _ := scheme.ByResource("pods")
	binding := &pods.Binding{Pods: st.For(podsKind)}
	for _, k := range scheme.All() {
		switch k.Resource {
		case "componentstatuses":
			if prober == nil {
				prober = &componentstatus.Prober{}
			}
			api.Register(k.Resource, &componentstatuses.Storage{Prober: prober})
			continue
		case "bindings":
			api.Register(k.Resource, binding)
			continue
		case "selfsubjectreviews", "tokenreviews":
			continue // Authentication.Install: they need the authenticator
		case "subjectaccessreviews", "localsubjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews":
			continue // authorization.Install, below
		case "roles", "clusterroles", "rolebindings", "clusterrolebindings":
			if z := rbacIn(authz); z != nil {
				api.Register(k.Resource, &rbacregistry.Storage{Resource: st.For(k), Policy: z, Authorizer: authz})
				continue
			}
			api.Register(k.Resource, st.For(k))
		case "services":
			if svcs != nil {
				api.Register(k.Resource, &services.Storage{Resource: st.For(k), Alloc: svcs})
				break
			}
			api.Register(k.Resource, st.For(k))
		default:
			api.Register(k.Resource, st.For(k))
		}
		if k.HasStatus {
			api.Register(k.Resource+"/status", generic.Status{Resource: st.For(k)})
			for _, sub := range registry.Subresources(k.Resource) {
				api.Register(k.Resource+"/"+sub, generic.Status{Resource: st.For(k), Subresource: sub})
			}
		}
		if generic.HasScale(k) {
			api.Register(k.Resource+"/scale", generic.Scale{Resource: st.For(k)})
		}
	}
	api.Register("pods/binding", binding)
	pdbKind, _ := scheme.ByResource("poddisruptionbudgets")
	api.Register("pods/eviction", &policy.Eviction{Pods: st.For(podsKind), Budgets: st.For(pdbKind)})
	// The access reviews ask the API's own authorizer; the self reviews
	// see the caller as the request path does (after impersonation).
	authorization.Install(api, api.Authenticator, api.Authorizer)
	return api
}

// RegisterMetrics serves metrics.k8s.io/v1beta1 nodes and pods, computed
// from the kubelets' stats summaries (kubectl top).
func RegisterMetrics(api *endpoints.API, st *generic.Store, kc *pods.KubeletClient) {
	nodesKind, _ := scheme.ByResource("nodes")
	podsKind, _ := scheme.ByResource("pods")
	p := &metrics.Provider{Nodes: st.For(nodesKind), Pods: st.For(podsKind), Kubelet: kc.KubeletConfig, HTTP: kc.HTTP}
	api.RegisterComputed(metricsv1beta1.NodeMetricsKind, "nodes", metrics.NodeStorage{P: p})
	api.RegisterComputed(metricsv1beta1.PodMetricsKind, "pods", metrics.PodStorage{P: p})
}

// NamespaceLifecycle is the admission plugin reading namespaces from the
// watch cache, and from storage when the cache has not seen one yet (it
// was created a moment ago).
func NamespaceLifecycle(st *generic.Store) admission.Plugin {
	nsKind, _ := scheme.ByResource("namespaces")
	return admission.NewNamespaceLifecycle(namespaceGetter(st), func(ctx context.Context, name string) (*corev1.Namespace, error) {
		obj, err := st.Get(ctx, nsKind, "", name)
		if err != nil {
			return nil, err
		}
		return obj.(*corev1.Namespace), nil
	})
}

// namespaceGetter reads namespaces from the watch cache, then storage.
func namespaceGetter(st *generic.Store) admission.NamespaceGetter {
	nsKind, _ := scheme.ByResource("namespaces")
	return func(ctx context.Context, name string) (*corev1.Namespace, error) {
		if obj, ok := st.Cache(nsKind).Get("", name); ok {
			return obj.(*corev1.Namespace), nil
		}
		obj, err := st.Get(ctx, nsKind, "", name)
		if err != nil {
			return nil, err
		}
		return obj.(*corev1.Namespace), nil
	}
}

// NodeRestriction is the NodeRestriction admission plugin reading pods and
// nodes from storage (not the watch cache: a token request names a pod
// by uid, which a lagging cache could still hold in an older incarnation).
func NodeRestriction(st *generic.Store) admission.Plugin {
	podKind, _ := scheme.ByResource("pods")
	nodeKind, _ := scheme.ByResource("nodes")
	return admission.NodeRestriction{
		GetPod: func(ctx context.Context, ns, name string) (*corev1.Pod, error) {
			obj, err := st.Get(ctx, podKind, ns, name)
			if err != nil {
				return nil, err
			}
			return obj.(*corev1.Pod), nil
		},
		GetNode: func(ctx context.Context, name string) (*corev1.Node, error) {
			obj, err := st.Get(ctx, nodeKind, "", name)
			if err != nil {
				return nil, err
			}
			return obj.(*corev1.Node), nil
		},
	}
}
