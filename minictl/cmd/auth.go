package cmd

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	authenticationv1 "minik8s/api/authentication/v1"
	authorizationv1 "minik8s/api/authorization/v1"
	"minik8s/api/scheme"
)

func newAuthCommand(o *Options) *cobra.Command {
	c := &cobra.Command{Use: "auth", Short: "Inspect authorization"}
	c.AddCommand(newCanICommand(o), newWhoAmICommand(o))
	return c
}

func newWhoAmICommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Print the caller as the apiserver sees it (after --as), as kubectl auth whoami",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			api, err := o.resource(reviewKind("selfsubjectreviews"))
			if err != nil {
				return err
			}
			rctx, cancel := o.requestContext(c.Context())
			defer cancel()
			out, err := api.Create(rctx, &authenticationv1.SelfSubjectReview{ApiVersion: authenticationv1.Group + "/v1", Kind: "SelfSubjectReview"})
			if err != nil {
				return err
			}
			u := out.(*authenticationv1.SelfSubjectReview).GetStatus().GetUserInfo()
			tw := tabwriter.NewWriter(o.Out, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "ATTRIBUTE\tVALUE")
			fmt.Fprintf(tw, "Username\t%s\n", u.GetUsername())
			if u.GetUid() != "" {
				fmt.Fprintf(tw, "UID\t%s\n", u.GetUid())
			}
			if len(u.GetGroups()) > 0 {
				fmt.Fprintf(tw, "Groups\t%v\n", u.GetGroups())
			}
			keys := make([]string, 0, len(u.GetExtra()))
			for k := range u.GetExtra() {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				var vs []string
				for _, v := range u.GetExtra()[k].GetValues() {
					vs = append(vs, v.GetStringValue())
				}
				fmt.Fprintf(tw, "Extra: %s\t%v\n", k, vs)
			}
			return tw.Flush()
		},
	}
}

// canI holds kubectl auth can-i's flags.
type canI struct {
	allNamespaces, list, noHeaders, quiet bool
	subresource                           string
}

func newCanICommand(o *Options) *cobra.Command {
	var f canI
	c := &cobra.Command{
		Use:   "can-i VERB [TYPE | TYPE/NAME | NONRESOURCEURL]",
		Short: "Check whether an action is allowed",
		Long: "Check whether an action is allowed: prints yes (exit 0) or no (exit 1), as kubectl auth can-i.\n" +
			"With --list, prints what the caller may do in the namespace. --as asks for another user (impersonation).",
		Example: "  minictl auth can-i create pods\n  minictl auth can-i list deployments.apps -n prod --as jane\n" +
			"  minictl auth can-i get pods --subresource=log\n  minictl auth can-i get /healthz\n  minictl auth can-i --list -n foo",
		RunE: func(c *cobra.Command, args []string) error {
			if f.list {
				if len(args) != 0 {
					return fmt.Errorf("list option must be specified with no arguments")
				}
				return o.canIList(c, f)
			}
			if len(args) != 2 {
				return fmt.Errorf("you must specify two arguments: verb resource or verb resource/resourceName.\nSee 'minictl auth can-i -h' for help and examples")
			}
			return o.canICheck(c, f, args[0], args[1])
		},
	}
	c.Flags().BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "check the action in all namespaces")
	c.Flags().BoolVar(&f.list, "list", false, "print all allowed actions")
	c.Flags().BoolVar(&f.noHeaders, "no-headers", false, "print allowed actions without headers")
	c.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "print nothing; only the exit code says")
	c.Flags().StringVar(&f.subresource, "subresource", "", "subresource, such as pod/log or deployment/scale")
	return c
}

// reviewKind is the kind of an authorization.k8s.io review.
func reviewKind(resource string) *scheme.Kind {
	k, err := scheme.ByResource(resource)
	if err != nil {
		panic(err) // api/all links authorization/v1
	}
	return k
}

func (o *Options) canICheck(c *cobra.Command, f canI, verb, what string) error {
	spec := &authorizationv1.SelfSubjectAccessReviewSpec{}
	if strings.HasPrefix(what, "/") {
		if f.subresource != "" {
			return fmt.Errorf("--subresource can not be used with NonResourceURL")
		}
		spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Verb: verb, Path: what}
	} else {
		typ, name, _ := strings.Cut(what, "/")
		ra := &authorizationv1.ResourceAttributes{Verb: verb, Resource: typ, Subresource: f.subresource, Name: name}
		if !f.allNamespaces {
			ra.Namespace = o.Namespace
		}
		if typ != "*" {
			if k, err := lookupKind(typ); err == nil {
				ra.Resource, ra.Group = k.Resource, k.Group
			} else {
				if !f.quiet {
					fmt.Fprintf(o.ErrOut, "Warning: the server doesn't have a resource type '%s'\n", typ)
				}
				if base, group, ok := strings.Cut(typ, "."); ok {
					ra.Resource, ra.Group = base, group
				}
			}
		}
		spec.ResourceAttributes = ra
	}
	api, err := o.resource(reviewKind("selfsubjectaccessreviews"))
	if err != nil {
		return err
	}
	rctx, cancel := o.requestContext(c.Context())
	defer cancel()
	out, err := api.Create(rctx, &authorizationv1.SelfSubjectAccessReview{ApiVersion: authorizationv1.Group + "/v1", Kind: "SelfSubjectAccessReview", Spec: spec})
	if err != nil {
		return err
	}
	st := out.(*authorizationv1.SelfSubjectAccessReview).GetStatus()
	if st.GetAllowed() {
		if !f.quiet {
			fmt.Fprintln(o.Out, "yes")
		}
		return nil
	}
	if !f.quiet {
		line := "no"
		if r := st.GetReason(); r != "" {
			line += " - " + r
		}
		if e := st.GetEvaluationError(); e != "" {
			line += " - " + e
		}
		fmt.Fprintln(o.Out, line)
	}
	return errSilent
}

func (o *Options) canIList(c *cobra.Command, f canI) error {
	api, err := o.resource(reviewKind("selfsubjectrulesreviews"))
	if err != nil {
		return err
	}
	rctx, cancel := o.requestContext(c.Context())
	defer cancel()
	out, err := api.Create(rctx, &authorizationv1.SelfSubjectRulesReview{ApiVersion: authorizationv1.Group + "/v1", Kind: "SelfSubjectRulesReview",
		Spec: &authorizationv1.SelfSubjectRulesReviewSpec{Namespace: o.Namespace}})
	if err != nil {
		return err
	}
	if f.quiet {
		return nil
	}
	tw := tabwriter.NewWriter(o.Out, 0, 8, 3, ' ', 0)
	if !f.noHeaders {
		fmt.Fprintln(tw, "Resources\tNon-Resource URLs\tResource Names\tVerbs")
	}
	for _, r := range accessRows(out.(*authorizationv1.SelfSubjectRulesReview).GetStatus()) {
		fmt.Fprintln(tw, strings.Join(r[:], "\t"))
	}
	return tw.Flush()
}

// accessRows are the rows of can-i --list, as kubectl prints them: one
// row per resource (resource.group) and resource names, the verbs of
// rules for the same ones merged; then one per set of paths.
func accessRows(st *authorizationv1.SubjectRulesReviewStatus) [][4]string {
	type key struct{ resource, names string }
	verbs := map[key][]string{}
	var keys []key
	add := func(k key, vs []string) {
		if _, ok := verbs[k]; !ok {
			keys = append(keys, k)
		}
		for _, v := range vs {
			if !contains(verbs[k], v) {
				verbs[k] = append(verbs[k], v)
			}
		}
	}
	for _, r := range st.GetResourceRules() {
		for _, g := range r.GetApiGroups() {
			for _, res := range r.GetResources() {
				name := res
				if g != "" {
					name += "." + g
				}
				add(key{name, fmt.Sprint(nonNil(r.GetResourceNames()))}, r.GetVerbs())
			}
		}
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].resource < keys[j].resource })
	var rows [][4]string
	for _, k := range keys {
		rows = append(rows, [4]string{k.resource, "[]", k.names, fmt.Sprint(verbs[k])})
	}
	var paths [][4]string
	for _, r := range st.GetNonResourceRules() {
		paths = append(paths, [4]string{"", fmt.Sprint(nonNil(r.GetNonResourceURLs())), "[]", fmt.Sprint(nonNil(r.GetVerbs()))})
	}
	sort.SliceStable(paths, func(i, j int) bool { return paths[i][1] < paths[j][1] })
	return append(rows, paths...)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
