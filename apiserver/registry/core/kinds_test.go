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
		{"name must start with a letter", func(s *corev1.Service) { s.Metadata.Name = "1web" }, "metadata.name"},
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, "spec.ports"},
		{"headless without ports", func(s *corev1.Service) { s.Spec.Ports, s.Spec.ClusterIP = nil, "None" }, ""},
		{"port zero", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }, "spec.ports[0].port"},
		{"unnamed second port", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, &corev1.ServicePort{Port: 443, Protocol: "TCP", TargetPort: intStr(443)})
		}, "spec.ports[0].name"},
		{"duplicate port names", func(s *corev1.Service) {
			s.Spec.Ports[0].Name = "http"
			s.Spec.Ports = append(s.Spec.Ports, &corev1.ServicePort{Name: "http", Port: 443, Protocol: "TCP", TargetPort: intStr(443)})
		}, "spec.ports[1].name"},
		{"protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" }, "spec.ports[0].protocol"},
		{"targetPort name", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = strVal("Web_Port") }, "spec.ports[0].targetPort"},
		{"type", func(s *corev1.Service) { s.Spec.Type = "Magic" }, "spec.type"},
		{"clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.300" }, "spec.clusterIP"},
		{"nodePort on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }, "spec.ports[0].nodePort"},
		{"nodePort on NodePort", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalTrafficPolicy = "NodePort", "Cluster"
			s.Spec.Ports[0].NodePort = 30080
		}, ""},
		{"externalName required", func(s *corev1.Service) { s.Spec.Type = "ExternalName" }, "spec.externalName"},
		{"sessionAffinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }, "spec.sessionAffinity"},
		{"selector value", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "a b"} }, "spec.selector[app]"},
		{"externalTrafficPolicy on ClusterIP", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = "Local" }, "spec.externalTrafficPolicy"},
	})
	withIP := func() *corev1.Service { s := validService(); s.Spec.ClusterIP = "10.96.0.20"; return s }
	vt.ValidateUpdate(t, "services", withIP, []vt.Case[*corev1.Service]{
		{"change ports", func(s *corev1.Service) { s.Spec.Ports[0].Port = 8080; s.Spec.Ports[0].TargetPort = intStr(8080) }, ""},
		{"change clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.21" }, "spec.clusterIP"},
	})
}

func TestEndpointsValidate(t *testing.T) {
	vt.Validate(t, "endpoints", validEndpoints, []vt.Case[*corev1.Endpoints]{
		{"not an IP", func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].Ip = "pod-a" }, "subsets[0].addresses[0].ip"},
		{"no addresses", func(e *corev1.Endpoints) { e.Subsets[0].Addresses = nil }, "subsets[0]"},
		{"no ports", func(e *corev1.Endpoints) { e.Subsets[0].Ports = nil }, "subsets[0].ports"},
		{"bad port", func(e *corev1.Endpoints) { e.Subsets[0].Ports[0].Port = 0 }, "subsets[0].ports[0].port"},
		{"not ready only", func(e *corev1.Endpoints) {
			e.Subsets[0].NotReadyAddresses, e.Subsets[0].Addresses = e.Subsets[0].Addresses, nil
		}, ""},
	})
}

func TestNodeValidate(t *testing.T) {
	vt.Validate(t, "nodes", validNode, []vt.Case[*corev1.Node]{
		{"namespaced node", func(n *corev1.Node) { n.Metadata.Namespace = "default" }, "metadata.namespace"},
		{"taint effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "Evict" }, "spec.taints[0].effect"},
		{"taint key", func(n *corev1.Node) { n.Spec.Taints[0].Key = "" }, "spec.taints[0].key"},
		{"duplicate taint", func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, n.Spec.Taints[0]) }, "spec.taints[1]"},
		{"podCIDR", func(n *corev1.Node) { n.Spec.PodCIDR = "10.244.1.0" }, "spec.podCIDR"},
		{"capacity", func(n *corev1.Node) { n.Status.Capacity["cpu"] = "four" }, "status.capacity[cpu]"},
	})
	vt.ValidateUpdate(t, "nodes", validNode, []vt.Case[*corev1.Node]{
		{"unschedulable", func(n *corev1.Node) { n.Spec.Unschedulable = true }, ""},
		{"change podCIDR", func(n *corev1.Node) { n.Spec.PodCIDR = "10.244.2.0/24" }, "spec.podCIDRs"},
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
		{"subdomain name", func(n *corev1.Namespace) { n.Metadata.Name = "team.a" }, "metadata.name"},
		{"finalizer", func(n *corev1.Namespace) { n.Spec.Finalizers = []string{"a b"} }, "spec.finalizers[0]"},
		{"phase", func(n *corev1.Namespace) { n.Status.Phase = "Gone" }, "status.phase"},
	})
}

func TestEvent(t *testing.T) {
	ev := validEvent()
	registry.For("events").Default(ev)
	if ev.Count != 1 || ev.Type != "Normal" || ev.FirstTimestamp != nil {
		t.Errorf("defaults: %v", ev)
	}
	vt.Validate(t, "events", validEvent, []vt.Case[*corev1.Event]{
		{"no involved object", func(e *corev1.Event) { e.InvolvedObject = nil }, "involvedObject"},
		{"other namespace", func(e *corev1.Event) { e.InvolvedObject.Namespace = "kube-system" }, "involvedObject.namespace"},
		{"cluster-scoped object", func(e *corev1.Event) { e.InvolvedObject = &corev1.ObjectReference{Kind: "Node", Name: "node-a"} }, ""},
		{"type", func(e *corev1.Event) { e.Type = "Info" }, "type"},
	})
}

func TestConfigMap(t *testing.T) {
	vt.Validate(t, "configmaps", validConfigMap, []vt.Case[*corev1.ConfigMap]{
		{"bad key", func(c *corev1.ConfigMap) { c.Data["a/b"] = "" }, "data"},
		{"dot-dot key", func(c *corev1.ConfigMap) { c.Data[".."] = "" }, "data"},
		{"key in both", func(c *corev1.ConfigMap) { c.BinaryData["app.conf"] = nil }, "binaryData"},
		{"too large", func(c *corev1.ConfigMap) { c.Data["big"] = strings.Repeat("x", MaxDataSize) }, "data"},
	})
	immutable := func() *corev1.ConfigMap { c := validConfigMap(); c.Immutable = new(true); return c }
	vt.ValidateUpdate(t, "configmaps", immutable, []vt.Case[*corev1.ConfigMap]{
		{"labels", func(c *corev1.ConfigMap) { c.Metadata.Labels = map[string]string{"a": "b"} }, ""},
		{"data", func(c *corev1.ConfigMap) { c.Data["app.conf"] = "x=2" }, "data"},
		{"unset immutable", func(c *corev1.ConfigMap) { c.Immutable = new(false) }, "immutable"},
	})
	vt.ValidateUpdate(t, "configmaps", validConfigMap, []vt.Case[*corev1.ConfigMap]{
		{"mutable data", func(c *corev1.ConfigMap) { c.Data["app.conf"] = "x=2" }, ""},
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
		{"bad key", func(s *corev1.Secret) { s.Data["a b"] = nil }, "data"},
		{"tls without key", func(s *corev1.Secret) {
			s.Type = SecretTypeTLS
			s.Data = map[string][]byte{"tls.crt": []byte("c")}
		}, "data[tls.key]"},
		{"token without account", func(s *corev1.Secret) { s.Type = SecretTypeServiceAccountToken }, "metadata.annotations[kubernetes.io/service-account.name]"},
		{"too large", func(s *corev1.Secret) { s.Data["big"] = make([]byte, MaxDataSize) }, "data"},
	})
	vt.ValidateUpdate(t, "secrets", validSecret, []vt.Case[*corev1.Secret]{
		{"data", func(s *corev1.Secret) { s.Data["password"] = []byte("new") }, ""},
		{"type", func(s *corev1.Secret) { s.Type = SecretTypeBasicAuth }, "type"},
		{"immutable then data", func(s *corev1.Secret) { s.Immutable = new(true) }, ""},
	})
	immutable := func() *corev1.Secret { s := validSecret(); s.Immutable = new(true); return s }
	vt.ValidateUpdate(t, "secrets", immutable, []vt.Case[*corev1.Secret]{
		{"data", func(s *corev1.Secret) { s.Data["password"] = []byte("new") }, "data"},
	})
}

func TestServiceAccount(t *testing.T) {
	vt.Validate(t, "serviceaccounts", validServiceAccount, []vt.Case[*corev1.ServiceAccount]{
		{"pull secret without name", func(s *corev1.ServiceAccount) { s.ImagePullSecrets[0].Name = "" }, "imagePullSecrets[0].name"},
	})
}

func TestResourceQuota(t *testing.T) {
	vt.Validate(t, "resourcequotas", validResourceQuota, []vt.Case[*corev1.ResourceQuota]{
		{"bad quantity", func(q *corev1.ResourceQuota) { q.Spec.Hard["pods"] = "ten" }, "spec.hard[pods]"},
		{"negative", func(q *corev1.ResourceQuota) { q.Spec.Hard["pods"] = "-1" }, "spec.hard[pods]"},
		{"scope", func(q *corev1.ResourceQuota) { q.Spec.Scopes = []string{"Everything"} }, "spec.scopes[0]"},
	})
}

func TestLimitRange(t *testing.T) {
	item := func(l *corev1.LimitRange) *corev1.LimitRangeItem { return l.Spec.Limits[0] }
	vt.Validate(t, "limitranges", validLimitRange, []vt.Case[*corev1.LimitRange]{
		{"type", func(l *corev1.LimitRange) { item(l).Type = "Node" }, "spec.limits[0].type"},
		{"min above max", func(l *corev1.LimitRange) { item(l).Min["cpu"] = "2" }, "spec.limits[0].min[cpu]"},
		{"default above max", func(l *corev1.LimitRange) { item(l).Default["cpu"] = "2" }, "spec.limits[0].default[cpu]"},
		{"request above default", func(l *corev1.LimitRange) { item(l).DefaultRequest["cpu"] = "800m" }, "spec.limits[0].defaultRequest[cpu]"},
		{"pod with default", func(l *corev1.LimitRange) { item(l).Type = "Pod" }, "spec.limits[0].default"},
		{"bad quantity", func(l *corev1.LimitRange) { item(l).Max["cpu"] = "x" }, "spec.limits[0].max[cpu]"},
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
		{"negative replicas", func(r *corev1.ReplicationController) { r.Spec.Replicas = new(int32(-1)) }, "spec.replicas"},
		{"selector mismatch", func(r *corev1.ReplicationController) { r.Spec.Selector = map[string]string{"app": "db"} }, "spec.template.metadata.labels"},
		{"no template", func(r *corev1.ReplicationController) { r.Spec.Template = nil }, "spec.template"},
		{"restartPolicy", func(r *corev1.ReplicationController) { r.Spec.Template.Spec.RestartPolicy = "OnFailure" }, "spec.template.spec.restartPolicy"},
		{"template image", func(r *corev1.ReplicationController) { r.Spec.Template.Spec.Containers[0].Image = "" }, "spec.template.spec.containers[0].image"},
	})
}

func TestBinding(t *testing.T) {
	vt.Validate(t, "bindings", validBinding, []vt.Case[*corev1.Binding]{
		{"no target", func(b *corev1.Binding) { b.Target = nil }, "target.name"},
		{"wrong kind", func(b *corev1.Binding) { b.Target.Kind = "Pod" }, "target.kind"},
	})
}
