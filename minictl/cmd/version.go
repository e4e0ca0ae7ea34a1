package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"minik8s/api/rpc"
	"minik8s/minictl/printers"
)

func newVersionCommand(o *Options) *cobra.Command {
	clientOnly := false
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the client version and check that the apiserver answers",
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintf(o.Out, "Client Version: %s\n", Version)
			if clientOnly {
				return nil
			}
			cl, err := o.Cluster()
			if err != nil {
				return err
			}
			rctx, cancel := o.requestContext(c.Context())
			defer cancel()
			res, err := cl.Discovery(rctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "Server: %s (reachable, serving %d resource types)\n", strings.Join(o.servers, ","), len(res))
			return nil
		},
	}
	c.Flags().BoolVar(&clientOnly, "client", false, "print the client version only, without contacting the server")
	return c
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type apiResourcesOptions struct {
	*Options
	output     string
	noHeaders  bool
	namespaced string
	apiGroup   string
}

func newAPIResourcesCommand(o *Options) *cobra.Command {
	a := &apiResourcesOptions{Options: o}
	c := &cobra.Command{
		Use:   "api-resources",
		Short: "List the resource types the apiserver serves",
		RunE:  func(c *cobra.Command, _ []string) error { return a.run(c.Context()) },
	}
	f := c.Flags()
	f.StringVarP(&a.output, "output", "o", "", "output format: wide (adds VERBS) or name")
	f.BoolVar(&a.noHeaders, "no-headers", false, "omit the table header")
	f.StringVar(&a.namespaced, "namespaced", "", "true or false: only namespaced or only cluster-scoped resources")
	f.StringVar(&a.apiGroup, "api-group", "", "only resources of this API group (\"\" is core)")
	return c
}

func (a *apiResourcesOptions) run(ctx context.Context) error {
	if a.output != "" && a.output != "wide" && a.output != "name" {
		return fmt.Errorf("--output %v is not available", a.output)
	}
	if a.namespaced != "" && a.namespaced != "true" && a.namespaced != "false" {
		return fmt.Errorf("invalid argument %q for --namespaced: must be true or false", a.namespaced)
	}
	cl, err := a.Cluster()
	if err != nil {
		return err
	}
	rctx, cancel := a.requestContext(ctx)
	defer cancel()
	res, err := cl.Discovery(rctx)
	if err != nil {
		return err
	}
	groupFlag := a.cmd != nil && a.cmd.Flags().Changed("api-group")
	t := APIResourcesTable(res, a.output == "wide", func(r *rpc.APIResource) bool {
		if a.namespaced != "" && fmt.Sprint(r.GetNamespaced()) != a.namespaced {
			return false
		}
		return !groupFlag || r.GetGroup() == a.apiGroup
	})
	if a.output == "name" {
		for _, r := range t.Rows {
			fmt.Fprintln(a.Out, r[len(r)-1])
		}
		return nil
	}
	if len(t.Columns) > 0 {
		t.Columns = t.Columns[:len(t.Columns)-1]
		for i := range t.Rows {
			t.Rows[i] = t.Rows[i][:len(t.Rows[i])-1]
		}
	}
	return printers.NewTableWriter(a.Out).Write(t, a.noHeaders)
}

// APIResourcesTable lays out discovery as NAME SHORTNAMES APIVERSION
// NAMESPACED KIND (plus VERBS when wide), core group first, then by group
// and name. The last column of each row is the resource's qualified name,
// for -o name; callers drop it before printing the table.
func APIResourcesTable(res []*rpc.APIResource, wide bool, keep func(*rpc.APIResource) bool) *printers.Table {
	list := make([]*rpc.APIResource, 0, len(res))
	for _, r := range res {
		if strings.Contains(r.GetName(), "/") || (keep != nil && !keep(r)) {
			continue // subresources are not listed
		}
		list = append(list, r)
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].GetGroup() != list[j].GetGroup() {
			return list[i].GetGroup() < list[j].GetGroup()
		}
		return list[i].GetName() < list[j].GetName()
	})
	t := &printers.Table{Columns: []string{"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"}}
	if wide {
		t.Columns = append(t.Columns, "VERBS")
	}
	t.Columns = append(t.Columns, "QUALIFIED")
	for _, r := range list {
		apiVersion := r.GetVersion()
		qualified := r.GetName()
		if r.GetGroup() != "" {
			apiVersion = r.GetGroup() + "/" + r.GetVersion()
			qualified += "." + r.GetGroup()
		}
		row := []string{r.GetName(), strings.Join(r.GetShortNames(), ","), apiVersion, fmt.Sprint(r.GetNamespaced()), r.GetKind()}
		if wide {
			row = append(row, "["+strings.Join(r.GetVerbs(), " ")+"]")
		}
		t.Rows = append(t.Rows, append(row, qualified))
	}
	return t
}
