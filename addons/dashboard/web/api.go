package web

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	authenticationv1 "minik8s/api/authentication/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metricsv1beta1 "minik8s/api/metrics/v1beta1"
	networkingv1 "minik8s/api/networking/v1"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
)

// API is the cluster as the handlers reach it. The handlers never call it
// with credentials of their own: every call's context carries the
// logged-in user's bearer token (WithToken), so the apiserver
// authenticates and authorizes each call as that user.
type API struct {
	Pods        client.Interface[*corev1.Pod]
	Nodes       client.Interface[*corev1.Node]
	Namespaces  client.Interface[*corev1.Namespace]
	Events      client.Interface[*corev1.Event]
	Services    client.Interface[*corev1.Service]
	Endpoints   client.Interface[*corev1.Endpoints]
	Deployments client.Interface[*appsv1.Deployment]
	ReplicaSets client.Interface[*appsv1.ReplicaSet]
	Ingresses   client.Interface[*networkingv1.Ingress]
	// ComponentStatuses are the control plane's health as the apiserver
	// probes it (get componentstatuses).
	ComponentStatuses client.Interface[*corev1.ComponentStatus]
	// WhoAmI returns whom the context's token authenticates as (a
	// SelfSubjectReview); an invalid token gives an Unauthorized error.
	WhoAmI func(ctx context.Context) (*authenticationv1.UserInfo, error)
	// Logs copies a container's log to w (see client.Client.PodLogs).
	Logs func(ctx context.Context, req *rpc.PodLogsRequest, w io.Writer) error
	// NodeMetrics lists metrics.k8s.io/v1beta1 nodes: every node's CPU
	// and memory usage now.
	NodeMetrics func(ctx context.Context) ([]*metricsv1beta1.NodeMetrics, error)
	// PodMetrics lists metrics.k8s.io/v1beta1 pods of a namespace ("" for
	// all); a name selects one pod (fieldSelector metadata.name).
	PodMetrics func(ctx context.Context, namespace, name string) ([]*metricsv1beta1.PodMetrics, error)
}

// NewAPI is the API over c. c must carry no credentials of its own (no
// client certificate, token or impersonation; see UserConfig): the
// token WithToken puts on each call's context is the only one sent.
func NewAPI(c *client.Client) API {
	reviews := client.For[*authenticationv1.SelfSubjectReview](c)
	return API{
		Pods:        client.For[*corev1.Pod](c),
		Nodes:       client.For[*corev1.Node](c),
		Namespaces:  client.For[*corev1.Namespace](c),
		Events:      client.For[*corev1.Event](c),
		Services:    client.For[*corev1.Service](c),
		Endpoints:   client.For[*corev1.Endpoints](c),
		Deployments: client.For[*appsv1.Deployment](c),
		ReplicaSets: client.For[*appsv1.ReplicaSet](c),
		Ingresses:   client.For[*networkingv1.Ingress](c),

		ComponentStatuses: client.For[*corev1.ComponentStatus](c),
		WhoAmI: func(ctx context.Context) (*authenticationv1.UserInfo, error) {
			out, err := reviews.Create(ctx, &authenticationv1.SelfSubjectReview{ApiVersion: authenticationv1.Group + "/v1", Kind: "SelfSubjectReview"})
			if err != nil {
				return nil, err
			}
			return out.GetStatus().GetUserInfo(), nil
		},
		Logs: c.PodLogs,
		NodeMetrics: func(ctx context.Context) ([]*metricsv1beta1.NodeMetrics, error) {
			return listComputed[*metricsv1beta1.NodeMetrics](ctx, c, metricsv1beta1.NodeMetricsKind, "", "")
		},
		PodMetrics: func(ctx context.Context, namespace, name string) ([]*metricsv1beta1.PodMetrics, error) {
			return listComputed[*metricsv1beta1.PodMetrics](ctx, c, metricsv1beta1.PodMetricsKind, namespace, name)
		},
	}
}

// listComputed lists a resource the apiserver computes rather than
// stores (metrics.k8s.io's nodes and pods). Their resource names are
// core's too, so the typed client, which addresses kinds by resource name
// alone, cannot reach them: the request names the group
// ("nodes.metrics.k8s.io").
func listComputed[T proto.Message](ctx context.Context, c *client.Client, k *scheme.Kind, namespace, name string) ([]T, error) {
	req := &rpc.ListRequest{Resource: k.Resource + "." + k.Group, Namespace: namespace}
	if name != "" {
		req.FieldSelector = "metadata.name=" + name
	}
	resp, err := c.RPC().List(ctx, req)
	if err != nil {
		return nil, apierrors.FromGRPC(err)
	}
	out := make([]T, 0, len(resp.GetItems()))
	for _, it := range resp.GetItems() {
		msg, ok := k.New().(T)
		if !ok {
			return nil, fmt.Errorf("list %s: kind %s is not %T", req.Resource, k.Kind, *new(T))
		}
		if err := proto.Unmarshal(it.GetRaw(), msg); err != nil {
			return nil, fmt.Errorf("list %s: %w", req.Resource, err)
		}
		out = append(out, msg)
	}
	return out, nil
}

// UserConfig is cfg without its credentials: the same apiservers and
// server verification (CA, server name), but no client certificate, token
// or impersonation. A client of it acts only as the users whose tokens
// WithToken attaches, never as the dashboard itself.
func UserConfig(cfg *client.Config) *client.Config {
	return &client.Config{
		Servers:                  cfg.Servers,
		TLS:                      cfg.TLS,
		TLSServerName:            cfg.TLSServerName,
		InsecureSkipTLSVerify:    cfg.InsecureSkipTLSVerify,
		CertificateAuthority:     cfg.CertificateAuthority,
		CertificateAuthorityData: cfg.CertificateAuthorityData,
		Context:                  cfg.Context,
		Cluster:                  cfg.Cluster,
	}
}

// WithToken returns ctx whose apiserver calls carry "authorization:
// Bearer token", as the user's own kubectl would send it.
func WithToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}
