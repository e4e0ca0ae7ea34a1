// Package bootstrappolicy holds the ClusterRoles and ClusterRoleBindings
// every cluster starts with (Kubernetes' bootstrap policy, cut to what
// this cluster's components and users need) and the reconcile that puts
// them in place at apiserver start: missing objects are created, missing
// rules, labels and subjects added, and nothing a user added is removed.
// An object annotated rbac.authorization.kubernetes.io/autoupdate=false is
// left alone.
package bootstrappolicy

import (
	metav1 "minik8s/api/meta/v1"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/apiserver/auth"
)

// Annotation and labels of the bootstrap objects (Kubernetes' names).
const (
	AutoUpdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate"
	BootstrapLabel       = "kubernetes.io/bootstrapping"
	AggregateToAdmin     = "rbac.authorization.k8s.io/aggregate-to-admin"
	AggregateToEdit      = "rbac.authorization.k8s.io/aggregate-to-edit"
	AggregateToView      = "rbac.authorization.k8s.io/aggregate-to-view"
)

// Component identities (the users of their client certificates, see
// api/pki/cluster.go).
const (
	SchedulerUser         = "system:kube-scheduler"
	ControllerManagerUser = "system:kube-controller-manager"
	KubeProxyUser         = "system:kube-proxy"
	GroupMonitoring       = "system:monitoring"
)

// rule builds a PolicyRule: r(verbs...).groups(...).res(...).
type rb struct{ r *rbacv1.PolicyRule }

func r(verbs ...string) rb { return rb{&rbacv1.PolicyRule{Verbs: verbs}} }

func (b rb) groups(g ...string) rb { b.r.ApiGroups = g; return b }
func (b rb) res(res ...string) rb  { b.r.Resources = res; return b }
func (b rb) names(n ...string) rb  { b.r.ResourceNames = n; return b }
func (b rb) urls(u ...string) rb   { b.r.NonResourceURLs = u; return b }
func rules(bs ...rb) []*rbacv1.PolicyRule {
	out := make([]*rbacv1.PolicyRule, len(bs))
	for i, b := range bs {
		out[i] = b.r
	}
	return out
}

var (
	read      = []string{"get", "list", "watch"}
	readWrite = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	write     = []string{"create", "update", "patch", "delete", "deletecollection"}
	// eventsRule lets a component record events in either events API.
	eventsRule = r("create", "update", "patch").groups("", "events.k8s.io").res("events")
)

const (
	legacy = ""
	rbacG  = rbacv1.Group
)

func role(name string, labels map[string]string, rs []*rbacv1.PolicyRule) *rbacv1.ClusterRole {
	l := map[string]string{BootstrapLabel: "rbac-defaults"}
	for k, v := range labels {
		l[k] = v
	}
	return &rbacv1.ClusterRole{
		ApiVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole",
		Metadata: &metav1.ObjectMeta{Name: name, Labels: l, Annotations: map[string]string{AutoUpdateAnnotation: "true"}},
		Rules:    rs,
	}
}

func aggregated(name string, labels map[string]string, selectLabel string) *rbacv1.ClusterRole {
	cr := role(name, labels, nil)
	cr.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []*metav1.LabelSelector{
		{MatchLabels: map[string]string{selectLabel: "true"}},
	}}
	return cr
}

// ClusterRoles are the bootstrap roles, in the order they are reconciled.
func ClusterRoles() []*rbacv1.ClusterRole {
	return []*rbacv1.ClusterRole{
		// Everything, everywhere: the group system:masters (the admin
		// kubeconfig) has it.
		role("cluster-admin", nil, rules(r("*").groups("*").res("*"), r("*").urls("*"))),
		// Discovery, health and version for every authenticated user.
		role("system:discovery", nil, rules(r("get").urls(
			"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz",
			"/openapi", "/openapi/*", "/version", "/version/"))),
		// What the anonymous may see too.
		role("system:public-info-viewer", nil, rules(r("get").urls(
			"/healthz", "/livez", "/readyz", "/version", "/version/"))),
		// Who am I and what may I do.
		role("system:basic-user", nil, rules(
			r("create").groups("authorization.k8s.io").res("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			r("create").groups("authentication.k8s.io").res("selfsubjectreviews"))),
		// The service-account issuer's discovery documents, for token
		// verifiers running as service accounts.
		role("system:service-account-issuer-discovery", nil, rules(r("get").urls(
			"/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/openid/v1/jwks", "/openid/v1/jwks/"))),
		role("system:monitoring", nil, rules(r("get").urls(
			"/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz", "/livez/*", "/readyz/*", "/healthz/*"))),

		// The user-facing roles: their rules are the union of the
		// system:aggregate-to-* roles and any role a user labels alike.
		aggregated("admin", nil, AggregateToAdmin),
		aggregated("edit", map[string]string{AggregateToAdmin: "true"}, AggregateToEdit),
		aggregated("view", map[string]string{AggregateToEdit: "true"}, AggregateToView),
		role("system:aggregate-to-admin", map[string]string{AggregateToAdmin: "true"}, rules(
			r(readWrite...).groups(rbacG).res("roles", "rolebindings"),
			r("create").groups("authorization.k8s.io").res("localsubjectaccessreviews"),
			r(read...).groups(legacy).res("namespaces"))),
		role("system:aggregate-to-edit", map[string]string{AggregateToEdit: "true"}, rules(
			r(read...).groups(legacy).res("pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"),
			r("impersonate").groups(legacy).res("serviceaccounts"),
			r(write...).groups(legacy).res("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"),
			r("create").groups(legacy).res("pods/eviction"),
			r(write...).groups(legacy).res("configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
				"replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"),
			r("create").groups(legacy).res("serviceaccounts/token"),
			r(write...).groups("apps").res("daemonsets", "deployments", "deployments/rollback", "deployments/scale",
				"replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"),
			r(write...).groups("autoscaling").res("horizontalpodautoscalers"),
			r(write...).groups("batch").res("cronjobs", "jobs"),
			r(write...).groups("networking.k8s.io").res("ingresses", "networkpolicies"),
			r(write...).groups("policy").res("poddisruptionbudgets"),
			r(write...).groups("coordination.k8s.io").res("leases"))),
		role("system:aggregate-to-view", map[string]string{AggregateToView: "true"}, rules(
			r(read...).groups(legacy).res("configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
				"pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"),
			r(read...).groups(legacy).res("bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
				"replicationcontrollers/status", "resourcequotas", "resourcequotas/status"),
			r(read...).groups(legacy).res("namespaces"),
			r(read...).groups("apps").res("controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
				"deployments/scale", "deployments/status", "replicasets", "replicasets/scale", "replicasets/status",
				"statefulsets", "statefulsets/scale", "statefulsets/status"),
			r(read...).groups("autoscaling").res("horizontalpodautoscalers", "horizontalpodautoscalers/status"),
			r(read...).groups("batch").res("cronjobs", "cronjobs/status", "jobs", "jobs/status"),
			r(read...).groups("networking.k8s.io").res("ingresses", "ingresses/status", "networkpolicies"),
			r(read...).groups("policy").res("poddisruptionbudgets", "poddisruptionbudgets/status"),
			r(read...).groups("discovery.k8s.io").res("endpointslices"),
			r(read...).groups("metrics.k8s.io").res("pods", "nodes"))),

		// Components.
		role("system:kube-scheduler", nil, rules(
			eventsRule,
			r("create").groups("coordination.k8s.io").res("leases"),
			r("get", "update").groups("coordination.k8s.io").res("leases"),
			r(read...).groups(legacy).res("nodes"),
			r("get", "list", "watch", "delete").groups(legacy).res("pods"),
			r("create").groups(legacy).res("bindings", "pods/binding"),
			r("patch", "update").groups(legacy).res("pods/status"),
			r(read...).groups(legacy).res("namespaces", "services", "replicationcontrollers", "persistentvolumeclaims", "persistentvolumes"),
			r(read...).groups("apps").res("replicasets", "statefulsets"),
			r(read...).groups("policy").res("poddisruptionbudgets"),
			r("create").groups("authentication.k8s.io").res("tokenreviews"),
			r("create").groups("authorization.k8s.io").res("subjectaccessreviews"))),
		role("system:volume-scheduler", nil, rules(
			r("get", "list", "watch", "update", "patch").groups(legacy).res("persistentvolumes", "persistentvolumeclaims"),
			r(read...).groups("storage.k8s.io").res("storageclasses"))),
		// One identity runs every controller (controller-manager/app/
		// controllers.go): the garbage collector and the namespace
		// controller act on every kind, so reads, updates and deletes
		// are on everything; creates only on what controllers make.
		role("system:kube-controller-manager", nil, rules(
			eventsRule,
			r("get", "list", "watch", "update", "patch", "delete", "deletecollection").groups("*").res("*"),
			r("create").groups(legacy).res("pods", "endpoints", "serviceaccounts", "configmaps", "secrets", "pods/eviction"),
			r("create").groups("apps").res("replicasets", "controllerrevisions"),
			r("create").groups("batch").res("jobs"),
			r("create").groups("coordination.k8s.io").res("leases"),
			r("create").groups("discovery.k8s.io").res("endpointslices"),
			r("create").groups(legacy).res("serviceaccounts/token"),
			r("create").groups("authentication.k8s.io").res("tokenreviews"),
			r("create").groups("authorization.k8s.io").res("subjectaccessreviews"),
			// csrapproving approves node client and serving requests;
			// csrsigning signs for the three kubernetes.io signers
			// (updates of /approval and /status are in the rule above).
			r("approve").groups(certificatesG).res("signers").names(kubeletClientSigner, kubeletServingSigner),
			r("sign").groups(certificatesG).res("signers").names(apiserverClientSigner, kubeletClientSigner, kubeletServingSigner))),
		role("system:node-proxier", nil, rules(
			r("list", "watch").groups(legacy).res("services", "endpoints"),
			r(read...).groups(legacy).res("nodes"),
			r("list", "watch").groups("discovery.k8s.io").res("endpointslices"),
			eventsRule)),
		role("system:kube-dns", nil, rules(
			r("list", "watch").groups(legacy).res("endpoints", "services"),
			r("list", "watch").groups("discovery.k8s.io").res("endpointslices"))),
		// Kubernetes binds nobody to system:node: kubelets are authorized
		// by the Node authorizer. The role is here for completeness.
		role("system:node", nil, rules(
			r("create").groups("authentication.k8s.io").res("tokenreviews"),
			r("create").groups("authorization.k8s.io").res("subjectaccessreviews", "localsubjectaccessreviews"),
			r(read...).groups(legacy).res("services"),
			r("create", "get", "list", "watch", "update", "patch", "delete").groups(legacy).res("nodes"),
			r("update", "patch").groups(legacy).res("nodes/status"),
			eventsRule,
			r(read...).groups(legacy).res("pods"),
			r("create", "delete").groups(legacy).res("pods"),
			r("update", "patch").groups(legacy).res("pods/status"),
			r("create").groups(legacy).res("pods/eviction"),
			r("get").groups(legacy).res("configmaps", "secrets", "persistentvolumeclaims", "persistentvolumes", "endpoints"),
			r("create").groups(legacy).res("serviceaccounts/token"),
			r("get", "create", "update", "patch", "delete").groups("coordination.k8s.io").res("leases"))),
		role("system:node-bootstrapper", nil, rules(
			r("create", "get", "list", "watch").groups(certificatesG).res("certificatesigningrequests"))),
		// Who csrapproving auto-approves: the requestor of a node client
		// request needs create on .../nodeclient (bootstrap) or, to
		// renew its own certificate, .../selfnodeclient.
		role(NodeClientRole, nil, rules(
			r("create").groups(certificatesG).res("certificatesigningrequests/nodeclient"))),
		role(SelfNodeClientRole, nil, rules(
			r("create").groups(certificatesG).res("certificatesigningrequests/selfnodeclient"))),
		// Approver roles per signer, for people and external approvers.
		approverRole("system:certificates.k8s.io:kube-apiserver-client-approver", apiserverClientSigner),
		approverRole("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver", kubeletClientSigner),
		approverRole("system:certificates.k8s.io:kubelet-serving-approver", kubeletServingSigner),
		role("system:auth-delegator", nil, rules(
			r("create").groups("authentication.k8s.io").res("tokenreviews"),
			r("create").groups("authorization.k8s.io").res("subjectaccessreviews"))),
	}
}

// The certificates.k8s.io names the policy uses.
const (
	certificatesG         = "certificates.k8s.io"
	apiserverClientSigner = "kubernetes.io/kube-apiserver-client"
	kubeletClientSigner   = "kubernetes.io/kube-apiserver-client-kubelet"
	kubeletServingSigner  = "kubernetes.io/kubelet-serving"
	// NodeClientRole lets its subjects' node client requests be
	// auto-approved (bootstrap).
	NodeClientRole = "system:certificates.k8s.io:certificatesigningrequests:nodeclient"
	// SelfNodeClientRole lets a node's renewal of its own client
	// certificate be auto-approved.
	SelfNodeClientRole = "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"
)

// approverRole may approve requests for one signer.
func approverRole(name, signer string) *rbacv1.ClusterRole {
	return role(name, nil, rules(r("approve").groups(certificatesG).res("signers").names(signer)))
}

func binding(name, roleName string, subjects ...*rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ApiVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding",
		Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{BootstrapLabel: "rbac-defaults"},
			Annotations: map[string]string{AutoUpdateAnnotation: "true"}},
		RoleRef:  &rbacv1.RoleRef{ApiGroup: rbacv1.Group, Kind: "ClusterRole", Name: roleName},
		Subjects: subjects,
	}
}

func user(n string) *rbacv1.Subject {
	return &rbacv1.Subject{Kind: "User", ApiGroup: rbacv1.Group, Name: n}
}
func group(n string) *rbacv1.Subject {
	return &rbacv1.Subject{Kind: "Group", ApiGroup: rbacv1.Group, Name: n}
}
func sa(ns, n string) *rbacv1.Subject {
	return &rbacv1.Subject{Kind: "ServiceAccount", Namespace: ns, Name: n}
}

// ClusterRoleBindings are the bootstrap bindings.
func ClusterRoleBindings() []*rbacv1.ClusterRoleBinding {
	return []*rbacv1.ClusterRoleBinding{
		binding("cluster-admin", "cluster-admin", group(auth.GroupMasters)),
		binding("system:discovery", "system:discovery", group(auth.GroupAuthenticated)),
		binding("system:basic-user", "system:basic-user", group(auth.GroupAuthenticated)),
		binding("system:public-info-viewer", "system:public-info-viewer", group(auth.GroupAuthenticated), group(auth.GroupUnauthenticated)),
		binding("system:service-account-issuer-discovery", "system:service-account-issuer-discovery", group(auth.GroupServiceAccounts)),
		binding("system:monitoring", "system:monitoring", group(GroupMonitoring)),
		binding("system:kube-scheduler", "system:kube-scheduler", user(SchedulerUser)),
		binding("system:volume-scheduler", "system:volume-scheduler", user(SchedulerUser)),
		binding("system:kube-controller-manager", "system:kube-controller-manager", user(ControllerManagerUser)),
		binding("system:node-proxier", "system:node-proxier", user(KubeProxyUser)),
		// The DNS add-on runs as the service account kube-system/kube-dns
		// (deploy/addons/dns.yaml).
		binding("system:kube-dns", "system:kube-dns", sa("kube-system", "kube-dns")),
		binding("system:node-bootstrapper", "system:node-bootstrapper", group(auth.GroupBootstrappers)),
		// The bindings kubeadm makes (under its names): a bootstrap
		// token's node client request is auto-approved, and so is a
		// node's renewal of its own certificate.
		binding("kubeadm:node-autoapprove-bootstrap", NodeClientRole, group(auth.GroupBootstrappers)),
		binding("kubeadm:node-autoapprove-certificate-rotation", SelfNodeClientRole, group(auth.GroupNodes)),
	}
}
