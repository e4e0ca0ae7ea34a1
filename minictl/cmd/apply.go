package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/minictl/printers"
)

// fileOptions are the -f flags shared by apply, create, replace and delete.
type fileOptions struct {
	filenames []string
	recursive bool
}

func (f *fileOptions) addFlags(c *cobra.Command, what string) {
	c.Flags().StringSliceVarP(&f.filenames, "filename", "f", nil, "files or directories of manifests "+what+" (- for stdin)")
	c.Flags().BoolVarP(&f.recursive, "recursive", "R", false, "process directories given with -f recursively")
}

// eachManifest runs fn on every object of the -f inputs, reporting
// failures one line each and returning errSilent if there were any.
func (o *Options) eachManifest(f *fileOptions, fn func(*manifest) error) error {
	files, err := manifestFiles(f.filenames, f.recursive)
	if err != nil {
		return err
	}
	failed := false
	visitManifests(o.In, files, o.Namespace, o.namespaceExplicit(), fn, func(err error) {
		failed = true
		o.printErr(err)
	})
	if failed {
		return errSilent
	}
	return nil
}

type applyOptions struct {
	*Options
	files  fileOptions
	output string
	dryRun string
}

func newApplyCommand(o *Options) *cobra.Command {
	a := &applyOptions{Options: o}
	c := &cobra.Command{
		Use:   "apply -f FILENAME",
		Short: "Create or update resources from manifests",
		Long: `Create the objects of the manifests that do not exist and update the ones
that do, merging the new configuration into the live object: fields the
manifest dropped since the last apply are removed, fields it never set (server
defaults, status) are kept. The applied configuration is recorded in the
kubectl.kubernetes.io/last-applied-configuration annotation.`,
		Example: `  minictl apply -f deploy.yaml
  minictl apply -f manifests/
  cat pod.yaml | minictl apply -f -`,
		RunE: func(c *cobra.Command, args []string) error {
			if len(a.files.filenames) == 0 {
				return fmt.Errorf("must specify one of -f and -k")
			}
			if len(args) > 0 {
				return fmt.Errorf("unexpected args: %v", args)
			}
			return a.Options.eachManifest(&a.files, func(m *manifest) error { return a.apply(c.Context(), m) })
		},
	}
	a.files.addFlags(c, "to apply")
	c.Flags().StringVarP(&a.output, "output", "o", "", "output format: name|yaml|json (default: a sentence per object)")
	return c
}

func (a *applyOptions) apply(ctx context.Context, m *manifest) error {
	api, err := a.resource(m.Kind)
	if err != nil {
		return err
	}
	md := m.Object.GetMetadata()
	if md.GetName() == "" {
		return fmt.Errorf("error from %s: resource name may not be empty", m.Source)
	}
	desired, la, err := withLastApplied(m.Raw)
	if err != nil {
		return err
	}
	const attempts = 5
	for i := 0; ; i++ {
		rctx, cancel := a.requestContext(ctx)
		live, err := api.Get(rctx, md.GetNamespace(), md.GetName())
		cancel()
		if apierrors.IsNotFound(err) {
			obj := proto.Clone(m.Object).(scheme.Object)
			ann := scheme.Meta(obj)
			if ann.Annotations == nil {
				ann.Annotations = map[string]string{}
			}
			ann.Annotations[printers.LastAppliedAnnotation] = la
			rctx, cancel := a.requestContext(ctx)
			created, err := api.Create(rctx, obj)
			cancel()
			if apierrors.IsAlreadyExists(err) && i < attempts {
				continue // raced with another creator: update instead
			}
			if apierrors.IsAmbiguous(err) && i < attempts {
				// The outcome is unknown: read again, and create or
				// update to the manifest from what is there (apply
				// converges, so repeating it is safe).
				continue
			}
			if err != nil {
				return err
			}
			return a.report(m, created, "created")
		}
		if err != nil {
			return err
		}
		if _, ok := live.GetMetadata().GetAnnotations()[printers.LastAppliedAnnotation]; !ok {
			fmt.Fprintf(a.ErrOut, "Warning: resource %s/%s is missing the %s annotation which is required by minictl apply. minictl apply should only be used on resources created declaratively by either minictl create --save-config or minictl apply. The missing annotation will be patched automatically.\n",
				m.Kind.Resource, md.GetName(), printers.LastAppliedAnnotation)
		}
		obj, changed, err := applyPatch(m.Kind, live, desired)
		if err != nil {
			return err
		}
		if !changed {
			return a.report(m, live, "unchanged")
		}
		rctx, cancel = a.requestContext(ctx)
		updated, err := api.Update(rctx, obj)
		cancel()
		if apierrors.IsConflict(err) && i < attempts {
			continue // someone else wrote in between: merge again onto the new version
		}
		if err != nil {
			return err
		}
		return a.report(m, updated, "configured")
	}
}

func (a *applyOptions) report(m *manifest, obj scheme.Object, verb string) error {
	return reportChange(a.Options, a.output, m.Kind, obj, m.name()+" "+verb)
}

// reportChange prints what a command did to an object: the sentence, or
// the object itself under -o.
func reportChange(o *Options, output string, k *scheme.Kind, obj scheme.Object, sentence string) error {
	switch output {
	case "":
		_, err := fmt.Fprintln(o.Out, sentence)
		return err
	case "name":
		_, err := fmt.Fprintln(o.Out, objectName(k, obj.GetMetadata().GetName()))
		return err
	case "yaml":
		b, err := codec.MarshalYAML(obj)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Out, "---\n%s", b)
		return err
	case "json":
		return writeJSONObject(o.Out, obj)
	}
	return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", output)
}

type createOptions struct {
	*Options
	files      fileOptions
	output     string
	saveConfig bool
}

func newCreateCommand(o *Options) *cobra.Command {
	co := &createOptions{Options: o}
	c := &cobra.Command{
		Use:     "create -f FILENAME",
		Short:   "Create resources from manifests",
		Example: "  minictl create -f pod.yaml",
		RunE: func(c *cobra.Command, args []string) error {
			if len(co.files.filenames) == 0 {
				return fmt.Errorf("must specify one of -f and -k")
			}
			if len(args) > 0 {
				return fmt.Errorf("unexpected args: %v", args)
			}
			return co.Options.eachManifest(&co.files, func(m *manifest) error {
				api, err := co.resource(m.Kind)
				if err != nil {
					return err
				}
				obj := m.Object
				if co.saveConfig {
					la, err := lastApplied(m.Raw)
					if err != nil {
						return err
					}
					md := scheme.Meta(obj)
					if md.Annotations == nil {
						md.Annotations = map[string]string{}
					}
					md.Annotations[printers.LastAppliedAnnotation] = la
				}
				created, err := createResolving(c.Context(), api, obj, co.requestContext)
				if err != nil {
					return err
				}
				return reportChange(co.Options, co.output, m.Kind, created, objectName(m.Kind, created.GetMetadata().GetName())+" created")
			})
		},
	}
	co.files.addFlags(c, "to create")
	c.Flags().StringVarP(&co.output, "output", "o", "", "output format: name|yaml|json")
	c.Flags().BoolVar(&co.saveConfig, "save-config", false, "record the configuration in the last-applied annotation, for later apply")
	c.AddCommand(newCreateNamespaceCommand(co), newCreateConfigMapCommand(co))
	for _, sub := range c.Commands() {
		sub.Flags().StringVarP(&co.output, "output", "o", "", "output format: name|yaml|json")
	}
	return c
}

type replaceOptions struct {
	*Options
	files  fileOptions
	output string
}

func newReplaceCommand(o *Options) *cobra.Command {
	r := &replaceOptions{Options: o}
	c := &cobra.Command{
		Use:   "replace -f FILENAME",
		Short: "Replace resources by manifests",
		Long: `Replace each object by the manifest. A manifest carrying
metadata.resourceVersion only replaces that version: if the object changed
since, the server refuses with a Conflict. Without a resourceVersion the
replace is unconditional.`,
		Example: "  minictl get pod web -o yaml > pod.yaml; edit pod.yaml; minictl replace -f pod.yaml",
		RunE: func(c *cobra.Command, args []string) error {
			if len(r.files.filenames) == 0 {
				return fmt.Errorf("must specify one of -f and -k")
			}
			if len(args) > 0 {
				return fmt.Errorf("unexpected args: %v", args)
			}
			return r.Options.eachManifest(&r.files, func(m *manifest) error { return r.replace(c.Context(), m) })
		},
	}
	r.files.addFlags(c, "to replace")
	c.Flags().StringVarP(&r.output, "output", "o", "", "output format: name|yaml|json")
	return c
}

func (r *replaceOptions) replace(ctx context.Context, m *manifest) error {
	api, err := r.resource(m.Kind)
	if err != nil {
		return err
	}
	obj := m.Object
	md := scheme.Meta(obj)
	if md.GetResourceVersion() == "" {
		// Unconditional: replace whatever version is there now.
		rctx, cancel := r.requestContext(ctx)
		live, err := api.Get(rctx, md.GetNamespace(), md.GetName())
		cancel()
		if err != nil {
			return err
		}
		md.ResourceVersion = live.GetMetadata().GetResourceVersion()
		if md.GetUid() == "" {
			md.Uid = live.GetMetadata().GetUid()
		}
	}
	rctx, cancel := r.requestContext(ctx)
	updated, err := api.Update(rctx, obj)
	cancel()
	if err != nil {
		return err
	}
	return reportChange(r.Options, r.output, m.Kind, updated, m.name()+" replaced")
}
