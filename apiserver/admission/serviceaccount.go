package admission

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strings"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
)

// Names the ServiceAccount plugin uses (Kubernetes').
const (
	DefaultServiceAccount  = "default"
	ServiceAccountMount    = "/var/run/secrets/kubernetes.io/serviceaccount"
	APIAccessVolumePrefix  = "kube-api-access-"
	RootCAConfigMap        = "kube-root-ca.crt"
	RootCAKey              = "ca.crt"
	MirrorPodAnnotation    = "kubernetes.io/config.mirror"
	apiAccessTokenLifetime = 3607 // Kubernetes' odd number, so its tokens are recognizable
)

// ServiceAccountGetter finds a service account; the apiserver passes its
// store. NotFound is a minik8s/api/errors value.
type ServiceAccountGetter func(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error)

// ServiceAccount is Kubernetes' ServiceAccount admission plugin for pods
// being created: it defaults spec.serviceAccountName to "default" and,
// unless the pod or its service account turns automounting off or a
// container already mounts something at the service-account path, adds
// the projected volume kube-api-access-XXXXX (a bound token the kubelet
// requests and refreshes, the cluster CA from ConfigMap kube-root-ca.crt,
// the namespace from the downward API) mounted read-only into every
// container at /var/run/secrets/kubernetes.io/serviceaccount.
//
// A missing service account is not refused here: the kubelet's token
// request fails until it exists (the service-account controller creates
// "default" moments after its namespace), so a pod created right after
// its namespace does not race the controller.
type ServiceAccount struct {
	Get ServiceAccountGetter
}

// Name is the plugin name as Kubernetes spells it.
func (ServiceAccount) Name() string { return "ServiceAccount" }

// Admit implements Mutator.
func (p ServiceAccount) Admit(ctx context.Context, a *Attributes) error {
	if a.Kind.Resource != "pods" || a.Operation != Create || a.Subresource != "" {
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	if _, mirror := pod.GetMetadata().GetAnnotations()[MirrorPodAnnotation]; mirror {
		return nil // a static pod's mirror: the kubelet runs it without the API
	}
	if pod.Spec == nil {
		pod.Spec = &corev1.PodSpec{}
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = DefaultServiceAccount
	}
	if !p.automount(ctx, a.Namespace, pod) {
		return nil
	}
	name := APIAccessVolumePrefix + suffix()
	pod.Spec.Volumes = append(pod.Spec.Volumes, APIAccessVolume(name))
	for _, c := range append(append([]*corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		c.VolumeMounts = append(c.VolumeMounts, &corev1.VolumeMount{Name: name, MountPath: ServiceAccountMount, ReadOnly: true})
	}
	return nil
}

func (p ServiceAccount) automount(ctx context.Context, ns string, pod *corev1.Pod) bool {
	if a := pod.Spec.AutomountServiceAccountToken; a != nil {
		if !*a {
			return false
		}
	} else if p.Get != nil {
		sa, err := p.Get(ctx, ns, pod.Spec.ServiceAccountName)
		switch {
		case err == nil && sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken:
			return false
		case err != nil && !apierrors.IsNotFound(err):
			slog.Warn("service account admission: lookup failed; mounting the token", "namespace", ns,
				"serviceAccount", pod.Spec.ServiceAccountName, "err", err)
		}
	}
	for _, c := range append(append([]*corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, m := range c.GetVolumeMounts() {
			if strings.TrimSuffix(m.GetMountPath(), "/") == ServiceAccountMount {
				return false // the pod brings its own
			}
		}
	}
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.GetName(), APIAccessVolumePrefix) {
			return false // already added (a re-submitted pod)
		}
	}
	return true
}

// APIAccessVolume is the projected volume Kubernetes adds to every pod.
func APIAccessVolume(name string) *corev1.Volume {
	exp := int64(apiAccessTokenLifetime)
	mode := int32(0o644)
	return &corev1.Volume{Name: name, Projected: &corev1.ProjectedVolumeSource{DefaultMode: &mode, Sources: []*corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: &exp, Path: "token"}},
		{ConfigMap: &corev1.ConfigMapProjection{Name: RootCAConfigMap, Items: []*corev1.KeyToPath{{Key: RootCAKey, Path: RootCAKey}}}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []*corev1.DownwardAPIVolumeFile{
			{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{ApiVersion: "v1", FieldPath: "metadata.namespace"}}}}},
	}}}
}

// suffix is five characters of Kubernetes' generated-name alphabet.
func suffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	var b [5]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
