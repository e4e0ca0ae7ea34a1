// Package validationtest runs table-driven strategy tests: each case
// mutates a valid, defaulted object and names the field path the first
// error must report, the way the store would run the checks.
package validationtest

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

// Case is one validation case. Mutate changes a valid, defaulted object;
// Field is the path an error must name, or "" when the object stays valid.
type Case[T scheme.Object] struct {
	Name   string
	Mutate func(T)
	Field  string
}

// C builds a Case; the object type is inferred from mutate.
func C[T scheme.Object](name string, mutate func(T), field string) Case[T] {
	return Case[T]{Name: name, Mutate: mutate, Field: field}
}

// Validate runs what the store runs on create - Default, metadata checks,
// Strategy.Validate - for every case, on a fresh object from valid.
func Validate[T scheme.Object](t *testing.T, resource string, valid func() T, cases []Case[T]) {
	t.Helper()
	t.Run("valid", func(t *testing.T) {
		obj := valid()
		registry.For(resource).Default(obj)
		expect(t, create(t, resource, obj), "")
	})
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			obj := valid()
			registry.For(resource).Default(obj)
			c.Mutate(obj)
			expect(t, create(t, resource, obj), c.Field)
		})
	}
}

// ValidateUpdate checks updates: the old object is valid() defaulted, the
// new one a copy changed by Mutate and defaulted again; the errors are
// those of the store's update path.
func ValidateUpdate[T scheme.Object](t *testing.T, resource string, valid func() T, cases []Case[T]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			s := registry.For(resource)
			old := valid()
			s.Default(old)
			next := proto.Clone(old).(T)
			c.Mutate(next)
			s.Default(next)
			errs := create(t, resource, next)
			errs = append(errs, validation.ValidateObjectMetaUpdate(next.GetMetadata(), old.GetMetadata(), "metadata")...)
			if len(errs) == 0 {
				errs = s.ValidateUpdate(next, old)
			}
			expect(t, errs, c.Field)
		})
	}
}

func create(t *testing.T, resource string, obj scheme.Object) []apierrors.FieldError {
	t.Helper()
	k, err := scheme.ByResource(resource)
	if err != nil {
		t.Fatal(err)
	}
	errs := validation.ValidateObjectMeta(obj.GetMetadata(), k.Namespaced, validation.NameRule(resource), "metadata")
	return append(errs, registry.For(resource).Validate(obj)...)
}

func expect(t *testing.T, errs []apierrors.FieldError, field string) {
	t.Helper()
	if field == "" {
		if len(errs) > 0 {
			t.Fatalf("want no errors, got:\n%s", List(errs))
		}
		return
	}
	for _, e := range errs {
		if e.Field == field {
			return
		}
	}
	t.Fatalf("want an error at %q, got:\n%s", field, List(errs))
}

// List renders errors one per line for test failures.
func List(errs []apierrors.FieldError) string {
	if len(errs) == 0 {
		return "  (none)"
	}
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = "  " + e.String()
	}
	return strings.Join(lines, "\n")
}

// Meta builds metadata with a name, a namespace (may be "") and labels.
func Meta(name, namespace string, labels map[string]string) *metav1.ObjectMeta {
	return &metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels, Uid: "7d3e4f0a-uid", Generation: 1}
}

// PodSpec is a minimal valid pod spec: one nginx container with a port.
func PodSpec() *corev1.PodSpec {
	return &corev1.PodSpec{Containers: []*corev1.Container{{
		Name:  "web",
		Image: "nginx:1.25",
		Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
	}}}
}

// PodTemplate is a valid pod template carrying labels.
func PodTemplate(labels map[string]string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: labels}, Spec: PodSpec()}
}
