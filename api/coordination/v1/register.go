package coordinationv1

import "minik8s/api/scheme"

func init() {
	scheme.Register(&scheme.Kind{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease", Resource: "leases", Namespaced: true, New: func() scheme.Object { return &Lease{} }})
}
