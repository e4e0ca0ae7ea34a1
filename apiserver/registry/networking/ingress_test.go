package networking

import (
	"testing"

	networkingv1 "minik8s/api/networking/v1"
	vt "minik8s/apiserver/validation/validationtest"
)

func validIngress() *networkingv1.Ingress {
	return &networkingv1.Ingress{Metadata: vt.Meta("web", "default", nil), Spec: &networkingv1.IngressSpec{
		Rules: []*networkingv1.IngressRule{{Host: "web.example.com", Http: &networkingv1.HTTPIngressRuleValue{Paths: []*networkingv1.HTTPIngressPath{{
			Path: "/", PathType: new("Prefix"),
			Backend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: &networkingv1.ServiceBackendPort{Number: 80}}},
		}}}}},
	}}
}

func TestIngressValidate(t *testing.T) {
	path0 := func(i *networkingv1.Ingress) *networkingv1.HTTPIngressPath { return i.Spec.Rules[0].Http.Paths[0] }
	vt.Validate(t, "ingresses", validIngress, []vt.Case[*networkingv1.Ingress]{
		vt.C("no rules or backend", func(i *networkingv1.Ingress) { i.Spec.Rules = nil }, "spec.rules"),
		vt.C("wildcard host", func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "*.example.com" }, ""),
		vt.C("IP host", func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "10.0.0.1" }, "spec.rules[0].host"),
		vt.C("bad host", func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "Web_Example" }, "spec.rules[0].host"),
		vt.C("no pathType", func(i *networkingv1.Ingress) { path0(i).PathType = nil }, "spec.rules[0].http.paths[0].pathType"),
		vt.C("bad pathType", func(i *networkingv1.Ingress) { path0(i).PathType = new("Regex") }, "spec.rules[0].http.paths[0].pathType"),
		vt.C("relative path", func(i *networkingv1.Ingress) { path0(i).Path = "api" }, "spec.rules[0].http.paths[0].path"),
		vt.C("no backend", func(i *networkingv1.Ingress) { path0(i).Backend = nil }, "spec.rules[0].http.paths[0].backend"),
		vt.C("no service port", func(i *networkingv1.Ingress) { path0(i).Backend.Service.Port = nil }, "spec.rules[0].http.paths[0].backend.service.port"),
		vt.C("bad port number", func(i *networkingv1.Ingress) { path0(i).Backend.Service.Port.Number = 70000 }, "spec.rules[0].http.paths[0].backend.service.port.number"),
		vt.C("named port", func(i *networkingv1.Ingress) {
			path0(i).Backend.Service.Port = &networkingv1.ServiceBackendPort{Name: "http"}
		}, ""),
		vt.C("no paths", func(i *networkingv1.Ingress) { i.Spec.Rules[0].Http.Paths = nil }, "spec.rules[0].http.paths"),
	})
}
