package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// The generators of kubectl create that need no manifest: create
// namespace and create configmap. (create deployment is run with a
// Deployment; see run.go.)

func (co *createOptions) createObject(c *cobra.Command, obj scheme.Object) error {
	k, err := scheme.KindOf(obj)
	if err != nil {
		return err
	}
	api, err := co.resource(k)
	if err != nil {
		return err
	}
	created, err := createResolving(c.Context(), api, obj, co.requestContext)
	if err != nil {
		return err
	}
	return reportChange(co.Options, co.output, k, created, objectName(k, created.GetMetadata().GetName())+" created")
}

func oneName(args []string, what string) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("exactly one NAME is required: minictl create %s NAME", what)
	}
	return args[0], nil
}

func newCreateNamespaceCommand(co *createOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "namespace NAME",
		Aliases: []string{"ns"},
		Short:   "Create a namespace",
		RunE: func(c *cobra.Command, args []string) error {
			name, err := oneName(args, "namespace")
			if err != nil {
				return err
			}
			return co.createObject(c, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}})
		},
	}
}

func newCreateConfigMapCommand(co *createOptions) *cobra.Command {
	var literals, files []string
	c := &cobra.Command{
		Use:     "configmap NAME [--from-literal=key=value] [--from-file=[key=]path]",
		Aliases: []string{"cm"},
		Short:   "Create a config map from literal values or files",
		Example: "  minictl create configmap app --from-literal=mode=fast --from-file=nginx.conf",
		RunE: func(c *cobra.Command, args []string) error {
			name, err := oneName(args, "configmap")
			if err != nil {
				return err
			}
			data := map[string]string{}
			add := func(k, v, from string) error {
				if k == "" {
					return fmt.Errorf("%s: the key is empty", from)
				}
				if _, dup := data[k]; dup {
					return fmt.Errorf("%s: key %q is given twice", from, k)
				}
				data[k] = v
				return nil
			}
			for _, l := range literals {
				k, v, ok := strings.Cut(l, "=")
				if !ok {
					return fmt.Errorf("--from-literal=%s: want key=value", l)
				}
				if err := add(k, v, "--from-literal="+l); err != nil {
					return err
				}
			}
			for _, f := range files {
				k, path, ok := strings.Cut(f, "=")
				if !ok {
					k, path = filepath.Base(f), f
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return fmt.Errorf("--from-file=%s: %w", f, err)
				}
				if err := add(k, string(b), "--from-file="+f); err != nil {
					return err
				}
			}
			return co.createObject(c, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name, Namespace: co.Namespace}, Data: data})
		},
	}
	c.Flags().StringArrayVar(&literals, "from-literal", nil, "key=value to add (repeatable)")
	c.Flags().StringArrayVar(&files, "from-file", nil, "[key=]path of a file whose content is a value (repeatable; the key defaults to the file name)")
	return c
}
