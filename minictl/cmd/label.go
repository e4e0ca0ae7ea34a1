package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	apierrors "minik8s/api/errors"
	"minik8s/api/labels"
	"minik8s/api/scheme"
)

type labelOptions struct {
	*Options
	verb          string // "label" or "annotate"
	overwrite     bool
	all           bool
	allNamespaces bool
	selector      string
	resourceVer   string
	list          bool
	files         fileOptions
}

func newLabelCommand(o *Options, verb string) *cobra.Command {
	l := &labelOptions{Options: o, verb: verb}
	what := "labels"
	if verb == "annotate" {
		what = "annotations"
	}
	c := &cobra.Command{
		Use:   verb + " TYPE NAME... | TYPE/NAME... KEY=VALUE... KEY-...",
		Short: "Update the " + what + " of resources",
		Long: fmt.Sprintf(`Set (KEY=VALUE) or remove (KEY-) %s of resources. Changing the value of an
existing key needs --overwrite.`, what),
		Example: fmt.Sprintf("  minictl %s pod web-1 tier=frontend\n  minictl %s pod web-1 tier-\n  minictl %s pods --all env=prod --overwrite", verb, verb, verb),
		RunE:    func(c *cobra.Command, args []string) error { return l.run(c.Context(), args) },
	}
	f := c.Flags()
	f.BoolVar(&l.overwrite, "overwrite", false, "allow changing the value of existing keys")
	f.BoolVar(&l.all, "all", false, "every object of the type in the namespace")
	f.BoolVarP(&l.allNamespaces, "all-namespaces", "A", false, "with --all or -l: across all namespaces")
	f.StringVarP(&l.selector, "selector", "l", "", "the objects matching this label selector")
	f.StringVar(&l.resourceVer, "resource-version", "", "only update the object if it is at this resourceVersion")
	f.BoolVar(&l.list, "list", false, "print the current "+what+" instead of changing them")
	l.files.addFlags(c, "naming the objects")
	return c
}

// change is the set of key changes requested on the command line.
type change struct {
	set    map[string]string
	remove []string
	order  []string // keys set, in command-line order
}

// splitLabelArgs separates resource arguments from KEY=VALUE and KEY- ones.
func splitLabelArgs(args []string) (resources []string, ch change, err error) {
	ch.set = map[string]string{}
	for i, a := range args {
		switch {
		case strings.Contains(a, "="):
			k, v, _ := strings.Cut(a, "=")
			if k == "" {
				return nil, ch, fmt.Errorf("invalid label spec: %q", a)
			}
			if _, dup := ch.set[k]; dup {
				return nil, ch, fmt.Errorf("can not modify %q more than once", k)
			}
			ch.set[k] = v
			ch.order = append(ch.order, k)
		case strings.HasSuffix(a, "-") && (i > 0 || len(args) == 1):
			ch.remove = append(ch.remove, strings.TrimSuffix(a, "-"))
		default:
			if len(ch.set) > 0 || len(ch.remove) > 0 {
				return nil, ch, fmt.Errorf("all resources must be specified before %s changes: %s", "label", a)
			}
			resources = append(resources, a)
		}
	}
	for _, k := range ch.remove {
		if _, both := ch.set[k]; both {
			return nil, ch, fmt.Errorf("can not both modify and remove %q in the same command", k)
		}
	}
	return resources, ch, nil
}

func (l *labelOptions) validate(ch change) error {
	if l.verb != "label" {
		return nil
	}
	for k, v := range ch.set {
		if err := labels.ValidateKey(k); err != nil {
			return fmt.Errorf("invalid label spec: %s=%s: %v", k, v, err)
		}
		if err := labels.ValidateValue(v); err != nil {
			return fmt.Errorf("invalid label spec: %s=%s: %v", k, v, err)
		}
	}
	return nil
}

// target is one object to change.
type target struct {
	api  ResourceAPI
	kind *scheme.Kind
	ns   string
	name string
}

func (l *labelOptions) run(ctx context.Context, args []string) error {
	resArgs, ch, err := splitLabelArgs(args)
	if err != nil {
		return err
	}
	if len(ch.set) == 0 && len(ch.remove) == 0 && !l.list {
		return fmt.Errorf("at least one %s update is required", strings.TrimSuffix(l.what(), "s"))
	}
	if err := l.validate(ch); err != nil {
		return err
	}
	targets, err := l.targets(ctx, resArgs)
	if err != nil {
		return err
	}
	failed := false
	for _, t := range targets {
		if err := l.apply(ctx, t, ch); err != nil {
			if err == errSilent {
				failed = true
				continue
			}
			l.printErr(err)
			failed = true
		}
	}
	if failed {
		return errSilent
	}
	return nil
}

func (l *labelOptions) what() string {
	if l.verb == "annotate" {
		return "annotations"
	}
	return "labels"
}

func (l *labelOptions) targets(ctx context.Context, args []string) ([]target, error) {
	var out []target
	if len(l.files.filenames) > 0 {
		if len(args) > 0 {
			return nil, fmt.Errorf("when -f is given, no resource type or name may be")
		}
		err := l.Options.eachManifest(&l.files, func(m *manifest) error {
			api, err := l.resource(m.Kind)
			if err != nil {
				return err
			}
			md := m.Object.GetMetadata()
			out = append(out, target{api: api, kind: m.Kind, ns: md.GetNamespace(), name: md.GetName()})
			return nil
		})
		return out, err
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("one or more resources must be specified as <resource> <name> or <resource>/<name>")
	}
	refs, err := parseResourceArgs(args)
	if err != nil {
		return nil, err
	}
	for _, ref := range refs {
		api, err := l.resource(ref.kind)
		if err != nil {
			return nil, err
		}
		ns := l.Namespace
		if !ref.kind.Namespaced {
			ns = ""
		}
		if len(ref.names) > 0 {
			for _, n := range ref.names {
				out = append(out, target{api: api, kind: ref.kind, ns: ns, name: n})
			}
			continue
		}
		if !l.all && l.selector == "" {
			return nil, fmt.Errorf("resource(s) were provided, but no name was specified")
		}
		if l.allNamespaces {
			ns = ""
		}
		rctx, cancel := l.requestContext(ctx)
		list, err := api.List(rctx, ns, client.ListOptions{LabelSelector: l.selector})
		cancel()
		if err != nil {
			return nil, err
		}
		for _, o := range list.Items {
			out = append(out, target{api: api, kind: ref.kind, ns: o.GetMetadata().GetNamespace(), name: o.GetMetadata().GetName()})
		}
	}
	return out, nil
}

// apply changes one object, re-reading and retrying on a write conflict
// unless the user pinned --resource-version.
func (l *labelOptions) apply(ctx context.Context, t target, ch change) error {
	for attempt := 0; ; attempt++ {
		rctx, cancel := l.requestContext(ctx)
		live, err := t.api.Get(rctx, t.ns, t.name)
		cancel()
		if err != nil {
			return err
		}
		if l.list {
			m := l.mapOf(live)
			for _, k := range sortedKeys(m) {
				fmt.Fprintf(l.Out, "%s=%s\n", k, m[k])
			}
			return nil
		}
		obj := proto.Clone(live).(scheme.Object)
		md := scheme.Meta(obj)
		if l.resourceVer != "" {
			md.ResourceVersion = l.resourceVer
		}
		m := l.mapOf(obj)
		if m == nil {
			m = map[string]string{}
		}
		changed := false
		for _, k := range ch.order {
			v := ch.set[k]
			old, exists := m[k]
			if exists && old != v && !l.overwrite {
				return fmt.Errorf("'%s' already has a value (%s), and --overwrite is false", k, old)
			}
			if !exists || old != v {
				m[k] = v
				changed = true
			}
		}
		for _, k := range ch.remove {
			if _, exists := m[k]; !exists {
				fmt.Fprintf(l.ErrOut, "%s %q not found.\n", strings.TrimSuffix(l.what(), "s"), k)
				continue
			}
			delete(m, k)
			changed = true
		}
		past := "labeled"
		if l.verb == "annotate" {
			past = "annotated"
		}
		if !changed {
			fmt.Fprintf(l.Out, "%s not %s\n", objectName(t.kind, t.name), past)
			return nil
		}
		if l.verb == "label" {
			past = labelChangeMsg(l.mapOf(live), m)
		}
		if l.verb == "annotate" {
			md.Annotations = m
		} else {
			md.Labels = m
		}
		rctx, cancel = l.requestContext(ctx)
		_, err = t.api.Update(rctx, obj)
		cancel()
		if apierrors.IsConflict(err) && l.resourceVer == "" && attempt < 5 {
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(l.Out, "%s %s\n", objectName(t.kind, t.name), past)
		return nil
	}
}

// labelChangeMsg words a label change as kubectl does: "labeled" when
// labels were only added or changed, "unlabeled" when only removed, and
// "label(s) changed" for both.
func labelChangeMsg(before, after map[string]string) string {
	added, removed := false, false
	for k, v := range before {
		if nv, ok := after[k]; !ok {
			removed = true
		} else if nv != v {
			added = true
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			added = true
		}
	}
	switch {
	case added && removed:
		return "label(s) changed"
	case removed:
		return "unlabeled"
	case added:
		return "labeled"
	}
	return "not labeled"
}

func (l *labelOptions) mapOf(o scheme.Object) map[string]string {
	if l.verb == "annotate" {
		return o.GetMetadata().GetAnnotations()
	}
	return o.GetMetadata().GetLabels()
}
