package admission

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"

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
// being created: it defaults spec.serviceAccountName to "default" (or to
// the deprecated spec.serviceAccount), refuses a pod whose service
// account does not exist (`error looking up service account NS/NAME:
// serviceaccount "NAME" not found`) and, unless NoTokens is set, the pod
// or its service account turns automounting off or a container already
// mounts something at the service-account path, adds the projected
// volume kube-api-access-XXXXX (a bound token the kubelet requests and
// refreshes, the cluster CA from ConfigMap kube-root-ca.crt, the
// namespace from the downward API) mounted read-only into every
// container at /var/run/secrets/kubernetes.io/serviceaccount.
//
// The service-account controller creates "default" moments after its
// namespace, so a pod created right after its namespace may find no
// account yet: as Kubernetes does, a missing "default" is looked up again
// for up to DefaultAccountWait before the pod is refused; another missing
// account is refused at once.
type ServiceAccount struct {
	Get ServiceAccountGetter
	// NoTokens is set when the apiserver cannot issue tokens (no
	// --service-account-signing-key-file): the plugin still names and
	// checks the account but mounts no token, as Kubernetes does when
	// token mounting is off.
	NoTokens bool
	// DefaultAccountWait is how long a pod naming the missing "default"
	// account waits for it (Kubernetes: 10 lookups 100-200ms apart).
	DefaultAccountWait time.Duration
}

// DefaultAccountWait is the wait the apiserver gives ServiceAccount.
const DefaultAccountWait = 2 * time.Second

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
		pod.Spec.ServiceAccountName = pod.Spec.ServiceAccount // the deprecated alias
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = DefaultServiceAccount
	}
	sa, err := p.account(ctx, a.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		return apierrors.NewForbidden("pods", objectName(a.Object),
			fmt.Sprintf("error looking up service account %s/%s: %v", a.Namespace, pod.Spec.ServiceAccountName, err))
	}
	if p.NoTokens || !automount(sa, pod) {
		return nil
	}
	name := APIAccessVolumePrefix + suffix()
	pod.Spec.Volumes = append(pod.Spec.Volumes, APIAccessVolume(name))
	for _, c := range append(append([]*corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		c.VolumeMounts = append(c.VolumeMounts, &corev1.VolumeMount{Name: name, MountPath: ServiceAccountMount, ReadOnly: true})
	}
	return nil
}

// account finds the service account, waiting up to DefaultAccountWait
// for "default". Kubernetes words a missing one `serviceaccount "NAME"
// not found`.
func (p ServiceAccount) account(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if p.Get == nil {
		return nil, nil // nothing to check against (tests)
	}
	deadline := time.Now().Add(p.DefaultAccountWait)
	for {
		sa, err := p.Get(ctx, ns, name)
		if err == nil {
			return sa, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
		if name != DefaultServiceAccount || !time.Now().Before(deadline) {
			return nil, fmt.Errorf("serviceaccount %q not found", name)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100*time.Millisecond + time.Duration(mrand.Int64N(int64(100*time.Millisecond)))):
		}
	}
}

// automount reports whether the pod gets the token volume: neither the
// pod nor its account (sa, nil when unknown) turns it off, and the pod
// does not bring its own.
func automount(sa *corev1.ServiceAccount, pod *corev1.Pod) bool {
	if a := pod.Spec.AutomountServiceAccountToken; a != nil {
		if !*a {
			return false
		}
	} else if sa != nil && sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken {
		return false
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
