package corev1

import "minik8s/api/scheme"

func init() {
	for _, k := range []*scheme.Kind{
		{Kind: "Pod", Resource: "pods", ShortNames: []string{"po"}, Namespaced: true, HasStatus: true, New: func() scheme.Object { return &Pod{} }},
		{Kind: "Service", Resource: "services", ShortNames: []string{"svc"}, Namespaced: true, HasStatus: true, New: func() scheme.Object { return &Service{} }},
		{Kind: "Endpoints", Resource: "endpoints", ShortNames: []string{"ep"}, Namespaced: true, New: func() scheme.Object { return &Endpoints{} }},
		{Kind: "Node", Resource: "nodes", ShortNames: []string{"no"}, HasStatus: true, New: func() scheme.Object { return &Node{} }},
		{Kind: "Namespace", Resource: "namespaces", ShortNames: []string{"ns"}, HasStatus: true, New: func() scheme.Object { return &Namespace{} }},
		{Kind: "Event", Resource: "events", ShortNames: []string{"ev"}, Namespaced: true, New: func() scheme.Object { return &Event{} }},
		{Kind: "ConfigMap", Resource: "configmaps", ShortNames: []string{"cm"}, Namespaced: true, New: func() scheme.Object { return &ConfigMap{} }},
		{Kind: "Secret", Resource: "secrets", Namespaced: true, New: func() scheme.Object { return &Secret{} }},
		{Kind: "ServiceAccount", Resource: "serviceaccounts", ShortNames: []string{"sa"}, Namespaced: true, New: func() scheme.Object { return &ServiceAccount{} }},
		{Kind: "ResourceQuota", Resource: "resourcequotas", ShortNames: []string{"quota"}, Namespaced: true, HasStatus: true, New: func() scheme.Object { return &ResourceQuota{} }},
		{Kind: "LimitRange", Resource: "limitranges", ShortNames: []string{"limits"}, Namespaced: true, New: func() scheme.Object { return &LimitRange{} }},
		{Kind: "ReplicationController", Resource: "replicationcontrollers", ShortNames: []string{"rc"}, Namespaced: true, HasStatus: true, New: func() scheme.Object { return &ReplicationController{} }},
		{Kind: "ComponentStatus", Resource: "componentstatuses", ShortNames: []string{"cs"}, New: func() scheme.Object { return &ComponentStatus{} }},
		{Kind: "Binding", Resource: "bindings", Namespaced: true, New: func() scheme.Object { return &Binding{} }},
	} {
		k.Group, k.Version = "", "v1"
		scheme.Register(k)
	}
}
