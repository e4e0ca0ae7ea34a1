package certificate

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"minik8s/api/pki"
)

// ErrNoCert is what Store.Current returns when no certificate is stored
// (and no fallback pair is configured or readable).
var ErrNoCert = errors.New("no certificate stored")

// Store keeps a certificate and its key as Kubernetes' kubelet does in its
// --cert-dir: each issued pair is one PEM file PREFIX-TIMESTAMP.pem
// (certificate then key, 0600), and PREFIX-current.pem is a symlink to the
// one in use. Swapping the symlink (a rename over it) is atomic, so a
// reader sees the old pair or the new one, never half of each.
type Store struct {
	// Dir is the directory (--cert-dir); Prefix the pair's name
	// ("kubelet-client", "kubelet-server").
	Dir, Prefix string
	// CertFile and KeyFile, when set, are read when no PREFIX-current.pem
	// exists: a pair made before this kubelet managed its certificates
	// (a pre-made kubeconfig's certificate), which the first rotation
	// replaces.
	CertFile, KeyFile string
	// Now names new files (the wall clock if nil).
	Now func() time.Time
}

// CurrentPath is the symlink to the pair in use: what the kubeconfig the
// kubelet writes names as client-certificate and client-key.
func (s *Store) CurrentPath() string { return filepath.Join(s.Dir, s.Prefix+"-current.pem") }

// Current reads the pair in use: PREFIX-current.pem, else the fallback
// CertFile/KeyFile, else ErrNoCert. tls.Certificate.Leaf is set.
func (s *Store) Current() (*tls.Certificate, error) {
	file := s.CurrentPath()
	if _, err := os.Stat(file); err == nil {
		return loadPair(file, file)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if s.CertFile != "" && s.KeyFile != "" {
		if _, err := os.Stat(s.CertFile); err == nil {
			return loadPair(s.CertFile, s.KeyFile)
		}
	}
	return nil, ErrNoCert
}

// Update writes a new pair (certificate PEM, possibly with its chain, and
// key PEM) as PREFIX-TIMESTAMP.pem and points PREFIX-current.pem at it. The
// pair must match; the previous files stay (they are small, and an
// operator can see the history, as in Kubernetes).
func (s *Store) Update(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("store %s certificate: %w", s.Prefix, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cert dir: %w", err)
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	name := s.Prefix + "-" + now.UTC().Format("2006-01-02-15-04-05") + ".pem"
	data := append(append(append([]byte{}, certPEM...), '\n'), keyPEM...)
	if err := pki.WriteFile(filepath.Join(s.Dir, name), data, 0o600); err != nil {
		return nil, fmt.Errorf("store %s certificate: %w", s.Prefix, err)
	}
	// A new symlink beside the old one, renamed over it: atomic.
	tmp := s.CurrentPath() + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(name, tmp); err != nil {
		return nil, fmt.Errorf("store %s certificate: %w", s.Prefix, err)
	}
	if err := os.Rename(tmp, s.CurrentPath()); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("store %s certificate: %w", s.Prefix, err)
	}
	return &cert, nil
}

func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("read certificate %s: %w", certFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("read certificate %s: %w", certFile, err)
		}
	}
	return &cert, nil
}

// ValidAt reports whether cert's leaf is within its validity period at t.
func ValidAt(cert *tls.Certificate, t time.Time) bool {
	if cert == nil || cert.Leaf == nil {
		return false
	}
	return !t.Before(cert.Leaf.NotBefore) && t.Before(cert.Leaf.NotAfter)
}
