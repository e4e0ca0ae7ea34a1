package audit

import (
	"slices"
	"strings"
	"testing"

	"minik8s/apiserver/auth"
)

const testPolicy = `
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  users: ["system:kube-proxy"]
  verbs: ["watch"]
  resources:
  - group: ""
    resources: ["endpoints", "services"]
- level: None
  userGroups: ["system:nodes"]
  verbs: ["get"]
  resources:
  - group: ""
    resources: ["nodes", "nodes/status"]
- level: None
  nonResourceURLs: ["/healthz*", "/version"]
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets", "configmaps"]
- level: Request
  resources:
  - group: ""
    resources: ["pods/log", "*/status"]
- level: RequestResponse
  namespaces: ["kube-system"]
  resources:
  - group: "apps"
    resources: ["deployments/*"]
    resourceNames: ["coredns"]
- level: Metadata
  namespaces: [""]
- level: Request
  resources:
  - group: "batch"
  omitStages: ["ResponseStarted"]
- level: RequestResponse
  nonResourceURLs: ["/metrics"]
`

func TestPolicyMatching(t *testing.T) {
	p, err := ParsePolicy([]byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	proxy := &auth.User{Name: "system:kube-proxy", Groups: []string{"system:authenticated"}}
	node := &auth.User{Name: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"}}
	jane := &auth.User{Name: "jane", Groups: []string{"system:authenticated"}}
	for _, tc := range []struct {
		name  string
		a     auth.Attributes
		level Level
	}{
		{"kube-proxy watches endpoints", auth.Attributes{User: proxy, Verb: "watch", Resource: "endpoints"}, LevelNone},
		{"kube-proxy lists endpoints (verb differs)", auth.Attributes{User: proxy, Verb: "list", Resource: "endpoints", Namespace: "default"}, LevelNone},
		{"jane watches endpoints (user differs)", auth.Attributes{User: jane, Verb: "watch", Resource: "endpoints", Namespace: "default"}, LevelNone},
		{"node gets its node status", auth.Attributes{User: node, Verb: "get", Resource: "nodes", Subresource: "status", Name: "n1"}, LevelNone},
		{"node updates its node status", auth.Attributes{User: node, Verb: "update", Resource: "nodes", Subresource: "status", Name: "n1"}, LevelRequest},
		{"no user never matches users", auth.Attributes{Verb: "watch", Resource: "endpoints", Namespace: "default"}, LevelNone},
		{"healthz prefix", auth.Attributes{User: jane, Verb: "get", Path: "/healthz/etcd"}, LevelNone},
		{"version exact", auth.Attributes{User: jane, Verb: "get", Path: "/version"}, LevelNone},
		{"version/ is not /version", auth.Attributes{User: jane, Verb: "get", Path: "/version/"}, LevelNone},
		{"metrics", auth.Attributes{User: jane, Verb: "get", Path: "/metrics"}, LevelRequestResponse},
		{"secrets", auth.Attributes{User: jane, Verb: "get", Resource: "secrets", Namespace: "default", Name: "s"}, LevelMetadata},
		{"secrets of another group", auth.Attributes{User: jane, Verb: "get", Group: "example.com", Resource: "secrets", Namespace: "default"}, LevelNone},
		{"pods/log", auth.Attributes{User: jane, Verb: "get", Resource: "pods", Subresource: "log", Namespace: "default"}, LevelRequest},
		{"pods themselves are not pods/log", auth.Attributes{User: jane, Verb: "get", Resource: "pods", Namespace: "default"}, LevelNone},
		{"*/status", auth.Attributes{User: jane, Verb: "update", Resource: "services", Subresource: "status", Namespace: "default"}, LevelRequest},
		{"deployments/* with its name, in kube-system", auth.Attributes{User: jane, Verb: "update", Group: "apps", Resource: "deployments", Subresource: "scale", Namespace: "kube-system", Name: "coredns"}, LevelRequestResponse},
		{"deployments/* matches the resource itself", auth.Attributes{User: jane, Verb: "get", Group: "apps", Resource: "deployments", Namespace: "kube-system", Name: "coredns"}, LevelRequestResponse},
		{"deployments/* other name", auth.Attributes{User: jane, Verb: "get", Group: "apps", Resource: "deployments", Namespace: "kube-system", Name: "web"}, LevelNone},
		{"deployments/* other namespace", auth.Attributes{User: jane, Verb: "get", Group: "apps", Resource: "deployments", Namespace: "default", Name: "coredns"}, LevelNone},
		{"cluster-scoped: namespace \"\"", auth.Attributes{User: jane, Verb: "list", Resource: "namespaces"}, LevelMetadata},
		{"a whole group", auth.Attributes{User: jane, Verb: "create", Group: "batch", Resource: "jobs", Namespace: "default"}, LevelRequest},
		{"nothing matches: None", auth.Attributes{User: jane, Verb: "create", Group: "apps", Resource: "deployments", Namespace: "default"}, LevelNone},
		{"resource rules never match paths", auth.Attributes{User: jane, Verb: "get", Path: "/apis"}, LevelNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			level, _ := p.LevelAndStages(tc.a)
			if level != tc.level {
				t.Fatalf("level %s, want %s", level, tc.level)
			}
		})
	}
	t.Run("omitStages of the policy join the rule's", func(t *testing.T) {
		_, stages := p.LevelAndStages(auth.Attributes{User: jane, Verb: "get", Group: "batch", Resource: "jobs", Namespace: "x"})
		slices.Sort(stages)
		if !slices.Equal(stages, []Stage{StageRequestReceived, StageResponseStarted}) {
			t.Fatalf("stages %v", stages)
		}
		_, stages = p.LevelAndStages(auth.Attributes{User: jane, Verb: "get", Group: "nope", Resource: "x", Namespace: "x"})
		if !slices.Equal(stages, []Stage{StageRequestReceived}) {
			t.Fatalf("no rule: stages %v", stages)
		}
	})
}

func TestParsePolicyErrors(t *testing.T) {
	for _, tc := range []struct{ name, policy, want string }{
		{"no rules", "apiVersion: audit.k8s.io/v1\nkind: Policy\n", "no rules"},
		{"wrong version", "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n", "want audit.k8s.io/v1 Policy"},
		{"unknown field", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None, user: [x]}]\n", `unknown field "user"`},
		{"bad level", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Everything}]\n", `rules[0].level: unknown level "Everything"`},
		{"no level", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{verbs: [get]}]\n", "rules[0].level: required"},
		{"bad stage", "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Started]\nrules: [{level: None}]\n", `unknown stage "Started"`},
		{"urls and resources", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None, nonResourceURLs: [/x], resources: [{group: \"\"}]}]\n", "cannot be combined"},
		{"relative url", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None, nonResourceURLs: [healthz]}]\n", `must start with "/"`},
		{"inner star", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None, nonResourceURLs: [/a*/b]}]\n", "only at the end"},
		{"group/version", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None, resources: [{group: apps/v1}]}]\n", "not a group/version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tc.policy))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
}
