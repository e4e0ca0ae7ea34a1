package generic

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	autoscalingv1 "minik8s/api/autoscaling/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry/rest"
)

// Scale is the scale subresource of a kind with spec.replicas and a
// selector (deployments, replicasets, statefulsets, replication
// controllers): it reads and writes only the replicas, as an
// autoscaling/v1 Scale.
type Scale struct {
	// Resource is the main resource; a named field, not embedded, so the
	// subresource offers only the verbs it implements (get, update), not
	// the main resource's create, delete, list and watch.
	Resource *Resource
}

var (
	_ rest.Getter  = Scale{}
	_ rest.Updater = Scale{}
)

// HasScale reports whether a kind's messages have what Scale needs.
func HasScale(k *scheme.Kind) bool {
	spec := field(k.New().ProtoReflect(), "spec")
	if spec == nil || spec.Message() == nil {
		return false
	}
	return spec.Message().Fields().ByName("replicas") != nil && spec.Message().Fields().ByName("selector") != nil
}

func field(m protoreflect.Message, name protoreflect.Name) protoreflect.FieldDescriptor {
	return m.Descriptor().Fields().ByName(name)
}

// Kind implements rest.Storage.
func (s Scale) Kind() *scheme.Kind { return autoscalingv1.ScaleKind }

// Get implements rest.Getter.
func (s Scale) Get(ctx context.Context, ns, name string) (scheme.Object, error) {
	obj, err := s.Resource.Get(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return scaleOf(obj)
}

// scaleOf reads an object's replicas and selector into a Scale.
func scaleOf(obj scheme.Object) (*autoscalingv1.Scale, error) {
	m := obj.ProtoReflect()
	spec := m.Get(field(m, "spec")).Message()
	md := obj.GetMetadata()
	sc := &autoscalingv1.Scale{
		ApiVersion: "autoscaling/v1", Kind: "Scale",
		Metadata: &metav1.ObjectMeta{Name: md.GetName(), Namespace: md.GetNamespace(), Uid: md.GetUid(),
			ResourceVersion: md.GetResourceVersion(), CreationTimestamp: md.GetCreationTimestamp()},
		Spec:   &autoscalingv1.ScaleSpec{Replicas: 1},
		Status: &autoscalingv1.ScaleStatus{},
	}
	if fd := field(spec, "replicas"); spec.Has(fd) {
		sc.Spec.Replicas = int32(spec.Get(fd).Int())
	}
	if fd := field(m, "status"); fd != nil && m.Has(fd) {
		st := m.Get(fd).Message()
		if rfd := field(st, "replicas"); rfd != nil {
			sc.Status.Replicas = int32(st.Get(rfd).Int())
		}
	}
	sel := spec.Get(field(spec, "selector"))
	switch v := sel.Interface().(type) {
	case protoreflect.Message:
		if ls, ok := v.Interface().(*metav1.LabelSelector); ok && ls != nil {
			s, err := labels.FromLabelSelector(ls)
			if err != nil {
				return nil, apierrors.NewInternal(err)
			}
			sc.Status.Selector = s.String()
		}
	case protoreflect.Map:
		set := map[string]string{}
		v.Range(func(k protoreflect.MapKey, val protoreflect.Value) bool {
			set[k.String()] = val.String()
			return true
		})
		sc.Status.Selector = labels.SelectorFromSet(set).String()
	}
	return sc, nil
}

// Update implements rest.Updater: the Scale's spec.replicas becomes the
// object's; a resourceVersion on the Scale must be the object's.
func (s Scale) Update(ctx context.Context, ns string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	sc, ok := obj.(*autoscalingv1.Scale)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the scale subresource takes a Scale, not %T", obj))
	}
	name := sc.GetMetadata().GetName()
	if r := sc.GetSpec().GetReplicas(); r < 0 {
		return nil, apierrors.NewInvalid("Scale", name, []apierrors.FieldError{apierrors.Invalid("spec.replicas", r, "must be greater than or equal to 0")})
	}
	cur, err := s.Resource.Get(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	next := proto.Clone(cur).(scheme.Object)
	if rv := sc.GetMetadata().GetResourceVersion(); rv != "" {
		scheme.Meta(next).ResourceVersion = rv
	}
	m := next.ProtoReflect()
	spec := m.Mutable(field(m, "spec")).Message()
	spec.Set(field(spec, "replicas"), protoreflect.ValueOfInt32(sc.GetSpec().GetReplicas()))
	out, err := s.Resource.Update(ctx, ns, next, o)
	if err != nil {
		return nil, err
	}
	return scaleOf(out)
}
