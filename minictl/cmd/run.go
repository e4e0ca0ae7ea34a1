package cmd

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	batchv1 "minik8s/api/batch/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

type runOptions struct {
	*Options
	image      string
	replicas   int32
	port       int32
	labels     string
	env        []string
	restart    string
	command    bool
	pullPolicy string
}

func newRunCommand(o *Options) *cobra.Command {
	r := &runOptions{Options: o}
	c := &cobra.Command{
		Use:   "run NAME --image=IMAGE [--replicas=N] [--port=PORT] [-- COMMAND/ARGS...]",
		Short: "Run an image: a Deployment (restart Always), a Job (OnFailure) or a Pod (Never)",
		Long: `Run an image, as early kubectl did: with the default --restart=Always a Deployment
named NAME with --replicas pods labeled run=NAME; --restart=OnFailure creates a
Job and --restart=Never a bare Pod. Arguments after -- are the container's args
(or its command with --command).`,
		Example: "  minictl run nginx --image=nginx\n  minictl run kubia --image=registry.local/kubia:1 --port=8080 --replicas=3",
		Args:    cobra.MinimumNArgs(1),
		RunE:    func(c *cobra.Command, args []string) error { return r.run(c.Context(), c, args) },
	}
	f := c.Flags()
	f.StringVar(&r.image, "image", "", "the container image to run (required)")
	f.Int32Var(&r.replicas, "replicas", 1, "number of replicas of the Deployment")
	f.Int32Var(&r.port, "port", 0, "the port the container exposes")
	f.StringVarP(&r.labels, "labels", "l", "", "labels as KEY=VALUE,... (default run=NAME)")
	f.StringArrayVar(&r.env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	f.StringVar(&r.restart, "restart", "Always", "restart policy: Always (Deployment), OnFailure (Job) or Never (Pod)")
	f.BoolVar(&r.command, "command", false, "the arguments after -- are the command, not the args")
	f.StringVar(&r.pullPolicy, "image-pull-policy", "", "the container's imagePullPolicy")
	return c
}

func (r *runOptions) run(ctx context.Context, c *cobra.Command, args []string) error {
	name := args[0]
	if r.image == "" {
		return fmt.Errorf("--image is required")
	}
	var extra []string
	if n := c.ArgsLenAtDash(); n >= 0 {
		extra = args[n:]
		if n != 1 {
			return fmt.Errorf("exactly one NAME is required before --, got %q", strings.Join(args[:n], " "))
		}
	} else if len(args) > 1 {
		return fmt.Errorf("exactly one NAME is required, got %q", strings.Join(args, " "))
	}
	l := map[string]string{"run": name}
	if r.labels != "" {
		sel, err := labels.Parse(r.labels)
		if err != nil {
			return fmt.Errorf("invalid --labels %q: %v", r.labels, err)
		}
		l = map[string]string{}
		for _, req := range sel.Requirements() {
			vals := req.Values
			if req.Op != labels.Equals || len(vals) != 1 {
				return fmt.Errorf("invalid --labels %q: want KEY=VALUE pairs", r.labels)
			}
			l[req.Key] = vals[0]
		}
	}
	ctr := &corev1.Container{Name: name, Image: r.image, ImagePullPolicy: r.pullPolicy}
	if r.command {
		ctr.Command = extra
	} else {
		ctr.Args = extra
	}
	if r.port > 0 {
		ctr.Ports = []*corev1.ContainerPort{{ContainerPort: r.port}}
	}
	for _, e := range r.env {
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return fmt.Errorf("invalid --env %q: want KEY=VALUE", e)
		}
		ctr.Env = append(ctr.Env, &corev1.EnvVar{Name: k, Value: v})
	}
	spec := &corev1.PodSpec{Containers: []*corev1.Container{ctr}}
	md := &metav1.ObjectMeta{Name: name, Namespace: r.Namespace, Labels: l}
	var obj scheme.Object
	switch r.restart {
	case "Always":
		spec.RestartPolicy = "Always"
		obj = &appsv1.Deployment{ApiVersion: "apps/v1", Kind: "Deployment", Metadata: md, Spec: &appsv1.DeploymentSpec{
			Replicas: proto.Int32(r.replicas),
			Selector: &metav1.LabelSelector{MatchLabels: maps.Clone(l)},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: maps.Clone(l)}, Spec: spec},
		}}
	case "OnFailure":
		spec.RestartPolicy = "OnFailure"
		obj = &batchv1.Job{ApiVersion: "batch/v1", Kind: "Job", Metadata: md, Spec: &batchv1.JobSpec{
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: maps.Clone(l)}, Spec: spec},
		}}
	case "Never":
		spec.RestartPolicy = "Never"
		obj = &corev1.Pod{ApiVersion: "v1", Kind: "Pod", Metadata: md, Spec: spec}
	default:
		return fmt.Errorf("invalid --restart %q: must be Always, OnFailure or Never", r.restart)
	}
	k, err := scheme.KindOf(obj)
	if err != nil {
		return err
	}
	api, err := r.resource(k)
	if err != nil {
		return err
	}
	if _, err := createResolving(ctx, api, obj, r.requestContext); err != nil {
		return err
	}
	fmt.Fprintf(r.Out, "%s created\n", objectName(k, name))
	return nil
}
