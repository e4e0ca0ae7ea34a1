// Package x509 authenticates requests by their TLS client certificate,
// as kube-apiserver's --client-ca-file does: a chain that verifies against
// the CA bundle for client authentication names the user in its subject's
// common name and the groups in its organizations.
package x509

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	apierrors "minik8s/api/errors"
	"minik8s/api/pki"
	"minik8s/apiserver/auth"
)

// Authenticator verifies client certificates against a CA pool.
type Authenticator struct {
	Roots *x509.CertPool
	// Now is the clock for expiry (time.Now when nil).
	Now func() time.Time
}

// NewFromFile reads the CA bundle of --client-ca-file.
func NewFromFile(caFile string) (*Authenticator, error) {
	pool, err := pki.CertPool(caFile)
	if err != nil {
		return nil, fmt.Errorf("--client-ca-file: %w", err)
	}
	return &Authenticator{Roots: pool}, nil
}

// Authenticate implements auth.Authenticator: no certificate is not its
// business (false); a certificate that does not verify (another CA,
// expired, not for client authentication) is 401 with nothing of why.
func (a *Authenticator) Authenticate(ctx context.Context) (*auth.User, bool, error) {
	chain := auth.CredentialsFrom(ctx).Certificates
	if len(chain) == 0 {
		return nil, false, nil
	}
	opts := x509.VerifyOptions{
		Roots:     a.Roots,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if a.Now != nil {
		opts.CurrentTime = a.Now()
	}
	if len(chain) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range chain[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	leaf := chain[0]
	if _, err := leaf.Verify(opts); err != nil {
		return nil, false, apierrors.NewUnauthorized("Unauthorized")
	}
	if leaf.Subject.CommonName == "" {
		return nil, false, apierrors.NewUnauthorized("Unauthorized")
	}
	return &auth.User{
		Name:   leaf.Subject.CommonName,
		Groups: append([]string(nil), leaf.Subject.Organization...),
	}, true, nil
}
