package serviceaccount

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func TestDefaultServiceAccount(t *testing.T) {
	active := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team"}, Status: &corev1.NamespaceStatus{Phase: "Active"}}
	has := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "has"}, Status: &corev1.NamespaceStatus{Phase: "Active"}}
	going := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "going", DeletionTimestamp: timestamppb.Now()}, Status: &corev1.NamespaceStatus{Phase: "Terminating"}}
	existing := &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "default", Namespace: "has"}}
	api := fake.NewAPI(existing)
	c := New(Config{ServiceAccounts: api, NamespaceInformer: fake.Informer(t, active, has, going), SAInformer: fake.Informer(t, existing)})
	for _, ns := range []string{"team", "has", "going", "missing"} {
		if err := c.sync(context.Background(), ns); err != nil {
			t.Fatal(err)
		}
	}
	if acts := api.Actions(); !slices.Equal(acts, []string{"create team/default"}) {
		t.Fatalf("actions %v: only the active namespace without one gets a default service account", acts)
	}
}
