// Package pods holds the pod subresources that are not plain stored
// objects: the binding the scheduler creates.
package pods

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
)

// Binding is the storage of pods/binding (and of the bindings resource):
// creating a Binding sets the pod's spec.nodeName; it fails with Conflict
// when the pod is already bound or being deleted.
type Binding struct {
	Pods *generic.Resource
	now  func() time.Time
}

var _ rest.NamedCreater = (*Binding)(nil)

// Kind implements rest.Storage.
func (b *Binding) Kind() *scheme.Kind {
	k, _ := scheme.ByResource("bindings")
	return k
}

// CreateNamed implements rest.NamedCreater.
func (b *Binding) CreateNamed(ctx context.Context, ns, name string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	bind, ok := obj.(*corev1.Binding)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pods/binding takes a Binding, not %T", obj))
	}
	if name == "" {
		name = bind.GetMetadata().GetName()
	}
	if n := bind.GetMetadata().GetName(); n != "" && n != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the binding (%s) does not match the name of the pod (%s)", n, name))
	}
	node := bind.GetTarget().GetName()
	if node == "" {
		return nil, apierrors.NewInvalid("Binding", name, []apierrors.FieldError{apierrors.Required("target.name", "")})
	}
	now := time.Now
	if b.now != nil {
		now = b.now
	}
	for attempt := 0; ; attempt++ {
		cur, err := b.Pods.Get(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		pod := proto.Clone(cur).(*corev1.Pod)
		if pod.GetMetadata().GetDeletionTimestamp() != nil {
			return nil, apierrors.NewConflict("pods", name, "pod is being deleted, cannot be assigned to a host")
		}
		if pod.GetSpec().GetNodeName() != "" {
			return nil, apierrors.NewConflict("pods", name, fmt.Sprintf("pod %s is already assigned to node %q", name, pod.Spec.NodeName))
		}
		if pod.Spec == nil {
			pod.Spec = &corev1.PodSpec{}
		}
		pod.Spec.NodeName = node
		setPodScheduled(pod, now())
		if _, err := b.Pods.Store.Update(ctx, b.Pods.K, ns, pod, generic.SubresourceBinding, o); apierrors.IsConflict(err) && attempt < 5 {
			continue // the pod changed (status, labels) between read and write
		} else if err != nil {
			return nil, err
		}
		// The answer is the Binding, as the request's kind; nothing stores it.
		scheme.SetTypeMeta(bind, b.Kind())
		md := scheme.Meta(bind)
		md.Name, md.Namespace = name, ns
		return bind, nil
	}
}

// setPodScheduled marks the pod PodScheduled=True, as the binding that
// places it is the moment it is scheduled; the same write sets nodeName,
// so no watcher sees one without the other.
func setPodScheduled(pod *corev1.Pod, now time.Time) {
	if pod.Status == nil {
		pod.Status = &corev1.PodStatus{}
	}
	cond := &corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: timestamppb.New(now.Truncate(time.Second))}
	for i, c := range pod.Status.Conditions {
		if c.GetType() == "PodScheduled" {
			pod.Status.Conditions[i] = cond
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, cond)
}
