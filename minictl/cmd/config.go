package cmd

import (
	"strings"

	"minik8s/api/client"
)

// Environment variable and default used when neither --server,
// $MINIK8S_SERVER nor a kubeconfig names a server.
const (
	// EnvServer holds HOST:PORT addresses (comma-separated for failover
	// across several apiservers); like --server it overrides the
	// kubeconfig's server.
	EnvServer     = "MINIK8S_SERVER"
	DefaultServer = client.DefaultServer
)

// ResolveConfig builds the client configuration as kubectl does -
// --kubeconfig, else $KUBECONFIG (merged), else ~/.kube/config; --context,
// else current-context - with the server replaced by --server, else by
// $MINIK8S_SERVER, and 127.0.0.1:6443 when nothing names one.
func ResolveConfig(kubeconfig, context, server string, getenv func(string) string) (*client.Config, error) {
	if strings.TrimSpace(server) == "" {
		server = getenv(EnvServer)
	}
	cfg, err := client.LoadKubeconfig(client.KubeconfigOptions{
		Kubeconfig: kubeconfig, Context: context, Server: server, Getenv: getenv,
	})
	if err != nil {
		return nil, err
	}
	if len(cfg.Servers) == 0 {
		cfg.Servers, cfg.TLS = []string{DefaultServer}, true
	}
	return cfg, nil
}
