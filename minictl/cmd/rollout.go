package cmd

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/scheme"
)

// The annotations and label the deployment controller maintains.
const (
	rolloutRevisionAnnotation    = "deployment.kubernetes.io/revision"
	rolloutChangeCauseAnnotation = corev1.AnnotationChangeCause
	rolloutHashLabel             = "pod-template-hash"
)

func newRolloutCommand(o *Options) *cobra.Command {
	c := &cobra.Command{
		Use:   "rollout SUBCOMMAND",
		Short: "Manage the rollout of a Deployment (status, history, undo, pause, resume)",
		Example: "  minictl rollout status deployment/web\n  minictl rollout history deployment/web\n" +
			"  minictl rollout undo deployment/web --to-revision=1\n  minictl rollout pause deployment/web",
	}
	c.AddCommand(newRolloutStatusCommand(o), newRolloutHistoryCommand(o), newRolloutUndoCommand(o),
		newRolloutPauseCommand(o, true), newRolloutPauseCommand(o, false))
	return c
}

// rolloutTarget resolves the argument to a Deployment (the only kind with
// history and pausing here).
func rolloutTarget(args []string, verb string) (*scheme.Kind, string, error) {
	k, name, err := oneObjectArg(args)
	if err != nil {
		return nil, "", err
	}
	if k.Resource != "deployments" {
		return nil, "", fmt.Errorf("rollout %s is supported for deployments, not %s", verb, k.GroupResource())
	}
	return k, name, nil
}

// --- status ---

func newRolloutStatusCommand(o *Options) *cobra.Command {
	var watch bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "status (TYPE NAME | TYPE/NAME)",
		Short: "Show the status of a rollout, waiting for it to finish",
		Long:  "Watch a Deployment's, DaemonSet's or StatefulSet's rollout until it completes (exit 0) or fails (exit 1).",
		RunE: func(c *cobra.Command, args []string) error {
			return runRolloutStatus(c.Context(), o, args, watch, timeout)
		},
	}
	c.Flags().BoolVarP(&watch, "watch", "w", true, "keep watching until the rollout ends")
	c.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (0: never)")
	return c
}

// rolloutStatusOf says where a rollout stands, in kubectl's words; done
// is true when it finished, err when it cannot finish.
func rolloutStatusOf(obj scheme.Object) (msg string, done bool, err error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		name, st := o.Metadata.GetName(), o.GetStatus()
		if o.Metadata.GetGeneration() > st.GetObservedGeneration() {
			return "Waiting for deployment spec update to be observed...\n", false, nil
		}
		for _, c := range st.GetConditions() {
			if c.GetType() == "Progressing" && c.GetReason() == "ProgressDeadlineExceeded" {
				return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", name)
			}
		}
		replicas := int32(1)
		if o.GetSpec().Replicas != nil {
			replicas = *o.Spec.Replicas
		}
		switch {
		case st.GetUpdatedReplicas() < replicas:
			return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...\n", name, st.GetUpdatedReplicas(), replicas), false, nil
		case st.GetReplicas() > st.GetUpdatedReplicas():
			return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...\n", name, st.GetReplicas()-st.GetUpdatedReplicas()), false, nil
		case st.GetAvailableReplicas() < st.GetUpdatedReplicas():
			return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...\n", name, st.GetAvailableReplicas(), st.GetUpdatedReplicas()), false, nil
		}
		return fmt.Sprintf("deployment %q successfully rolled out\n", name), true, nil
	case *appsv1.DaemonSet:
		name, st := o.Metadata.GetName(), o.GetStatus()
		if o.GetSpec().GetUpdateStrategy().GetType() == "OnDelete" {
			return "", true, fmt.Errorf("rollout status is only available for RollingUpdate strategy type")
		}
		if o.Metadata.GetGeneration() > st.GetObservedGeneration() {
			return "Waiting for daemon set spec update to be observed...\n", false, nil
		}
		switch {
		case st.GetUpdatedNumberScheduled() < st.GetDesiredNumberScheduled():
			return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...\n", name, st.GetUpdatedNumberScheduled(), st.GetDesiredNumberScheduled()), false, nil
		case st.GetNumberAvailable() < st.GetDesiredNumberScheduled():
			return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...\n", name, st.GetNumberAvailable(), st.GetDesiredNumberScheduled()), false, nil
		}
		return fmt.Sprintf("daemon set %q successfully rolled out\n", name), true, nil
	case *appsv1.StatefulSet:
		st := o.GetStatus()
		if o.Metadata.GetGeneration() > st.GetObservedGeneration() {
			return "Waiting for statefulset spec update to be observed...\n", false, nil
		}
		replicas := int32(1)
		if o.GetSpec().Replicas != nil {
			replicas = *o.Spec.Replicas
		}
		if st.GetReadyReplicas() < replicas {
			return fmt.Sprintf("Waiting for %d pods to be ready...\n", replicas-st.GetReadyReplicas()), false, nil
		}
		if p := o.GetSpec().GetUpdateStrategy().GetRollingUpdate().GetPartition(); p > 0 {
			if st.GetUpdatedReplicas() < replicas-p {
				return fmt.Sprintf("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...\n", st.GetUpdatedReplicas(), replicas-p), false, nil
			}
			return fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...\n", st.GetUpdatedReplicas()), true, nil
		}
		if st.GetUpdateRevision() != st.GetCurrentRevision() {
			return fmt.Sprintf("waiting for statefulset rolling update to complete %d pods at revision %s...\n", st.GetUpdatedReplicas(), st.GetUpdateRevision()), false, nil
		}
		return fmt.Sprintf("statefulset rolling update complete %d pods at revision %s...\n", st.GetCurrentReplicas(), st.GetCurrentRevision()), true, nil
	}
	return "", true, fmt.Errorf("no status viewer has been implemented for this kind")
}

func runRolloutStatus(ctx context.Context, o *Options, args []string, watch bool, timeout time.Duration) error {
	k, name, err := oneObjectArg(args)
	if err != nil {
		return err
	}
	api, err := o.resource(k)
	if err != nil {
		return err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	last := ""
	for {
		rctx, cancel := o.requestContext(ctx)
		obj, err := api.Get(rctx, o.Namespace, name)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("timed out waiting for the condition")
			}
			return err
		}
		msg, done, err := rolloutStatusOf(obj)
		if err != nil {
			return err
		}
		if msg != last {
			fmt.Fprint(o.Out, msg)
			last = msg
		}
		if done || !watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for the condition")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// --- history and undo ---

// deploymentRevisions returns the deployment and its ReplicaSets (those it
// controls) by revision.
func deploymentRevisions(ctx context.Context, o *Options, name string) (*appsv1.Deployment, map[int64]*appsv1.ReplicaSet, error) {
	dk, _ := scheme.ByResource("deployments")
	rk, _ := scheme.ByResource("replicasets")
	dapi, err := o.resource(dk)
	if err != nil {
		return nil, nil, err
	}
	rapi, err := o.resource(rk)
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := o.requestContext(ctx)
	defer cancel()
	obj, err := dapi.Get(rctx, o.Namespace, name)
	if err != nil {
		return nil, nil, err
	}
	d := obj.(*appsv1.Deployment)
	list, err := rapi.List(rctx, o.Namespace, client.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	revs := map[int64]*appsv1.ReplicaSet{}
	for _, item := range list.Items {
		rs := item.(*appsv1.ReplicaSet)
		owned := false
		for _, ref := range rs.GetMetadata().GetOwnerReferences() {
			owned = owned || ref.GetController() && ref.GetUid() == d.GetMetadata().GetUid()
		}
		if !owned {
			continue
		}
		rev, err := strconv.ParseInt(rs.GetMetadata().GetAnnotations()[rolloutRevisionAnnotation], 10, 64)
		if err != nil {
			continue
		}
		revs[rev] = rs
	}
	return d, revs, nil
}

func sortedRevisions(revs map[int64]*appsv1.ReplicaSet) []int64 {
	out := make([]int64, 0, len(revs))
	for r := range revs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func newRolloutHistoryCommand(o *Options) *cobra.Command {
	var revision int64
	c := &cobra.Command{
		Use:   "history (TYPE NAME | TYPE/NAME)",
		Short: "List a Deployment's revisions, or show one with --revision",
		RunE: func(c *cobra.Command, args []string) error {
			k, name, err := rolloutTarget(args, "history")
			if err != nil {
				return err
			}
			_, revs, err := deploymentRevisions(c.Context(), o, name)
			if err != nil {
				return err
			}
			if revision > 0 {
				rs, ok := revs[revision]
				if !ok {
					return fmt.Errorf("unable to find the specified revision")
				}
				fmt.Fprintf(o.Out, "%s with revision #%d\n", objectName(k, name), revision)
				printPodTemplate(o.Out, rs.GetSpec().GetTemplate())
				return nil
			}
			fmt.Fprintf(o.Out, "%s \n", objectName(k, name))
			tw := tabwriter.NewWriter(o.Out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "REVISION\tCHANGE-CAUSE")
			for _, r := range sortedRevisions(revs) {
				cause := revs[r].GetMetadata().GetAnnotations()[rolloutChangeCauseAnnotation]
				if cause == "" {
					cause = "<none>"
				}
				fmt.Fprintf(tw, "%d\t%s\n", r, cause)
			}
			_ = tw.Flush()
			fmt.Fprintln(o.Out)
			return nil
		},
	}
	c.Flags().Int64Var(&revision, "revision", 0, "show the pod template of this revision")
	return c
}

// printPodTemplate renders a template as kubectl's describe does.
func printPodTemplate(w io.Writer, t *corev1.PodTemplateSpec) {
	fmt.Fprintln(w, "Pod Template:")
	l := t.GetMetadata().GetLabels()
	keys := sortedKeys(l)
	for i, k := range keys {
		prefix := "\t"
		if i == 0 {
			prefix = "  Labels:\t"
		}
		fmt.Fprintf(w, "%s%s=%s\n", prefix, k, l[k])
	}
	if len(keys) == 0 {
		fmt.Fprintln(w, "  Labels:\t<none>")
	}
	fmt.Fprintln(w, "  Containers:")
	for _, c := range t.GetSpec().GetContainers() {
		fmt.Fprintf(w, "   %s:\n    Image:\t%s\n", c.GetName(), c.GetImage())
		for _, p := range c.GetPorts() {
			protocol := p.GetProtocol()
			if protocol == "" {
				protocol = "TCP"
			}
			fmt.Fprintf(w, "    Port:\t%d/%s\n", p.GetContainerPort(), protocol)
		}
		if len(c.GetCommand()) > 0 {
			fmt.Fprintf(w, "    Command:\t%s\n", strings.Join(c.GetCommand(), " "))
		}
		if len(c.GetArgs()) > 0 {
			fmt.Fprintf(w, "    Args:\t%s\n", strings.Join(c.GetArgs(), " "))
		}
		for _, e := range c.GetEnv() {
			fmt.Fprintf(w, "    Environment:\t%s=%s\n", e.GetName(), e.GetValue())
		}
	}
	fmt.Fprintln(w)
}

func newRolloutUndoCommand(o *Options) *cobra.Command {
	var toRevision int64
	c := &cobra.Command{
		Use:   "undo (TYPE NAME | TYPE/NAME) [--to-revision=N]",
		Short: "Roll a Deployment back to its previous (or a given) revision",
		Long: "Roll back by copying the pod template of an earlier revision's ReplicaSet into the Deployment;\n" +
			"the controller then rolls out to it, and it becomes the newest revision.",
		RunE: func(c *cobra.Command, args []string) error {
			k, name, err := rolloutTarget(args, "undo")
			if err != nil {
				return err
			}
			d, revs, err := deploymentRevisions(c.Context(), o, name)
			if err != nil {
				return err
			}
			if d.GetSpec().GetPaused() {
				return fmt.Errorf("you cannot rollback a paused deployment; resume it first with 'minictl rollout resume %s' and try again", objectName(k, name))
			}
			sorted := sortedRevisions(revs)
			target := toRevision
			if target == 0 {
				if len(sorted) < 2 {
					return fmt.Errorf("no rollout history found for deployment %q", name)
				}
				target = sorted[len(sorted)-2]
			}
			rs, ok := revs[target]
			if !ok {
				return fmt.Errorf("unable to find specified revision %d in history", target)
			}
			tmpl := proto.Clone(rs.GetSpec().GetTemplate()).(*corev1.PodTemplateSpec)
			if tmpl.Metadata != nil {
				delete(tmpl.Metadata.Labels, rolloutHashLabel)
			}
			if proto.Equal(tmpl, d.GetSpec().GetTemplate()) {
				fmt.Fprintf(o.Out, "%s skipped rollback (current template already matches revision %d)\n", objectName(k, name), target)
				return nil
			}
			_, _, err = o.modifyObject(c.Context(), k, name, func(obj scheme.Object) (bool, error) {
				cur := obj.(*appsv1.Deployment)
				if cur.GetMetadata().GetUid() != d.GetMetadata().GetUid() {
					return false, fmt.Errorf("deployment %q was replaced while rolling back", name)
				}
				cur.Spec.Template = tmpl
				md := cur.Metadata
				if cause, ok := rs.GetMetadata().GetAnnotations()[rolloutChangeCauseAnnotation]; ok {
					if md.Annotations == nil {
						md.Annotations = map[string]string{}
					}
					md.Annotations[rolloutChangeCauseAnnotation] = cause
				} else {
					delete(md.Annotations, rolloutChangeCauseAnnotation)
				}
				return true, nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "%s rolled back\n", objectName(k, name))
			return nil
		},
	}
	c.Flags().Int64Var(&toRevision, "to-revision", 0, "the revision to roll back to (default: the previous one)")
	return c
}

// --- pause and resume ---

func newRolloutPauseCommand(o *Options, pause bool) *cobra.Command {
	verb, past := "resume", "resumed"
	short := "Resume a paused Deployment: template changes roll out again"
	if pause {
		verb, past = "pause", "paused"
		short = "Pause a Deployment: template changes do not roll out until it is resumed"
	}
	return &cobra.Command{
		Use:   verb + " (TYPE NAME | TYPE/NAME)",
		Short: short,
		RunE: func(c *cobra.Command, args []string) error {
			k, name, err := rolloutTarget(args, verb)
			if err != nil {
				return err
			}
			_, _, err = o.modifyObject(c.Context(), k, name, func(obj scheme.Object) (bool, error) {
				d := obj.(*appsv1.Deployment)
				if d.GetSpec().GetPaused() == pause {
					if pause {
						return false, fmt.Errorf("%s %q is already paused", k.GroupResource(), name)
					}
					return false, fmt.Errorf("%s %q is not paused", k.GroupResource(), name)
				}
				d.Spec.Paused = pause
				return true, nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "%s %s\n", objectName(k, name), past)
			return nil
		},
	}
}
