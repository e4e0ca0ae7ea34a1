package core

import (
	"strings"
	"testing"

	corev1 "minik8s/api/core/v1"
	"minik8s/apiserver/registry"
	vt "minik8s/apiserver/validation/validationtest"
)

func TestServiceDefaults(t *testing.T) {
	svc := validService()
	registry.For("services").Default(svc)
	s := svc.Spec
	p := s.Ports[0]
	if s.Type != "ClusterIP" || s.SessionAffinity != "None" || p.Protocol != "TCP" || p.TargetPort.GetIntVal() != 80 ||
		s.GetInternalTrafficPolicy() != "Cluster" || s.GetIpFamilyPolicy() != "SingleStack" || strings.Join(s.IpFamilies, ",") != "IPv4" {
		t.Errorf("defaults not applied: %v", s)
	}
}

func TestServiceValidate(t *testing.T) {
	vt.Validate(t, "services", validService, []vt.Case[*corev1.Service]{
		vt.C("name must start with a letter", func(s *corev1.Service) { s.Metadata.Name = "1web" }, "metadata.name"),
		vt.C("no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, "spec.ports"),
		vt.C("headless without ports", func(s *corev1.Service) { s.Spec.Ports, s.Spec.ClusterIP = nil, "None" }, ""),
		vt.C("port zero", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }, "spec.ports[0].port"),
		vt.C("unnamed second port", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, &corev1.ServicePort{Port: 443, Protocol: "TCP", TargetPort: intStr(443)})
		}, "spec.ports[0].name"),
		vt.C("duplicate port names", func(s *corev1.Service) {
			s.Spec.Ports[0].Name = "http"
			s.Spec.Ports = append(s.Spec.Ports, &corev1.ServicePort{Name: "http", Port: 443, Protocol: "TCP", TargetPort: intStr(443)})
		}, "spec.ports[1].name"),
		vt.C("protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" }, "spec.ports[0].protocol"),
		vt.C("targetPort name", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = strVal("Web_Port") }, "spec.ports[0].targetPort"),
		vt.C("type", func(s *corev1.Service) { s.Spec.Type = "Magic" }, "spec.type"),
		vt.C("clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.300" }, "spec.clusterIP"),
		vt.C("nodePort on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }, "spec.ports[0].nodePort"),
		vt.C("nodePort on NodePort", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalTrafficPolicy = "NodePort", "Cluster"
			s.Spec.Ports[0].NodePort = 30080
		}, ""),
		vt.C("externalName required", func(s *corev1.Service) { s.Spec.Type = "ExternalName" }, "spec.externalName"),
		vt.C("sessionAffinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }, "spec.sessionAffinity"),
		vt.C("selector value", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "a b"} }, "spec.selector[app]"),
		vt.C("externalTrafficPolicy on ClusterIP", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = "Local" }, "spec.externalTrafficPolicy"),
	})
	withIP := func() *corev1.Service { s := validService(); s.Spec.ClusterIP = "10.96.0.20"; return s }
	vt.ValidateUpdate(t, "services", withIP, []vt.Case[*corev1.Service]{
		vt.C("change ports", func(s *corev1.Service) { s.Spec.Ports[0].Port = 8080; s.Spec.Ports[0].TargetPort = intStr(8080) }, ""),
		vt.C("change clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.21" }, "spec.clusterIP"),
	})
}

func TestEndpointsValidate(t *testing.T) {
	vt.Validate(t, "endpoints", validEndpoints, []vt.Case[*corev1.Endpoints]{
		vt.C("not an IP", func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].Ip = "pod-a" }, "subsets[0].addresses[0].ip"),
		vt.C("no addresses", func(e *corev1.Endpoints) { e.Subsets[0].Addresses = nil }, "subsets[0]"),
		vt.C("no ports", func(e *corev1.Endpoints) { e.Subsets[0].Ports = nil }, "subsets[0].ports"),
		vt.C("bad port", func(e *corev1.Endpoints) { e.Subsets[0].Ports[0].Port = 0 }, "subsets[0].ports[0].port"),
		vt.C("not ready only", func(e *corev1.Endpoints) {
			e.Subsets[0].NotReadyAddresses, e.Subsets[0].Addresses = e.Subsets[0].Addresses, nil
		}, ""),
	})
}

func TestNodeValidate(t *testing.T) {
	vt.Validate(t, "nodes", validNode, []vt.Case[*corev1.Node]{
		vt.C("namespaced node", func(n *corev1.Node) { n.Metadata.Namespace = "default" }, "metadata.namespace"),
		vt.C("taint effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "Evict" }, "spec.taints[0].effect"),
		vt.C("taint key", func(n *corev1.Node) { n.Spec.Taints[0].Key = "" }, "spec.taints[0].key"),
		vt.C("duplicate taint", func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, n.Spec.Taints[0]) }, "spec.taints[1]"),
		vt.C("podCIDR", func(n *corev1.Node) { n.Spec.PodCIDR = "10.244.1.0" }, "spec.podCIDR"),
		vt.C("capacity", func(n *corev1.Node) { n.Status.Capacity["cpu"] = "four" }, "status.capacity[cpu]"),
	})
	vt.ValidateUpdate(t, "nodes", validNode, []vt.Case[*corev1.Node]{
		vt.C("unschedulable", func(n *corev1.Node) { n.Spec.Unschedulable = true }, ""),
		vt.C("change podCIDR", func(n *corev1.Node) { n.Spec.PodCIDR = "10.244.2.0/24" }, "spec.podCIDRs"),
	})
}

func TestNamespace(t *testing.T) {
	ns := validNamespace()
	registry.For("namespaces").Default(ns)
	if strings.Join(ns.Spec.Finalizers, ",") != "kubernetes" || ns.Status.Phase != "Active" || ns.Metadata.Labels[nameLabel] != "team-a" {
		t.Errorf("defaults not applied: %v", ns)
	}
	// The namespace controller clears the finalizer of a Terminating
	// namespace; defaulting on that update must not bring it back.
	ns.Status.Phase, ns.Spec.Finalizers = "Terminating", nil
	registry.For("namespaces").Default(ns)
	if len(ns.Spec.Finalizers) != 0 {
		t.Errorf("finalizer re-added on update: %v", ns.Spec.Finalizers)
	}
	vt.Validate(t, "namespaces", validNamespace, []vt.Case[*corev1.Namespace]{
		vt.C("subdomain name", func(n *corev1.Namespace) { n.Metadata.Name = "team.a" }, "metadata.name"),
		vt.C("finalizer", func(n *corev1.Namespace) { n.Spec.Finalizers = []string{"a b"} }, "spec.finalizers[0]"),
		vt.C("phase", func(n *corev1.Namespace) { n.Status.Phase = "Gone" }, "status.phase"),
	})
}

func TestEvent(t *testing.T) {
	ev := validEvent()
	registry.For("events").Default(ev)
	if ev.Count != 1 || ev.Type != "Normal" || ev.FirstTimestamp != nil {
		t.Errorf("defaults: %v", ev)
	}
	vt.Validate(t, "events", validEvent, []vt.Case[*corev1.Event]{
		vt.C("no involved object", func(e *corev1.Event) { e.InvolvedObject = nil }, "involvedObject"),
		vt.C("other namespace", func(e *corev1.Event) { e.InvolvedObject.Namespace = "kube-system" }, "involvedObject.namespace"),
		vt.C("cluster-scoped object", func(e *corev1.Event) { e.InvolvedObject = &corev1.ObjectReference{Kind: "Node", Name: "node-a"} }, ""),
		vt.C("type", func(e *corev1.Event) { e.Type = "Info" }, "type"),
	})
}

func TestConfigMap(t *testing.T) {
	vt.Validate(t, "configmaps", validConfigMap, []vt.Case[*corev1.ConfigMap]{
		vt.C("bad key", func(c *corev1.ConfigMap) { c.Data["a/b"] = "" }, "data"),
		vt.C("dot-dot key", func(c *corev1.ConfigMap) { c.Data[".."] = "" }, "data"),
		vt.C("key in both", func(c *corev1.ConfigMap) { c.BinaryData["app.conf"] = nil }, "binaryData"),
		vt.C("too large", func(c *corev1.ConfigMap) { c.Data["big"] = strings.Repeat("x", MaxDataSize) }, "data"),
	})
	immutable := func() *corev1.ConfigMap { c := validConfigMap(); c.Immutable = new(true); return c }
	vt.ValidateUpdate(t, "configmaps", immutable, []vt.Case[*corev1.ConfigMap]{
		vt.C("labels", func(c *corev1.ConfigMap) { c.Metadata.Labels = map[string]string{"a": "b"} }, ""),
		vt.C("data", func(c *corev1.ConfigMap) { c.Data["app.conf"] = "x=2" }, "data"),
		vt.C("unset immutable", func(c *corev1.ConfigMap) { c.Immutable = new(false) }, "immutable"),
	})
	vt.ValidateUpdate(t, "configmaps", validConfigMap, []vt.Case[*corev1.ConfigMap]{
		vt.C("mutable data", func(c *corev1.ConfigMap) { c.Data["app.conf"] = "x=2" }, ""),
	})
}

func TestSecret(t *testing.T) {
	s := validSecret()
	s.StringData = map[string]string{"username": "admin"}
	registry.For("secrets").Default(s)
	if s.Type != "Opaque" || string(s.Data["username"]) != "admin" || s.StringData != nil {
		t.Errorf("defaults: %v", s)
	}
	vt.Validate(t, "secrets", validSecret, []vt.Case[*corev1.Secret]{
		vt.C("bad key", func(s *corev1.Secret) { s.Data["a b"] = nil }, "data"),
		vt.C("tls without key", func(s *corev1.Secret) {
			s.Type = SecretTypeTLS
			s.Data = map[string][]byte{"tls.crt": []byte("c")}
		}, "data[tls.key]"),
		vt.C("token without account", func(s *corev1.Secret) { s.Type = SecretTypeServiceAccountToken }, "metadata.annotations[kubernetes.io/service-account.name]"),
		vt.C("too large", func(s *corev1.Secret) { s.Data["big"] = make([]byte, MaxDataSize) }, "data"),
	})
	vt.ValidateUpdate(t, "secrets", validSecret, []vt.Case[*corev1.Secret]{
		vt.C("data", func(s *corev1.Secret) { s.Data["password"] = []byte("new") }, ""),
		vt.C("type", func(s *corev1.Secret) { s.Type = SecretTypeBasicAuth }, "type"),
		vt.C("immutable then data", func(s *corev1.Secret) { s.Immutable = new(true) }, ""),
	})
	immutable := func() *corev1.Secret { s := validSecret(); s.Immutable = new(true); return s }
	vt.ValidateUpdate(t, "secrets", immutable, []vt.Case[*corev1.Secret]{
		vt.C("data", func(s *corev1.Secret) { s.Data["password"] = []byte("new") }, "data"),
	})
}

func TestServiceAccount(t *testing.T) {
	vt.Validate(t, "serviceaccounts", validServiceAccount, []vt.Case[*corev1.ServiceAccount]{
		vt.C("pull secret without name", func(s *corev1.ServiceAccount) { s.ImagePullSecrets[0].Name = "" }, "imagePullSecrets[0].name"),
	})
}

func TestResourceQuota(t *testing.T) {
	vt.Validate(t, "resourcequotas", validResourceQuota, []vt.Case[*corev1.ResourceQuota]{
		vt.C("bad quantity", func(q *corev1.ResourceQuota) { q.Spec.Hard["pods"] = "ten" }, "spec.hard[pods]"),
		vt.C("negative", func(q *corev1.ResourceQuota) { q.Spec.Hard["pods"] = "-1" }, "spec.hard[pods]"),
		vt.C("scope", func(q *corev1.ResourceQuota) { q.Spec.Scopes = []string{"Everything"} }, "spec.scopes[0]"),
	})
}

func TestLimitRange(t *testing.T) {
	item := func(l *corev1.LimitRange) *corev1.LimitRangeItem { return l.Spec.Limits[0] }
	vt.Validate(t, "limitranges", validLimitRange, []vt.Case[*corev1.LimitRange]{
		vt.C("type", func(l *corev1.LimitRange) { item(l).Type = "Node" }, "spec.limits[0].type"),
		vt.C("min above max", func(l *corev1.LimitRange) { item(l).Min["cpu"] = "2" }, "spec.limits[0].min[cpu]"),
		vt.C("default above max", func(l *corev1.LimitRange) { item(l).Default["cpu"] = "2" }, "spec.limits[0].default[cpu]"),
		vt.C("request above default", func(l *corev1.LimitRange) { item(l).DefaultRequest["cpu"] = "800m" }, "spec.limits[0].defaultRequest[cpu]"),
		vt.C("pod with default", func(l *corev1.LimitRange) { item(l).Type = "Pod" }, "spec.limits[0].default"),
		vt.C("bad quantity", func(l *corev1.LimitRange) { item(l).Max["cpu"] = "x" }, "spec.limits[0].max[cpu]"),
	})
}

func TestReplicationController(t *testing.T) {
	rc := validRC()
	registry.For("replicationcontrollers").Default(rc)
	if rc.Spec.GetReplicas() != 1 || rc.Spec.Selector["app"] != "web" || rc.Metadata.Labels["app"] != "web" ||
		rc.Spec.Template.Spec.RestartPolicy != "Always" {
		t.Errorf("defaults: %v", rc)
	}
	vt.Validate(t, "replicationcontrollers", validRC, []vt.Case[*corev1.ReplicationController]{
		vt.C("negative replicas", func(r *corev1.ReplicationController) { r.Spec.Replicas = new(int32(-1)) }, "spec.replicas"),
		vt.C("selector mismatch", func(r *corev1.ReplicationController) { r.Spec.Selector = map[string]string{"app": "db"} }, "spec.template.metadata.labels"),
		vt.C("no template", func(r *corev1.ReplicationController) { r.Spec.Template = nil }, "spec.template"),
		vt.C("restartPolicy", func(r *corev1.ReplicationController) { r.Spec.Template.Spec.RestartPolicy = "OnFailure" }, "spec.template.spec.restartPolicy"),
		vt.C("template image", func(r *corev1.ReplicationController) { r.Spec.Template.Spec.Containers[0].Image = "" }, "spec.template.spec.containers[0].image"),
	})
}

func TestBinding(t *testing.T) {
	vt.Validate(t, "bindings", validBinding, []vt.Case[*corev1.Binding]{
		vt.C("no target", func(b *corev1.Binding) { b.Target = nil }, "target.name"),
		vt.C("wrong kind", func(b *corev1.Binding) { b.Target.Kind = "Pod" }, "target.kind"),
	})
}
