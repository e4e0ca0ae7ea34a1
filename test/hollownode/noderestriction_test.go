package hollownode

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/pki"
	"minik8s/kubelet/static"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// nodeKubeconfig writes a kubeconfig for the kubelet of node name: a
// client certificate system:node:NAME in system:nodes from s's CA.
func nodeKubeconfig(t *testing.T, s *apiservertest.Server, name string) string {
	t.Helper()
	ca, err := pki.ReadKeyPair(filepath.Join(s.PKI, "pki"), "ca")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Sign(pki.CertConfig{CommonName: pki.NodeUserPrefix + name, Organization: []string{pki.GroupNodes}, Usage: pki.Client})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "kubelet.conf")
	if err := pki.WriteKubeconfig(file, "https://"+s.Addr, ca.Cert, kp, pki.NodeUserPrefix+name); err != nil {
		t.Fatal(err)
	}
	return file
}

// syncBuffer is a log sink safe for the kubelet's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestKubeletUnderNodeAuthorization runs the real kubelet with its node's
// credentials against an apiserver with --authorization-mode=Node,RBAC and
// NodeRestriction: everything a kubelet does (registration, status,
// lease, its pods' watch, secrets and config maps of its pods, pod
// status, mirror pods, graceful deletion, events) must be allowed.
func TestKubeletUnderNodeAuthorization(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	admin := apiservertest.Start(t, etcd, apiservertest.Options{})
	restricted := apiservertest.Start(t, etcd, apiservertest.Options{PKI: admin.PKI,
		AuthorizationMode: "Node,RBAC", EnableAdmissionPlugins: "NamespaceLifecycle,NodeRestriction"})
	ctx := context.Background()
	c := admin.Client(t)

	manifests := t.TempDir()
	if err := os.WriteFile(filepath.Join(manifests, "etcd.yaml"), []byte(
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: static\n  namespace: kube-system\nspec:\n  containers:\n  - name: c\n    image: registry.local/kubia:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	n, err := Start(ctx, Config{Server: restricted.Addr, Kubeconfig: nodeKubeconfig(t, restricted, "n1"), Name: "n1",
		Heartbeat: time.Second, PodManifestPath: manifests, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("kubelet log:\n%s", logs.String())
		}
	}()

	nodes := client.For[*corev1.Node](c)
	var node *corev1.Node
	eventually(t, "a Ready node", func() bool {
		node, err = nodes.Get(ctx, "", "n1")
		return err == nil && helper.IsNodeReady(node)
	})
	eventually(t, "a node lease", func() bool {
		_, err := client.For[*coordinationv1.Lease](c).Get(ctx, "kube-node-lease", "n1")
		return err == nil
	})
	eventually(t, "the mirror pod, owned by the Node", func() bool {
		m, err := client.For[*corev1.Pod](c).Get(ctx, "kube-system", "static-n1")
		if err != nil || !static.IsMirror(m) {
			return false
		}
		o := m.GetMetadata().GetOwnerReferences()
		return len(o) == 1 && o[0].GetKind() == "Node" && o[0].GetUid() == node.GetMetadata().GetUid()
	})

	if _, err := client.For[*corev1.Secret](c).Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "creds", Namespace: "default"},
		Data: map[string][]byte{"password": []byte("s3cret")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*corev1.ConfigMap](c).Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "settings", Namespace: "default"},
		Data: map[string]string{"mode": "fast"}}); err != nil {
		t.Fatal(err)
	}
	pods := client.For[*corev1.Pod](c)
	_, err = pods.Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &corev1.PodSpec{NodeName: "n1",
			Volumes: []*corev1.Volume{{Name: "creds", Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
			Containers: []*corev1.Container{{Name: "app", Image: "registry.local/kubia:1",
				VolumeMounts: []*corev1.VolumeMount{{Name: "creds", MountPath: "/creds"}},
				Env: []*corev1.EnvVar{{Name: "MODE", ValueFrom: &corev1.EnvVarSource{
					ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "settings", Key: "mode"}}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pod Running and Ready", func() bool {
		p, err := pods.Get(ctx, "default", "web")
		return err == nil && p.GetStatus().GetPhase() == corev1.PodRunning && helper.IsPodReady(p)
	})
	if _, err := pods.Delete(ctx, "default", "web", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the kubelet to confirm the deletion", func() bool {
		_, err := pods.Get(ctx, "default", "web")
		return apierrors.IsNotFound(err)
	})
	evs, err := client.For[*corev1.Event](c).List(ctx, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) == 0 {
		t.Error("the kubelet recorded no events")
	}
	if !strings.Contains(logs.String(), "mirror pod published") {
		t.Error("the kubelet's log is not captured")
	}
	// A read can race the authorizer's graph (the pod reaches the kubelet
	// before the graph); anything else refused is a rule the kubelet lacks.
	for _, line := range strings.Split(logs.String(), "\n") {
		switch {
		case !strings.Contains(strings.ToLower(line), "forbidden"):
		case strings.Contains(line, "no relationship found"):
			t.Logf("a read raced the graph (retried): %s", line)
		default:
			t.Errorf("kubelet refused: %s", line)
		}
	}
}
