package bootstrappolicy

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth/rbac"
)

// Store is where the reconcile reads and writes cluster-scoped objects;
// errors are minik8s/api/errors values (NotFound, AlreadyExists,
// Conflict).
type Store interface {
	Get(ctx context.Context, k *scheme.Kind, name string) (scheme.Object, error)
	Create(ctx context.Context, k *scheme.Kind, obj scheme.Object) error
	Update(ctx context.Context, k *scheme.Kind, obj scheme.Object) error
	Delete(ctx context.Context, k *scheme.Kind, name string) error
}

// Reconcile puts the bootstrap roles and bindings in place and reports
// how many objects it wrote. Running it again writes nothing; several
// apiservers may run it at once (a lost race is retried).
func Reconcile(ctx context.Context, st Store) (int, error) {
	written := 0
	var errs []error
	for _, want := range ClusterRoles() {
		n, err := retry(func() (int, error) { return reconcileRole(ctx, st, want) })
		written += n
		if err != nil {
			errs = append(errs, fmt.Errorf("clusterrole %s: %w", want.Metadata.Name, err))
		}
	}
	for _, want := range ClusterRoleBindings() {
		n, err := retry(func() (int, error) { return reconcileBinding(ctx, st, want) })
		written += n
		if err != nil {
			errs = append(errs, fmt.Errorf("clusterrolebinding %s: %w", want.Metadata.Name, err))
		}
	}
	return written, errors.Join(errs...)
}

// retry repeats f after a conflict or a create race with another
// apiserver.
func retry(f func() (int, error)) (int, error) {
	var err error
	for range 5 {
		var n int
		n, err = f()
		if err == nil || !(apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) {
			return n, err
		}
	}
	return 0, err
}

// skip reports an object its owner took over.
func skip(md *metav1.ObjectMeta) bool { return md.GetAnnotations()[AutoUpdateAnnotation] == "false" }

// mergeMeta adds want's labels and annotations that md lacks (md's own
// values win) and reports whether anything changed.
func mergeMeta(md, want *metav1.ObjectMeta) bool {
	changed := false
	add := func(dst *map[string]string, src map[string]string) {
		for k, v := range src {
			if _, ok := (*dst)[k]; ok {
				continue
			}
			if *dst == nil {
				*dst = map[string]string{}
			}
			(*dst)[k] = v
			changed = true
		}
	}
	add(&md.Labels, want.GetLabels())
	add(&md.Annotations, want.GetAnnotations())
	return changed
}

func reconcileRole(ctx context.Context, st Store, want *rbacv1.ClusterRole) (int, error) {
	obj, err := st.Get(ctx, rbacv1.ClusterRoleKind, want.Metadata.Name)
	if apierrors.IsNotFound(err) {
		return 1, st.Create(ctx, rbacv1.ClusterRoleKind, proto.Clone(want).(*rbacv1.ClusterRole))
	}
	if err != nil {
		return 0, err
	}
	have := proto.Clone(obj).(*rbacv1.ClusterRole)
	if skip(have.Metadata) {
		return 0, nil
	}
	changed := mergeMeta(have.Metadata, want.Metadata)
	if want.AggregationRule != nil {
		// The rules are the aggregation's; only the selectors are ours.
		if have.AggregationRule == nil {
			have.AggregationRule = &rbacv1.AggregationRule{}
		}
		for _, sel := range want.AggregationRule.ClusterRoleSelectors {
			found := false
			for _, h := range have.AggregationRule.ClusterRoleSelectors {
				found = found || proto.Equal(h, sel)
			}
			if !found {
				have.AggregationRule.ClusterRoleSelectors = append(have.AggregationRule.ClusterRoleSelectors, proto.Clone(sel).(*metav1.LabelSelector))
				changed = true
			}
		}
	} else if ok, missing := rbac.Covers(have.Rules, want.Rules); !ok {
		have.Rules = append(have.Rules, missing...)
		changed = true
	}
	if !changed {
		return 0, nil
	}
	return 1, st.Update(ctx, rbacv1.ClusterRoleKind, have)
}

func reconcileBinding(ctx context.Context, st Store, want *rbacv1.ClusterRoleBinding) (int, error) {
	obj, err := st.Get(ctx, rbacv1.ClusterRoleBindingKind, want.Metadata.Name)
	if apierrors.IsNotFound(err) {
		return 1, st.Create(ctx, rbacv1.ClusterRoleBindingKind, proto.Clone(want).(*rbacv1.ClusterRoleBinding))
	}
	if err != nil {
		return 0, err
	}
	have := proto.Clone(obj).(*rbacv1.ClusterRoleBinding)
	if skip(have.Metadata) {
		return 0, nil
	}
	changed := mergeMeta(have.Metadata, want.Metadata)
	for _, s := range want.Subjects {
		found := false
		for _, h := range have.Subjects {
			found = found || (h.Kind == s.Kind && h.Name == s.Name && h.Namespace == s.Namespace)
		}
		if !found {
			have.Subjects = append(have.Subjects, proto.Clone(s).(*rbacv1.Subject))
			changed = true
		}
	}
	if !proto.Equal(have.RoleRef, want.RoleRef) {
		// roleRef cannot change: replace the binding, keeping its subjects.
		if err := st.Delete(ctx, rbacv1.ClusterRoleBindingKind, have.Metadata.Name); err != nil && !apierrors.IsNotFound(err) {
			return 0, err
		}
		have.RoleRef = proto.Clone(want.RoleRef).(*rbacv1.RoleRef)
		have.Metadata = &metav1.ObjectMeta{Name: have.Metadata.Name, Labels: have.Metadata.Labels, Annotations: have.Metadata.Annotations}
		return 1, st.Create(ctx, rbacv1.ClusterRoleBindingKind, have)
	}
	if !changed {
		return 0, nil
	}
	return 1, st.Update(ctx, rbacv1.ClusterRoleBindingKind, have)
}
