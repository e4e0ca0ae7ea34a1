package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"minik8s/api/client"
	"minik8s/minictl/printers"
)

// newConfigCommand is kubectl's `config`: read and edit kubeconfig files
// through client-go's own types, so what it writes is a kubeconfig any
// Kubernetes client loads.
func newConfigCommand(o *Options) *cobra.Command {
	c := &cobra.Command{
		Use:   "config SUBCOMMAND",
		Short: "Read and modify kubeconfig files",
		Long: "Read and modify kubeconfig files. Reads merge the files kubectl would read (--kubeconfig, else $KUBECONFIG, else ~/.kube/config);\n" +
			"changes go to one file: --kubeconfig, else the first $KUBECONFIG file that exists (the last one if none does), else ~/.kube/config.",
		// No cluster connection and no kubeconfig resolution: these
		// commands must work on a missing or half-written file.
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			o.cmd = c
			return nil
		},
	}
	c.AddCommand(
		newConfigViewCommand(o),
		newConfigCurrentContextCommand(o),
		newConfigGetContextsCommand(o),
		newConfigUseContextCommand(o),
		newConfigSetClusterCommand(o),
		newConfigSetCredentialsCommand(o),
		newConfigSetContextCommand(o),
	)
	return c
}

func (o *Options) kubeconfigOptions() client.KubeconfigOptions {
	return client.KubeconfigOptions{Kubeconfig: o.Kubeconfig, Getenv: o.getenv}
}

// kubeconfigDestination is the file config changes are written to, as
// kubectl picks it for a new entry.
func (o *Options) kubeconfigDestination() string {
	files := client.KubeconfigFiles(o.kubeconfigOptions())
	if len(files) == 0 {
		return ""
	}
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return files[len(files)-1]
}

// editKubeconfig loads the destination file (empty if missing), lets edit
// change it and writes it back.
func (o *Options) editKubeconfig(edit func(*clientcmdapi.Config) error) error {
	path := o.kubeconfigDestination()
	if path == "" {
		return errors.New("no kubeconfig file to write: set --kubeconfig, $KUBECONFIG or $HOME")
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if errors.Is(err, os.ErrNotExist) {
		cfg, err = clientcmdapi.NewConfig(), nil
	}
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %s", path, oneLine(err.Error()))
	}
	if err := edit(cfg); err != nil {
		return err
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

func newConfigViewCommand(o *Options) *cobra.Command {
	var raw, minify bool
	c := &cobra.Command{
		Use:   "view",
		Short: "Print the merged kubeconfig (certificate data and tokens hidden unless --raw)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := client.MergedKubeconfig(o.kubeconfigOptions())
			if err != nil {
				return err
			}
			if o.Context != "" {
				cfg.CurrentContext = o.Context
			}
			if minify {
				if err := clientcmdapi.MinifyConfig(cfg); err != nil {
					return err
				}
			}
			if !raw {
				clientcmdapi.ShortenConfig(cfg)
			}
			out, err := clientcmd.Write(*cfg)
			if err != nil {
				return err
			}
			_, err = o.Out.Write(out)
			return err
		},
	}
	c.Flags().BoolVar(&raw, "raw", false, "show certificate data and tokens")
	c.Flags().BoolVar(&minify, "minify", false, "show only the current context and what it uses")
	return c
}

func newConfigCurrentContextCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "current-context",
		Short: "Print the current-context",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := client.MergedKubeconfig(o.kubeconfigOptions())
			if err != nil {
				return err
			}
			if cfg.CurrentContext == "" {
				return errors.New("current-context is not set")
			}
			fmt.Fprintln(o.Out, cfg.CurrentContext)
			return nil
		},
	}
}

func newConfigGetContextsCommand(o *Options) *cobra.Command {
	var output string
	var noHeaders bool
	c := &cobra.Command{
		Use:   "get-contexts [NAME...]",
		Short: "List the kubeconfig's contexts",
		RunE: func(_ *cobra.Command, args []string) error {
			if output != "" && output != "name" {
				return fmt.Errorf("--output %v is not available", output)
			}
			cfg, err := client.MergedKubeconfig(o.kubeconfigOptions())
			if err != nil {
				return err
			}
			names := args
			if len(names) == 0 {
				for n := range cfg.Contexts {
					names = append(names, n)
				}
				sort.Strings(names)
			}
			t := &printers.Table{Columns: []string{"CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"}}
			for _, n := range names {
				ctx, ok := cfg.Contexts[n]
				if !ok {
					return fmt.Errorf("context %s not found", n)
				}
				if output == "name" {
					fmt.Fprintln(o.Out, n)
					continue
				}
				cur := ""
				if n == cfg.CurrentContext {
					cur = "*"
				}
				t.Rows = append(t.Rows, []string{cur, n, ctx.Cluster, ctx.AuthInfo, ctx.Namespace})
			}
			if output == "name" {
				return nil
			}
			return printers.NewTableWriter(o.Out).Write(t, noHeaders)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "name: print only the context names")
	c.Flags().BoolVar(&noHeaders, "no-headers", false, "omit the table header")
	return c
}

func newConfigUseContextCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "use-context NAME",
		Short: "Set the current-context",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name := args[0]
			merged, err := client.MergedKubeconfig(o.kubeconfigOptions())
			if err != nil && !o.kubeconfigMissing(err) {
				return err
			}
			if merged == nil || merged.Contexts[name] == nil {
				return fmt.Errorf("no context exists with the name: %q", name)
			}
			if err := o.editKubeconfig(func(c *clientcmdapi.Config) error {
				c.CurrentContext = name
				return nil
			}); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "Switched to context %q.\n", name)
			return nil
		},
	}
}

// kubeconfigMissing says err is MergedKubeconfig's for a --kubeconfig
// file that does not exist yet, which config's writers create.
func (o *Options) kubeconfigMissing(err error) bool {
	if o.Kubeconfig == "" {
		return false
	}
	_, serr := os.Stat(o.Kubeconfig)
	return err != nil && errors.Is(serr, os.ErrNotExist)
}

func newConfigSetClusterCommand(o *Options) *cobra.Command {
	var server, ca, tlsServerName string
	var insecure bool
	c := &cobra.Command{
		Use:   "set-cluster NAME [--server=URL] [--certificate-authority=FILE] [--tls-server-name=NAME] [--insecure-skip-tls-verify]",
		Short: "Set a cluster entry",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			if server != "" {
				if _, _, err := client.ParseServer(server); err != nil {
					return err
				}
			}
			if ca != "" {
				abs, err := filepath.Abs(ca)
				if err != nil {
					return err
				}
				ca = abs
			}
			if err := o.editKubeconfig(func(cfg *clientcmdapi.Config) error {
				cl := cfg.Clusters[name]
				if cl == nil {
					cl = clientcmdapi.NewCluster()
					cfg.Clusters[name] = cl
				}
				f := c.Flags()
				if f.Changed("server") {
					cl.Server = server
				}
				if f.Changed("certificate-authority") {
					cl.CertificateAuthority, cl.CertificateAuthorityData = ca, nil
				}
				if f.Changed("tls-server-name") {
					cl.TLSServerName = tlsServerName
				}
				if f.Changed("insecure-skip-tls-verify") {
					cl.InsecureSkipTLSVerify = insecure
				}
				return nil
			}); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "Cluster %q set.\n", name)
			return nil
		},
	}
	f := c.Flags()
	// These shadow the global --server: here it is the value to store.
	f.StringVar(&server, "server", "", "the cluster's apiserver URL (http://HOST:PORT)")
	f.StringVar(&ca, "certificate-authority", "", "path to a CA certificate file for the cluster")
	f.StringVar(&tlsServerName, "tls-server-name", "", "server name to verify the apiserver's certificate against")
	f.BoolVar(&insecure, "insecure-skip-tls-verify", false, "do not verify the apiserver's certificate")
	return c
}

func newConfigSetCredentialsCommand(o *Options) *cobra.Command {
	var token, cert, key string
	c := &cobra.Command{
		Use:   "set-credentials NAME [--token=TOKEN] [--client-certificate=FILE] [--client-key=FILE]",
		Short: "Set a user entry",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			for _, p := range []*string{&cert, &key} {
				if *p != "" {
					abs, err := filepath.Abs(*p)
					if err != nil {
						return err
					}
					*p = abs
				}
			}
			if err := o.editKubeconfig(func(cfg *clientcmdapi.Config) error {
				u := cfg.AuthInfos[name]
				if u == nil {
					u = clientcmdapi.NewAuthInfo()
					cfg.AuthInfos[name] = u
				}
				f := c.Flags()
				if f.Changed("token") {
					u.Token = token
				}
				if f.Changed("client-certificate") {
					u.ClientCertificate, u.ClientCertificateData = cert, nil
				}
				if f.Changed("client-key") {
					u.ClientKey, u.ClientKeyData = key, nil
				}
				return nil
			}); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "User %q set.\n", name)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&token, "token", "", "bearer token")
	f.StringVar(&cert, "client-certificate", "", "path to a client certificate file")
	f.StringVar(&key, "client-key", "", "path to a client key file")
	return c
}

func newConfigSetContextCommand(o *Options) *cobra.Command {
	var cluster, user, namespace string
	var current bool
	c := &cobra.Command{
		Use:   "set-context [NAME | --current] [--cluster=NAME] [--user=NAME] [--namespace=NAME]",
		Short: "Set a context entry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name := ""
			switch {
			case current && len(args) > 0:
				return errors.New("you cannot specify both a context name and --current")
			case current:
				merged, err := client.MergedKubeconfig(o.kubeconfigOptions())
				if err != nil {
					return err
				}
				if name = merged.CurrentContext; name == "" {
					return errors.New("no current context is set")
				}
			case len(args) == 1:
				name = args[0]
			default:
				return errors.New("you must specify a context name or --current")
			}
			verb := "modified"
			if err := o.editKubeconfig(func(cfg *clientcmdapi.Config) error {
				ctx := cfg.Contexts[name]
				if ctx == nil {
					ctx = clientcmdapi.NewContext()
					cfg.Contexts[name] = ctx
					verb = "created"
				}
				f := c.Flags()
				if f.Changed("cluster") {
					ctx.Cluster = cluster
				}
				if f.Changed("user") {
					ctx.AuthInfo = user
				}
				if f.Changed("namespace") {
					ctx.Namespace = namespace
				}
				return nil
			}); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "Context %q %s.\n", name, verb)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&cluster, "cluster", "", "the context's cluster entry")
	f.StringVar(&user, "user", "", "the context's user entry")
	// Shadows the global --namespace: here it is the value to store.
	f.StringVar(&namespace, "namespace", "", "the context's default namespace")
	f.BoolVar(&current, "current", false, "modify the current context")
	return c
}
