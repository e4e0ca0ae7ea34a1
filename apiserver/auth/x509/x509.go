// Package x509 authenticates requests by their TLS client certificate,
// as kube-apiserver's --client-ca-file does: a chain that verifies against
// the CA bundle for client authentication names the user in its subject's
// common name and the groups in its organizations.
package x509

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"sync"
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

	// verified remembers chains that verified, so a client sending many
	// requests over one connection pays for the signature checks once:
	// the same bytes against the same roots verify the same way for as
	// long as every certificate in the chain is within its validity.
	verified verifiedCache
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
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	key := chainKey(chain)
	if u, ok := a.verified.get(a.Roots, key, now); ok {
		return copyUser(u), true, nil
	}
	opts := x509.VerifyOptions{
		Roots:       a.Roots,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime: now,
	}
	if len(chain) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range chain[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	leaf := chain[0]
	chains, err := leaf.Verify(opts)
	if err != nil {
		return nil, false, apierrors.NewUnauthorized("Unauthorized")
	}
	if leaf.Subject.CommonName == "" {
		return nil, false, apierrors.NewUnauthorized("Unauthorized")
	}
	u := &auth.User{
		Name:   leaf.Subject.CommonName,
		Groups: append([]string(nil), leaf.Subject.Organization...),
	}
	notBefore, notAfter := validity(chains)
	a.verified.put(a.Roots, key, u, notBefore, notAfter)
	return copyUser(u), true, nil
}

// maxVerified bounds the cache; past it the cache starts over (only
// chains that verified get in, so filling it takes valid certificates).
const maxVerified = 4096

type verifiedCache struct {
	mu      sync.Mutex
	roots   *x509.CertPool
	entries map[[sha256.Size]byte]verifiedEntry
}

type verifiedEntry struct {
	user      *auth.User
	notBefore time.Time
	notAfter  time.Time
}

// get returns the user of a chain that verified against roots and is
// still within its validity at now.
func (c *verifiedCache) get(roots *x509.CertPool, key [sha256.Size]byte, now time.Time) (*auth.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.roots != roots {
		return nil, false
	}
	e, ok := c.entries[key]
	if !ok || now.Before(e.notBefore) || now.After(e.notAfter) {
		return nil, false
	}
	return e.user, true
}

func (c *verifiedCache) put(roots *x509.CertPool, key [sha256.Size]byte, u *auth.User, notBefore, notAfter time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.roots != roots || len(c.entries) >= maxVerified {
		c.roots, c.entries = roots, nil
	}
	if c.entries == nil {
		c.entries = map[[sha256.Size]byte]verifiedEntry{}
	}
	c.entries[key] = verifiedEntry{user: u, notBefore: notBefore, notAfter: notAfter}
}

// chainKey identifies a presented chain by its bytes.
func chainKey(chain []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	for _, c := range chain {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// validity is when every certificate of a verified chain holds (the
// latest start and the earliest end over all chains found, root
// included), so a cached answer never outlives any of them.
func validity(chains [][]*x509.Certificate) (notBefore, notAfter time.Time) {
	for _, chain := range chains {
		for _, c := range chain {
			if notBefore.IsZero() || c.NotBefore.After(notBefore) {
				notBefore = c.NotBefore
			}
			if notAfter.IsZero() || c.NotAfter.Before(notAfter) {
				notAfter = c.NotAfter
			}
		}
	}
	return notBefore, notAfter
}

// copyUser gives each request its own user, so no caller can change what
// the cache holds.
func copyUser(u *auth.User) *auth.User {
	c := *u
	c.Groups = append([]string(nil), u.Groups...)
	return &c
}
