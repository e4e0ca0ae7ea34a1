package node

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"minik8s/apiserver/auth"
)

// LeaseNamespace holds the nodes' heartbeat Leases.
const LeaseNamespace = "kube-node-lease"

// Authorizer is the Node authorizer. It has no opinion on users that are
// not nodes, so it goes first in a union (Node,RBAC).
type Authorizer struct {
	graph *Graph
}

var (
	_ auth.Authorizer   = (*Authorizer)(nil)
	_ auth.RuleResolver = (*Authorizer)(nil)
)

// NewAuthorizer returns the Node authorizer reading g; the caller keeps g
// current (Graph.Run).
func NewAuthorizer(g *Graph) *Authorizer { return &Authorizer{graph: g} }

// Authorize implements auth.Authorizer. It allows or has no opinion;
// it never denies, so another authorizer (RBAC) may still allow.
func (z *Authorizer) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	node, isNode := auth.NodeIdentity(a.User)
	if !isNode {
		return auth.NoOpinion, "", nil
	}
	if node == "" {
		return auth.NoOpinion, fmt.Sprintf("unknown node for user %q", a.User.Name), nil
	}
	if !a.IsResourceRequest() {
		return auth.NoOpinion, "", nil
	}
	if a.Group == "" {
		switch a.Resource {
		case "secrets":
			return z.readReferenced(node, Secret, a)
		case "configmaps":
			return z.readReferenced(node, ConfigMap, a)
		case "persistentvolumeclaims":
			if a.Subresource == "status" {
				return z.statusUpdate(node, PersistentVolumeClaim, a)
			}
			return z.get(node, PersistentVolumeClaim, a)
		case "serviceaccounts":
			if a.Subresource == "token" {
				return z.createToken(node, a)
			}
			return z.get(node, ServiceAccount, a)
		case "pods":
			return z.pod(node, a)
		case "nodes":
			return z.nodeObject(node, a)
		}
	}
	if a.Group == "coordination.k8s.io" && a.Resource == "leases" {
		return lease(node, a)
	}
	if rulesAllow(a) {
		return auth.Allow, "", nil
	}
	return auth.NoOpinion, "", nil
}

// RulesFor implements auth.RuleResolver: a node's rights depend on its
// pods, so they cannot be listed; the answer is marked incomplete.
func (z *Authorizer) RulesFor(_ context.Context, u *auth.User, _ string) ([]auth.ResourceRule, []auth.NonResourceRule, bool, error) {
	if _, isNode := auth.NodeIdentity(u); isNode {
		return nil, nil, true, nil
	}
	return nil, nil, false, nil
}

// related allows a request on a named object the graph links to node.
func (z *Authorizer) related(node string, k Kind, a auth.Attributes) (auth.Decision, string, error) {
	if a.Name == "" {
		return auth.NoOpinion, "No Object name found", nil
	}
	if !z.graph.HasPath(node, k, a.Namespace, a.Name) {
		return auth.NoOpinion, fmt.Sprintf("no relationship found between node '%s' and this object", node), nil
	}
	return auth.Allow, "", nil
}

// readReferenced is get, and list or watch of one named object (a watch
// of a single secret), of an object a pod of node references.
func (z *Authorizer) readReferenced(node string, k Kind, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Verb {
	case "get", "list", "watch":
	default:
		return auth.NoOpinion, "can only read resources of this type", nil
	}
	if a.Subresource != "" {
		return auth.NoOpinion, "cannot read subresource", nil
	}
	if a.Namespace == "" {
		return auth.NoOpinion, "can only read namespaced object of this type", nil
	}
	if a.Name == "" && a.Verb != "get" {
		// A list or watch of one object by its name (client-go's
		// single-object reflector), as Kubernetes' request info reads it.
		a.Name = selectorValue(a.FieldSelector, "metadata.name")
	}
	return z.related(node, k, a)
}

func (z *Authorizer) get(node string, k Kind, a auth.Attributes) (auth.Decision, string, error) {
	if a.Verb != "get" {
		return auth.NoOpinion, "can only get individual resources of this type", nil
	}
	if a.Subresource != "" {
		return auth.NoOpinion, "cannot get subresource", nil
	}
	return z.related(node, k, a)
}

func (z *Authorizer) statusUpdate(node string, k Kind, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Verb {
	case "update", "patch":
	default:
		return auth.NoOpinion, "can only get/update/patch this type", nil
	}
	return z.related(node, k, a)
}

func (z *Authorizer) createToken(node string, a auth.Attributes) (auth.Decision, string, error) {
	if a.Verb != "create" || a.Name == "" {
		return auth.NoOpinion, "can only create tokens for individual service accounts", nil
	}
	return z.related(node, ServiceAccount, a)
}

// pod: a node reads the pods bound to it (get by name; list and watch
// only with the field selector spec.nodeName=NODE, which is how a kubelet
// watches), writes their status, and creates and deletes pods (its mirror
// pods; NodeRestriction checks which).
func (z *Authorizer) pod(node string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Subresource {
	case "":
		switch a.Verb {
		case "get":
			return z.related(node, Pod, a)
		case "list", "watch":
			if selectsNode(a.FieldSelector, node) {
				return auth.Allow, "", nil
			}
			if a.Name != "" {
				return z.related(node, Pod, a)
			}
			return auth.NoOpinion, "can only list/watch pods with spec.nodeName field selector", nil
		case "create", "delete":
			return auth.Allow, "", nil
		}
	case "status":
		switch a.Verb {
		case "update", "patch":
			return auth.Allow, "", nil
		case "get":
			// A patch reads the status before writing it.
			return z.related(node, Pod, a)
		}
	case "eviction":
		if a.Verb == "create" {
			return auth.Allow, "", nil
		}
	}
	return auth.NoOpinion, "", nil
}

// selectsNode reports whether a field selector requires spec.nodeName to
// be node.
func selectsNode(sel, node string) bool {
	return node != "" && selectorValue(sel, "spec.nodeName") == node
}

// selectorValue returns the value a field selector requires of field (a
// term field=value or field==value), or "".
func selectorValue(sel, field string) string {
	for _, term := range strings.Split(sel, ",") {
		k, v, ok := strings.Cut(term, "=")
		if !ok || strings.HasSuffix(k, "!") {
			continue
		}
		if strings.TrimSpace(k) == field {
			return strings.TrimSpace(strings.TrimPrefix(v, "="))
		}
	}
	return ""
}

// nodeObject: a node registers and updates Node objects and their status
// (NodeRestriction limits it to its own) and reads every Node: a
// kubelet routes to every other node's pod CIDR (our kubelet does the
// network plugin's work), so it must see them all. Kubernetes since 1.32
// lets a node read only its own Node; there a CNI daemon with its own
// identity reads the others.
func (z *Authorizer) nodeObject(node string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Subresource {
	case "":
		switch a.Verb {
		case "create", "update", "patch", "get", "list", "watch":
			return auth.Allow, "", nil
		}
	case "status":
		switch a.Verb {
		case "update", "patch":
			return auth.Allow, "", nil
		case "get":
			if a.Name == node {
				return auth.Allow, "", nil
			}
		}
	}
	return auth.NoOpinion, "", nil
}

// lease: a node's own heartbeat Lease in kube-node-lease.
func lease(node string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Verb {
	case "get", "create", "update", "patch", "delete":
	default:
		return auth.NoOpinion, "can only get, create, update, patch, or delete a node lease", nil
	}
	if a.Namespace != LeaseNamespace {
		return auth.NoOpinion, fmt.Sprintf("can only access leases in the %q system namespace", LeaseNamespace), nil
	}
	// A create may not name the lease (generateName); NodeRestriction
	// then checks the object's name.
	if (a.Verb != "create" || a.Name != "") && a.Name != node {
		return auth.NoOpinion, "can only access node lease with the same name as the requesting node", nil
	}
	return auth.Allow, "", nil
}

// rule is one of the rights every node has whatever its pods (the part of
// Kubernetes' system:node role the graph does not subdivide).
type rule struct {
	group     string
	resources []string // "events", "pods/eviction"
	verbs     []string
}

var nodeRules = []rule{
	// Authenticating and authorizing callers of the kubelet's own API.
	{"authentication.k8s.io", []string{"tokenreviews"}, []string{"create"}},
	{"authorization.k8s.io", []string{"subjectaccessreviews", "localsubjectaccessreviews"}, []string{"create"}},
	// Service environment variables of every pod.
	{"", []string{"services"}, []string{"get", "list", "watch"}},
	// Events about its pods and itself.
	{"", []string{"events"}, []string{"create", "update", "patch"}},
	{"events.k8s.io", []string{"events"}, []string{"create", "update", "patch"}},
	{"", []string{"endpoints"}, []string{"get"}},
	// Rotating its client certificate.
	{"certificates.k8s.io", []string{"certificatesigningrequests"}, []string{"create", "get", "list", "watch"}},
	{"node.k8s.io", []string{"runtimeclasses"}, []string{"get", "list", "watch"}},
}

func rulesAllow(a auth.Attributes) bool {
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	for _, r := range nodeRules {
		if r.group == a.Group && slices.Contains(r.resources, res) && slices.Contains(r.verbs, a.Verb) {
			return true
		}
	}
	return false
}
