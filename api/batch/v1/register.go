package batchv1

import "minik8s/api/scheme"

func init() {
	scheme.Register(&scheme.Kind{Group: "batch", Version: "v1", Kind: "Job", Resource: "jobs", Namespaced: true, HasStatus: true, New: func() scheme.Object { return &Job{} }})
}
