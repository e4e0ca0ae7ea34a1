package node

import (
	"context"
	"fmt"
	"testing"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/apiserver/auth"
)

func nodeUser(name string) *auth.User {
	return &auth.User{Name: auth.NodeUserPrefix + name, Groups: []string{auth.GroupNodes, auth.GroupAuthenticated}}
}

// testPod is pod ns/name on node, using the given secret (volume),
// config map (env) and service account.
func testPod(ns, name, node, secret, cm, sa string) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: &corev1.PodSpec{NodeName: node, ServiceAccountName: sa,
			Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if secret != "" {
		p.Spec.Volumes = append(p.Spec.Volumes, &corev1.Volume{Name: "s", Secret: &corev1.SecretVolumeSource{SecretName: secret}})
	}
	if cm != "" {
		p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, &corev1.EnvVar{Name: "X",
			ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: cm, Key: "k"}}})
	}
	return p
}

func TestAuthorize(t *testing.T) {
	g := NewGraph()
	g.SetPod(testPod("default", "web1", "n1", "s1", "cm1", "sa1"))
	g.SetPod(testPod("default", "web2", "n2", "s2", "cm2", "sa2"))
	g.SetPod(testPod("default", "pending", "", "s3", "", "")) // unbound: gives nobody anything
	z := NewAuthorizer(g)

	n1 := nodeUser("n1")
	type attrs = auth.Attributes
	tests := []struct {
		name   string
		a      attrs
		want   auth.Decision
		reason string
	}{
		{"not a node", attrs{User: &auth.User{Name: "jane"}, Verb: "get", Resource: "secrets", Namespace: "default", Name: "s1"}, auth.NoOpinion, ""},
		{"node name without the group", attrs{User: &auth.User{Name: "system:node:n1"}, Verb: "get", Resource: "secrets", Namespace: "default", Name: "s1"}, auth.NoOpinion, ""},
		{"unknown node", attrs{User: &auth.User{Name: "system:node:", Groups: []string{auth.GroupNodes}}, Verb: "get", Resource: "nodes"}, auth.NoOpinion, `unknown node for user "system:node:"`},
		{"non-resource", attrs{User: n1, Verb: "get", Path: "/healthz"}, auth.NoOpinion, ""},

		{"own pod's secret", attrs{User: n1, Verb: "get", Resource: "secrets", Namespace: "default", Name: "s1"}, auth.Allow, ""},
		{"watch of own pod's secret", attrs{User: n1, Verb: "watch", Resource: "secrets", Namespace: "default", Name: "s1"}, auth.Allow, ""},
		{"other node's secret", attrs{User: n1, Verb: "get", Resource: "secrets", Namespace: "default", Name: "s2"}, auth.NoOpinion, "no relationship found between node 'n1' and this object"},
		{"unbound pod's secret", attrs{User: n1, Verb: "get", Resource: "secrets", Namespace: "default", Name: "s3"}, auth.NoOpinion, "no relationship found between node 'n1' and this object"},
		{"same name in another namespace", attrs{User: n1, Verb: "get", Resource: "secrets", Namespace: "other", Name: "s1"}, auth.NoOpinion, "no relationship found between node 'n1' and this object"},
		{"list own pod's secret by name", attrs{User: n1, Verb: "list", Resource: "secrets", Namespace: "default", FieldSelector: "metadata.name=s1"}, auth.Allow, ""},
		{"watch other node's secret by name", attrs{User: n1, Verb: "watch", Resource: "secrets", Namespace: "default", FieldSelector: "metadata.name==s2"}, auth.NoOpinion, "no relationship found between node 'n1' and this object"},
		{"list secrets", attrs{User: n1, Verb: "list", Resource: "secrets", Namespace: "default"}, auth.NoOpinion, "No Object name found"},
		{"update secret", attrs{User: n1, Verb: "update", Resource: "secrets", Namespace: "default", Name: "s1"}, auth.NoOpinion, "can only read resources of this type"},
		{"own pod's config map", attrs{User: n1, Verb: "get", Resource: "configmaps", Namespace: "default", Name: "cm1"}, auth.Allow, ""},
		{"other node's config map", attrs{User: n1, Verb: "get", Resource: "configmaps", Namespace: "default", Name: "cm2"}, auth.NoOpinion, "no relationship found between node 'n1' and this object"},

		{"own pod's service account", attrs{User: n1, Verb: "get", Resource: "serviceaccounts", Namespace: "default", Name: "sa1"}, auth.Allow, ""},
		{"token of own pod's account", attrs{User: n1, Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "default", Name: "sa1"}, auth.Allow, ""},
		{"token of other node's account", attrs{User: n1, Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "default", Name: "sa2"}, auth.NoOpinion, "no relationship found between node 'n1' and this object"},
		{"list service accounts", attrs{User: n1, Verb: "list", Resource: "serviceaccounts", Namespace: "default"}, auth.NoOpinion, "can only get individual resources of this type"},

		{"own pod", attrs{User: n1, Verb: "get", Resource: "pods", Namespace: "default", Name: "web1"}, auth.Allow, ""},
		{"other node's pod", attrs{User: n1, Verb: "get", Resource: "pods", Namespace: "default", Name: "web2"}, auth.NoOpinion, "no relationship found between node 'n1' and this object"},
		{"watch own pods", attrs{User: n1, Verb: "watch", Resource: "pods", FieldSelector: "spec.nodeName=n1"}, auth.Allow, ""},
		{"list own pods (==, with another term)", attrs{User: n1, Verb: "list", Resource: "pods", Namespace: "default", FieldSelector: "status.phase=Running,spec.nodeName==n1"}, auth.Allow, ""},
		{"list other node's pods", attrs{User: n1, Verb: "list", Resource: "pods", FieldSelector: "spec.nodeName=n2"}, auth.NoOpinion, "can only list/watch pods with spec.nodeName field selector"},
		{"list pods not on n1", attrs{User: n1, Verb: "list", Resource: "pods", FieldSelector: "spec.nodeName!=n1"}, auth.NoOpinion, "can only list/watch pods with spec.nodeName field selector"},
		{"list all pods", attrs{User: n1, Verb: "list", Resource: "pods"}, auth.NoOpinion, "can only list/watch pods with spec.nodeName field selector"},
		{"watch one own pod", attrs{User: n1, Verb: "watch", Resource: "pods", Namespace: "default", Name: "web1"}, auth.Allow, ""},
		{"create pod (mirror; admission checks)", attrs{User: n1, Verb: "create", Resource: "pods", Namespace: "default", Name: "m"}, auth.Allow, ""},
		{"delete pod (admission checks)", attrs{User: n1, Verb: "delete", Resource: "pods", Namespace: "default", Name: "web1"}, auth.Allow, ""},
		{"update pod", attrs{User: n1, Verb: "update", Resource: "pods", Namespace: "default", Name: "web1"}, auth.NoOpinion, ""},
		{"update pod status", attrs{User: n1, Verb: "update", Resource: "pods", Subresource: "status", Namespace: "default", Name: "web1"}, auth.Allow, ""},
		{"get own pod status (patch)", attrs{User: n1, Verb: "get", Resource: "pods", Subresource: "status", Namespace: "default", Name: "web1"}, auth.Allow, ""},
		{"get other pod status", attrs{User: n1, Verb: "get", Resource: "pods", Subresource: "status", Namespace: "default", Name: "web2"}, auth.NoOpinion, "no relationship found between node 'n1' and this object"},
		{"evict", attrs{User: n1, Verb: "create", Resource: "pods", Subresource: "eviction", Namespace: "default", Name: "web1"}, auth.Allow, ""},
		{"exec", attrs{User: n1, Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "default", Name: "web1"}, auth.NoOpinion, ""},

		{"register node", attrs{User: n1, Verb: "create", Resource: "nodes", Name: "n1"}, auth.Allow, ""},
		{"get own node", attrs{User: n1, Verb: "get", Resource: "nodes", Name: "n1"}, auth.Allow, ""},
		{"watch nodes (routes)", attrs{User: n1, Verb: "watch", Resource: "nodes"}, auth.Allow, ""},
		{"update node status (admission checks)", attrs{User: n1, Verb: "update", Resource: "nodes", Subresource: "status", Name: "n2"}, auth.Allow, ""},
		{"get own node status", attrs{User: n1, Verb: "get", Resource: "nodes", Subresource: "status", Name: "n1"}, auth.Allow, ""},
		{"get other node status", attrs{User: n1, Verb: "get", Resource: "nodes", Subresource: "status", Name: "n2"}, auth.NoOpinion, ""},
		{"delete node", attrs{User: n1, Verb: "delete", Resource: "nodes", Name: "n1"}, auth.NoOpinion, ""},
		{"node proxy", attrs{User: n1, Verb: "get", Resource: "nodes", Subresource: "proxy", Name: "n1"}, auth.NoOpinion, ""},

		{"own lease", attrs{User: n1, Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: LeaseNamespace, Name: "n1"}, auth.Allow, ""},
		{"create own lease", attrs{User: n1, Verb: "create", Group: "coordination.k8s.io", Resource: "leases", Namespace: LeaseNamespace, Name: "n1"}, auth.Allow, ""},
		{"other node's lease", attrs{User: n1, Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: LeaseNamespace, Name: "n2"}, auth.NoOpinion, "can only access node lease with the same name as the requesting node"},
		{"create other node's lease", attrs{User: n1, Verb: "create", Group: "coordination.k8s.io", Resource: "leases", Namespace: LeaseNamespace, Name: "n2"}, auth.NoOpinion, "can only access node lease with the same name as the requesting node"},
		{"lease elsewhere", attrs{User: n1, Verb: "get", Group: "coordination.k8s.io", Resource: "leases", Namespace: "kube-system", Name: "n1"}, auth.NoOpinion, `can only access leases in the "kube-node-lease" system namespace`},
		{"list leases", attrs{User: n1, Verb: "list", Group: "coordination.k8s.io", Resource: "leases", Namespace: LeaseNamespace}, auth.NoOpinion, "can only get, create, update, patch, or delete a node lease"},

		{"create event", attrs{User: n1, Verb: "create", Resource: "events", Namespace: "default"}, auth.Allow, ""},
		{"delete event", attrs{User: n1, Verb: "delete", Resource: "events", Namespace: "default", Name: "e"}, auth.NoOpinion, ""},
		{"watch services", attrs{User: n1, Verb: "watch", Resource: "services"}, auth.Allow, ""},
		{"tokenreview", attrs{User: n1, Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"}, auth.Allow, ""},
		{"subjectaccessreview", attrs{User: n1, Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, auth.Allow, ""},
		{"deployments", attrs{User: n1, Verb: "list", Group: "apps", Resource: "deployments"}, auth.NoOpinion, ""},
		{"namespaces", attrs{User: n1, Verb: "get", Resource: "namespaces", Name: "default"}, auth.NoOpinion, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, reason, err := z.Authorize(context.Background(), tt.a)
			if err != nil {
				t.Fatal(err)
			}
			if d != tt.want || reason != tt.reason {
				t.Errorf("got %v %q, want %v %q", d, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestRulesFor(t *testing.T) {
	z := NewAuthorizer(NewGraph())
	if _, _, incomplete, _ := z.RulesFor(context.Background(), nodeUser("n1"), "default"); !incomplete {
		t.Error("a node's rules should be incomplete")
	}
	if _, _, incomplete, _ := z.RulesFor(context.Background(), &auth.User{Name: "jane"}, "default"); incomplete {
		t.Error("a user's Node rules should be complete (none)")
	}
}

// BenchmarkAuthorize is one decision of a kubelet reading a secret, with
// 10000 pods on 100 nodes in the graph (a lookup, not a scan).
func BenchmarkAuthorize(b *testing.B) {
	g := NewGraph()
	for i := range 10000 {
		node := fmt.Sprintf("n%d", i%100)
		g.SetPod(testPod("default", fmt.Sprintf("p%d", i), node, fmt.Sprintf("s%d", i), fmt.Sprintf("cm%d", i), "default"))
	}
	z := NewAuthorizer(g)
	a := auth.Attributes{User: nodeUser("n42"), Verb: "get", Resource: "secrets", Namespace: "default", Name: "s4242"}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if d, _, _ := z.Authorize(ctx, a); d != auth.Allow {
			b.Fatal(d)
		}
	}
}
