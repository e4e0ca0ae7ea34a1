package networking

import (
	"testing"

	networkingv1 "minik8s/api/networking/v1"
	vt "minik8s/apiserver/validation/validationtest"
)

func validIngressClass() *networkingv1.IngressClass {
	return &networkingv1.IngressClass{Metadata: vt.Meta("minik8s", "", nil), Spec: &networkingv1.IngressClassSpec{Controller: "minik8s.io/ingress"}}
}

func TestIngressClassValidate(t *testing.T) {
	vt.Validate(t, "ingressclasses", validIngressClass, []vt.Case[*networkingv1.IngressClass]{
		vt.C("no controller", func(c *networkingv1.IngressClass) { c.Spec.Controller = "" }, "spec.controller"),
		vt.C("no domain", func(c *networkingv1.IngressClass) { c.Spec.Controller = "ingress" }, "spec.controller"),
		vt.C("bad domain", func(c *networkingv1.IngressClass) { c.Spec.Controller = "Bad_Domain/x" }, "spec.controller"),
		vt.C("parameters", func(c *networkingv1.IngressClass) {
			c.Spec.Parameters = &networkingv1.IngressClassParametersReference{Kind: "ConfigMap", Name: "p", Scope: new("Namespace"), Namespace: new("kube-system")}
		}, ""),
		vt.C("namespace scope without namespace", func(c *networkingv1.IngressClass) {
			c.Spec.Parameters = &networkingv1.IngressClassParametersReference{Kind: "ConfigMap", Name: "p", Scope: new("Namespace")}
		}, "spec.parameters.namespace"),
		vt.C("bad scope", func(c *networkingv1.IngressClass) {
			c.Spec.Parameters = &networkingv1.IngressClassParametersReference{Kind: "ConfigMap", Name: "p", Scope: new("Galaxy")}
		}, "spec.parameters.scope"),
	})
}
