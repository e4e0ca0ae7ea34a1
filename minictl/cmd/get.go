package cmd

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"minik8s/api/client"
	"minik8s/api/codec"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/fields"
	"minik8s/api/labels"
	"minik8s/api/scheme"
	"minik8s/minictl/printers"
)

type getOptions struct {
	*Options
	output            string
	allNamespaces     bool
	selector          string
	fieldSelector     string
	watch             bool
	watchOnly         bool
	outputWatchEvents bool
	noHeaders         bool
	showLabels        bool
	labelColumns      []string
	sortBy            string
	ignoreNotFound    bool

	format *outputFormat
	sortP  *printers.Path
}

func newGetCommand(o *Options) *cobra.Command {
	g := &getOptions{Options: o}
	c := &cobra.Command{
		Use:   "get TYPE[,TYPE...] [NAME...] | TYPE/NAME...",
		Short: "Display one or many resources",
		Example: `  minictl get pods -o wide
  minictl get deploy,svc -A
  minictl get pod web-1 -o yaml
  minictl get pods -o custom-columns=POD:metadata.name,NODE:spec.nodeName --sort-by spec.nodeName
  minictl get events --watch`,
		RunE: func(c *cobra.Command, args []string) error { return g.run(c.Context(), args) },
	}
	f := c.Flags()
	f.StringVarP(&g.output, "output", "o", "", "output format: wide|yaml|json|name|custom-columns=HEADER:PATH,...|jsonpath=TEMPLATE")
	f.BoolVarP(&g.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	f.StringVarP(&g.selector, "selector", "l", "", "label selector (e.g. app=web,tier!=db)")
	f.StringVar(&g.fieldSelector, "field-selector", "", "field selector (e.g. spec.nodeName=node1)")
	f.BoolVarP(&g.watch, "watch", "w", false, "after listing, watch for changes")
	f.BoolVar(&g.watchOnly, "watch-only", false, "watch for changes without listing first")
	f.BoolVar(&g.outputWatchEvents, "output-watch-events", false, "print the watch event type (ADDED, MODIFIED, DELETED) with each change")
	f.BoolVar(&g.noHeaders, "no-headers", false, "omit the table header")
	f.BoolVar(&g.showLabels, "show-labels", false, "add a LABELS column")
	f.StringSliceVarP(&g.labelColumns, "label-columns", "L", nil, "add a column with the value of each of these labels")
	f.StringVar(&g.sortBy, "sort-by", "", "sort by a field path (e.g. spec.nodeName or '{.metadata.creationTimestamp}')")
	f.BoolVar(&g.ignoreNotFound, "ignore-not-found", false, "do not report named objects that do not exist")
	return c
}

// group is the objects of one kind fetched for get.
type group struct {
	kind *scheme.Kind
	objs []scheme.Object
}

func (g *getOptions) complete() error {
	f, err := parseOutput(g.output)
	if err != nil {
		return err
	}
	g.format = f
	if g.sortBy != "" {
		if g.sortP, err = printers.ParsePath(g.sortBy); err != nil {
			return err
		}
	}
	if _, err := labels.Parse(g.selector); err != nil {
		return fmt.Errorf("invalid label selector %q: %v", g.selector, err)
	}
	if _, err := fields.Parse(g.fieldSelector); err != nil {
		return fmt.Errorf("invalid field selector %q: %v", g.fieldSelector, err)
	}
	return nil
}

func (g *getOptions) listNamespace(k *scheme.Kind) string {
	if g.allNamespaces || !k.Namespaced {
		return ""
	}
	return g.Namespace
}

func (g *getOptions) run(ctx context.Context, args []string) error {
	if err := g.complete(); err != nil {
		return err
	}
	refs, err := parseResourceArgs(args)
	if err != nil {
		return err
	}
	if g.watch || g.watchOnly {
		if len(refs) != 1 {
			return fmt.Errorf("you may only specify a single resource type")
		}
		return g.runWatch(ctx, refs[0])
	}

	var groups []group
	failed := false
	single := len(refs) == 1 && len(refs[0].names) == 1
	for _, ref := range refs {
		api, err := g.resource(ref.kind)
		if err != nil {
			return err
		}
		gr := group{kind: ref.kind}
		if len(ref.names) > 0 {
			for _, name := range ref.names {
				rctx, cancel := g.requestContext(ctx)
				obj, err := api.Get(rctx, g.listNamespace(ref.kind), name)
				cancel()
				if err != nil {
					if apierrors.IsNotFound(err) && g.ignoreNotFound {
						continue
					}
					if !apierrors.IsNotFound(err) && len(refs) == 1 && len(ref.names) == 1 {
						return err
					}
					g.printErr(err)
					failed = true
					continue
				}
				gr.objs = append(gr.objs, obj)
			}
		} else {
			rctx, cancel := g.requestContext(ctx)
			list, err := api.List(rctx, g.listNamespace(ref.kind), client.ListOptions{LabelSelector: g.selector, FieldSelector: g.fieldSelector})
			cancel()
			if err != nil {
				return err
			}
			gr.objs = list.Items
		}
		if err := g.sort(&gr); err != nil {
			return err
		}
		groups = append(groups, gr)
	}

	total := 0
	for _, gr := range groups {
		total += len(gr.objs)
	}
	if total == 0 {
		if !failed && len(refs[0].names) == 0 && g.format.name != "json" && g.format.name != "yaml" {
			fmt.Fprintln(g.ErrOut, g.noResourcesMessage(refs))
		}
		if g.format.name == "json" || g.format.name == "yaml" {
			if err := printStructured(g.Out, g.format, nil, nil, false); err != nil {
				return err
			}
		}
		if failed {
			return errSilent
		}
		return nil
	}
	if err := g.print(groups, len(refs) > 1, single); err != nil {
		return err
	}
	if failed {
		return errSilent
	}
	return nil
}

func (g *getOptions) noResourcesMessage(refs []resourceRef) string {
	if g.allNamespaces {
		return "No resources found"
	}
	for _, r := range refs {
		if r.kind.Namespaced {
			return fmt.Sprintf("No resources found in %s namespace.", g.Namespace)
		}
	}
	return "No resources found"
}

// sort orders a group by --sort-by, or events by when they last happened.
func (g *getOptions) sort(gr *group) error {
	if g.sortP == nil {
		if gr.kind.Kind == "Event" {
			sort.SliceStable(gr.objs, func(i, j int) bool {
				return printers.EventLastSeen(gr.objs[i].(*corev1.Event)).Before(printers.EventLastSeen(gr.objs[j].(*corev1.Event)))
			})
		}
		return nil
	}
	maps := make([]map[string]any, len(gr.objs))
	for i, o := range gr.objs {
		maps[i] = codec.ToMap(o)
	}
	order, err := printers.SortOrder(maps, g.sortP)
	if err != nil {
		return err
	}
	sorted := make([]scheme.Object, len(order))
	for i, j := range order {
		sorted[i] = gr.objs[j]
	}
	gr.objs = sorted
	return nil
}

func (g *getOptions) tableOptions(k *scheme.Kind, withKind bool) printers.Options {
	return printers.Options{
		Wide:          g.format.name == "wide",
		WithNamespace: g.allNamespaces && k.Namespaced,
		WithKind:      withKind,
		ShowLabels:    g.showLabels,
		LabelColumns:  g.labelColumns,
		Now:           g.now(),
	}
}

func (g *getOptions) print(groups []group, withKind, single bool) error {
	switch g.format.name {
	case "", "wide":
		first := true
		for _, gr := range groups {
			if len(gr.objs) == 0 {
				continue
			}
			if !first {
				fmt.Fprintln(g.Out)
			}
			first = false
			t := printers.TableFor(gr.kind, gr.objs, g.tableOptions(gr.kind, withKind))
			if err := printers.NewTableWriter(g.Out).Write(t, g.noHeaders); err != nil {
				return err
			}
		}
		return nil
	case "custom-columns":
		var maps []map[string]any
		for _, gr := range groups {
			for _, o := range gr.objs {
				maps = append(maps, codec.ToMap(o))
			}
		}
		return printers.NewTableWriter(g.Out).Write(printers.CustomColumnsTable(g.format.columns, maps), g.noHeaders)
	}
	var kinds []*scheme.Kind
	var objs []scheme.Object
	for _, gr := range groups {
		for _, o := range gr.objs {
			kinds = append(kinds, gr.kind)
			objs = append(objs, o)
		}
	}
	return printStructured(g.Out, g.format, kinds, objs, single)
}

// watchPrinter prints the objects of a watch as they change.
type watchPrinter struct {
	g       *getOptions
	kind    *scheme.Kind
	tw      *printers.TableWriter
	headers bool // printed already
	count   int
}

func (p *watchPrinter) print(eventType string, objs []scheme.Object) error {
	g := p.g
	w := g.Out
	switch g.format.name {
	case "", "wide", "custom-columns":
		var t *printers.Table
		if g.format.name == "custom-columns" {
			maps := make([]map[string]any, len(objs))
			for i, o := range objs {
				maps[i] = codec.ToMap(o)
			}
			t = printers.CustomColumnsTable(g.format.columns, maps)
		} else {
			t = printers.TableFor(p.kind, objs, g.tableOptions(p.kind, false))
		}
		if g.outputWatchEvents {
			t.Columns = append([]string{"EVENT"}, t.Columns...)
			for i := range t.Rows {
				t.Rows[i] = append([]string{eventType}, t.Rows[i]...)
			}
		}
		rows := t.Rows
		if !p.headers && !g.noHeaders {
			rows = append([][]string{t.Columns}, rows...)
		}
		p.headers = true
		return p.tw.WriteRows(rows)
	}
	for _, o := range objs {
		if g.format.name == "yaml" && p.count > 0 {
			fmt.Fprintln(w, "---")
		}
		p.count++
		if g.outputWatchEvents && (g.format.name == "json" || g.format.name == "yaml") {
			if err := printWatchEvent(w, g.format.name, eventType, o); err != nil {
				return err
			}
			continue
		}
		if err := printStructured(w, g.format, []*scheme.Kind{p.kind}, []scheme.Object{o}, true); err != nil {
			return err
		}
	}
	return nil
}

// printWatchEvent prints {"type": ..., "object": ...} for --output-watch-events.
func printWatchEvent(w io.Writer, format, typ string, o scheme.Object) error {
	m := map[string]any{"type": typ, "object": codec.ToMap(o)}
	var out []byte
	var err error
	if format == "json" {
		out, err = marshalIndent(m)
	} else {
		out, err = marshalYAML(m)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

func (g *getOptions) runWatch(ctx context.Context, ref resourceRef) error {
	api, err := g.resource(ref.kind)
	if err != nil {
		return err
	}
	ns := g.listNamespace(ref.kind)
	fieldSel := g.fieldSelector
	if len(ref.names) > 1 {
		return fmt.Errorf("watch is only supported on individual resources and resource collections, but %d resources were found", len(ref.names))
	}
	if len(ref.names) == 1 {
		nameSel := "metadata.name=" + fields.Escape(ref.names[0])
		if fieldSel != "" {
			fieldSel += "," + nameSel
		} else {
			fieldSel = nameSel
		}
	}
	opts := client.ListOptions{LabelSelector: g.selector, FieldSelector: fieldSel}
	p := &watchPrinter{g: g, kind: ref.kind, tw: printers.NewTableWriter(g.Out)}

	rctx, cancel := g.requestContext(ctx)
	list, err := api.List(rctx, ns, opts)
	cancel()
	if err != nil {
		return err
	}
	rv := list.ResourceVersion
	if !g.watchOnly {
		gr := group{kind: ref.kind, objs: list.Items}
		if err := g.sort(&gr); err != nil {
			return err
		}
		if len(gr.objs) == 0 {
			fmt.Fprintln(g.ErrOut, g.noResourcesMessage([]resourceRef{ref}))
		} else if err := p.print("ADDED", gr.objs); err != nil {
			return err
		}
	}

	for {
		opts.ResourceVersion = rv
		opts.AllowBookmarks = true
		w, err := api.Watch(ctx, ns, opts)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for ev := range w.ResultChan() {
			switch ev.Type {
			case client.Bookmark:
				rv = ev.Object.GetMetadata().GetResourceVersion()
				continue
			case client.Error:
				w.Stop()
				if ctx.Err() != nil {
					return nil
				}
				return ev.Err
			}
			rv = ev.Object.GetMetadata().GetResourceVersion()
			if err := p.print(ev.Type, []scheme.Object{ev.Object}); err != nil {
				w.Stop()
				return err
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return nil
		}
		// The stream ended without an error (an apiserver went away):
		// resume from the last version seen, as a reflector would.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}
