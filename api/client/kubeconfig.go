package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// EnvKubeconfig is the environment variable kubectl reads: a list of
// kubeconfig files separated by the OS path-list separator (":"), merged.
const EnvKubeconfig = "KUBECONFIG"

// Config is how to reach the apiservers and who to be there: what one
// kubeconfig context resolves to, plus any --server override. Build it with
// LoadKubeconfig or ConfigFromFlags, connect with NewForConfig.
type Config struct {
	// Servers are the apiservers' HOST:PORT addresses. The gRPC and REST
	// APIs share one port, so a kubeconfig's server URL names it. Several
	// come only from a --server/MINIK8S_SERVER list and give failover.
	Servers []string
	// TLS is set when the server URLs are https (or bare HOST:PORT: the
	// API port speaks nothing else). An http:// URL leaves it false and
	// NewForConfig refuses it: there is no plaintext API port.
	TLS bool
	// TLSServerName, InsecureSkipTLSVerify and CertificateAuthority(Data)
	// verify the server (TLSConfig).
	TLSServerName            string
	InsecureSkipTLSVerify    bool
	CertificateAuthority     string
	CertificateAuthorityData []byte
	// ClientCertificate(Data) and ClientKey(Data) authenticate the client
	// over TLS.
	ClientCertificate     string
	ClientCertificateData []byte
	ClientKey             string
	ClientKeyData         []byte
	// GetClientCertificate, when set, chooses the client certificate at
	// each TLS handshake instead of the files and data above: a kubelet
	// whose certificate manager rotates it (tls.Config's hook).
	GetClientCertificate func(*tls.CertificateRequestInfo) (*tls.Certificate, error)
	// Token and TokenFile are a bearer token sent with every call.
	Token     string
	TokenFile string
	// Impersonate is whom every call acts as (--as); zero: nobody.
	Impersonate Impersonation
	// Namespace is the context's namespace ("" when it names none).
	Namespace string
	// Context, Cluster and User name the kubeconfig entries used (empty
	// when no kubeconfig was read), for messages.
	Context string
	Cluster string
	User    string
}

// KubeconfigOptions are kubectl's connection flags and environment.
type KubeconfigOptions struct {
	// Kubeconfig is --kubeconfig: the only file read, and it must exist.
	// Empty reads $KUBECONFIG (each file that exists, merged; the first
	// to set a value wins) or else ~/.kube/config if it exists.
	Kubeconfig string
	// Context is --context; empty uses the kubeconfig's current-context.
	Context string
	// Server is --server: it replaces the cluster's server. It may be a
	// comma-separated list (HOST:PORT or URLs) for failover.
	Server string
	// Getenv reads KUBECONFIG and HOME; nil means os.Getenv.
	Getenv func(string) string
}

// LoadKubeconfig resolves a Config the way kubectl does: --kubeconfig,
// else $KUBECONFIG, else ~/.kube/config; --context, else current-context;
// --server over the cluster's server. With no kubeconfig content and no
// --server the Config has no Servers and the caller picks a default.
// Errors are one line naming the file or the entry at fault.
func LoadKubeconfig(o KubeconfigOptions) (*Config, error) {
	override, tls, err := parseServers(o.Server)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	rules := loadingRules(o)
	merged, err := loadMerged(rules)
	if err != nil {
		return nil, err
	}
	if _, ok := merged.Contexts[o.Context]; o.Context != "" && !ok {
		// clientcmd would add that the (missing) cluster has no server.
		return nil, fmt.Errorf("kubeconfig %s: context %q not found", describeFiles(rules), o.Context)
	}
	overrides := &clientcmd.ConfigOverrides{}
	if len(override) > 0 {
		overrides.ClusterInfo.Server = strings.TrimSpace(strings.Split(o.Server, ",")[0])
	}
	// The context goes in as the config's choice, not as an override:
	// only then does clientcmd's validation check that it exists.
	raw, err := clientcmd.NewNonInteractiveClientConfig(*merged, o.Context, overrides, rules).MergedRawConfig()
	if clientcmd.IsEmptyConfig(err) {
		// Nothing configured a server: no file, or files without one.
		return &Config{Context: o.Context}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %s", describeFiles(rules), oneLine(err))
	}
	c, server := configFrom(raw)
	if len(override) > 0 {
		c.Servers, c.TLS = override, tls
		return c, nil
	}
	if c.Servers, c.TLS, err = parseServers(server); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: cluster %q: %w", describeFiles(rules), c.Cluster, err)
	}
	return c, nil
}

// DefaultServer is the apiserver a component talks to when neither
// --server nor --kubeconfig names one.
const DefaultServer = "127.0.0.1:6443"

// ConfigFromFlags builds a daemon's Config from its --server and
// --kubeconfig flags, as Kubernetes components treat --master and
// --kubeconfig: with a kubeconfig (only that file; daemons do not read
// $KUBECONFIG) its current context names the apiserver and the
// credentials, and a non-empty server replaces the address. Without one,
// server alone is the Config; with neither, the in-cluster config in a pod
// (InClusterConfig) and DefaultServer elsewhere. A kubeconfig
// that names no server is an error: a daemon must not guess.
func ConfigFromFlags(server, kubeconfig string) (*Config, error) {
	if kubeconfig != "" {
		c, err := LoadKubeconfig(KubeconfigOptions{Kubeconfig: kubeconfig, Server: server, Getenv: func(string) string { return "" }})
		if err != nil {
			return nil, err
		}
		if len(c.Servers) == 0 {
			return nil, fmt.Errorf("kubeconfig %s: no server: its current-context %q names no cluster with a server", kubeconfig, c.Context)
		}
		return c, nil
	}
	servers, tls, err := parseServers(server)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	if len(servers) == 0 {
		// In a pod, the in-cluster config (client-go's
		// BuildConfigFromFlags does the same).
		if c, err := InClusterConfig(); !errors.Is(err, ErrNotInCluster) {
			return c, err
		}
		servers, tls = []string{DefaultServer}, true
	}
	return &Config{Servers: servers, TLS: tls}, nil
}

// NewForConfig returns a client for cfg's apiservers, as New does for
// addresses, over TLS with cfg's CA, client certificate and token. An
// http:// server is refused: the apiserver has no plaintext port, and a
// plain connection to its TLS port would only fail later, less clearly.
func NewForConfig(cfg *Config, opts ...Option) (*Client, error) {
	if cfg == nil || len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("new apiserver client: no server address given (set --server or a kubeconfig)")
	}
	if !cfg.TLS {
		return nil, fmt.Errorf("apiserver %s: http:// is not served (the API port is TLS only); use an https:// server URL", strings.Join(cfg.Servers, ","))
	}
	t, err := cfg.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig user %q / cluster %q: %w", cfg.User, cfg.Cluster, err)
	}
	base := []Option{WithTLS(t), WithBearerToken(cfg.Token, cfg.TokenFile), WithImpersonation(cfg.Impersonate)}
	return New(cfg.Servers, append(base, opts...)...)
}

// KubeconfigFiles lists the files o selects, first (strongest) first:
// --kubeconfig alone, else $KUBECONFIG's entries, else ~/.kube/config.
// Files in the list may be missing; only --kubeconfig must exist.
func KubeconfigFiles(o KubeconfigOptions) []string {
	if o.Kubeconfig != "" {
		return []string{o.Kubeconfig}
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return kubeconfigPrecedence(getenv)
}

// MergedKubeconfig reads and merges the files o selects, as LoadKubeconfig
// does and with its one-line errors, without resolving a context: what
// `config view` shows and `config use-context` checks against. Relative
// file paths inside are made absolute.
func MergedKubeconfig(o KubeconfigOptions) (*clientcmdapi.Config, error) {
	return loadMerged(loadingRules(o))
}

// ParseServer checks a server given as http://HOST[:PORT],
// https://HOST[:PORT] or a bare HOST:PORT (TLS: the API port speaks
// nothing else), and returns the HOST:PORT to dial and whether it asks
// for TLS.
func ParseServer(s string) (addr string, tls bool, err error) { return parseServer(s) }

func loadingRules(o KubeconfigOptions) *clientcmd.ClientConfigLoadingRules {
	if o.Kubeconfig != "" {
		return &clientcmd.ClientConfigLoadingRules{ExplicitPath: o.Kubeconfig}
	}
	return &clientcmd.ClientConfigLoadingRules{Precedence: KubeconfigFiles(o)}
}

func kubeconfigPrecedence(getenv func(string) string) []string {
	if env := getenv(EnvKubeconfig); env != "" {
		var files []string
		seen := map[string]bool{}
		for _, f := range filepath.SplitList(env) {
			if f != "" && !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
		return files
	}
	if home := getenv("HOME"); home != "" {
		return []string{filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)}
	}
	return nil
}

// loadMerged reads and merges the files of rules. clientcmd's own errors
// say "error loading config file" for any file; re-reading the files one
// by one on failure names the one at fault in a single line.
func loadMerged(rules *clientcmd.ClientConfigLoadingRules) (*clientcmdapi.Config, error) {
	if rules.ExplicitPath != "" {
		if _, err := os.Stat(rules.ExplicitPath); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("kubeconfig %s: no such file", rules.ExplicitPath)
			}
			return nil, fmt.Errorf("kubeconfig %s: %s", rules.ExplicitPath, oneLine(err))
		}
	}
	merged, err := rules.Load()
	if err == nil {
		return merged, nil
	}
	files := rules.Precedence
	if rules.ExplicitPath != "" {
		files = []string{rules.ExplicitPath}
	}
	for _, f := range files {
		if _, ferr := clientcmd.LoadFromFile(f); ferr != nil && !errors.Is(ferr, os.ErrNotExist) {
			return nil, fmt.Errorf("kubeconfig %s: %s", f, oneLine(ferr))
		}
	}
	return nil, fmt.Errorf("kubeconfig %s: %s", describeFiles(rules), oneLine(err))
}

// configFrom copies the current context's entries of a merged kubeconfig
// (whose server it returns unparsed).
func configFrom(raw clientcmdapi.Config) (c *Config, server string) {
	c = &Config{Context: raw.CurrentContext}
	ctx := raw.Contexts[raw.CurrentContext]
	if ctx == nil {
		return c, ""
	}
	c.Namespace, c.Cluster, c.User = ctx.Namespace, ctx.Cluster, ctx.AuthInfo
	if cl := raw.Clusters[ctx.Cluster]; cl != nil {
		server = cl.Server
		c.TLSServerName = cl.TLSServerName
		c.InsecureSkipTLSVerify = cl.InsecureSkipTLSVerify
		c.CertificateAuthority = cl.CertificateAuthority
		c.CertificateAuthorityData = cl.CertificateAuthorityData
	}
	if u := raw.AuthInfos[ctx.AuthInfo]; u != nil {
		c.ClientCertificate, c.ClientCertificateData = u.ClientCertificate, u.ClientCertificateData
		c.ClientKey, c.ClientKeyData = u.ClientKey, u.ClientKeyData
		c.Token, c.TokenFile = u.Token, u.TokenFile
		c.Impersonate = Impersonation{User: u.Impersonate, UID: u.ImpersonateUID, Groups: u.ImpersonateGroups}
		if len(u.ImpersonateUserExtra) > 0 {
			c.Impersonate.Extra = u.ImpersonateUserExtra
		}
	}
	return c, server
}

// parseServers turns a comma-separated list of server URLs or HOST:PORT
// addresses into HOST:PORT addresses, and says whether all are TLS.
func parseServers(list string) (servers []string, tls bool, err error) {
	tls = true
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		addr, secure, err := parseServer(s)
		if err != nil {
			return nil, false, err
		}
		servers = append(servers, addr)
		tls = tls && secure
	}
	return servers, tls && len(servers) > 0, nil
}

// parseServer accepts http://HOST[:PORT], https://HOST[:PORT] (default
// ports 80 and 443, as for any URL) and a bare HOST:PORT, which is TLS.
func parseServer(s string) (addr string, tls bool, err error) {
	if !strings.Contains(s, "://") {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return "", false, fmt.Errorf("server %q: want https://HOST:PORT or HOST:PORT", s)
		}
		return s, true, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", false, fmt.Errorf("server %q: %s", s, oneLine(err))
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", false, fmt.Errorf("server %q: want http://HOST:PORT (no path: the apiserver serves at the root)", s)
	}
	port := u.Port()
	switch u.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		tls = true
		if port == "" {
			port = "443"
		}
	default:
		return "", false, fmt.Errorf("server %q: scheme %q is neither http nor https", s, u.Scheme)
	}
	addr = net.JoinHostPort(u.Hostname(), port)
	// url.Parse lets through hosts no dialer takes ("https://]").
	if h, _, err := net.SplitHostPort(addr); err != nil || h == "" {
		return "", false, fmt.Errorf("server %q: no valid host", s)
	}
	return addr, tls, nil
}

// describeFiles names the files rules read, for errors.
func describeFiles(rules *clientcmd.ClientConfigLoadingRules) string {
	if rules.ExplicitPath != "" {
		return rules.ExplicitPath
	}
	var present []string
	for _, f := range rules.Precedence {
		if _, err := os.Stat(f); err == nil {
			present = append(present, f)
		}
	}
	if len(present) == 0 {
		return strings.Join(rules.Precedence, string(filepath.ListSeparator))
	}
	return strings.Join(present, string(filepath.ListSeparator))
}

// oneLine flattens an error message for a one-line report.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
