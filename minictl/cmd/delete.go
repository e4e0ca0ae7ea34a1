package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"minik8s/api/client"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

type deleteOptions struct {
	*Options
	files          fileOptions
	selector       string
	fieldSelector  string
	all            bool
	allNamespaces  bool
	gracePeriod    int
	now            bool
	force          bool
	ignoreNotFound bool
	wait           bool
	timeout        time.Duration
	output         string
}

func newDeleteCommand(o *Options) *cobra.Command {
	d := &deleteOptions{Options: o}
	c := &cobra.Command{
		Use:   "delete (-f FILENAME | TYPE [NAME...] | TYPE/NAME... | TYPE -l SELECTOR | TYPE --all)",
		Short: "Delete resources by file, name or selector",
		Long: `Delete resources. Pods are deleted gracefully: they turn Terminating while
their kubelet stops the containers, and delete waits until they are gone
(--wait=false returns at once).`,
		Example: `  minictl delete pod web-1
  minictl delete -f deploy.yaml
  minictl delete pods -l app=web --grace-period 0
  minictl delete deploy --all`,
		RunE: func(c *cobra.Command, args []string) error { return d.run(c.Context(), args) },
	}
	d.files.addFlags(c, "to delete")
	f := c.Flags()
	f.StringVarP(&d.selector, "selector", "l", "", "delete the objects matching this label selector")
	f.StringVar(&d.fieldSelector, "field-selector", "", "delete the objects matching this field selector")
	f.BoolVar(&d.all, "all", false, "delete every object of the type in the namespace")
	f.BoolVarP(&d.allNamespaces, "all-namespaces", "A", false, "with --all or -l: across all namespaces")
	f.IntVar(&d.gracePeriod, "grace-period", -1, "seconds to let the object terminate gracefully; -1 uses the object's default, 0 with --force deletes at once")
	f.BoolVar(&d.now, "now", false, "signal the object to stop at once (--grace-period=1)")
	f.BoolVar(&d.force, "force", false, "with --grace-period=0: remove the object from the API at once, without waiting for its kubelet")
	f.BoolVar(&d.ignoreNotFound, "ignore-not-found", false, "treat objects that do not exist as deleted")
	f.BoolVar(&d.wait, "wait", true, "wait until the objects are gone before returning")
	f.DurationVar(&d.timeout, "timeout", 0, "how long to wait for the deletion (0: a week)")
	f.StringVarP(&d.output, "output", "o", "", "output format: name (prints kind/name of each deleted object)")
	return c
}

// deleted is one object whose deletion was requested, to wait for.
type deleted struct {
	api  ResourceAPI
	kind *scheme.Kind
	ns   string
	name string
	uid  string
}

func (d *deleteOptions) options() (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	grace := int64(d.gracePeriod)
	switch {
	case d.now && d.gracePeriod >= 0:
		return nil, fmt.Errorf("--now and --grace-period cannot be specified together")
	case d.now:
		grace = 1
	case d.force && d.gracePeriod < 0:
		grace = 0
	}
	if grace == 0 && !d.force {
		// As in kubectl: a zero grace period without --force means "as
		// soon as possible", which the server reads as one second.
		grace = 1
	}
	if grace >= 0 {
		opts.GracePeriodSeconds = &grace
	}
	if d.force && grace == 0 {
		fmt.Fprintln(d.ErrOut, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
	}
	return opts, nil
}

func (d *deleteOptions) run(ctx context.Context, args []string) error {
	opts, err := d.options()
	if err != nil {
		return err
	}
	var done []deleted
	failed := false
	report := func(err error) {
		failed = true
		d.printErr(err)
	}
	verb := "deleted"
	if d.force && opts.GetGracePeriodSeconds() == 0 {
		verb = "force deleted"
	}
	deleteOne := func(api ResourceAPI, k *scheme.Kind, ns, name string) {
		rctx, cancel := d.requestContext(ctx)
		obj, err := api.Delete(rctx, ns, name, opts)
		cancel()
		if err != nil {
			if apierrors.IsNotFound(err) && d.ignoreNotFound {
				return
			}
			report(err)
			return
		}
		if d.output == "name" {
			fmt.Fprintln(d.Out, objectName(k, name))
		} else {
			fmt.Fprintf(d.Out, "%s %s\n", deletedName(k, name), verb)
		}
		uid := ""
		if obj != nil && obj.GetMetadata() != nil {
			uid = obj.GetMetadata().GetUid()
		}
		done = append(done, deleted{api: api, kind: k, ns: ns, name: name, uid: uid})
	}

	if len(d.files.filenames) > 0 {
		if len(args) > 0 {
			return fmt.Errorf("when -f is given, no resource type or name may be")
		}
		err := d.Options.eachManifest(&d.files, func(m *manifest) error {
			api, err := d.resource(m.Kind)
			if err != nil {
				return err
			}
			deleteOne(api, m.Kind, m.Object.GetMetadata().GetNamespace(), m.Object.GetMetadata().GetName())
			return nil
		})
		if err != nil && err != errSilent {
			return err
		}
		failed = failed || err == errSilent
	} else {
		if len(args) == 0 {
			return fmt.Errorf("You must provide one or more resources by argument or filename.")
		}
		refs, err := parseResourceArgs(args)
		if err != nil {
			return err
		}
		bySelector := d.all || d.selector != "" || d.fieldSelector != ""
		for _, ref := range refs {
			if len(ref.names) > 0 && bySelector {
				return fmt.Errorf("name cannot be provided when a selector is specified")
			}
			if len(ref.names) == 0 && !bySelector {
				return fmt.Errorf("resource(s) were provided, but no name was specified")
			}
		}
		for _, ref := range refs {
			api, err := d.resource(ref.kind)
			if err != nil {
				return err
			}
			ns := d.Namespace
			if !ref.kind.Namespaced {
				ns = ""
			}
			if len(ref.names) > 0 {
				for _, n := range ref.names {
					deleteOne(api, ref.kind, ns, n)
				}
				continue
			}
			if d.allNamespaces {
				ns = ""
			}
			rctx, cancel := d.requestContext(ctx)
			list, err := api.List(rctx, ns, client.ListOptions{LabelSelector: d.selector, FieldSelector: d.fieldSelector})
			cancel()
			if err != nil {
				return err
			}
			if len(list.Items) == 0 {
				if ref.kind.Namespaced && !d.allNamespaces {
					fmt.Fprintf(d.ErrOut, "No resources found in %s namespace.\n", d.Namespace)
				} else {
					fmt.Fprintln(d.ErrOut, "No resources found")
				}
			}
			for _, o := range list.Items {
				deleteOne(api, ref.kind, o.GetMetadata().GetNamespace(), o.GetMetadata().GetName())
			}
		}
	}

	if d.wait && !(d.force && opts.GetGracePeriodSeconds() == 0) {
		if err := d.waitGone(ctx, done); err != nil {
			return err
		}
	}
	if failed {
		return errSilent
	}
	return nil
}

// waitGone polls until every deleted object is gone (or replaced by a new
// object of the same name), as kubectl delete --wait does.
func (d *deleteOptions) waitGone(ctx context.Context, objs []deleted) error {
	timeout := d.timeout
	if timeout <= 0 {
		timeout = 7 * 24 * time.Hour
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, o := range objs {
		for {
			rctx, rcancel := d.requestContext(ctx)
			live, err := o.api.Get(rctx, o.ns, o.name)
			rcancel()
			if apierrors.IsNotFound(err) {
				break
			}
			if err == nil && o.uid != "" && live.GetMetadata().GetUid() != o.uid {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("timed out waiting for the condition on %s", objectName(o.kind, o.name))
			}
			if err != nil && !isRetryable(err) {
				return err
			}
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

func isRetryable(err error) bool {
	switch apierrors.ReasonOf(err) {
	case apierrors.ReasonUnavailable, apierrors.ReasonTimeout, apierrors.ReasonInternal, apierrors.ReasonTooManyRequests:
		return true
	}
	return false
}
