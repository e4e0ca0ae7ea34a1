package admission

import (
	"context"
	"testing"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

func TestNamespaceLifecycle(t *testing.T) {
	nsKind, _ := scheme.ByResource("namespaces")
	cmKind, _ := scheme.ByResource("configmaps")
	active := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team"}, Status: &corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	terminating := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team"}, Status: &corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	stale := func(context.Context, string) (*corev1.Namespace, error) { return active, nil } // a cache behind etcd
	live := func(context.Context, string) (*corev1.Namespace, error) { return terminating, nil }
	create := &Attributes{Operation: Create, Kind: cmKind, Namespace: "team", Object: &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "late"}}}
	for _, tc := range []struct {
		name    string
		p       NamespaceLifecycle
		deleted bool
		wantErr string
	}{
		{name: "active", p: NewNamespaceLifecycle(stale, live)},
		{name: "just deleted: read live", p: NewNamespaceLifecycle(stale, live), deleted: true,
			wantErr: `configmaps "late" is forbidden: unable to create new content in namespace team because it is being terminated`},
		{name: "terminating in the cache", p: NamespaceLifecycle{Get: live},
			wantErr: `configmaps "late" is forbidden: unable to create new content in namespace team because it is being terminated`},
		{name: "missing", p: NamespaceLifecycle{Get: func(context.Context, string) (*corev1.Namespace, error) {
			return nil, apierrors.NewNotFound("namespaces", "team")
		}}, wantErr: `namespaces "team" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.deleted {
				if err := tc.p.Validate(context.Background(), &Attributes{Operation: Delete, Kind: nsKind, Name: "team"}); err != nil {
					t.Fatal(err)
				}
			}
			err := tc.p.Validate(context.Background(), create)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("err %v, want %s", err, tc.wantErr)
			}
		})
	}
	err := NamespaceLifecycle{}.Validate(context.Background(), &Attributes{Operation: Delete, Kind: nsKind, Name: "kube-system"})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("deleting kube-system: %v", err)
	}
}
