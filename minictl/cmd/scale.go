package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/scheme"
)

type scaleOptions struct {
	*Options
	replicas        int
	currentReplicas int
}

func newScaleCommand(o *Options) *cobra.Command {
	s := &scaleOptions{Options: o}
	c := &cobra.Command{
		Use:   "scale (TYPE NAME | TYPE/NAME) --replicas=COUNT",
		Short: "Set the number of replicas of a Deployment, ReplicaSet, ReplicationController or StatefulSet",
		Example: "  minictl scale deployment web --replicas=10\n" +
			"  minictl scale rc/kubia --replicas=3 --current-replicas=2",
		RunE: func(c *cobra.Command, args []string) error { return s.run(c.Context(), args) },
	}
	c.Flags().IntVar(&s.replicas, "replicas", -1, "the new number of replicas (required)")
	c.Flags().IntVar(&s.currentReplicas, "current-replicas", -1, "precondition: only scale if the current replicas match")
	return c
}

// replicasField returns a pointer to the scalable object's spec.replicas.
func replicasField(obj scheme.Object) (**int32, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Replicas, nil
	case *appsv1.ReplicaSet:
		return &o.Spec.Replicas, nil
	case *appsv1.StatefulSet:
		return &o.Spec.Replicas, nil
	case *corev1.ReplicationController:
		return &o.Spec.Replicas, nil
	}
	k, _ := scheme.KindOf(obj)
	name := "this resource"
	if k != nil {
		name = k.GroupResource()
	}
	return nil, fmt.Errorf("cannot scale %s: only deployments, replicasets, replicationcontrollers and statefulsets scale", name)
}

func (s *scaleOptions) run(ctx context.Context, args []string) error {
	if s.replicas < 0 {
		return fmt.Errorf("the --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
	}
	k, name, err := oneObjectArg(args)
	if err != nil {
		return err
	}
	_, _, err = s.modifyObject(ctx, k, name, func(obj scheme.Object) (bool, error) {
		f, err := replicasField(obj)
		if err != nil {
			return false, err
		}
		cur := int32(1)
		if *f != nil {
			cur = **f
		}
		if s.currentReplicas >= 0 && int(cur) != s.currentReplicas {
			return false, fmt.Errorf("Expected replicas to be %d, was %d", s.currentReplicas, cur)
		}
		*f = proto.Int32(int32(s.replicas))
		return true, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "%s scaled\n", objectName(k, name))
	return nil
}
