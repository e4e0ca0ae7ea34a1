package metricsv1beta1

import "minik8s/api/scheme"

// The metrics.k8s.io kinds are computed, never stored, so they are not in
// the scheme's resource table (whose resource names they would share with
// core's nodes and pods): the apiserver serves them under their group
// (endpoints.API.RegisterComputed) and clients address them by group.

// NodeMetricsKind is the kind of metrics.k8s.io/v1beta1 nodes.
var NodeMetricsKind = &scheme.Kind{Group: "metrics.k8s.io", Version: "v1beta1", Kind: "NodeMetrics", Resource: "nodes",
	New: func() scheme.Object { return &NodeMetrics{} }}

// PodMetricsKind is the kind of metrics.k8s.io/v1beta1 pods.
var PodMetricsKind = &scheme.Kind{Group: "metrics.k8s.io", Version: "v1beta1", Kind: "PodMetrics", Resource: "pods",
	Namespaced: true, New: func() scheme.Object { return &PodMetrics{} }}
