package hollownode

import (
	"context"
	"strings"
	"testing"
	"time"

	_ "minik8s/api/all"
	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/test/apiservertest"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHollowNode: the real kubelet on fakes registers a Ready node with a
// lease, runs a pod bound to it (Running, Ready, an IP of its pod CIDR)
// and confirms its graceful deletion.
func TestHollowNode(t *testing.T) {
	api := apiservertest.StartWithEtcd(t)
	addr, c := api.Addr, api.Client(t)
	ctx := context.Background()
	n, err := Start(ctx, Config{Server: addr, Kubeconfig: api.Kubeconfig, Name: "hollow-0", PodCIDR: "10.250.7.0/24", Heartbeat: time.Second,
		Labels: map[string]string{"zone": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Stop(); err != nil {
			t.Error(err)
		}
	}()

	nodes := client.For[*corev1.Node](c)
	eventually(t, "a Ready node", func() bool {
		node, err := nodes.Get(ctx, "", "hollow-0")
		return err == nil && helper.IsNodeReady(node) && node.GetMetadata().GetLabels()["zone"] == "a"
	})
	eventually(t, "a node lease", func() bool {
		_, err := client.For[*coordinationv1.Lease](c).Get(ctx, "kube-node-lease", "hollow-0")
		return err == nil
	})

	pods := client.For[*corev1.Pod](c)
	_, err = pods.Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &corev1.PodSpec{NodeName: "hollow-0", Containers: []*corev1.Container{{Name: "app", Image: "registry.local/kubia:1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var running *corev1.Pod
	eventually(t, "the pod Running and Ready", func() bool {
		p, err := pods.Get(ctx, "default", "web")
		if err != nil || p.GetStatus().GetPhase() != corev1.PodRunning || !helper.IsPodReady(p) {
			return false
		}
		running = p
		return true
	})
	if ip := running.GetStatus().GetPodIP(); !strings.HasPrefix(ip, "10.250.7.") {
		t.Errorf("pod IP %q, want one of 10.250.7.0/24", ip)
	}
	if _, ok := n.Runtime.Find(running.GetMetadata().GetUid(), "app"); !ok {
		t.Error("no fake container for the pod")
	}

	if _, err := pods.Delete(ctx, "default", "web", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the kubelet to confirm the deletion", func() bool {
		_, err := pods.Get(ctx, "default", "web")
		return apierrors.IsNotFound(err)
	})
	if sbs, _ := n.Runtime.ListSandboxes(ctx); len(sbs) != 0 {
		t.Errorf("sandboxes left: %d", len(sbs))
	}
}
