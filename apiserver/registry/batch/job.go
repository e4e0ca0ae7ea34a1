// Package batch holds the Job strategy.
package batch

import (
	"maps"

	batchv1 "minik8s/api/batch/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/registry/core"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("jobs", jobStrategy{}) }

// jobStrategy defaults and validates Jobs; a Job's selector and pod
// template never change after creation.
type jobStrategy struct{ registry.Base }

// Labels a Job puts on its pods, and selects them by, unless the user
// manages the selector.
const (
	ControllerUIDLabel       = "batch.kubernetes.io/controller-uid"
	JobNameLabel             = "batch.kubernetes.io/job-name"
	legacyControllerUIDLabel = "controller-uid"
	legacyJobNameLabel       = "job-name"
)

// OnFailureOrNever are the restart policies a Job's pods may have.
var OnFailureOrNever = []string{"OnFailure", "Never"}

// Default sets parallelism and completions 1 (completions only when
// neither is given: a work queue leaves completions unset), backoffLimit 6,
// completionMode NonIndexed, the pod-template defaults except
// restartPolicy (a Job's must be given), and - unless manualSelector - a
// selector on the Job's uid, with the matching template labels.
func (jobStrategy) Default(obj scheme.Object) {
	job := obj.(*batchv1.Job)
	if job.Spec == nil {
		job.Spec = &batchv1.JobSpec{}
	}
	s := job.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = new(int32(1))
	}
	if s.Parallelism == nil {
		s.Parallelism = new(int32(1))
	}
	if s.BackoffLimit == nil {
		s.BackoffLimit = new(int32(6))
	}
	if s.CompletionMode == nil {
		s.CompletionMode = new("NonIndexed")
	}
	if s.Suspend == nil {
		s.Suspend = new(false)
	}
	if s.Template != nil {
		restart := s.Template.GetSpec().GetRestartPolicy()
		core.DefaultPodTemplate(s.Template)
		s.Template.Spec.RestartPolicy = restart
	}
	uid := job.GetMetadata().GetUid()
	if s.Selector == nil && !s.GetManualSelector() && uid != "" {
		s.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{ControllerUIDLabel: uid}}
		if s.Template == nil {
			s.Template = &corev1.PodTemplateSpec{}
		}
		if s.Template.Metadata == nil {
			s.Template.Metadata = &metav1.ObjectMeta{}
		}
		l := maps.Clone(s.Template.Metadata.Labels)
		if l == nil {
			l = map[string]string{}
		}
		name := job.GetMetadata().GetName()
		l[ControllerUIDLabel], l[legacyControllerUIDLabel] = uid, uid
		l[JobNameLabel], l[legacyJobNameLabel] = name, name
		s.Template.Metadata.Labels = l
	}
}

// Validate checks the counts, the selector against the template, and a
// template whose restartPolicy is OnFailure or Never.
func (jobStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*batchv1.Job).Spec
	if s == nil {
		return []apierrors.FieldError{apierrors.Required("spec", "")}
	}
	var errs []apierrors.FieldError
	for _, f := range []struct {
		name string
		v    *int32
	}{{"parallelism", s.Parallelism}, {"completions", s.Completions}, {"backoffLimit", s.BackoffLimit}, {"ttlSecondsAfterFinished", s.TtlSecondsAfterFinished}} {
		if f.v != nil {
			errs = append(errs, validation.NonNegative("spec."+f.name, int64(*f.v))...)
		}
	}
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, validation.Positive("spec.activeDeadlineSeconds", *s.ActiveDeadlineSeconds)...)
	}
	if m := s.CompletionMode; m != nil {
		errs = append(errs, validation.Enum("spec.completionMode", *m, []string{"NonIndexed", "Indexed"})...)
		if *m == "Indexed" && s.Completions == nil {
			errs = append(errs, apierrors.Required("spec.completions", "when completion mode is Indexed"))
		}
	}
	errs = append(errs, validation.ValidateWorkloadSelector(s.Selector, s.GetTemplate().GetMetadata().GetLabels(), "spec.selector", "spec.template.metadata.labels")...)
	errs = append(errs, core.ValidateWorkloadTemplate(s.Template, OnFailureOrNever, "spec.template")...)
	return errs
}

// ValidateUpdate keeps the selector, the pod template and the completion mode.
func (jobStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	ns, os := newObj.(*batchv1.Job).GetSpec(), oldObj.(*batchv1.Job).GetSpec()
	errs := validation.ImmutableMessage("spec.selector", ns.GetSelector(), os.GetSelector())
	errs = append(errs, validation.ImmutableMessage("spec.template", ns.GetTemplate(), os.GetTemplate())...)
	errs = append(errs, validation.Immutable("spec.completionMode", ns.GetCompletionMode(), os.GetCompletionMode())...)
	return errs
}
