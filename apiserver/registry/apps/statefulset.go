package apps

import (
	"strings"

	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/registry/core"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("statefulsets", statefulSetStrategy{}) }

// statefulSetStrategy defaults and validates StatefulSets; after creation
// only replicas, template, updateStrategy and minReadySeconds may change.
type statefulSetStrategy struct{ registry.Base }

// Default sets replicas 1, OrderedReady pod management, a RollingUpdate
// strategy with partition 0, a history of 10 and the template defaults.
func (statefulSetStrategy) Default(obj scheme.Object) {
	ss := obj.(*appsv1.StatefulSet)
	if ss.Spec == nil {
		ss.Spec = &appsv1.StatefulSetSpec{}
	}
	s := ss.Spec
	if s.Replicas == nil {
		s.Replicas = new(int32(1))
	}
	if s.PodManagementPolicy == "" {
		s.PodManagementPolicy = "OrderedReady"
	}
	if s.UpdateStrategy == nil {
		s.UpdateStrategy = &appsv1.StatefulSetUpdateStrategy{}
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = "RollingUpdate"
	}
	if s.UpdateStrategy.Type == "RollingUpdate" {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
		if s.UpdateStrategy.RollingUpdate.Partition == nil {
			s.UpdateStrategy.RollingUpdate.Partition = new(int32(0))
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = new(int32(10))
	}
	core.DefaultPodTemplate(s.Template)
}

// Validate checks replicas, selector against template, the template, pod
// management, the update strategy and the claim templates.
func (statefulSetStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*appsv1.StatefulSet).Spec
	if s == nil {
		return []apierrors.FieldError{apierrors.Required("spec", "")}
	}
	errs := validateReplicated(s.Replicas, s.MinReadySeconds, s.Selector, withClaimVolumes(s.Template, s.VolumeClaimTemplates))
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, validation.NonNegative("spec.revisionHistoryLimit", int64(*s.RevisionHistoryLimit))...)
	}
	errs = append(errs, validation.Enum("spec.podManagementPolicy", s.PodManagementPolicy, []string{"OrderedReady", "Parallel"})...)
	us := s.GetUpdateStrategy()
	errs = append(errs, validation.Enum("spec.updateStrategy.type", us.GetType(), []string{"RollingUpdate", "OnDelete"})...)
	if ru := us.GetRollingUpdate(); ru != nil {
		rp := "spec.updateStrategy.rollingUpdate"
		if us.GetType() != "RollingUpdate" {
			errs = append(errs, apierrors.Invalid(rp, "", "only allowed for updateStrategy 'RollingUpdate'"))
		}
		if ru.Partition != nil {
			errs = append(errs, validation.NonNegative(child(rp, "partition"), int64(*ru.Partition))...)
		}
		if ru.MaxUnavailable != nil {
			mp := child(rp, "maxUnavailable")
			errs = append(errs, validateIntOrPercent(ru.MaxUnavailable, mp, true)...)
			if isZero(ru.MaxUnavailable) {
				errs = append(errs, apierrors.Invalid(mp, intOrStringValue(ru.MaxUnavailable), "must be greater than 0"))
			}
		}
	}
	if s.ServiceName != "" {
		errs = append(errs, msgs("spec.serviceName", s.ServiceName, validation.IsDNS1035Label(s.ServiceName))...)
	}
	names := map[string]bool{}
	for i, c := range s.VolumeClaimTemplates {
		np := child(validation.Index("spec.volumeClaimTemplates", i), "metadata", "name")
		name := c.GetMetadata().GetName()
		switch {
		case name == "":
			errs = append(errs, apierrors.Required(np, ""))
		case names[name]:
			errs = append(errs, apierrors.Duplicate(np, name))
		default:
			errs = append(errs, msgs(np, name, validation.IsDNS1123Label(name))...)
		}
		names[name] = true
	}
	return errs
}

// withClaimVolumes returns the template as the pods will see it: each
// volume claim template becomes a volume of the same name, so that
// volumeMounts naming a claim validate. The stored template is not changed.
func withClaimVolumes(t *corev1.PodTemplateSpec, claims []*corev1.PersistentVolumeClaim) *corev1.PodTemplateSpec {
	if t.GetSpec() == nil || len(claims) == 0 {
		return t
	}
	out := proto.Clone(t).(*corev1.PodTemplateSpec)
	have := map[string]bool{}
	for _, v := range out.Spec.Volumes {
		have[v.Name] = true
	}
	for _, c := range claims {
		if name := c.GetMetadata().GetName(); name != "" && !have[name] {
			out.Spec.Volumes = append(out.Spec.Volumes, &corev1.Volume{Name: name,
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}})
		}
	}
	return out
}

const statefulSetUpdateForbidden = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', " +
	"'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"

// ValidateUpdate refuses changes outside replicas, template, updateStrategy
// and minReadySeconds.
func (statefulSetStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	ns, os := newObj.(*appsv1.StatefulSet).GetSpec(), oldObj.(*appsv1.StatefulSet).GetSpec()
	if ns == nil || os == nil {
		return nil
	}
	allowed := proto.Clone(os).(*appsv1.StatefulSetSpec)
	allowed.Replicas = ns.Replicas
	allowed.Template = ns.Template
	allowed.UpdateStrategy = ns.UpdateStrategy
	allowed.MinReadySeconds = ns.MinReadySeconds
	if changed := validation.ChangedFields(allowed, ns); len(changed) > 0 {
		return []apierrors.FieldError{apierrors.Forbidden("spec", statefulSetUpdateForbidden+" (changed: spec."+strings.Join(changed, ", spec.")+")")}
	}
	return nil
}
