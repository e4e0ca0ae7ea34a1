package audit

import (
	"testing"

	"minik8s/apiserver/auth"
)

// TestSamplePolicy: deploy/audit/policy.yaml parses and sorts typical
// requests as its comments say.
func TestSamplePolicy(t *testing.T) {
	p, err := LoadPolicy("../../deploy/audit/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	proxy := &auth.User{Name: "system:kube-proxy", Groups: []string{"system:authenticated"}}
	node := &auth.User{Name: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"}}
	sched := &auth.User{Name: "system:kube-scheduler", Groups: []string{"system:authenticated"}}
	admin := &auth.User{Name: "kubernetes-admin", Groups: []string{"system:masters", "system:authenticated"}}
	for _, tc := range []struct {
		name  string
		a     auth.Attributes
		level Level
	}{
		{"kube-proxy watches endpointslices", auth.Attributes{User: proxy, Verb: "watch", Group: "discovery.k8s.io", Resource: "endpointslices"}, LevelNone},
		{"a kubelet gets its pod", auth.Attributes{User: node, Verb: "get", Resource: "pods", Namespace: "default", Name: "web"}, LevelNone},
		{"a kubelet renews its lease", auth.Attributes{User: node, Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: "kube-node-lease", Name: "n1"}, LevelNone},
		{"a kubelet reports pod status", auth.Attributes{User: node, Verb: "update", Resource: "pods", Subresource: "status", Namespace: "default", Name: "web"}, LevelRequest},
		{"a kubelet creates a mirror pod", auth.Attributes{User: node, Verb: "create", Resource: "pods", Namespace: "kube-system"}, LevelRequestResponse},
		{"the scheduler watches pods", auth.Attributes{User: sched, Verb: "watch", Resource: "pods"}, LevelNone},
		{"the scheduler binds", auth.Attributes{User: sched, Verb: "create", Resource: "pods", Subresource: "binding", Namespace: "default", Name: "web"}, LevelRequestResponse},
		{"events", auth.Attributes{User: sched, Verb: "create", Resource: "events", Namespace: "default"}, LevelNone},
		{"readyz", auth.Attributes{User: admin, Verb: "get", Path: "/readyz"}, LevelNone},
		{"discovery", auth.Attributes{User: admin, Verb: "get", Path: "/apis/apps/v1"}, LevelNone},
		{"admin reads a secret", auth.Attributes{User: admin, Verb: "get", Resource: "secrets", Namespace: "default", Name: "s"}, LevelMetadata},
		{"admin writes a secret", auth.Attributes{User: admin, Verb: "create", Resource: "secrets", Namespace: "default"}, LevelMetadata},
		{"admin reviews a token", auth.Attributes{User: admin, Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"}, LevelMetadata},
		{"admin execs", auth.Attributes{User: admin, Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "default", Name: "web"}, LevelMetadata},
		{"admin lists pods", auth.Attributes{User: admin, Verb: "list", Resource: "pods", Namespace: "default"}, LevelMetadata},
		{"admin deletes a deployment", auth.Attributes{User: admin, Verb: "delete", Group: "apps", Resource: "deployments", Namespace: "default", Name: "web"}, LevelRequestResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if level, _ := p.LevelAndStages(tc.a); level != tc.level {
				t.Fatalf("level %s, want %s", level, tc.level)
			}
		})
	}
}
