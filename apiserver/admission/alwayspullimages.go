package admission

import (
	"context"
	"strings"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
)

// PullAlways is the image pull policy AlwaysPullImages forces.
const PullAlways = "Always"

// AlwaysPullImages is Kubernetes' AlwaysPullImages plugin: every
// container and init container of a pod pulls its image on start, so
// the node checks the pod's pull credentials every time and a pod cannot
// run a private image another pod left on the node. It sets
// imagePullPolicy Always on create and on updates that bring a new
// image, and refuses a pod whose changed containers pull otherwise (an
// update that sets a container's policy away from Always). Off by
// default, as in Kubernetes.
type AlwaysPullImages struct{}

// Name is the plugin name as Kubernetes spells it.
func (AlwaysPullImages) Name() string { return "AlwaysPullImages" }

// Admit implements Mutator.
func (AlwaysPullImages) Admit(ctx context.Context, a *Attributes) error {
	pod, old, err := pullPods(ctx, a)
	if err != nil || pod == nil {
		return err
	}
	if old != nil && !newImages(pod, old) {
		return nil
	}
	for _, c := range helper.AllContainers(pod.Spec) {
		c.ImagePullPolicy = PullAlways
	}
	return nil
}

// Validate implements Validator.
func (AlwaysPullImages) Validate(ctx context.Context, a *Attributes) error {
	pod, old, err := pullPods(ctx, a)
	if err != nil || pod == nil {
		return err
	}
	before := map[string]*corev1.Container{}
	if old != nil {
		for _, c := range helper.AllContainers(old.Spec) {
			before[c.GetName()] = c
		}
	}
	var errs []string
	helper.VisitContainers(pod.Spec, func(c *corev1.Container, path string) {
		if c.GetImagePullPolicy() == PullAlways {
			return
		}
		if o := before[c.GetName()]; o != nil && o.GetImage() == c.GetImage() && o.GetImagePullPolicy() == c.GetImagePullPolicy() {
			return // unchanged since before the plugin was enabled
		}
		errs = append(errs, apierrors.NotSupported(path+".imagePullPolicy", c.GetImagePullPolicy(), []string{PullAlways}).String())
	})
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewForbidden("pods", objectName(a.Object), strings.Join(errs, ", "))
}

// pullPods returns the pod of a create or update (and the stored one for
// an update); nil for everything else.
func pullPods(ctx context.Context, a *Attributes) (pod, old *corev1.Pod, err error) {
	if a.Kind.Resource != "pods" || a.Subresource != "" || (a.Operation != Create && a.Operation != Update) {
		return nil, nil, nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok || pod.Spec == nil {
		return nil, nil, nil
	}
	if a.Operation == Update && a.OldObject != nil {
		o, err := a.OldObject(ctx)
		if err != nil {
			return nil, nil, err
		}
		old, _ = o.(*corev1.Pod)
	}
	return pod, old, nil
}

// newImages reports whether pod runs an image old did not.
func newImages(pod, old *corev1.Pod) bool {
	had := map[string]bool{}
	for _, c := range helper.AllContainers(old.GetSpec()) {
		had[c.GetImage()] = true
	}
	for _, c := range helper.AllContainers(pod.Spec) {
		if !had[c.GetImage()] {
			return true
		}
	}
	return false
}
