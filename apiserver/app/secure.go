package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"

	apierrors "minik8s/api/errors"
	"minik8s/api/pki"
	"minik8s/apiserver/audit"
	"minik8s/apiserver/auth"
	x509auth "minik8s/apiserver/auth/x509"
	"minik8s/apiserver/restapi"
)

// The one API port is TLS only (alpn.go sorts gRPC clients to the native
// gRPC transport after the handshake). On the http.Server side, requests
// whose content-type is application/grpc still go to the gRPC server's
// ServeHTTP, the rest to the REST front over h2 or http/1.1. Client
// certificates are requested, not required: a certificate of another CA
// must give 401 (the x509 authenticator decides), not a failed handshake.

// openPaths answer without credentials, as Kubernetes' public-info-viewer
// role allows them to anyone: probes and version checks.
var openPaths = map[string]bool{"/healthz": true, "/livez": true, "/readyz": true, "/version": true, "/version/": true}

func isOpen(path string) bool {
	if openPaths[path] {
		return true
	}
	for _, p := range []string{"/healthz/", "/livez/", "/readyz/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// servingCert returns the certificate of --tls-cert-file and
// --tls-private-key-file, or, without them, a self-signed one for hosts
// kept under certDir (apiserver.crt/key, reused on restart) as
// kube-apiserver does; certDir "" keeps it in memory.
func servingCert(certFile, keyFile, certDir string, hosts []string) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return tls.Certificate{}, errors.New("--tls-cert-file and --tls-private-key-file go together")
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("--tls-cert-file: %w", err)
		}
		return c, nil
	}
	if certDir != "" {
		cf, kf := filepath.Join(certDir, "apiserver.crt"), filepath.Join(certDir, "apiserver.key")
		if c, err := tls.LoadX509KeyPair(cf, kf); err == nil {
			return c, nil
		}
	}
	kp, err := pki.SelfSigned("minik8s-apiserver", hosts)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := pki.EncodeKey(kp.Key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pki.EncodeCert(kp.Cert)
	if certDir != "" {
		if err := pki.WriteFile(filepath.Join(certDir, "apiserver.key"), keyPEM, 0o600); err != nil {
			return tls.Certificate{}, fmt.Errorf("--cert-dir: %w", err)
		}
		if err := pki.WriteFile(filepath.Join(certDir, "apiserver.crt"), certPEM, 0o644); err != nil {
			return tls.Certificate{}, fmt.Errorf("--cert-dir: %w", err)
		}
		slog.Info("generated a self-signed serving certificate", "cert", filepath.Join(certDir, "apiserver.crt"))
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// selfSignedHosts are the names a self-signed certificate covers.
func selfSignedHosts(o Options) []string {
	hosts := []string{"localhost", "127.0.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
	if o.BindAddress != "" && o.BindAddress != "0.0.0.0" && o.BindAddress != "::" {
		hosts = append(hosts, o.BindAddress)
	}
	if o.AdvertiseAddress != "" {
		hosts = append(hosts, o.AdvertiseAddress)
	}
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	return hosts
}

// authenticator is the union of what the flags configure: client
// certificates (--client-ca-file), plus extra (token authenticators), and
// anonymous when --anonymous-auth.
func authenticator(o Options, extra ...auth.Authenticator) (auth.Authenticator, error) {
	var as []auth.Authenticator
	if o.ClientCAFile != "" {
		x, err := x509auth.NewFromFile(o.ClientCAFile)
		if err != nil {
			return nil, err
		}
		as = append(as, x)
	}
	as = append(as, extra...)
	return auth.Union{Authenticators: as, AllowAnonymous: o.AnonymousAuth}, nil
}

type authResultKey struct{}

type authResult struct {
	user *auth.User
	ok   bool
	err  error
}

// memo answers from the result the HTTP front already computed for this
// request, so a REST request verifies its certificate once, not twice
// (once at the door, once in the request path).
type memo struct{ auth.Authenticator }

func (m memo) Authenticate(ctx context.Context) (*auth.User, bool, error) {
	if r, ok := ctx.Value(authResultKey{}).(authResult); ok {
		return r.user, r.ok, r.err
	}
	return m.Authenticator.Authenticate(ctx)
}

// credentialsOf is what an HTTP request presents.
func credentialsOf(r *http.Request) auth.Credentials {
	var c auth.Credentials
	if r.TLS != nil {
		c.Certificates = r.TLS.PeerCertificates
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		c.BearerToken = strings.TrimSpace(h[7:])
	}
	return c
}

// secureHandler routes gRPC to g (audited by its interceptors) and
// everything else, once authenticated (except the open paths), to rest,
// audited by aud. Requests on paths that are not resources (discovery,
// /openapi, /metrics, ...) are authorized here by authz, as Kubernetes'
// non-resource requests (verb: the method in lower case); resource
// requests are authorized on the request path.
func secureHandler(g *grpc.Server, rest *restapi.Handler, authn auth.Authenticator, aud *audit.Auditor, authz auth.Authorizer) http.Handler {
	door := aud.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.WithCredentials(r.Context(), credentialsOf(r))
		ar := audit.From(ctx)
		if ar != nil {
			// Non-resource unless the URL names a resource.
			ar.Describe(auth.Attributes{Verb: strings.ToLower(r.Method), Path: r.URL.Path}, "")
			rest.Describe(r.WithContext(ctx))
		}
		if !isOpen(r.URL.Path) {
			user, ok, err := authn.Authenticate(ctx)
			if err == nil && !ok {
				err = errUnauthorized
			}
			if err != nil {
				ar.AuthenticationFailed(ctx)
				restapi.WriteError(w, err)
				return
			}
			ar.SetUser(user)
			ctx = context.WithValue(ctx, authResultKey{}, authResult{user: user, ok: true})
			if authz != nil && !isResourcePath(r.URL.Path) {
				a := auth.Attributes{User: user, Verb: strings.ToLower(r.Method), Path: r.URL.Path}
				z := authz
				if ar != nil {
					z = ar.Authorizer(authz) // the audit record keeps the decision
				}
				if err := auth.Check(ctx, z, a); err != nil {
					restapi.WriteError(w, err)
					return
				}
			}
		} else if ar != nil {
			// Open to anyone; the record names whoever the credentials
			// say, else the anonymous user Kubernetes would see.
			if user, ok, err := authn.Authenticate(ctx); err == nil && ok {
				ar.SetUser(user)
			} else {
				ar.SetUser(&auth.User{Name: auth.UserAnonymous, Groups: []string{auth.GroupUnauthenticated}})
			}
		}
		rest.ServeHTTP(w, r.WithContext(ctx))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			g.ServeHTTP(w, r)
			return
		}
		door.ServeHTTP(w, r)
	})
}

// isResourcePath tells the URLs of resources (/api/v1/RESOURCE...,
// /apis/GROUP/VERSION/RESOURCE...) from the rest: discovery (/api,
// /apis/GROUP/VERSION) and everything else are non-resource requests.
func isResourcePath(path string) bool {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(segs) >= 3 && segs[0] == "api":
		return true
	case len(segs) >= 4 && segs[0] == "apis":
		return true
	}
	return false
}

// serverTLS serves cert, asking for (not requiring) client certificates;
// http.Server.ServeTLS adds h2 to the ALPN protocols.
func serverTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS12,
	}
}

var errUnauthorized = apierrors.NewUnauthorized("Unauthorized")

// etcdTLS is the client TLS of --etcd-cafile, --etcd-certfile and
// --etcd-keyfile; nil (plain) when none is set.
func (o Options) etcdTLS() (*tls.Config, error) {
	if o.EtcdCAFile == "" && o.EtcdCertFile == "" && o.EtcdKeyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.EtcdCAFile != "" {
		pool, err := pki.CertPool(o.EtcdCAFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cafile: %w", err)
		}
		c.RootCAs = pool
	}
	if o.EtcdCertFile != "" || o.EtcdKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.EtcdCertFile, o.EtcdKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-certfile/--etcd-keyfile: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// tlsErrorLog sends the HTTP server's own messages (mostly failed TLS
// handshakes from port scanners and probes) to slog at debug level.
func tlsErrorLog() *log.Logger {
	return slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug)
}

// kubeletTLS is how the apiserver calls kubelets: its client certificate
// (--kubelet-client-certificate/--kubelet-client-key) and the CA that
// verifies their serving certificates (--kubelet-certificate-authority);
// nil when none is set.
func (o Options) kubeletTLS() (*tls.Config, error) {
	if o.KubeletClientCertificate == "" && o.KubeletClientKey == "" && o.KubeletCertificateAuthority == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.KubeletCertificateAuthority != "" {
		pool, err := pki.CertPool(o.KubeletCertificateAuthority)
		if err != nil {
			return nil, fmt.Errorf("--kubelet-certificate-authority: %w", err)
		}
		c.RootCAs = pool
	}
	if o.KubeletClientCertificate != "" || o.KubeletClientKey != "" {
		cert, err := tls.LoadX509KeyPair(o.KubeletClientCertificate, o.KubeletClientKey)
		if err != nil {
			return nil, fmt.Errorf("--kubelet-client-certificate/--kubelet-client-key: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
