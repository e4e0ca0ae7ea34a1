package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/fields"
	"minik8s/api/scheme"
	"minik8s/minictl/printers"
)

type describeOptions struct {
	*Options
	selector      string
	allNamespaces bool
	showEvents    bool
}

func newDescribeCommand(o *Options) *cobra.Command {
	d := &describeOptions{Options: o}
	c := &cobra.Command{
		Use:   "describe TYPE [NAME...] | TYPE/NAME",
		Short: "Show details of a resource and its recent events",
		Example: `  minictl describe pod web-1
  minictl describe nodes
  minictl describe deploy -l app=web`,
		RunE: func(c *cobra.Command, args []string) error { return d.run(c.Context(), args) },
	}
	c.Flags().StringVarP(&d.selector, "selector", "l", "", "label selector")
	c.Flags().BoolVarP(&d.allNamespaces, "all-namespaces", "A", false, "describe across all namespaces")
	c.Flags().BoolVar(&d.showEvents, "show-events", true, "show the events related to the object")
	return c
}

func (d *describeOptions) run(ctx context.Context, args []string) error {
	refs, err := parseResourceArgs(args)
	if err != nil {
		return err
	}
	var outputs []string
	failed := false
	for _, ref := range refs {
		api, err := d.resource(ref.kind)
		if err != nil {
			return err
		}
		ns := d.Namespace
		if !ref.kind.Namespaced || d.allNamespaces {
			ns = ""
		}
		var objs []scheme.Object
		if len(ref.names) > 0 {
			for _, n := range ref.names {
				rctx, cancel := d.requestContext(ctx)
				obj, err := api.Get(rctx, ns, n)
				cancel()
				if err != nil {
					if len(refs) == 1 && len(ref.names) == 1 {
						return err
					}
					d.printErr(err)
					failed = true
					continue
				}
				objs = append(objs, obj)
			}
		} else {
			rctx, cancel := d.requestContext(ctx)
			list, err := api.List(rctx, ns, client.ListOptions{LabelSelector: d.selector})
			cancel()
			if err != nil {
				return err
			}
			objs = list.Items
		}
		for _, obj := range objs {
			in := printers.DescribeInput{Object: obj, Now: d.now()}
			if d.showEvents {
				in.Events = d.events(ctx, ref.kind, obj)
			}
			if svc, ok := obj.(*corev1.Service); ok {
				in.Endpoints = d.endpoints(ctx, svc)
			}
			outputs = append(outputs, printers.Describe(in))
		}
	}
	if len(outputs) == 0 && !failed {
		if len(refs) > 0 && refs[0].kind.Namespaced && !d.allNamespaces {
			fmt.Fprintf(d.ErrOut, "No resources found in %s namespace.\n", d.Namespace)
		} else {
			fmt.Fprintln(d.ErrOut, "No resources found")
		}
	}
	fmt.Fprint(d.Out, strings.Join(outputs, "\n"))
	if failed {
		return errSilent
	}
	return nil
}

// events lists the events about obj. Failing to read them is not fatal:
// describe still shows the object, as kubectl does.
func (d *describeOptions) events(ctx context.Context, k *scheme.Kind, obj scheme.Object) []*corev1.Event {
	evKind, err := scheme.ByResource("events")
	if err != nil {
		return nil
	}
	api, err := d.resource(evKind)
	if err != nil {
		return nil
	}
	md := obj.GetMetadata()
	sel := []string{
		"involvedObject.name=" + fields.Escape(md.GetName()),
		"involvedObject.namespace=" + fields.Escape(md.GetNamespace()),
		"involvedObject.kind=" + fields.Escape(k.Kind),
	}
	ns := md.GetNamespace()
	rctx, cancel := d.requestContext(ctx)
	defer cancel()
	list, err := api.List(rctx, ns, client.ListOptions{FieldSelector: strings.Join(sel, ",")})
	if err != nil {
		return nil
	}
	var out []*corev1.Event
	for _, o := range list.Items {
		e, ok := o.(*corev1.Event)
		if !ok {
			continue
		}
		// Skip events about an earlier object of the same name.
		if uid := e.GetInvolvedObject().GetUid(); uid != "" && md.GetUid() != "" && uid != md.GetUid() {
			continue
		}
		out = append(out, e)
	}
	return out
}

func (d *describeOptions) endpoints(ctx context.Context, svc *corev1.Service) *corev1.Endpoints {
	k, err := scheme.ByResource("endpoints")
	if err != nil {
		return nil
	}
	api, err := d.resource(k)
	if err != nil {
		return nil
	}
	rctx, cancel := d.requestContext(ctx)
	defer cancel()
	obj, err := api.Get(rctx, svc.GetMetadata().GetNamespace(), svc.GetMetadata().GetName())
	if err != nil {
		if apierrors.IsNotFound(err) {
			return &corev1.Endpoints{}
		}
		return nil
	}
	ep, _ := obj.(*corev1.Endpoints)
	return ep
}
