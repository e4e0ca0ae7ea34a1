// Package apiservertest runs a real apiserver in the test process against
// a real etcd (from etcdtest), on a free loopback port.
package apiservertest

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
	"minik8s/api/pki"
	"minik8s/apiserver/app"
	"minik8s/test/etcdtest"
)

// Server is a running apiserver.
type Server struct {
	Addr string
	Etcd *etcdtest.Cluster
	// PKI is the directory of its certificates (pki.Generate's layout:
	// PKI/pki/ca.crt, ...); Kubeconfig is the admin kubeconfig
	// (system:masters, https://Addr), what daemons under test take as
	// --kubeconfig.
	PKI        string
	Kubeconfig string
	cancel     context.CancelFunc
	done       chan error
}

// Options adjust the apiserver; zero values are the defaults.
type Options struct {
	WatchHistory int
	// Port to serve on; 0 picks a free one.
	Port int
	// HTTPPort serves /healthz, /readyz, /livez and /metrics; 0 disables them.
	HTTPPort int
	// Authentication are the token and service-account flags.
	Authentication app.AuthenticationOptions
	// TokenAuthFile is --token-auth-file, for tests of components that may
	// not import the apiserver's packages (Authentication's type).
	TokenAuthFile string
	// EnableBootstrapTokenAuth is --enable-bootstrap-token-auth, likewise.
	EnableBootstrapTokenAuth bool
	// PKI is another Server's PKI directory to share (same CAs, so one
	// client reaches both); empty makes a new one in a temporary directory.
	PKI string
	// AuthorizationMode, EnableAdmissionPlugins and
	// DisableAdmissionPlugins are the apiserver's flags; empty means its
	// defaults, except that ServiceAccount is disabled unless
	// EnableAdmissionPlugins names it or DisableAdmissionPlugins is
	// given: no service-account controller runs here to create the
	// "default" accounts pods need (Kubernetes' integration test server
	// does the same).
	AuthorizationMode       string
	EnableAdmissionPlugins  string
	DisableAdmissionPlugins string
	// Audit are the --audit-* flags (policy file, log path, rotation).
	Audit app.AuditOptions
}

// Start runs an apiserver over etcd and stops it with t.Cleanup.
func Start(t testing.TB, etcd *etcdtest.Cluster, opts Options) *Server {
	t.Helper()
	dir := opts.PKI
	if dir == "" {
		dir = t.TempDir()
	}
	certDir := filepath.Join(dir, "pki")
	if _, err := pki.Generate(pki.ClusterOptions{CertDir: certDir, Server: "https://127.0.0.1:0", APIServerAddresses: []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	apiCert, apiKey := pki.Paths(certDir, "apiserver")
	o := app.Options{
		TLSCertFile:           apiCert,
		TLSPrivateKeyFile:     apiKey,
		ClientCAFile:          filepath.Join(certDir, "ca.crt"),
		EtcdServers:           etcd.Endpoints(),
		BindAddress:           "127.0.0.1",
		SecurePort:            opts.Port,
		HTTPPort:              opts.HTTPPort,
		ServiceClusterIPRange: "10.96.0.0/16",
		WatchHistory:          opts.WatchHistory,
		ComponentHealth:       app.DefaultComponentHealth,
		Authentication:        opts.Authentication,
		AuthorizationMode:     opts.AuthorizationMode,
		Audit:                 opts.Audit,
	}
	if opts.TokenAuthFile != "" {
		o.Authentication.TokenAuthFile = opts.TokenAuthFile
	}
	o.Authentication.EnableBootstrapTokenAuth = o.Authentication.EnableBootstrapTokenAuth || opts.EnableBootstrapTokenAuth
	o.EnableAdmissionPlugins = opts.EnableAdmissionPlugins
	o.DisableAdmissionPlugins = opts.DisableAdmissionPlugins
	if o.DisableAdmissionPlugins == "" && !slices.Contains(strings.Split(strings.ReplaceAll(o.EnableAdmissionPlugins, " ", ""), ","), "ServiceAccount") {
		o.DisableAdmissionPlugins = "ServiceAccount"
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	s := &Server{Etcd: etcd, PKI: dir, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- app.Run(ctx, o, ready) }()
	select {
	case s.Addr = <-ready:
	case err := <-s.done:
		cancel()
		t.Fatalf("apiserver did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("apiserver did not start within 30s")
	}
	t.Cleanup(s.Stop)
	s.Kubeconfig = Kubeconfig(t, dir, s.Addr)
	return s
}

// Kubeconfig makes the PKI in dir if it is not there yet (an apiserver
// started later with Options.PKI = dir uses it) and returns the admin
// kubeconfig (system:masters) for the apiserver at addr: what daemons
// that start before their apiserver take as --kubeconfig.
func Kubeconfig(t testing.TB, dir, addr string) string {
	t.Helper()
	certDir := filepath.Join(dir, "pki")
	if _, err := pki.Generate(pki.ClusterOptions{CertDir: certDir, Server: "https://127.0.0.1:0", APIServerAddresses: []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ReadKeyPair(certDir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := ca.Sign(pki.CertConfig{CommonName: "kubernetes-admin", Organization: []string{pki.GroupMasters}, Usage: pki.Client})
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	file := filepath.Join(dir, "admin-"+port+".conf")
	if err := pki.WriteKubeconfig(file, "https://"+addr, ca.Cert, admin, "kubernetes-admin"); err != nil {
		t.Fatal(err)
	}
	return file
}

// ClientOptions connect a client.New to this apiserver as the admin
// (TLS with its CA and the admin's certificate).
func (s *Server) ClientOptions(t testing.TB) []client.Option {
	t.Helper()
	cfg, err := client.ConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := cfg.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return []client.Option{client.WithTLS(tc)}
}

// Stop stops the apiserver and waits for it.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}

// Client returns a client of this apiserver, closed at test end.
func (s *Server) Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New([]string{s.Addr}, s.ClientOptions(t)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// StartWithEtcd starts a single-member etcd and an apiserver on it.
func StartWithEtcd(t testing.TB) *Server {
	t.Helper()
	return Start(t, etcdtest.Start(t, 1), Options{})
}
