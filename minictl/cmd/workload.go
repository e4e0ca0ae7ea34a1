package cmd

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	batchv1 "minik8s/api/batch/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// oneObjectArg resolves the "TYPE NAME" or "TYPE/NAME" argument of scale,
// rollout and set image to one kind and name.
func oneObjectArg(args []string) (*scheme.Kind, string, error) {
	refs, err := parseResourceArgs(args)
	if err != nil {
		return nil, "", err
	}
	if len(refs) != 1 || len(refs[0].names) != 1 {
		return nil, "", fmt.Errorf("exactly one resource must be given as TYPE NAME or TYPE/NAME")
	}
	return refs[0].kind, refs[0].names[0], nil
}

// podSpecOf returns the pod spec a workload object runs (its template's,
// or a pod's own), or nil for kinds without one.
func podSpecOf(obj scheme.Object) *corev1.PodSpec {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o.GetSpec()
	case *corev1.ReplicationController:
		return o.GetSpec().GetTemplate().GetSpec()
	case *appsv1.Deployment:
		return o.GetSpec().GetTemplate().GetSpec()
	case *appsv1.ReplicaSet:
		return o.GetSpec().GetTemplate().GetSpec()
	case *appsv1.DaemonSet:
		return o.GetSpec().GetTemplate().GetSpec()
	case *appsv1.StatefulSet:
		return o.GetSpec().GetTemplate().GetSpec()
	case *batchv1.Job:
		return o.GetSpec().GetTemplate().GetSpec()
	}
	return nil
}

// modifyObject reads kind/name, lets change edit a copy and writes it,
// re-reading on conflicts. change returns false to write nothing.
func (o *Options) modifyObject(ctx context.Context, k *scheme.Kind, name string, change func(obj scheme.Object) (bool, error)) (scheme.Object, bool, error) {
	api, err := o.resource(k)
	if err != nil {
		return nil, false, err
	}
	ns := o.Namespace
	if !k.Namespaced {
		ns = ""
	}
	for attempt := 0; ; attempt++ {
		rctx, cancel := o.requestContext(ctx)
		live, err := api.Get(rctx, ns, name)
		cancel()
		if err != nil {
			return nil, false, err
		}
		obj := proto.Clone(live).(scheme.Object)
		changed, err := change(obj)
		if err != nil || !changed {
			return live, false, err
		}
		rctx, cancel = o.requestContext(ctx)
		updated, err := api.Update(rctx, obj)
		cancel()
		if apierrors.IsConflict(err) && attempt < 5 {
			continue
		}
		return updated, err == nil, err
	}
}
