package app_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/pki"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// nodeClient connects to s as the kubelet of node name (a client
// certificate system:node:NAME in system:nodes, signed by s's CA).
func nodeClient(t *testing.T, s *apiservertest.Server, name string) *client.Client {
	t.Helper()
	certDir := filepath.Join(s.PKI, "pki")
	ca, err := pki.ReadKeyPair(certDir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Sign(pki.CertConfig{CommonName: pki.NodeUserPrefix + name, Organization: []string{pki.GroupNodes}, Usage: pki.Client})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "kubelet-"+name+".conf")
	if err := pki.WriteKubeconfig(file, "https://"+s.Addr, ca.Cert, kp, pki.NodeUserPrefix+name); err != nil {
		t.Fatal(err)
	}
	cfg, err := client.ConfigFromFlags("", file)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := cfg.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New([]string{s.Addr}, client.WithTLS(tc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestNodeAuthorization runs an apiserver with --authorization-mode=Node
// (and Node,RBAC: the bootstrap policy gives nodes nothing more) and
// NodeRestriction, next to an unrestricted one on the same etcd for the
// administrator's writes, and checks what two kubelets may do.
func TestNodeAuthorization(t *testing.T) {
	for _, mode := range []string{"Node", "Node,RBAC"} {
		t.Run(mode, func(t *testing.T) { testNodeAuthorization(t, mode) })
	}
}

func testNodeAuthorization(t *testing.T, mode string) {
	etcd := etcdtest.Start(t, 1)
	admin := apiservertest.Start(t, etcd, apiservertest.Options{})
	restricted := apiservertest.Start(t, etcd, apiservertest.Options{PKI: admin.PKI,
		AuthorizationMode: mode, EnableAdmissionPlugins: "NamespaceLifecycle,NodeRestriction"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ac := admin.Client(t)
	n1, n2 := nodeClient(t, restricted, "n1"), nodeClient(t, restricted, "n2")
	nodes1, nodes2 := client.For[*corev1.Node](n1), client.For[*corev1.Node](n2)
	pods1 := client.For[*corev1.Pod](n1)
	secrets1 := client.For[*corev1.Secret](n1)

	forbidden := func(t *testing.T, err error, msg string) {
		t.Helper()
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), msg) {
			t.Fatalf("err %v, want Forbidden with %q", err, msg)
		}
	}

	// Registration: each kubelet creates its own Node, and only that.
	newNode := func(name string) *corev1.Node {
		return &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}}}
	}
	_, err := nodes1.Create(ctx, newNode("n2"))
	forbidden(t, err, `nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`)
	node1, err := nodes1.Create(ctx, newNode("n1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes2.Create(ctx, newNode("n2")); err != nil {
		t.Fatal(err)
	}
	bad := newNode("n3")
	bad.Metadata.Labels["node-restriction.kubernetes.io/trusted"] = "yes"
	_, err = client.For[*corev1.Node](nodeClient(t, restricted, "n3")).Create(ctx, bad)
	forbidden(t, err, `node "n3" is not allowed to set the following labels: node-restriction.kubernetes.io/trusted`)

	// The administrator's objects: a pod on each node, each using a secret.
	for _, s := range []string{"s1", "s2", "unused"} {
		if _, err := client.For[*corev1.Secret](ac).Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: s, Namespace: "default"}}); err != nil {
			t.Fatal(err)
		}
	}
	podUsing := func(name, node, secret string) *corev1.Pod {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: &corev1.PodSpec{NodeName: node, Containers: []*corev1.Container{{Name: "c", Image: "busybox"}},
				Volumes: []*corev1.Volume{{Name: "s", Secret: &corev1.SecretVolumeSource{SecretName: secret}}}}}
	}
	for _, p := range []*corev1.Pod{podUsing("p1", "n1", "s1"), podUsing("p2", "n2", "s2")} {
		if _, err := client.For[*corev1.Pod](ac).Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	// The graph follows the pods' watch: s1 becomes readable to n1.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := secrets1.Get(ctx, "default", "s1")
		if err == nil {
			break
		}
		if !apierrors.IsForbidden(err) || time.Now().After(deadline) {
			t.Fatalf("node n1 reading the secret of its pod: %v", err)
		}
	}

	t.Run("reads", func(t *testing.T) {
		_, err := secrets1.Get(ctx, "default", "s2")
		forbidden(t, err, `secrets "s2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "default": no relationship found between node 'n1' and this object`)
		_, err = secrets1.Get(ctx, "default", "unused")
		forbidden(t, err, `no relationship found between node 'n1' and this object`)
		_, err = secrets1.List(ctx, "default", client.ListOptions{})
		forbidden(t, err, `cannot list resource "secrets"`)
		if _, err := pods1.Get(ctx, "default", "p1"); err != nil {
			t.Fatal(err)
		}
		_, err = pods1.Get(ctx, "default", "p2")
		forbidden(t, err, `pods "p2" is forbidden: User "system:node:n1" cannot get resource "pods"`)
		own, err := pods1.List(ctx, "", client.ListOptions{FieldSelector: "spec.nodeName=n1"})
		if err != nil || len(own.Items) != 1 || own.Items[0].Metadata.Name != "p1" {
			t.Fatalf("listing its own pods: %v %v", own, err)
		}
		_, err = pods1.List(ctx, "", client.ListOptions{})
		forbidden(t, err, "can only list/watch pods with spec.nodeName field selector")
		_, err = pods1.List(ctx, "", client.ListOptions{FieldSelector: "spec.nodeName=n2"})
		forbidden(t, err, "can only list/watch pods with spec.nodeName field selector")
		if _, err := nodes1.Get(ctx, "", "n2"); err != nil {
			t.Fatalf("reading another Node (routes): %v", err)
		}
	})

	t.Run("node status", func(t *testing.T) {
		other, err := client.For[*corev1.Node](ac).Get(ctx, "", "n2")
		if err != nil {
			t.Fatal(err)
		}
		other.Status = &corev1.NodeStatus{Phase: "Running"}
		_, err = nodes1.UpdateStatus(ctx, other)
		forbidden(t, err, `nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`)
		own := proto.Clone(node1).(*corev1.Node)
		own.Status = &corev1.NodeStatus{Phase: "Running"}
		if _, err := nodes1.UpdateStatus(ctx, own); err != nil {
			t.Fatalf("updating its own status: %v", err)
		}
	})

	t.Run("pod status", func(t *testing.T) {
		for name, ok := range map[string]bool{"p1": true, "p2": false} {
			p, err := client.For[*corev1.Pod](ac).Get(ctx, "default", name)
			if err != nil {
				t.Fatal(err)
			}
			p.Status = &corev1.PodStatus{Phase: "Running"}
			_, err = pods1.UpdateStatus(ctx, p)
			if ok && err != nil {
				t.Fatalf("status of its own pod: %v", err)
			}
			if !ok {
				forbidden(t, err, `node "n1" can only update pod status for pods with spec.nodeName set to itself`)
			}
		}
	})

	t.Run("pods", func(t *testing.T) {
		_, err := pods1.Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "sneaky", Namespace: "default"},
			Spec: &corev1.PodSpec{NodeName: "n1", Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}})
		forbidden(t, err, `pods "sneaky" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods`)
		yes := true
		mirror := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "static-n1", Namespace: "default",
			Annotations:     map[string]string{corev1.AnnotationMirrorPod: "hash"},
			OwnerReferences: []*metav1.OwnerReference{{ApiVersion: "v1", Kind: "Node", Name: "n1", Uid: node1.Metadata.Uid, Controller: &yes}}},
			Spec: &corev1.PodSpec{NodeName: "n1", Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}
		if _, err := pods1.Create(ctx, mirror); err != nil {
			t.Fatalf("creating its mirror pod: %v", err)
		}
		stolen := proto.Clone(mirror).(*corev1.Pod)
		stolen.Metadata.Name, stolen.Spec.NodeName = "static-n2", "n2"
		_, err = pods1.Create(ctx, stolen)
		forbidden(t, err, `node "n1" can only create pods with spec.nodeName set to itself`)
		zero := int64(0)
		_, err = pods1.Delete(ctx, "default", "p2", &metav1.DeleteOptions{GracePeriodSeconds: &zero})
		forbidden(t, err, `node "n1" can only delete pods with spec.nodeName set to itself`)
		if _, err := pods1.Delete(ctx, "default", "static-n1", &metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatalf("deleting its mirror pod: %v", err)
		}
	})

	t.Run("leases", func(t *testing.T) {
		leases1 := client.For[*coordinationv1.Lease](n1)
		lease := func(name string) *coordinationv1.Lease {
			return &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "kube-node-lease"}}
		}
		if _, err := leases1.Create(ctx, lease("n1")); err != nil {
			t.Fatalf("creating its lease: %v", err)
		}
		_, err := leases1.Create(ctx, lease("n2"))
		forbidden(t, err, "can only access node lease with the same name as the requesting node")
		_, err = leases1.Get(ctx, "kube-node-lease", "n2")
		forbidden(t, err, "can only access node lease with the same name as the requesting node")
	})

	t.Run("other users", func(t *testing.T) {
		_, err := client.For[*corev1.Secret](restricted.Client(t)).Get(ctx, "default", "s1")
		if mode == "Node" {
			// Node alone has no opinion on anyone but nodes.
			forbidden(t, err, `User "kubernetes-admin" cannot get resource "secrets"`)
		} else if err != nil {
			t.Fatalf("the administrator under RBAC: %v", err)
		}
	})
}
