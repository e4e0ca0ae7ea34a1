package controller

import (
	"maps"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// PodKey is the "namespace/name" key of a pod, as expectations track it.
func PodKey(p *corev1.Pod) string {
	return p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName()
}

// IsPodActive reports a pod that counts towards its controller's replicas:
// not finished and not being deleted.
func IsPodActive(p *corev1.Pod) bool {
	return !helper.IsPodTerminal(p) && p.GetMetadata().GetDeletionTimestamp() == nil
}

// IsPodTerminal reports a pod that finished (Succeeded or Failed).
func IsPodTerminal(p *corev1.Pod) bool { return helper.IsPodTerminal(p) }

// PodReadyCondition returns the pod's Ready condition, or nil.
func PodReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	return helper.GetPodCondition(p, corev1.PodReady)
}

// IsPodReady reports a pod whose Ready condition is True.
func IsPodReady(p *corev1.Pod) bool { return helper.IsPodReady(p) }

// IsPodAvailable reports a pod that has been ready for at least
// minReadySeconds at now.
func IsPodAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := PodReadyCondition(p)
	if c == nil || c.GetStatus() != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds <= 0 {
		return true
	}
	lt := c.GetLastTransitionTime()
	if lt == nil {
		return false
	}
	return !lt.AsTime().Add(time.Duration(minReadySeconds) * time.Second).After(now)
}

// FilterActivePods returns the active pods of pods.
func FilterActivePods(pods []*corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(pods))
	for _, p := range pods {
		if IsPodActive(p) {
			out = append(out, p)
		}
	}
	return out
}

var podPhaseRank = map[string]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// restarts sums the restart counts of a pod's containers.
func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.GetStatus().GetContainerStatuses() {
		n += c.GetRestartCount()
	}
	return n
}

// LessForDeletion orders pods as Kubernetes picks victims on scale down:
// unscheduled before scheduled, Pending before Unknown before Running,
// not ready before ready, ready for less time before ready for longer,
// more restarts before fewer, newer before older. The first pods of a
// sort by it are deleted first.
func LessForDeletion(a, b *corev1.Pod) bool {
	an, bn := a.GetSpec().GetNodeName() != "", b.GetSpec().GetNodeName() != ""
	if an != bn {
		return !an
	}
	if ra, rb := podPhaseRank[a.GetStatus().GetPhase()], podPhaseRank[b.GetStatus().GetPhase()]; ra != rb {
		return ra < rb
	}
	if ar, br := IsPodReady(a), IsPodReady(b); ar != br {
		return !ar
	}
	if IsPodReady(a) {
		at, bt := PodReadyCondition(a).GetLastTransitionTime(), PodReadyCondition(b).GetLastTransitionTime()
		if at != nil && bt != nil && !at.AsTime().Equal(bt.AsTime()) {
			return at.AsTime().After(bt.AsTime())
		}
	}
	if ra, rb := restarts(a), restarts(b); ra != rb {
		return ra > rb
	}
	ac, bc := a.GetMetadata().GetCreationTimestamp(), b.GetMetadata().GetCreationTimestamp()
	if ac != nil && bc != nil && !ac.AsTime().Equal(bc.AsTime()) {
		return ac.AsTime().After(bc.AsTime())
	}
	return a.GetMetadata().GetName() > b.GetMetadata().GetName()
}

// PodsToDelete returns the n pods of pods that should go first on a
// scale down (see LessForDeletion); it does not modify pods.
func PodsToDelete(pods []*corev1.Pod, n int) []*corev1.Pod {
	s := append([]*corev1.Pod(nil), pods...)
	sort.SliceStable(s, func(i, j int) bool { return LessForDeletion(s[i], s[j]) })
	return s[:min(n, len(s))]
}

// NewControllerRef returns an owner reference marking owner (of the given
// apiVersion and kind) as the managing controller, blocking the owner's
// foreground deletion until the dependent is gone.
func NewControllerRef(owner scheme.Object, apiVersion, kind string) *metav1.OwnerReference {
	md := owner.GetMetadata()
	return &metav1.OwnerReference{
		ApiVersion: apiVersion, Kind: kind, Name: md.GetName(), Uid: md.GetUid(),
		Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true),
	}
}

// ControllerRefOf returns the owner reference with controller=true, or nil.
func ControllerRefOf(obj scheme.Object) *metav1.OwnerReference {
	return helper.GetControllerOf(obj.GetMetadata())
}

// PodFromTemplate builds a pod of template in namespace, owned by ref,
// named by generateName prefix (the caller may set Name instead). The
// template is copied, never shared.
func PodFromTemplate(template *corev1.PodTemplateSpec, namespace, generateName string, ref *metav1.OwnerReference) *corev1.Pod {
	t := proto.Clone(template).(*corev1.PodTemplateSpec)
	md := t.GetMetadata()
	pod := &corev1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &metav1.ObjectMeta{
			Namespace:    namespace,
			GenerateName: generateName,
			Labels:       maps.Clone(md.GetLabels()),
			Annotations:  maps.Clone(md.GetAnnotations()),
			Finalizers:   md.GetFinalizers(),
		},
		Spec: t.GetSpec(),
	}
	if pod.Spec == nil {
		pod.Spec = &corev1.PodSpec{}
	}
	if ref != nil {
		pod.Metadata.OwnerReferences = []*metav1.OwnerReference{proto.Clone(ref).(*metav1.OwnerReference)}
	}
	return pod
}

// GenerateNamePrefix is the generateName Kubernetes gives a controller's
// pods: the controller name and a dash, shortened so that the five random
// characters still fit in 63.
func GenerateNamePrefix(name string) string {
	const maxPrefix = 63 - 5
	prefix := name + "-"
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	return prefix
}

// ControllerUIDIndex is the name of the pod informer index by the uid of
// the pod's controller (see IndexByControllerUID).
const ControllerUIDIndex = "controller-uid"

// IndexByControllerUID indexes objects by the uid of their controller
// owner reference, so a controller finds its dependents without scanning
// the namespace.
func IndexByControllerUID[T scheme.Object](obj T) []string {
	if ref := ControllerRefOf(obj); ref != nil {
		return []string{ref.GetUid()}
	}
	return nil
}
