package rootcacertpublisher

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func TestPublish(t *testing.T) {
	const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	active := func(name string) *corev1.Namespace {
		return &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}, Status: &corev1.NamespaceStatus{Phase: "Active"}}
	}
	going := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "going", DeletionTimestamp: timestamppb.Now()}, Status: &corev1.NamespaceStatus{Phase: "Terminating"}}
	current := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: ConfigMapName, Namespace: "current",
		Annotations: map[string]string{DescriptionAnnotation: description}}, Data: map[string]string{Key: ca}}
	stale := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: ConfigMapName, Namespace: "stale"},
		Data: map[string]string{Key: "old", "extra": "x"}}
	api := fake.NewAPI(current, stale)
	c := New(Config{ConfigMaps: api, RootCA: []byte(ca),
		NamespaceInformer: fake.Informer(t, active("new"), active("current"), active("stale"), going),
		ConfigMapInformer: fake.Informer(t, current, stale)})
	for _, ns := range []string{"new", "current", "stale", "going", "missing"} {
		if err := c.sync(context.Background(), ns); err != nil {
			t.Fatal(err)
		}
	}
	if acts := api.Actions(); !slices.Equal(acts, []string{"create new/kube-root-ca.crt", "update stale/kube-root-ca.crt"}) {
		t.Fatalf("actions %v", acts)
	}
	for _, cm := range api.Objects() {
		if len(cm.Data) != 1 || cm.Data[Key] != ca || cm.Metadata.Annotations[DescriptionAnnotation] == "" {
			t.Errorf("%s/%s: %v", cm.Metadata.Namespace, cm.Metadata.Name, cm.Data)
		}
	}
}
