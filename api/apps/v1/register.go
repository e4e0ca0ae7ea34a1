package appsv1

import "minik8s/api/scheme"

func init() {
	for _, k := range []*scheme.Kind{
		{Kind: "ReplicaSet", Resource: "replicasets", ShortNames: []string{"rs"}, Namespaced: true, HasStatus: true, New: func() scheme.Object { return &ReplicaSet{} }},
		{Kind: "Deployment", Resource: "deployments", ShortNames: []string{"deploy"}, Namespaced: true, HasStatus: true, New: func() scheme.Object { return &Deployment{} }},
		{Kind: "DaemonSet", Resource: "daemonsets", ShortNames: []string{"ds"}, Namespaced: true, HasStatus: true, New: func() scheme.Object { return &DaemonSet{} }},
		{Kind: "StatefulSet", Resource: "statefulsets", ShortNames: []string{"sts"}, Namespaced: true, HasStatus: true, New: func() scheme.Object { return &StatefulSet{} }},
		{Kind: "ControllerRevision", Resource: "controllerrevisions", Namespaced: true, New: func() scheme.Object { return &ControllerRevision{} }},
	} {
		k.Group, k.Version = "apps", "v1"
		scheme.Register(k)
	}
}
