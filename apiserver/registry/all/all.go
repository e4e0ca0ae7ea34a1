// Package all registers the strategy of every served kind; the apiserver
// imports it for its side effects.
package all

import (
	_ "minik8s/apiserver/registry/apps"         // deployments, replicasets, daemonsets, statefulsets, controllerrevisions
	_ "minik8s/apiserver/registry/autoscaling"  // horizontalpodautoscalers
	_ "minik8s/apiserver/registry/batch"        // jobs
	_ "minik8s/apiserver/registry/certificates" // certificatesigningrequests
	_ "minik8s/apiserver/registry/coordination" // leases
	_ "minik8s/apiserver/registry/core"         // pods, services, nodes, namespaces, ...
	_ "minik8s/apiserver/registry/networking"   // ingresses
	_ "minik8s/apiserver/registry/policy"       // poddisruptionbudgets
	_ "minik8s/apiserver/registry/rbac"         // roles, clusterroles, rolebindings, clusterrolebindings
)
