package admission

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	authenticationv1 "minik8s/api/authentication/v1"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	"minik8s/apiserver/auth"
)

// PodGetter reads a stored pod; NotFound is a minik8s/api/errors value.
type PodGetter func(ctx context.Context, ns, name string) (*corev1.Pod, error)

// NodeGetter reads a stored Node.
type NodeGetter func(ctx context.Context, name string) (*corev1.Node, error)

// NodeLeaseNamespace holds the nodes' heartbeat Leases.
const NodeLeaseNamespace = "kube-node-lease"

// NodeRestriction is Kubernetes' NodeRestriction admission plugin. The
// Node authorizer lets a kubelet write Nodes, pod status and pods without
// knowing which; this plugin, which sees the objects, keeps each kubelet
// (system:node:NAME in system:nodes) to its own: its Node and its status
// (without touching its taints or labels outside the kubelet's set), the
// status of pods bound to it, mirror pods bound to it that reference no
// other object, deleting pods bound to it, tokens for pods bound to it,
// and its own Lease. Other users pass untouched.
type NodeRestriction struct {
	GetPod  PodGetter
	GetNode NodeGetter
}

// Name is the plugin name as Kubernetes spells it.
func (NodeRestriction) Name() string { return "NodeRestriction" }

func forbid(a *Attributes, format string, args ...any) error {
	return apierrors.NewForbidden(a.Kind.GroupResource(), a.Name, fmt.Sprintf(format, args...))
}

// Validate implements Validator.
func (p NodeRestriction) Validate(ctx context.Context, a *Attributes) error {
	node, isNode := auth.NodeIdentity(a.User)
	if !isNode {
		return nil
	}
	if node == "" {
		return forbid(a, "could not determine node from user %q", a.User.Name)
	}
	switch {
	case a.Kind.Group == "" && a.Kind.Resource == "pods":
		switch a.Subresource {
		case "":
			return p.pod(ctx, node, a)
		case "status":
			return p.podStatus(ctx, node, a)
		case "eviction":
			return p.podEviction(ctx, node, a)
		}
		return forbid(a, "unexpected pod subresource %q, only 'status' and 'eviction' are allowed", a.Subresource)
	case a.Kind.Group == "" && a.Kind.Resource == "nodes":
		return p.node(ctx, node, a)
	case a.Kind.Group == "" && a.Kind.Resource == "persistentvolumeclaims":
		// Kubernetes lets a node update a claim's status.capacity and
		// conditions; no claim status is written by our kubelet.
		return forbid(a, "may only update PVC status")
	case a.Kind.Group == "" && a.Kind.Resource == "serviceaccounts":
		return p.token(ctx, node, a)
	case a.Kind.Group == "coordination.k8s.io" && a.Kind.Resource == "leases":
		return lease(node, a)
	}
	return nil
}

func (p NodeRestriction) pod(ctx context.Context, node string, a *Attributes) error {
	switch a.Operation {
	case Create:
		return p.mirrorPod(ctx, node, a)
	case Delete:
		old, err := oldObject[*corev1.Pod](ctx, a)
		if err != nil {
			return err
		}
		// The kubelet confirms the graceful deletion of every pod it ran,
		// not only of its mirror pods.
		if old.GetSpec().GetNodeName() != node {
			return forbid(a, "node %q can only delete pods with spec.nodeName set to itself", node)
		}
		return nil
	}
	return forbid(a, "unexpected operation %q, node %q can only create and delete mirror pods", a.Operation, node)
}

// mirrorPod: a node creates only the mirror pods of its static pods,
// bound to itself, owned by its Node, and referencing nothing the node
// could not read otherwise (a pod naming a secret would make it readable).
func (p NodeRestriction) mirrorPod(ctx context.Context, node string, a *Attributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return forbid(a, "unexpected type %T", a.Object)
	}
	if _, mirror := pod.GetMetadata().GetAnnotations()[corev1.AnnotationMirrorPod]; !mirror {
		return forbid(a, "pod does not have %q annotation, node %q can only create mirror pods", corev1.AnnotationMirrorPod, node)
	}
	if pod.GetSpec().GetNodeName() != node {
		return forbid(a, "node %q can only create pods with spec.nodeName set to itself", node)
	}
	owners := pod.GetMetadata().GetOwnerReferences()
	switch len(owners) {
	case 0:
		return forbid(a, "node %q can only create pods with an owner reference set to itself", node)
	case 1:
	default:
		return forbid(a, "node %q can only create pods with a single owner reference set to itself", node)
	}
	owner := owners[0]
	if owner.GetApiVersion() != "v1" || owner.GetKind() != "Node" || owner.GetName() != node {
		return forbid(a, "node %q can only create pods with an owner reference set to itself", node)
	}
	if !owner.GetController() {
		return forbid(a, "node %q can only create pods with a controller owner reference set to itself", node)
	}
	if owner.GetBlockOwnerDeletion() {
		return forbid(a, "node %q must not set blockOwnerDeletion on an owner reference", node)
	}
	n, err := p.GetNode(ctx, node)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return forbid(a, "error looking up node %s to verify uid: %v", node, err)
	}
	if owner.GetUid() != n.GetMetadata().GetUid() {
		return forbid(a, "node %s UID mismatch: expected %s got %s", node, owner.GetUid(), n.GetMetadata().GetUid())
	}
	if pod.GetSpec().GetServiceAccountName() != "" || pod.GetSpec().GetServiceAccount() != "" {
		return forbid(a, "node %q can not create pods that reference a service account", node)
	}
	if !helper.VisitPodSecretNames(pod, func(string) bool { return false }) {
		return forbid(a, "node %q can not create pods that reference secrets", node)
	}
	if !helper.VisitPodConfigMapNames(pod, func(string) bool { return false }) {
		return forbid(a, "node %q can not create pods that reference configmaps", node)
	}
	for _, v := range pod.GetSpec().GetVolumes() {
		for _, src := range v.GetProjected().GetSources() {
			if src.GetServiceAccountToken() != nil {
				return forbid(a, "node %q can not create pods that use service account tokens", node)
			}
		}
	}
	if !helper.VisitPodClaimNames(pod, func(string) bool { return false }) {
		return forbid(a, "node %q can not create pods that reference persistentvolumeclaims", node)
	}
	return nil
}

func (p NodeRestriction) podStatus(ctx context.Context, node string, a *Attributes) error {
	if a.Operation != Update {
		return forbid(a, "unexpected operation %q", a.Operation)
	}
	old, err := oldObject[*corev1.Pod](ctx, a)
	if err != nil {
		return err
	}
	if old.GetSpec().GetNodeName() != node {
		return forbid(a, "node %q can only update pod status for pods with spec.nodeName set to itself", node)
	}
	// Kubernetes also refuses label changes here; our store takes only
	// .status from a status update, so labels cannot change this way, and
	// a kubelet's stale copy should meet Conflict, not Forbidden.
	return nil
}

func (p NodeRestriction) podEviction(ctx context.Context, node string, a *Attributes) error {
	if a.Operation != Create {
		return forbid(a, "unexpected operation %s", a.Operation)
	}
	name := a.Name
	if name == "" {
		name = a.Object.GetMetadata().GetName()
	}
	if name == "" {
		return forbid(a, "could not determine pod from request data")
	}
	pod, err := p.GetPod(ctx, a.Namespace, name)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return forbid(a, "%v", err)
	}
	if pod.GetSpec().GetNodeName() != node {
		return forbid(a, "node %s can only evict pods with spec.nodeName set to itself", node)
	}
	return nil
}

func (p NodeRestriction) node(ctx context.Context, node string, a *Attributes) error {
	if a.Name != node {
		return forbid(a, "node %q is not allowed to modify node %q", node, a.Name)
	}
	switch a.Operation {
	case Create:
		n, ok := a.Object.(*corev1.Node)
		if !ok {
			return forbid(a, "unexpected type %T", a.Object)
		}
		if bad := forbiddenLabels(modifiedLabels(n.GetMetadata().GetLabels(), nil)); len(bad) > 0 {
			return forbid(a, "node %q is not allowed to set the following labels: %s", node, strings.Join(bad, ", "))
		}
	case Update:
		n, ok := a.Object.(*corev1.Node)
		if !ok {
			return forbid(a, "unexpected type %T", a.Object)
		}
		if a.Subresource == "status" {
			// The store takes only .status from a status update: spec
			// and labels stay as stored, whatever the object says.
			return nil
		}
		old, err := oldObject[*corev1.Node](ctx, a)
		if err != nil {
			return err
		}
		if rv := n.GetMetadata().GetResourceVersion(); rv != "" && rv != old.GetMetadata().GetResourceVersion() {
			// A stale copy: the store refuses it with Conflict and the
			// kubelet retries on a fresh one, which is checked then.
			return nil
		}
		// Its taints keep workloads off a node; a node that could
		// remove them could draw those workloads to itself.
		if !slices.EqualFunc(n.GetSpec().GetTaints(), old.GetSpec().GetTaints(), func(x, y *corev1.Taint) bool { return proto.Equal(x, y) }) {
			return forbid(a, "node %q is not allowed to modify taints", node)
		}
		if bad := forbiddenLabels(modifiedLabels(n.GetMetadata().GetLabels(), old.GetMetadata().GetLabels())); len(bad) > 0 {
			return forbid(a, "is not allowed to modify labels: %s", strings.Join(bad, ", "))
		}
	}
	return nil
}

// modifiedLabels are the keys whose presence or value differ.
func modifiedLabels(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// forbiddenLabels are the keys a node may not add, change or remove,
// sorted.
func forbiddenLabels(keys []string) []string {
	var out []string
	for _, k := range keys {
		if !helper.IsKubeletLabel(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// token: a node asks tokens only for pods bound to it, bound to the pod.
func (p NodeRestriction) token(ctx context.Context, node string, a *Attributes) error {
	if a.Operation != Create || a.Subresource != "token" {
		return nil
	}
	tr, ok := a.Object.(*authenticationv1.TokenRequest)
	if !ok {
		return forbid(a, "unexpected type %T", a.Object)
	}
	ref := tr.GetSpec().GetBoundObjectRef()
	if ref == nil || ref.GetApiVersion() != "v1" || ref.GetKind() != "Pod" || ref.GetName() == "" {
		return forbid(a, "node requested token not bound to a pod")
	}
	if ref.GetUid() == "" {
		return forbid(a, "node requested token with a pod binding without a uid")
	}
	pod, err := p.GetPod(ctx, a.Namespace, ref.GetName())
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return forbid(a, "%v", err)
	}
	if ref.GetUid() != pod.GetMetadata().GetUid() {
		return forbid(a, "the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.GetUid())
	}
	if pod.GetSpec().GetNodeName() != node {
		return forbid(a, "node requested token bound to a pod scheduled on a different node")
	}
	return nil
}

func lease(node string, a *Attributes) error {
	if a.Namespace != NodeLeaseNamespace {
		return forbid(a, "can only access leases in the %q system namespace", NodeLeaseNamespace)
	}
	name := a.Name
	if a.Operation == Create {
		l, ok := a.Object.(*coordinationv1.Lease)
		if !ok {
			return forbid(a, "unexpected type %T", a.Object)
		}
		name = l.GetMetadata().GetName()
	}
	if name != node {
		return forbid(a, "can only access node lease with the same name as the requesting node")
	}
	return nil
}

// oldObject reads the stored object an update or delete acts on.
func oldObject[T any](ctx context.Context, a *Attributes) (T, error) {
	var zero T
	if a.OldObject == nil {
		return zero, forbid(a, "no stored object to check")
	}
	o, err := a.OldObject(ctx)
	if err != nil {
		return zero, err
	}
	t, ok := o.(T)
	if !ok {
		return zero, forbid(a, "unexpected type %T", o)
	}
	return t, nil
}
