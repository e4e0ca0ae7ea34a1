package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/scheme"
)

func newSetCommand(o *Options) *cobra.Command {
	c := &cobra.Command{
		Use:   "set SUBCOMMAND",
		Short: "Set specific features on objects",
	}
	c.AddCommand(newSetImageCommand(o))
	return c
}

func newSetImageCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "image (TYPE NAME | TYPE/NAME) CONTAINER=IMAGE...",
		Short: "Update the image of containers of a pod or a workload's pod template",
		Long: "Update container images. CONTAINER=IMAGE names a container of the pod template; *=IMAGE sets every container.\n" +
			"Changing a Deployment's template starts a rollout.",
		Example: "  minictl set image deployment/web app=registry.local/kubia:2\n  minictl set image deployment web *=nginx:1.25",
		RunE:    func(c *cobra.Command, args []string) error { return runSetImage(c.Context(), o, args) },
	}
}

func runSetImage(ctx context.Context, o *Options, args []string) error {
	var resArgs []string
	images := map[string]string{}
	var order []string
	for _, a := range args {
		if name, img, ok := strings.Cut(a, "="); ok {
			if name == "" || img == "" {
				return fmt.Errorf("invalid image spec %q: want CONTAINER=IMAGE", a)
			}
			images[name] = img
			order = append(order, name)
			continue
		}
		if len(images) > 0 {
			return fmt.Errorf("all resources must be specified before image changes: %s", a)
		}
		resArgs = append(resArgs, a)
	}
	if len(images) == 0 {
		return fmt.Errorf("at least one image update is required")
	}
	k, name, err := oneObjectArg(resArgs)
	if err != nil {
		return err
	}
	_, changed, err := o.modifyObject(ctx, k, name, func(obj scheme.Object) (bool, error) {
		spec := podSpecOf(obj)
		if spec == nil {
			return false, fmt.Errorf("%s has no pod template to set images in", k.GroupResource())
		}
		changed := false
		for _, cname := range order {
			found := false
			for _, c := range append(append([]*corev1.Container{}, spec.InitContainers...), spec.Containers...) {
				if cname == "*" || c.Name == cname {
					found = true
					if c.Image != images[cname] {
						c.Image = images[cname]
						changed = true
					}
				}
			}
			if !found {
				return false, fmt.Errorf("unable to find container named %q", cname)
			}
		}
		return changed, nil
	})
	if err != nil {
		return err
	}
	if changed {
		fmt.Fprintf(o.Out, "%s image updated\n", objectName(k, name))
	}
	return nil
}
