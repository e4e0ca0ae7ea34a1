package certificate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"minik8s/api/client"
	"minik8s/api/pki"
)

// Names of the pairs in --cert-dir, as Kubernetes' kubelet names them.
const (
	ClientPrefix  = "kubelet-client"
	ServingPrefix = "kubelet-server"
	// SelfSignedCert and SelfSignedKey are the serving pair a kubelet
	// makes for itself with neither --tls-cert-file nor
	// --rotate-server-certificates.
	SelfSignedCert = "kubelet.crt"
	SelfSignedKey  = "kubelet.key"
)

// BootstrapOptions are the kubelet's flags that TLS bootstrap reads.
type BootstrapOptions struct {
	// Kubeconfig is --kubeconfig: written when missing or when its
	// client certificate is not valid now.
	Kubeconfig string
	// BootstrapKubeconfig is --bootstrap-kubeconfig: the apiserver and a
	// bootstrap token (or any credentials allowed to create
	// CertificateSigningRequests).
	BootstrapKubeconfig string
	// Server is --server: it replaces the kubeconfigs' server for the
	// connection (not in the file written).
	Server string
	// CertDir is --cert-dir, where kubelet-client-*.pem go.
	CertDir  string
	NodeName string
	// ExpirationSeconds asks the signer for this lifetime (0: its default).
	ExpirationSeconds int32
	// ClientOptions are added to the bootstrap client's options.
	ClientOptions []client.Option
	Now           func() time.Time
	Log           *slog.Logger
}

// LoadClientCert makes sure o.Kubeconfig holds a client certificate valid
// now, as Kubernetes' kubelet does before it starts: a kubeconfig whose
// certificate is valid (or that authenticates without one) is kept; else
// a valid kubelet-client-current.pem in CertDir is used; else a new key
// and a CertificateSigningRequest (signer kube-apiserver-client-kubelet,
// CN system:node:NAME, O system:nodes) are posted with the bootstrap
// kubeconfig's credentials and the issued pair stored. In the last two
// cases the kubeconfig is (re)written to name the apiserver and CA of the
// bootstrap kubeconfig and kubelet-client-current.pem as its client
// certificate and key: it holds no bootstrap token. It returns once the
// kubeconfig is usable or ctx ends.
func LoadClientCert(ctx context.Context, o BootstrapOptions) error {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if o.Kubeconfig == "" {
		return errors.New("--bootstrap-kubeconfig needs --kubeconfig: the file the kubelet writes once it has its client certificate")
	}
	if ok, why := kubeconfigValid(o.Kubeconfig, now()); ok {
		log.Info("kubeconfig valid; TLS bootstrap not needed", "kubeconfig", o.Kubeconfig)
		return nil
	} else {
		log.Info("TLS bootstrap: kubeconfig not usable, bootstrapping a client certificate", "kubeconfig", o.Kubeconfig, "reason", why, "bootstrapKubeconfig", o.BootstrapKubeconfig, "certDir", o.CertDir)
	}
	boot, err := client.ConfigFromFlags("", o.BootstrapKubeconfig)
	if err != nil {
		return fmt.Errorf("--bootstrap-kubeconfig: %w", err)
	}
	caPEM := boot.CertificateAuthorityData
	if boot.CertificateAuthority != "" {
		if caPEM, err = os.ReadFile(boot.CertificateAuthority); err != nil {
			return fmt.Errorf("--bootstrap-kubeconfig %s: certificate-authority: %w", o.BootstrapKubeconfig, err)
		}
	}
	store := &Store{Dir: o.CertDir, Prefix: ClientPrefix, Now: o.Now}
	writeKubeconfig := func() error {
		return pki.WriteKubeconfigCertFiles(o.Kubeconfig, "https://"+boot.Servers[0], caPEM, store.CurrentPath(), store.CurrentPath(), "default-auth")
	}
	if cert, err := store.Current(); err == nil && ValidAt(cert, now()) {
		log.Info("TLS bootstrap: using the stored client certificate", "file", store.CurrentPath(), "notAfter", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
		return writeKubeconfig()
	}
	connect := boot
	if o.Server != "" {
		if connect, err = client.ConfigFromFlags(o.Server, o.BootstrapKubeconfig); err != nil {
			return fmt.Errorf("--bootstrap-kubeconfig: %w", err)
		}
	}
	c, err := client.NewForConfig(connect, append([]client.Option{client.WithUserAgent("kubelet-bootstrap"), client.WithLogger(log)}, o.ClientOptions...)...)
	if err != nil {
		return fmt.Errorf("--bootstrap-kubeconfig: %w", err)
	}
	defer c.Close()
	req := ClientRequest(o.NodeName)
	req.ExpirationSeconds = o.ExpirationSeconds
	backoff := retryBase
	for {
		certPEM, keyPEM, err := RequestCertificate(ctx, client.For[*CSR](c), req, log)
		if err == nil {
			cert, err := store.Update(certPEM, keyPEM)
			if err != nil {
				return err
			}
			if err := writeKubeconfig(); err != nil {
				return err
			}
			log.Info("TLS bootstrap done: client certificate stored and kubeconfig written", "file", store.CurrentPath(), "kubeconfig", o.Kubeconfig,
				"subject", cert.Leaf.Subject.String(), "notAfter", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
			return nil
		}
		if errors.Is(err, ErrRefused) || ctx.Err() != nil {
			return fmt.Errorf("TLS bootstrap of node %s: %w", o.NodeName, err)
		}
		log.Warn("TLS bootstrap: certificate request failed; will retry", "err", err, "retryIn", backoff.String())
		select {
		case <-ctx.Done():
			return fmt.Errorf("TLS bootstrap of node %s: %w", o.NodeName, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, bootstrapRetryMax)
	}
}

// bootstrapRetryMax caps the back-off of a joining kubelet lower than a
// renewal's: it has nothing to do until it joins, and its apiserver may
// just be starting (a static pod of the master).
const bootstrapRetryMax = 30 * time.Second

// kubeconfigValid reports whether file is a kubeconfig a kubelet can use
// now: it exists and its client certificate is valid at t (one that
// authenticates otherwise, a token, counts as valid: an operator made it).
func kubeconfigValid(file string, t time.Time) (bool, string) {
	if _, err := os.Stat(file); err != nil {
		return false, "missing"
	}
	cfg, err := client.ConfigFromFlags("", file)
	if err != nil {
		return false, err.Error()
	}
	certPEM := cfg.ClientCertificateData
	if cfg.ClientCertificate != "" {
		if certPEM, err = os.ReadFile(cfg.ClientCertificate); err != nil {
			return false, "client certificate: " + err.Error()
		}
	}
	if len(certPEM) == 0 {
		if cfg.Token != "" || cfg.TokenFile != "" {
			return true, ""
		}
		return false, "no client certificate"
	}
	certs, err := pki.ParseCerts(certPEM)
	if err != nil {
		return false, "client certificate: " + err.Error()
	}
	if !ValidAt(&tls.Certificate{Leaf: certs[0]}, t) {
		return false, fmt.Sprintf("client certificate expired or not yet valid (valid %s to %s)", certs[0].NotBefore.UTC().Format(time.RFC3339), certs[0].NotAfter.UTC().Format(time.RFC3339))
	}
	return true, ""
}

// SelfSigned returns the serving pair CertDir/kubelet.crt and kubelet.key,
// made (self-signed for hosts) when missing, as Kubernetes' kubelet does
// when given no serving certificate.
func SelfSigned(certDir, node string, hosts []string) (*tls.Certificate, error) {
	certFile, keyFile := filepath.Join(certDir, SelfSignedCert), filepath.Join(certDir, SelfSignedKey)
	if _, err := os.Stat(certFile); err == nil {
		return loadPair(certFile, keyFile)
	}
	kp, err := pki.SelfSigned(node, hosts)
	if err != nil {
		return nil, err
	}
	keyPEM, err := pki.EncodeKey(kp.Key)
	if err != nil {
		return nil, err
	}
	if err := pki.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := pki.WriteFile(certFile, pki.EncodeCert(kp.Cert), 0o644); err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}, nil
}
