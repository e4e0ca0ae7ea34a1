// Package benchpki gives the benchmark programs a throwaway cluster PKI:
// the apiserver they start serves TLS with it and authenticates their
// clients by an admin certificate, so the figures include TLS and x509
// authentication as a real cluster pays them.
package benchpki

import (
	"crypto/tls"
	"os"
	"path/filepath"

	"minik8s/api/client"
	"minik8s/api/pki"
	"minik8s/apiserver/app"
)

// PKI is a cluster PKI in a temporary directory.
type PKI struct {
	dir     string
	certDir string
}

// New generates one (pki.Generate's layout).
func New() (*PKI, error) {
	dir, err := os.MkdirTemp("", "mk8s-bench-pki-")
	if err != nil {
		return nil, err
	}
	p := &PKI{dir: dir, certDir: filepath.Join(dir, "pki")}
	_, err = pki.Generate(pki.ClusterOptions{CertDir: p.certDir, Server: "https://127.0.0.1:0", APIServerAddresses: []string{"127.0.0.1"}})
	return p, err
}

// Close removes the directory.
func (p *PKI) Close() { _ = os.RemoveAll(p.dir) }

// Secure adds the serving and client-CA flags to o.
func (p *PKI) Secure(o app.Options) app.Options {
	o.TLSCertFile, o.TLSPrivateKeyFile = pki.Paths(p.certDir, "apiserver")
	o.ClientCAFile = filepath.Join(p.certDir, "ca.crt")
	return o
}

// Kubeconfig writes the admin's kubeconfig for the apiserver at addr and
// returns its path and TLS configuration (client.WithTLS takes it).
func (p *PKI) Kubeconfig(addr string) (string, *tls.Config, error) {
	ca, err := pki.ReadKeyPair(p.certDir, "ca")
	if err != nil {
		return "", nil, err
	}
	admin, err := ca.Sign(pki.CertConfig{CommonName: "kubernetes-admin", Organization: []string{pki.GroupMasters}, Usage: pki.Client})
	if err != nil {
		return "", nil, err
	}
	file := filepath.Join(p.dir, "admin-"+filepath.Base(addr)+".conf")
	if err := pki.WriteKubeconfig(file, "https://"+addr, ca.Cert, admin, "kubernetes-admin"); err != nil {
		return "", nil, err
	}
	cfg, err := client.ConfigFromFlags("", file)
	if err != nil {
		return "", nil, err
	}
	tc, err := cfg.TLSConfig()
	return file, tc, err
}

// UserTLS is the client TLS of a certificate for user in groups, signed by
// the cluster CA, trusting the cluster CA (client.WithTLS takes it).
func (p *PKI) UserTLS(user string, groups ...string) (*tls.Config, error) {
	ca, err := pki.ReadKeyPair(p.certDir, "ca")
	if err != nil {
		return nil, err
	}
	kp, err := ca.Sign(pki.CertConfig{CommonName: user, Organization: groups, Usage: pki.Client})
	if err != nil {
		return nil, err
	}
	file := filepath.Join(p.dir, "user-"+user+".conf")
	if err := pki.WriteKubeconfig(file, "https://127.0.0.1:0", ca.Cert, kp, user); err != nil {
		return nil, err
	}
	cfg, err := client.ConfigFromFlags("", file)
	if err != nil {
		return nil, err
	}
	return cfg.TLSConfig()
}
