package policyv1

import "minik8s/api/scheme"

// EvictionKind is the kind of the pods/eviction subresource's body. It is
// not a resource of its own, so it is not in the scheme's resource table.
var EvictionKind = &scheme.Kind{Group: "policy", Version: "v1", Kind: "Eviction", Resource: "evictions",
	New: func() scheme.Object { return &Eviction{} }}

func init() {
	scheme.Register(&scheme.Kind{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget", Resource: "poddisruptionbudgets",
		ShortNames: []string{"pdb"}, Namespaced: true, HasStatus: true, New: func() scheme.Object { return &PodDisruptionBudget{} }})
}
