package networkingv1

import "minik8s/api/scheme"

func init() {
	scheme.Register(&scheme.Kind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress", Resource: "ingresses", ShortNames: []string{"ing"}, Namespaced: true, HasStatus: true, New: func() scheme.Object { return &Ingress{} }})
	scheme.Register(&scheme.Kind{Group: "networking.k8s.io", Version: "v1", Kind: "IngressClass", Resource: "ingressclasses", Namespaced: false, New: func() scheme.Object { return &IngressClass{} }})
}
