package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Config is the client configuration file (~/.minik8s/config): the
// apiservers to talk to and, once TLS lands, how to authenticate.
type Config struct {
	// Servers are HOST:PORT addresses of the apiservers (all active).
	Servers []string `json:"servers,omitempty"`
	// CertificateAuthority is a PEM file to verify the servers with.
	CertificateAuthority string `json:"certificateAuthority,omitempty"`
	// ClientCertificate and ClientKey are PEM files for client TLS auth.
	ClientCertificate string `json:"clientCertificate,omitempty"`
	ClientKey         string `json:"clientKey,omitempty"`
	// Token is a bearer token.
	Token string `json:"token,omitempty"`
	// Namespace is the default namespace when -n is not given.
	Namespace string `json:"namespace,omitempty"`
}

// Environment variable and default used when neither --server nor a
// config file names a server.
const (
	EnvServer     = "MINIK8S_SERVER"
	DefaultServer = "127.0.0.1:6443"
)

// DefaultConfigPath is ~/.minik8s/config.
func DefaultConfigPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".minik8s", "config")
}

// LoadConfig reads a config file. A missing file is an empty config unless
// required (the user named it with --kubeconfig).
func LoadConfig(path string, required bool) (*Config, error) {
	c := &Config{}
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !required {
			return c, nil
		}
		return nil, fmt.Errorf("read config: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return nil, fmt.Errorf("parse config %s: %w", path, err)
	}
	return c, nil
}

// ResolveServers picks the apiserver addresses: --server, else the config
// file, else $MINIK8S_SERVER, else 127.0.0.1:6443. Each source may hold a
// comma-separated list.
func ResolveServers(flag string, cfg *Config, getenv func(string) string) []string {
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	if s := split(flag); len(s) > 0 {
		return s
	}
	if cfg != nil {
		if s := split(strings.Join(cfg.Servers, ",")); len(s) > 0 {
			return s
		}
	}
	if s := split(getenv(EnvServer)); len(s) > 0 {
		return s
	}
	return []string{DefaultServer}
}
