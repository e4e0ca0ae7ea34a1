package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"minik8s/api/pki"
)

// TLSConfig is the client TLS of a Config: the server verified with the
// kubeconfig's certificate-authority(-data) (the system roots when it
// names none; nothing with insecure-skip-tls-verify), as tls-server-name
// when set, and the client-certificate(-data)/client-key(-data) presented.
// A file that cannot be read or parsed is an error naming it, never a
// silent fallback.
func (c *Config) TLSConfig() (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName, InsecureSkipVerify: c.InsecureSkipTLSVerify}
	caData := c.CertificateAuthorityData
	if c.CertificateAuthority != "" {
		b, err := os.ReadFile(c.CertificateAuthority)
		if err != nil {
			return nil, fmt.Errorf("certificate-authority: %w", err)
		}
		caData = b
	}
	if len(caData) > 0 {
		pool, err := pki.CertPoolFromPEM(caData, "certificate-authority")
		if err != nil {
			return nil, err
		}
		t.RootCAs = pool
	}
	if c.GetClientCertificate != nil {
		t.GetClientCertificate = c.GetClientCertificate
		return t, nil
	}
	certData, keyData := c.ClientCertificateData, c.ClientKeyData
	if c.ClientCertificate != "" {
		b, err := os.ReadFile(c.ClientCertificate)
		if err != nil {
			return nil, fmt.Errorf("client-certificate: %w", err)
		}
		certData = b
	}
	if c.ClientKey != "" {
		b, err := os.ReadFile(c.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("client-key: %w", err)
		}
		keyData = b
	}
	switch {
	case len(certData) > 0 && len(keyData) > 0:
		cert, err := tls.X509KeyPair(certData, keyData)
		if err != nil {
			return nil, fmt.Errorf("client certificate and key: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	case len(certData) > 0 || len(keyData) > 0:
		return nil, fmt.Errorf("user %q: a client certificate needs its key and the key its certificate", c.User)
	}
	return t, nil
}

// CAPool is the pool TLSConfig verifies servers with (nil: system roots).
func (c *Config) CAPool() (*x509.CertPool, error) {
	t, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	return t.RootCAs, nil
}

// WithTLS makes the connection TLS with cfg (h2 is added to its ALPN
// protocols by gRPC). Without it New speaks plain gRPC, which the
// apiserver's TLS-only port refuses; NewForConfig always sets it.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) {
		o.dialOpts = append(o.dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	}
}

// WithBearerToken sends "authorization: Bearer TOKEN" with every call;
// tokenFile, when set, is read instead and re-read every minute (a
// projected service-account token is rotated in place).
func WithBearerToken(token, tokenFile string) Option {
	return func(o *options) {
		if token == "" && tokenFile == "" {
			return
		}
		o.dialOpts = append(o.dialOpts, grpc.WithPerRPCCredentials(&bearer{token: token, file: tokenFile}))
	}
}

type bearer struct {
	token string
	file  string

	mu   sync.Mutex
	read time.Time
}

func (b *bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	tok := b.token
	if b.file != "" {
		b.mu.Lock()
		if time.Since(b.read) > time.Minute || b.token == "" {
			data, err := os.ReadFile(b.file)
			if err != nil {
				b.mu.Unlock()
				return nil, fmt.Errorf("token file: %w", err)
			}
			b.token, b.read = strings.TrimSpace(string(data)), time.Now()
		}
		tok = b.token
		b.mu.Unlock()
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

func (b *bearer) RequireTransportSecurity() bool { return true }
