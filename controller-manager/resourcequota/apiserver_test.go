package resourcequota_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/resourcequota"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// TestWithAPIServer runs the controller against a real apiserver with
// the ResourceQuota plugin: it computes a new quota's status, admission
// fills it, and deleting a pod lets exactly one more in once the
// controller released it.
func TestWithAPIServer(t *testing.T) {
	srv := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{EnableAdmissionPlugins: "NamespaceLifecycle,ResourceQuota"})
	c := srv.Client(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f := informer.NewFactory(c, 0)
	ctrl := resourcequota.New(resourcequota.Config{
		Quotas:        client.For[*corev1.ResourceQuota](c),
		QuotaInformer: informer.For[*corev1.ResourceQuota](f, ""),
		PodInformer:   informer.For[*corev1.Pod](f, ""),
		List:          resourcequota.ClientLister(c),
	})
	f.Start(ctx)
	go func() { _ = ctrl.Run(ctx, 2) }()

	const ns = "quota-release"
	if _, err := client.For[*corev1.Namespace](c).Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	pods := client.For[*corev1.Pod](c)
	newPod := func(name string) error {
		_, err := pods.Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "x"}}}})
		return err
	}
	// A pod created before the quota is counted by the controller.
	if err := newPod("early"); err != nil {
		t.Fatal(err)
	}
	quotas := client.For[*corev1.ResourceQuota](c)
	if _, err := quotas.Create(ctx, &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: "pods", Namespace: ns},
		Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{"pods": "3", "count/deployments.apps": "5"}}}); err != nil {
		t.Fatal(err)
	}
	waitUsed := func(want string) {
		t.Helper()
		var got *corev1.ResourceQuota
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var err error
			if got, err = quotas.Get(ctx, ns, "pods"); err != nil {
				t.Fatal(err)
			}
			if got.GetStatus().GetUsed()["pods"] == want {
				return
			}
		}
		t.Fatalf("status.used never reached pods=%s: %v", want, got.GetStatus())
	}
	waitUsed("1")
	if got, _ := quotas.Get(ctx, ns, "pods"); got.GetStatus().GetUsed()["count/deployments.apps"] != "0" || got.GetStatus().GetHard()["pods"] != "3" {
		t.Errorf("status = %v", got.GetStatus())
	}
	for i := range 2 {
		if err := newPod(fmt.Sprint("p", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := newPod("over"); !apierrors.IsForbidden(err) {
		t.Fatalf("fourth pod: %v, want exceeded quota", err)
	}
	if _, err := pods.Delete(ctx, ns, "p0", &metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitUsed("2")
	if err := newPod("again"); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
	if err := newPod("over"); !apierrors.IsForbidden(err) {
		t.Fatalf("exactly one more: %v, want exceeded quota", err)
	}
}
