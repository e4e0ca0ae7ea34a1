package admission

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	appsv1 "minik8s/api/apps/v1"
	batchv1 "minik8s/api/batch/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/warning"
)

// The namespace labels PodSecurity reads (Kubernetes'): a mode's level
// and the version of the standards it names.
const (
	PodSecurityLabelPrefix = "pod-security.kubernetes.io/"
	EnforceLevelLabel      = PodSecurityLabelPrefix + "enforce"
	EnforceVersionLabel    = PodSecurityLabelPrefix + "enforce-version"
	AuditLevelLabel        = PodSecurityLabelPrefix + "audit"
	AuditVersionLabel      = PodSecurityLabelPrefix + "audit-version"
	WarnLevelLabel         = PodSecurityLabelPrefix + "warn"
	WarnVersionLabel       = PodSecurityLabelPrefix + "warn-version"
	// AuditViolationsAnnotation is the audit annotation a violation of
	// the audit level is recorded under.
	AuditViolationsAnnotation = PodSecurityLabelPrefix + "audit-violations"
)

// PodSecurity is Kubernetes' PodSecurity plugin (Pod Security Admission):
// a pod created in, or updated with a new image in, a namespace whose
// pod-security.kubernetes.io/enforce label names the baseline or
// restricted level is refused when it fails that level's checks, naming
// each failed check; the warn label's level gives warnings instead (the
// REST front returns them as Warning headers) and the audit label's
// level an audit annotation (passed to Audit when set). A workload
// (Deployment, Job, ...) whose pod template would violate the enforce or
// warn level is admitted with a warning. No label means
// privileged (allow everything); nothing is exempt. The -version labels
// are checked (latest or v1.N) and shown in messages, but every version
// is judged by the latest standards. A namespace with an invalid label
// value is refused; a pod in a namespace whose stored labels are
// invalid is held to restricted:latest, failing closed as Kubernetes
// does.
type PodSecurity struct {
	Namespaces NamespaceGetter
	// Audit records an audit annotation of the request of ctx; nil drops
	// audit-level results.
	Audit func(ctx context.Context, key, value string)
	// Pods lists a namespace's pods; when set, a namespace update that
	// changes the enforce level warns about the pods already there that
	// violate the new one (they keep running).
	Pods func(ctx context.Context, ns string) ([]*corev1.Pod, error)
}

// maxPodWarnings caps the per-pod warnings of a namespace update.
const maxPodWarnings = 10

// Name is the plugin name as Kubernetes spells it.
func (PodSecurity) Name() string { return "PodSecurity" }

// LevelVersion is one mode's policy: "restricted" at "latest".
type LevelVersion struct {
	Level, Version string
}

// String is Kubernetes' spelling, "restricted:latest".
func (lv LevelVersion) String() string { return lv.Level + ":" + lv.Version }

var versionRE = regexp.MustCompile(`^v1\.(0|[1-9][0-9]*)$`)

// policyOf reads one mode's labels; a missing level is privileged and a
// missing version latest.
func policyOf(labels map[string]string, levelKey, versionKey string) (LevelVersion, []apierrors.FieldError) {
	lv := LevelVersion{Level: LevelPrivileged, Version: "latest"}
	var errs []apierrors.FieldError
	if l, ok := labels[levelKey]; ok {
		switch l {
		case LevelPrivileged, LevelBaseline, LevelRestricted:
			lv.Level = l
		default:
			errs = append(errs, apierrors.NotSupported("metadata.labels["+levelKey+"]", l, []string{LevelPrivileged, LevelBaseline, LevelRestricted}))
		}
	}
	if v, ok := labels[versionKey]; ok {
		if v == "latest" || versionRE.MatchString(v) {
			lv.Version = v
		} else {
			errs = append(errs, apierrors.Invalid("metadata.labels["+versionKey+"]", v, `must be "latest" or "v1.<minor>"`))
		}
	}
	return lv, errs
}

// Validate implements Validator.
func (p PodSecurity) Validate(ctx context.Context, a *Attributes) error {
	switch {
	case a.Kind.Resource == "namespaces" && (a.Operation == Create || a.Operation == Update) && a.Subresource == "":
		if err := validateNamespaceLabels(a); err != nil {
			return err
		}
		if a.Operation == Update {
			p.warnExistingPods(ctx, a)
		}
		return nil
	case a.Kind.Resource == "pods" && a.Subresource == "" && (a.Operation == Create || a.Operation == Update):
	case a.Subresource == "" && (a.Operation == Create || a.Operation == Update):
		if spec := templateSpec(a.Object); spec != nil {
			p.warnTemplate(ctx, a.Namespace, spec)
		}
		return nil
	default:
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok || pod.Spec == nil {
		return nil
	}
	if a.Operation == Update {
		// Pod specs are immutable but for images: an update that changes
		// none is not judged again (Kubernetes' isSignificantPodUpdate).
		if a.OldObject == nil {
			return nil
		}
		o, err := a.OldObject(ctx)
		if err != nil {
			return err
		}
		if old, ok := o.(*corev1.Pod); ok && !imagesChanged(pod, old) {
			return nil
		}
	}
	ns, err := p.Namespaces(ctx, a.Namespace)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil // NamespaceLifecycle refuses it
		}
		return err
	}
	labels := ns.GetMetadata().GetLabels()
	enforce, bad := policyOf(labels, EnforceLevelLabel, EnforceVersionLabel)
	if len(bad) > 0 {
		enforce = LevelVersion{Level: LevelRestricted, Version: "latest"}
	}
	results := map[string][]Violation{}
	evaluate := func(lv LevelVersion) []Violation {
		if v, done := results[lv.Level]; done {
			return v
		}
		v := EvaluatePodSecurity(lv.Level, pod.Spec)
		results[lv.Level] = v
		return v
	}
	if v := evaluate(enforce); len(v) > 0 {
		return apierrors.NewForbidden("pods", objectName(a.Object),
			fmt.Sprintf("violates PodSecurity %q: %s", enforce.String(), FormatViolations(v)))
	}
	if warn, bad := policyOf(labels, WarnLevelLabel, WarnVersionLabel); len(bad) == 0 {
		if v := evaluate(warn); len(v) > 0 {
			warning.Add(ctx, fmt.Sprintf("would violate PodSecurity %q: %s", warn.String(), FormatViolations(v)))
		}
	}
	if audit, bad := policyOf(labels, AuditLevelLabel, AuditVersionLabel); len(bad) == 0 && p.Audit != nil {
		if v := evaluate(audit); len(v) > 0 {
			p.Audit(ctx, AuditViolationsAnnotation, fmt.Sprintf("would violate PodSecurity %q: %s", audit.String(), FormatViolations(v)))
		}
	}
	return nil
}

// validateNamespaceLabels refuses a namespace whose Pod Security labels
// name no level or version.
func validateNamespaceLabels(a *Attributes) error {
	ns, ok := a.Object.(*corev1.Namespace)
	if !ok {
		return nil
	}
	labels := ns.GetMetadata().GetLabels()
	var errs []apierrors.FieldError
	for _, m := range [][2]string{{EnforceLevelLabel, EnforceVersionLabel}, {AuditLevelLabel, AuditVersionLabel}, {WarnLevelLabel, WarnVersionLabel}} {
		_, e := policyOf(labels, m[0], m[1])
		errs = append(errs, e...)
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid("Namespace", ns.GetMetadata().GetName(), errs)
}

// imagesChanged reports whether pod runs other images, or another number
// of containers, than old.
func imagesChanged(pod, old *corev1.Pod) bool {
	a, b := helper.AllContainers(pod.Spec), helper.AllContainers(old.GetSpec())
	if len(a) != len(b) {
		return true
	}
	for i := range a {
		if a[i].GetImage() != b[i].GetImage() {
			return true
		}
	}
	return false
}

// templateSpec is the pod template of a workload (Deployment, ReplicaSet,
// StatefulSet, DaemonSet, Job, ReplicationController), nil for others.
func templateSpec(obj scheme.Object) *corev1.PodSpec {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.GetSpec().GetTemplate().GetSpec()
	case *appsv1.ReplicaSet:
		return o.GetSpec().GetTemplate().GetSpec()
	case *appsv1.StatefulSet:
		return o.GetSpec().GetTemplate().GetSpec()
	case *appsv1.DaemonSet:
		return o.GetSpec().GetTemplate().GetSpec()
	case *batchv1.Job:
		return o.GetSpec().GetTemplate().GetSpec()
	case *corev1.ReplicationController:
		return o.GetSpec().GetTemplate().GetSpec()
	}
	return nil
}

// warnTemplate warns, as Kubernetes does, when a workload's pods would
// violate the namespace's enforce or warn level: the workload itself is
// admitted, its pods will be refused.
func (p PodSecurity) warnTemplate(ctx context.Context, ns string, spec *corev1.PodSpec) {
	n, err := p.Namespaces(ctx, ns)
	if err != nil {
		return
	}
	labels := n.GetMetadata().GetLabels()
	warned := map[string]bool{}
	for _, m := range [][2]string{{EnforceLevelLabel, EnforceVersionLabel}, {WarnLevelLabel, WarnVersionLabel}} {
		lv, bad := policyOf(labels, m[0], m[1])
		if len(bad) > 0 || warned[lv.Level] {
			continue
		}
		warned[lv.Level] = true
		if v := EvaluatePodSecurity(lv.Level, spec); len(v) > 0 {
			warning.Add(ctx, fmt.Sprintf("would violate PodSecurity %q: %s", lv.String(), FormatViolations(v)))
		}
	}
}

// warnExistingPods warns, as Kubernetes does, when a namespace update
// sets an enforce level that pods already in it violate:
// `existing pods in namespace "team" violate the new PodSecurity enforce
// level "restricted:latest"`, then `POD: reason, reason` per pod.
func (p PodSecurity) warnExistingPods(ctx context.Context, a *Attributes) {
	ns, ok := a.Object.(*corev1.Namespace)
	if !ok || p.Pods == nil || a.OldObject == nil {
		return
	}
	enforce, _ := policyOf(ns.GetMetadata().GetLabels(), EnforceLevelLabel, EnforceVersionLabel)
	if enforce.Level == LevelPrivileged {
		return
	}
	o, err := a.OldObject(ctx)
	if err != nil {
		return
	}
	if old, ok := o.(*corev1.Namespace); ok {
		if before, bad := policyOf(old.GetMetadata().GetLabels(), EnforceLevelLabel, EnforceVersionLabel); len(bad) == 0 && before == enforce {
			return // unchanged
		}
	}
	pods, err := p.Pods(ctx, ns.GetMetadata().GetName())
	if err != nil {
		return
	}
	var lines []string
	for _, pod := range pods {
		v := EvaluatePodSecurity(enforce.Level, pod.GetSpec())
		if len(v) == 0 {
			continue
		}
		reasons := make([]string, len(v))
		for i := range v {
			reasons[i] = v[i].Reason
		}
		lines = append(lines, pod.GetMetadata().GetName()+": "+strings.Join(reasons, ", "))
	}
	if len(lines) == 0 {
		return
	}
	warning.Add(ctx, fmt.Sprintf("existing pods in namespace %q violate the new PodSecurity enforce level %q", ns.GetMetadata().GetName(), enforce.String()))
	sort.Strings(lines)
	if len(lines) > maxPodWarnings {
		lines = append(lines[:maxPodWarnings], fmt.Sprintf("(and %d other pods)", len(lines)-maxPodWarnings))
	}
	for _, l := range lines {
		warning.Add(ctx, l)
	}
}
