package app_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

const quotaPlugins = "NamespaceLifecycle,ResourceQuota"

// twoServers are two apiservers over one etcd, both running ResourceQuota.
func twoServers(t *testing.T) (*client.Client, *client.Client, *apiservertest.Server) {
	etcd := etcdtest.Start(t, 1)
	first := apiservertest.Start(t, etcd, apiservertest.Options{EnableAdmissionPlugins: quotaPlugins})
	second := apiservertest.Start(t, etcd, apiservertest.Options{EnableAdmissionPlugins: quotaPlugins, PKI: first.PKI})
	return first.Client(t), second.Client(t), first
}

func namespace(t *testing.T, c *client.Client, name string) {
	t.Helper()
	if _, err := client.For[*corev1.Namespace](c).Create(t.Context(), &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// quotaWithStatus creates a quota and sets its status as the
// resource-quota controller would (no controller runs in these tests).
func quotaWithStatus(t *testing.T, c *client.Client, ns, name string, hard, used map[string]string) {
	t.Helper()
	api := client.For[*corev1.ResourceQuota](c)
	q, err := api.Create(t.Context(), &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: &corev1.ResourceQuotaSpec{Hard: hard}})
	if err != nil {
		t.Fatal(err)
	}
	q.Status = &corev1.ResourceQuotaStatus{Hard: hard, Used: used}
	if _, err := api.UpdateStatus(t.Context(), q); err != nil {
		t.Fatal(err)
	}
}

func quotaPod(ns, name string, requests map[string]string) *corev1.Pod {
	c := &corev1.Container{Name: "app", Image: "busybox"}
	if requests != nil {
		c.Resources = &corev1.ResourceRequirements{Requests: requests}
	}
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{c}}}
}

func usedOf(t *testing.T, c *client.Client, ns, name string) map[string]string {
	t.Helper()
	q, err := client.For[*corev1.ResourceQuota](c).Get(t.Context(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return q.GetStatus().GetUsed()
}

// synced makes sure every apiserver's cache has the quota's status (a
// list is consistent: it waits until the cache has etcd's revision), as
// it would long have when the controller computed it.
func synced(t *testing.T, ns string, cs ...*client.Client) {
	t.Helper()
	for _, c := range cs {
		if _, err := client.For[*corev1.ResourceQuota](c).List(t.Context(), ns, client.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestResourceQuotaAcrossTwoAPIServers: 50 concurrent creates spread over
// two apiservers against pods=10 leave exactly 10 pods, charged once each.
func TestResourceQuotaAcrossTwoAPIServers(t *testing.T) {
	c1, c2, _ := twoServers(t)
	const ns = "quota-race"
	namespace(t, c1, ns)
	quotaWithStatus(t, c1, ns, "compute", map[string]string{"pods": "10"}, map[string]string{"pods": "0"})
	synced(t, ns, c1, c2)

	var wg sync.WaitGroup
	var mu sync.Mutex
	created, refused := 0, 0
	var other []error
	for i := range 50 {
		c := c1
		if i%2 == 1 {
			c = c2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := client.For[*corev1.Pod](c).Create(context.Background(), quotaPod(ns, fmt.Sprintf("p%02d", i), nil))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota: compute, requested: pods=1, used: pods=10, limited: pods=10"):
				refused++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if created != 10 || refused != 40 || len(other) > 0 {
		t.Fatalf("created %d, refused %d, other errors %v; want 10, 40, none", created, refused, other)
	}
	pods, err := client.For[*corev1.Pod](c2).List(t.Context(), ns, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 10 {
		t.Errorf("%d pods stored, want 10", len(pods.Items))
	}
	if got := usedOf(t, c1, ns, "compute")["pods"]; got != "10" {
		t.Errorf("status.used pods = %q, want 10", got)
	}
	_, err = client.For[*corev1.Pod](c1).Create(t.Context(), quotaPod(ns, "late", nil))
	if want := `pods "late" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=10, limited: pods=10`; err == nil || err.Error() != want {
		t.Errorf("11th pod: %v, want %s", err, want)
	}
}

// TestResourceQuotaComputeAndDryRun: a cpu quota refuses a pod without a
// cpu request, charges one with it, and a dry run charges nothing.
func TestResourceQuotaComputeAndDryRun(t *testing.T) {
	c1, c2, srv := twoServers(t)
	const ns = "quota-cpu"
	namespace(t, c1, ns)
	quotaWithStatus(t, c1, ns, "cpu", map[string]string{"requests.cpu": "1", "pods": "5"},
		map[string]string{"requests.cpu": "0", "pods": "0"})
	synced(t, ns, c1, c2)
	pods := client.For[*corev1.Pod](c2)

	_, err := pods.Create(t.Context(), quotaPod(ns, "x", nil))
	if want := `pods "x" is forbidden: failed quota: cpu: must specify requests.cpu for: app`; err == nil || err.Error() != want {
		t.Fatalf("pod without requests: %v, want %s", err, want)
	}
	if _, err := pods.Create(t.Context(), quotaPod(ns, "a", map[string]string{"cpu": "600m"})); err != nil {
		t.Fatal(err)
	}
	_, err = pods.Create(t.Context(), quotaPod(ns, "b", map[string]string{"cpu": "500m"}))
	if want := `pods "b" is forbidden: exceeded quota: cpu, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1`; err == nil || err.Error() != want {
		t.Fatalf("second pod: %v, want %s", err, want)
	}

	// A dry run is evaluated (and would be refused like a real one) but
	// charges nothing.
	raw, _ := proto.Marshal(quotaPod(ns, "dry", map[string]string{"cpu": "400m"}))
	if _, err := c1.RPC().Create(t.Context(), &rpc.CreateRequest{Resource: "pods", Namespace: ns, Object: &rpc.Object{Raw: raw}, DryRun: true}); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	raw, _ = proto.Marshal(quotaPod(ns, "dry-big", map[string]string{"cpu": "2"}))
	if _, err := c1.RPC().Create(t.Context(), &rpc.CreateRequest{Resource: "pods", Namespace: ns, Object: &rpc.Object{Raw: raw}, DryRun: true}); !apierrors.IsForbidden(apierrors.FromGRPC(err)) {
		t.Fatalf("dry run over the quota: %v, want Forbidden", err)
	}
	// Creates storage refuses (a name taken, an invalid pod) cost nothing.
	if _, err := pods.Create(t.Context(), quotaPod(ns, "a", map[string]string{"cpu": "100m"})); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second pod a: %v, want AlreadyExists", err)
	}
	invalid := quotaPod(ns, "bad", map[string]string{"cpu": "100m"})
	invalid.Spec.Containers[0].Image = ""
	if _, err := pods.Create(t.Context(), invalid); !apierrors.IsInvalid(err) {
		t.Errorf("pod without an image: %v, want Invalid", err)
	}
	if used := usedOf(t, c1, ns, "cpu"); used["requests.cpu"] != "600m" || used["pods"] != "1" {
		t.Errorf("status.used = %v after a dry run and refused creates, want requests.cpu=600m pods=1", used)
	}
	if _, err := pods.Get(t.Context(), ns, "dry"); !apierrors.IsNotFound(err) {
		t.Errorf("dry-run pod stored: %v", err)
	}

	// kubectl, a real client-go, reads status.hard and status.used.
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl")
	}
	out, err := exec.Command(kubectl, "--kubeconfig", srv.Kubeconfig, "-n", ns, "describe", "quota", "cpu").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl describe quota: %v\n%s", err, out)
	}
	for _, want := range []string{"Resource      Used  Hard", "pods          1     5", "requests.cpu  600m  1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl describe quota lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(kubectl, "--kubeconfig", srv.Kubeconfig, "-n", ns, "get", "quota").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get quota: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "NAME   AGE") || !strings.Contains(string(out), "pods: 1/5, requests.cpu: 600m/1") {
		t.Errorf("kubectl get quota:\n%s", out)
	}
}
