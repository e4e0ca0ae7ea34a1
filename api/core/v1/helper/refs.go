package helper

import corev1 "minik8s/api/core/v1"

// VisitPodSecretNames calls visit with the name of every secret pod
// references: secret and projected volumes, image pull secrets, and the
// env and envFrom of every container and init container. A name may be
// visited more than once; visit returns false to stop. The Node authorizer
// and NodeRestriction use it, so what a kubelet may read and what a mirror
// pod may not reference are the same list.
func VisitPodSecretNames(pod *corev1.Pod, visit func(name string) bool) bool {
	spec := pod.GetSpec()
	for _, s := range spec.GetImagePullSecrets() {
		if s.GetName() != "" && !visit(s.GetName()) {
			return false
		}
	}
	for _, v := range spec.GetVolumes() {
		if n := v.GetSecret().GetSecretName(); n != "" && !visit(n) {
			return false
		}
		for _, src := range v.GetProjected().GetSources() {
			if n := src.GetSecret().GetName(); n != "" && !visit(n) {
				return false
			}
		}
	}
	return visitContainers(spec, func(c *corev1.Container) bool {
		for _, e := range c.GetEnvFrom() {
			if n := e.GetSecretRef().GetName(); n != "" && !visit(n) {
				return false
			}
		}
		for _, e := range c.GetEnv() {
			if n := e.GetValueFrom().GetSecretKeyRef().GetName(); n != "" && !visit(n) {
				return false
			}
		}
		return true
	})
}

// VisitPodConfigMapNames calls visit with the name of every config map pod
// references: configMap and projected volumes, and the env and envFrom of
// every container and init container. visit returns false to stop.
func VisitPodConfigMapNames(pod *corev1.Pod, visit func(name string) bool) bool {
	spec := pod.GetSpec()
	for _, v := range spec.GetVolumes() {
		if n := v.GetConfigMap().GetName(); n != "" && !visit(n) {
			return false
		}
		for _, src := range v.GetProjected().GetSources() {
			if n := src.GetConfigMap().GetName(); n != "" && !visit(n) {
				return false
			}
		}
	}
	return visitContainers(spec, func(c *corev1.Container) bool {
		for _, e := range c.GetEnvFrom() {
			if n := e.GetConfigMapRef().GetName(); n != "" && !visit(n) {
				return false
			}
		}
		for _, e := range c.GetEnv() {
			if n := e.GetValueFrom().GetConfigMapKeyRef().GetName(); n != "" && !visit(n) {
				return false
			}
		}
		return true
	})
}

// VisitPodClaimNames calls visit with the claim name of every
// persistentVolumeClaim volume of pod; visit returns false to stop.
func VisitPodClaimNames(pod *corev1.Pod, visit func(name string) bool) bool {
	for _, v := range pod.GetSpec().GetVolumes() {
		if n := v.GetPersistentVolumeClaim().GetClaimName(); n != "" && !visit(n) {
			return false
		}
	}
	return true
}

func visitContainers(spec *corev1.PodSpec, visit func(*corev1.Container) bool) bool {
	for _, c := range spec.GetInitContainers() {
		if !visit(c) {
			return false
		}
	}
	for _, c := range spec.GetContainers() {
		if !visit(c) {
			return false
		}
	}
	return true
}
