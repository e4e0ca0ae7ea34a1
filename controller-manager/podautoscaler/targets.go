package podautoscaler

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/controller-manager/controller"
)

// scale is what the autoscaler needs of its target: Kubernetes' scale
// subresource, read from the object itself.
type scale struct {
	replicas int32
	selector *metav1.LabelSelector
}

// scaler reads and writes the size of one kind of target.
type scaler interface {
	get(ctx context.Context, namespace, name string) (scale, error)
	// set writes spec.replicas, re-reading the object on a conflict.
	set(ctx context.Context, namespace, name string, replicas int32) error
}

// kindScaler is a scaler over a typed API.
type kindScaler[T scheme.Object] struct {
	api         controller.API[T]
	replicas    func(T) int32
	setReplicas func(T, int32)
	selector    func(T) *metav1.LabelSelector
}

func (k kindScaler[T]) get(ctx context.Context, ns, name string) (scale, error) {
	o, err := k.api.Get(ctx, ns, name)
	if err != nil {
		return scale{}, err
	}
	return scale{replicas: k.replicas(o), selector: k.selector(o)}, nil
}

func (k kindScaler[T]) set(ctx context.Context, ns, name string, n int32) error {
	o, err := k.api.Get(ctx, ns, name)
	if err != nil {
		return err
	}
	_, err = controller.Update(ctx, k.api, o, func(cur T) bool {
		if k.replicas(cur) == n {
			return false
		}
		k.setReplicas(cur, n)
		return true
	})
	return err
}

// specReplicas is spec.replicas with the apps/v1 default of 1.
func specReplicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// Targets are the APIs of the kinds an autoscaler can scale.
type Targets struct {
	Deployments  controller.API[*appsv1.Deployment]
	ReplicaSets  controller.API[*appsv1.ReplicaSet]
	StatefulSets controller.API[*appsv1.StatefulSet]
}

func (t Targets) scalers() map[string]scaler {
	m := map[string]scaler{}
	if t.Deployments != nil {
		m["Deployment"] = kindScaler[*appsv1.Deployment]{api: t.Deployments,
			replicas:    func(o *appsv1.Deployment) int32 { return specReplicas(o.GetSpec().Replicas) },
			setReplicas: func(o *appsv1.Deployment, n int32) { o.Spec.Replicas = proto.Int32(n) },
			selector:    func(o *appsv1.Deployment) *metav1.LabelSelector { return o.GetSpec().GetSelector() }}
	}
	if t.ReplicaSets != nil {
		m["ReplicaSet"] = kindScaler[*appsv1.ReplicaSet]{api: t.ReplicaSets,
			replicas:    func(o *appsv1.ReplicaSet) int32 { return specReplicas(o.GetSpec().Replicas) },
			setReplicas: func(o *appsv1.ReplicaSet, n int32) { o.Spec.Replicas = proto.Int32(n) },
			selector:    func(o *appsv1.ReplicaSet) *metav1.LabelSelector { return o.GetSpec().GetSelector() }}
	}
	if t.StatefulSets != nil {
		m["StatefulSet"] = kindScaler[*appsv1.StatefulSet]{api: t.StatefulSets,
			replicas:    func(o *appsv1.StatefulSet) int32 { return specReplicas(o.GetSpec().Replicas) },
			setReplicas: func(o *appsv1.StatefulSet, n int32) { o.Spec.Replicas = proto.Int32(n) },
			selector:    func(o *appsv1.StatefulSet) *metav1.LabelSelector { return o.GetSpec().GetSelector() }}
	}
	return m
}

// scalerFor picks the scaler of a scaleTargetRef: the kinds of group apps
// (apiVersion apps/v1, or left out).
func scalerFor(m map[string]scaler, apiVersion, kind string) (scaler, error) {
	group := ""
	if g, _, ok := strings.Cut(apiVersion, "/"); ok {
		group = g
	}
	s, ok := m[kind]
	if !ok || (apiVersion != "" && group != "apps") {
		return nil, fmt.Errorf("the HPA controller cannot scale %s %q: only apps/v1 Deployment, ReplicaSet and StatefulSet are supported", apiVersion, kind)
	}
	return s, nil
}
