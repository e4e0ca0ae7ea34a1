package apps

import (
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/apiserver/registry/core"
	"minik8s/apiserver/validation"
)

// validateReplicated checks what every replicated workload shares:
// replicas and minReadySeconds not negative, a selector that selects the
// template's labels, and a template of restartPolicy Always.
func validateReplicated(replicas *int32, minReadySeconds int32, sel *metav1.LabelSelector, t *corev1.PodTemplateSpec) []apierrors.FieldError {
	var errs []apierrors.FieldError
	if replicas != nil {
		errs = append(errs, validation.NonNegative("spec.replicas", int64(*replicas))...)
	}
	errs = append(errs, validation.NonNegative("spec.minReadySeconds", int64(minReadySeconds))...)
	errs = append(errs, validation.ValidateWorkloadSelector(sel, t.GetMetadata().GetLabels(), "spec.selector", "spec.template.metadata.labels")...)
	return append(errs, core.ValidateWorkloadTemplate(t, core.AlwaysRestart, "spec.template")...)
}
