package batch

import (
	"testing"

	batchv1 "minik8s/api/batch/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/apiserver/registry"
	vt "minik8s/apiserver/validation/validationtest"
)

// validJob is a Job with a generated selector (no selector given).
func validJob() *batchv1.Job {
	t := vt.PodTemplate(nil)
	t.Spec.RestartPolicy = "Never"
	return &batchv1.Job{Metadata: vt.Meta("pi", "default", nil), Spec: &batchv1.JobSpec{Template: t}}
}

func TestJobDefaults(t *testing.T) {
	j := validJob()
	registry.For("jobs").Default(j)
	s := j.Spec
	if s.GetParallelism() != 1 || s.GetCompletions() != 1 || s.GetBackoffLimit() != 6 || s.GetCompletionMode() != "NonIndexed" {
		t.Errorf("defaults: %v", s)
	}
	uid := j.Metadata.Uid
	if s.Selector.GetMatchLabels()[ControllerUIDLabel] != uid || s.Template.Metadata.Labels[JobNameLabel] != "pi" ||
		s.Template.Metadata.Labels["controller-uid"] != uid {
		t.Errorf("generated selector: %v, template labels %v", s.Selector, s.Template.Metadata.Labels)
	}
	// A work queue sets parallelism only: completions stays unset.
	q := validJob()
	q.Spec.Parallelism = new(int32(3))
	registry.For("jobs").Default(q)
	if q.Spec.Completions != nil {
		t.Errorf("completions defaulted for a work queue: %d", q.Spec.GetCompletions())
	}
	// restartPolicy is not defaulted to Always for a Job.
	r := validJob()
	r.Spec.Template.Spec.RestartPolicy = ""
	registry.For("jobs").Default(r)
	if r.Spec.Template.Spec.RestartPolicy != "" {
		t.Errorf("restartPolicy defaulted to %q", r.Spec.Template.Spec.RestartPolicy)
	}
}

func TestJobValidate(t *testing.T) {
	manual := func() *batchv1.Job {
		j := validJob()
		j.Spec.ManualSelector = new(true)
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"job": "pi"}}
		j.Spec.Template.Metadata.Labels = map[string]string{"job": "pi"}
		return j
	}
	vt.Validate(t, "jobs", manual, []vt.Case[*batchv1.Job]{
		vt.C("no restartPolicy", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" }, "spec.template.spec.restartPolicy"),
		vt.C("restartPolicy Always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "Always" }, "spec.template.spec.restartPolicy"),
		vt.C("OnFailure", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "OnFailure" }, ""),
		vt.C("negative parallelism", func(j *batchv1.Job) { j.Spec.Parallelism = new(int32(-1)) }, "spec.parallelism"),
		vt.C("negative completions", func(j *batchv1.Job) { j.Spec.Completions = new(int32(-1)) }, "spec.completions"),
		vt.C("negative backoffLimit", func(j *batchv1.Job) { j.Spec.BackoffLimit = new(int32(-1)) }, "spec.backoffLimit"),
		vt.C("zero deadline", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = new(int64(0)) }, "spec.activeDeadlineSeconds"),
		vt.C("completionMode", func(j *batchv1.Job) { j.Spec.CompletionMode = new("Sometimes") }, "spec.completionMode"),
		vt.C("selector mismatch", func(j *batchv1.Job) { j.Spec.Template.Metadata.Labels = map[string]string{"job": "e"} }, "spec.template.metadata.labels"),
		vt.C("no selector", func(j *batchv1.Job) { j.Spec.Selector = nil }, "spec.selector"),
	})
	vt.Validate(t, "jobs", validJob, nil) // the generated selector is valid
	vt.ValidateUpdate(t, "jobs", validJob, []vt.Case[*batchv1.Job]{
		vt.C("suspend", func(j *batchv1.Job) { j.Spec.Suspend = new(true) }, ""),
		vt.C("parallelism", func(j *batchv1.Job) { j.Spec.Parallelism = new(int32(4)) }, ""),
		vt.C("template", func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.40" }, "spec.template"),
		vt.C("selector", func(j *batchv1.Job) {
			j.Spec.Selector.MatchLabels["x"] = "y"
			j.Spec.Template.Metadata.Labels["x"] = "y"
		}, "spec.selector"),
	})
}
