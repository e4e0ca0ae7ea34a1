package admission

import (
	"context"

	corev1 "minik8s/api/core/v1"
)

// DefaultTolerationSeconds is Kubernetes' plugin of that name: a pod
// being created that does not tolerate the node.kubernetes.io/not-ready
// or node.kubernetes.io/unreachable NoExecute taint gets a toleration of
// it for NotReadySeconds or UnreachableSeconds (kube-apiserver's
// --default-not-ready-toleration-seconds and
// --default-unreachable-toleration-seconds, 300 by default), so the node
// lifecycle controller evicts it that long after its node fails.
type DefaultTolerationSeconds struct {
	NotReadySeconds    int64
	UnreachableSeconds int64
}

// Name is the plugin name as Kubernetes spells it.
func (DefaultTolerationSeconds) Name() string { return "DefaultTolerationSeconds" }

// Admit implements Mutator.
func (p DefaultTolerationSeconds) Admit(_ context.Context, a *Attributes) error {
	if a.Kind.Resource != "pods" || a.Operation != Create || a.Subresource != "" {
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	if pod.Spec == nil {
		pod.Spec = &corev1.PodSpec{}
	}
	for _, t := range []struct {
		key  string
		secs int64
	}{{corev1.TaintNodeNotReady, p.NotReadySeconds}, {corev1.TaintNodeUnreachable, p.UnreachableSeconds}} {
		if toleratesNoExecute(pod.Spec.Tolerations, t.key) {
			continue
		}
		secs := t.secs
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, &corev1.Toleration{
			Key: t.key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs})
	}
	return nil
}

// toleratesNoExecute reports whether a toleration already covers the
// NoExecute taint key (by its key or by an empty key, with the NoExecute
// or an empty effect), which Kubernetes leaves alone.
func toleratesNoExecute(tols []*corev1.Toleration, key string) bool {
	for _, t := range tols {
		if (t.GetKey() == key || t.GetKey() == "") && (t.GetEffect() == corev1.TaintEffectNoExecute || t.GetEffect() == "") {
			return true
		}
	}
	return false
}
