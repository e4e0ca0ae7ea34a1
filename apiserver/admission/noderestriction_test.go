package admission

import (
	"context"
	"testing"

	authenticationv1 "minik8s/api/authentication/v1"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
)

func TestNodeRestriction(t *testing.T) {
	kind := func(res string) *scheme.Kind {
		k, err := scheme.ByResource(res)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	pods, nodes, leases, sas := kind("pods"), kind("nodes"), kind("leases"), kind("serviceaccounts")
	n1 := &auth.User{Name: "system:node:n1", Groups: []string{auth.GroupNodes}}
	podOn := func(name, node string) *corev1.Pod {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name, Uid: "uid-" + name, Labels: map[string]string{"app": "x"}},
			Spec: &corev1.PodSpec{NodeName: node, Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}
	}
	stored := map[string]*corev1.Pod{"mine": podOn("mine", "n1"), "theirs": podOn("theirs", "n2")}
	p := NodeRestriction{
		GetPod: func(_ context.Context, _, name string) (*corev1.Pod, error) {
			if pod, ok := stored[name]; ok {
				return pod, nil
			}
			return nil, apierrors.NewNotFound("pods", name)
		},
		GetNode: func(_ context.Context, name string) (*corev1.Node, error) {
			return &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name, Uid: "node-uid-" + name}}, nil
		},
	}
	yes := true
	mirror := func(mutate func(*corev1.Pod)) *corev1.Pod {
		m := podOn("static-n1", "n1")
		m.Metadata.Annotations = map[string]string{corev1.AnnotationMirrorPod: "hash"}
		m.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "v1", Kind: "Node", Name: "n1", Uid: "node-uid-n1", Controller: &yes}}
		if mutate != nil {
			mutate(m)
		}
		return m
	}
	old := func(o scheme.Object) func(context.Context) (scheme.Object, error) {
		return func(context.Context) (scheme.Object, error) { return o, nil }
	}
	node := func(name string, labels map[string]string, taints ...*corev1.Taint) *corev1.Node {
		return &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name, Labels: labels}, Spec: &corev1.NodeSpec{Taints: taints}}
	}
	relabeled := func(pod *corev1.Pod) *corev1.Pod {
		pod = podOn(pod.Metadata.Name, pod.Spec.NodeName)
		pod.Metadata.Labels = map[string]string{"app": "y"}
		return pod
	}
	token := func(ref *authenticationv1.BoundObjectReference) *authenticationv1.TokenRequest {
		return &authenticationv1.TokenRequest{Spec: &authenticationv1.TokenRequestSpec{BoundObjectRef: ref}}
	}
	podRef := func(name, uid string) *authenticationv1.BoundObjectReference {
		return &authenticationv1.BoundObjectReference{ApiVersion: "v1", Kind: "Pod", Name: name, Uid: uid}
	}
	leaseNamed := func(name string) *coordinationv1.Lease {
		return &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: name, Namespace: NodeLeaseNamespace}}
	}
	taint := &corev1.Taint{Key: "dedicated", Effect: "NoSchedule"}
	withRV := func(n *corev1.Node, rv string) *corev1.Node { n.Metadata.ResourceVersion = rv; return n }

	tests := []struct {
		name string
		a    Attributes
		want string // the error's message; "" allows
	}{
		{"not a node", Attributes{User: &auth.User{Name: "jane"}, Operation: Update, Kind: nodes, Name: "n2", Object: node("n2", nil)}, ""},
		{"unknown node", Attributes{User: &auth.User{Name: "system:node:", Groups: []string{auth.GroupNodes}}, Operation: Update, Kind: nodes, Name: "n2"},
			`nodes "n2" is forbidden: could not determine node from user "system:node:"`},

		{"mirror pod", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "static-n1", Object: mirror(nil)}, ""},
		{"not a mirror pod", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "x", Object: podOn("x", "n1")},
			`pods "x" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods`},
		{"mirror pod on another node", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "static-n1", Object: mirror(func(m *corev1.Pod) { m.Spec.NodeName = "n2" })},
			`pods "static-n1" is forbidden: node "n1" can only create pods with spec.nodeName set to itself`},
		{"mirror pod without owner", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "static-n1", Object: mirror(func(m *corev1.Pod) { m.Metadata.OwnerReferences = nil })},
			`pods "static-n1" is forbidden: node "n1" can only create pods with an owner reference set to itself`},
		{"mirror pod owned by another node", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "static-n1", Object: mirror(func(m *corev1.Pod) { m.Metadata.OwnerReferences[0].Name = "n2" })},
			`pods "static-n1" is forbidden: node "n1" can only create pods with an owner reference set to itself`},
		{"mirror pod with a stale node uid", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "static-n1", Object: mirror(func(m *corev1.Pod) { m.Metadata.OwnerReferences[0].Uid = "old" })},
			`pods "static-n1" is forbidden: node n1 UID mismatch: expected old got node-uid-n1`},
		{"mirror pod not controlled", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "static-n1", Object: mirror(func(m *corev1.Pod) { m.Metadata.OwnerReferences[0].Controller = nil })},
			`pods "static-n1" is forbidden: node "n1" can only create pods with a controller owner reference set to itself`},
		{"mirror pod with a service account", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "static-n1", Object: mirror(func(m *corev1.Pod) { m.Spec.ServiceAccountName = "default" })},
			`pods "static-n1" is forbidden: node "n1" can not create pods that reference a service account`},
		{"mirror pod with a secret", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "static-n1", Object: mirror(func(m *corev1.Pod) {
			m.Spec.ImagePullSecrets = []*corev1.LocalObjectReference{{Name: "pull"}}
		})}, `pods "static-n1" is forbidden: node "n1" can not create pods that reference secrets`},
		{"mirror pod with a config map", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "static-n1", Object: mirror(func(m *corev1.Pod) {
			m.Spec.Containers[0].EnvFrom = []*corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{Name: "cm"}}}
		})}, `pods "static-n1" is forbidden: node "n1" can not create pods that reference configmaps`},
		{"mirror pod with a token volume", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "static-n1", Object: mirror(func(m *corev1.Pod) {
			m.Spec.Volumes = []*corev1.Volume{{Name: "t", Projected: &corev1.ProjectedVolumeSource{Sources: []*corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}
		})}, `pods "static-n1" is forbidden: node "n1" can not create pods that use service account tokens`},
		{"mirror pod with a claim", Attributes{Operation: Create, Kind: pods, Namespace: "default", Name: "static-n1", Object: mirror(func(m *corev1.Pod) {
			m.Spec.Volumes = []*corev1.Volume{{Name: "v", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}}
		})}, `pods "static-n1" is forbidden: node "n1" can not create pods that reference persistentvolumeclaims`},

		{"delete own pod", Attributes{Operation: Delete, Kind: pods, Namespace: "default", Name: "mine", OldObject: old(stored["mine"])}, ""},
		{"delete other node's pod", Attributes{Operation: Delete, Kind: pods, Namespace: "default", Name: "theirs", OldObject: old(stored["theirs"])},
			`pods "theirs" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself`},
		{"update a pod", Attributes{Operation: Update, Kind: pods, Namespace: "default", Name: "mine", Object: stored["mine"], OldObject: old(stored["mine"])},
			`pods "mine" is forbidden: unexpected operation "UPDATE", node "n1" can only create and delete mirror pods`},
		{"own pod's status", Attributes{Operation: Update, Kind: pods, Subresource: "status", Namespace: "default", Name: "mine", Object: stored["mine"], OldObject: old(stored["mine"])}, ""},
		{"other pod's status", Attributes{Operation: Update, Kind: pods, Subresource: "status", Namespace: "default", Name: "theirs", Object: stored["theirs"], OldObject: old(stored["theirs"])},
			`pods "theirs" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself`},
		{"stale labels through status (the store keeps them)", Attributes{Operation: Update, Kind: pods, Subresource: "status", Namespace: "default", Name: "mine", Object: relabeled(stored["mine"]), OldObject: old(stored["mine"])}, ""},
		{"evict own pod", Attributes{Operation: Create, Kind: pods, Subresource: "eviction", Namespace: "default", Name: "mine", Object: &corev1.Pod{}}, ""},
		{"evict other pod", Attributes{Operation: Create, Kind: pods, Subresource: "eviction", Namespace: "default", Name: "theirs", Object: &corev1.Pod{}},
			`pods "theirs" is forbidden: node n1 can only evict pods with spec.nodeName set to itself`},
		{"bind a pod", Attributes{Operation: Create, Kind: pods, Subresource: "binding", Namespace: "default", Name: "mine"},
			`pods "mine" is forbidden: unexpected pod subresource "binding", only 'status' and 'eviction' are allowed`},

		{"register", Attributes{Operation: Create, Kind: nodes, Name: "n1", Object: node("n1", map[string]string{
			"kubernetes.io/hostname": "n1", "kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "m",
			"kubelet.kubernetes.io/x": "1", "example.com/rack": "r1"})}, ""},
		{"register another node", Attributes{Operation: Create, Kind: nodes, Name: "n2", Object: node("n2", nil)},
			`nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`},
		{"register with restricted labels", Attributes{Operation: Create, Kind: nodes, Name: "n1", Object: node("n1", map[string]string{
			"node-restriction.kubernetes.io/trusted": "true", "node-role.kubernetes.io/control-plane": "", "sub.k8s.io/x": "y"})},
			`nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: node-restriction.kubernetes.io/trusted, node-role.kubernetes.io/control-plane, sub.k8s.io/x`},
		{"update own status", Attributes{Operation: Update, Kind: nodes, Subresource: "status", Name: "n1", Object: node("n1", nil), OldObject: old(node("n1", nil))}, ""},
		{"update other node's status", Attributes{Operation: Update, Kind: nodes, Subresource: "status", Name: "n2", Object: node("n2", nil), OldObject: old(node("n2", nil))},
			`nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`},
		{"remove own taint", Attributes{Operation: Update, Kind: nodes, Name: "n1", Object: node("n1", nil), OldObject: old(node("n1", nil, taint))},
			`nodes "n1" is forbidden: node "n1" is not allowed to modify taints`},
		{"status with stale taints (the store keeps them)", Attributes{Operation: Update, Kind: nodes, Subresource: "status", Name: "n1", Object: node("n1", nil), OldObject: old(node("n1", nil, taint))}, ""},
		{"stale copy (the store answers Conflict)", Attributes{Operation: Update, Kind: nodes, Name: "n1", Object: withRV(node("n1", nil), "5"), OldObject: old(withRV(node("n1", nil, taint), "6"))}, ""},
		{"keep own taint", Attributes{Operation: Update, Kind: nodes, Name: "n1", Object: node("n1", nil, taint), OldObject: old(node("n1", nil, taint))}, ""},
		{"drop a restricted label", Attributes{Operation: Update, Kind: nodes, Name: "n1", Object: node("n1", nil),
			OldObject: old(node("n1", map[string]string{"node-restriction.kubernetes.io/trusted": "true"}))},
			`nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/trusted`},
		{"change own free label", Attributes{Operation: Update, Kind: nodes, Name: "n1", Object: node("n1", map[string]string{"rack": "2"}),
			OldObject: old(node("n1", map[string]string{"rack": "1", "node-restriction.kubernetes.io/trusted": "true"}))},
			`nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/trusted`},

		{"token for own pod", Attributes{Operation: Create, Kind: sas, Subresource: "token", Namespace: "default", Name: "default", Object: token(podRef("mine", "uid-mine"))}, ""},
		{"token for other pod", Attributes{Operation: Create, Kind: sas, Subresource: "token", Namespace: "default", Name: "default", Object: token(podRef("theirs", "uid-theirs"))},
			`serviceaccounts "default" is forbidden: node requested token bound to a pod scheduled on a different node`},
		{"unbound token", Attributes{Operation: Create, Kind: sas, Subresource: "token", Namespace: "default", Name: "default", Object: token(nil)},
			`serviceaccounts "default" is forbidden: node requested token not bound to a pod`},
		{"token without uid", Attributes{Operation: Create, Kind: sas, Subresource: "token", Namespace: "default", Name: "default", Object: token(podRef("mine", ""))},
			`serviceaccounts "default" is forbidden: node requested token with a pod binding without a uid`},
		{"token for a recreated pod", Attributes{Operation: Create, Kind: sas, Subresource: "token", Namespace: "default", Name: "default", Object: token(podRef("mine", "old"))},
			`serviceaccounts "default" is forbidden: the UID in the bound object reference (old) does not match the UID in record. The object might have been deleted and then recreated`},
		{"token for a missing pod", Attributes{Operation: Create, Kind: sas, Subresource: "token", Namespace: "default", Name: "default", Object: token(podRef("gone", "u"))},
			`pods "gone" not found`},

		{"own lease", Attributes{Operation: Create, Kind: leases, Namespace: NodeLeaseNamespace, Name: "n1", Object: leaseNamed("n1")}, ""},
		{"renew own lease", Attributes{Operation: Update, Kind: leases, Namespace: NodeLeaseNamespace, Name: "n1", Object: leaseNamed("n1")}, ""},
		{"other node's lease", Attributes{Operation: Create, Kind: leases, Namespace: NodeLeaseNamespace, Name: "n2", Object: leaseNamed("n2")},
			`leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node`},
		{"lease elsewhere", Attributes{Operation: Update, Kind: leases, Namespace: "kube-system", Name: "n1", Object: leaseNamed("n1")},
			`leases.coordination.k8s.io "n1" is forbidden: can only access leases in the "kube-node-lease" system namespace`},
		{"events pass", Attributes{Operation: Create, Kind: kind("events"), Namespace: "default", Name: "e", Object: &corev1.Event{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			if a.User == nil {
				a.User = n1
			}
			err := p.Validate(context.Background(), &a)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if err != nil && !apierrors.IsForbidden(err) && !apierrors.IsNotFound(err) {
				t.Errorf("error %v is neither Forbidden nor NotFound", err)
			}
		})
	}
}
