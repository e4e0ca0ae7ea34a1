// Package pki makes and reads the cluster's certificates and keys on
// crypto/x509: certificate authorities, leaf certificates signed by them
// (server, client, peer) with their SANs, PEM files in kubeadm's layout,
// and kubeconfigs that carry a client certificate.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Validity periods, as kubeadm's: a CA for ten years, a leaf for one.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 365 * 24 * time.Hour
)

// KeyPair is a certificate and its private key.
type KeyPair struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Usage says what a leaf certificate is for; it decides the extended key
// usages.
type Usage int

// Leaf certificate kinds.
const (
	Server Usage = iota // TLS server authentication
	Client              // TLS client authentication
	Peer                // both (etcd peers, kubelets that also call out)
)

// CertConfig describes a leaf certificate.
type CertConfig struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	Usage        Usage
	// Validity defaults to LeafValidity.
	Validity time.Duration
}

// now is when certificates become valid: a minute back, so a clock a
// little behind on another machine still accepts them.
func now() time.Time { return time.Now().Add(-time.Minute).UTC() }

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func newKey() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func keyID(pub crypto.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return sum[:20]
}

// NewCA returns a self-signed certificate authority named cn.
func NewCA(cn string) (*KeyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, fmt.Errorf("new CA %s: %w", cn, err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	t := now()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             t,
		NotAfter:              t.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          keyID(key.Public()),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new CA %s: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// Sign returns a new key and a certificate for it, signed by ca.
func (ca *KeyPair) Sign(c CertConfig) (*KeyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, fmt.Errorf("new key for %s: %w", c.CommonName, err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	validity := c.Validity
	if validity == 0 {
		validity = LeafValidity
	}
	t := now()
	notAfter := t.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:   sn,
		Subject:        pkix.Name{CommonName: c.CommonName, Organization: c.Organization},
		NotBefore:      t,
		NotAfter:       notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:       c.DNSNames,
		IPAddresses:    c.IPs,
		AuthorityKeyId: ca.Cert.SubjectKeyId,
	}
	switch c.Usage {
	case Server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case Client:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate for %s: %w", c.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// SelfSigned returns a serving certificate that is its own CA, for hosts
// (IP addresses or DNS names): what a server makes for itself when it is
// given no certificate (kube-apiserver's and the kubelet's fallback).
func SelfSigned(cn string, hosts []string) (*KeyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	t := now()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("%s@%d", cn, time.Now().Unix())},
		NotBefore:             t,
		NotAfter:              t.Add(LeafValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate %s: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// EncodeCert returns cert as PEM.
func EncodeCert(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// EncodeKey returns key as PEM: "EC PRIVATE KEY" or "RSA PRIVATE KEY", the
// forms kubeadm writes and every TLS library reads.
func EncodeKey(key crypto.Signer) ([]byte, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	default:
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
}

// ParseCerts reads every CERTIFICATE block of PEM data.
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate in PEM data")
	}
	return certs, nil
}

// ParseKey reads the first private key of PEM data (PKCS#1, SEC 1 or
// PKCS#8).
func ParseKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no private key in PEM data")
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(b.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("unsupported private key type %T", k)
			}
			return s, nil
		}
	}
}

// CertPool reads a CA bundle file into a pool.
func CertPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return CertPoolFromPEM(data, file)
}

// CertPoolFromPEM returns a pool of the certificates of PEM data; name is
// for the error.
func CertPoolFromPEM(data []byte, name string) (*x509.CertPool, error) {
	certs, err := ParseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("CA bundle %s: %w", name, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// Paths returns the certificate and key file of name under dir
// (dir/name.crt, dir/name.key).
func Paths(dir, name string) (certFile, keyFile string) {
	return filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
}

// WriteKeyPair writes kp as dir/name.crt and dir/name.key (0600),
// creating directories as needed.
func WriteKeyPair(dir, name string, kp *KeyPair) error {
	certFile, keyFile := Paths(dir, name)
	keyPEM, err := EncodeKey(kp.Key)
	if err != nil {
		return fmt.Errorf("write %s: %w", keyFile, err)
	}
	if err := WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return WriteFile(certFile, EncodeCert(kp.Cert), 0o644)
}

// ReadKeyPair reads dir/name.crt and dir/name.key.
func ReadKeyPair(dir, name string) (*KeyPair, error) {
	certFile, keyFile := Paths(dir, name)
	return ReadKeyPairFiles(certFile, keyFile)
}

// ReadKeyPairFiles reads a certificate (the first of the file) and its key.
func ReadKeyPairFiles(certFile, keyFile string) (*KeyPair, error) {
	cdata, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCerts(cdata)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	kdata, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	key, err := ParseKey(kdata)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	return &KeyPair{Cert: certs[0], Key: key}, nil
}

// WriteFile writes data to file atomically (a temporary file renamed),
// creating the directory (0755).
func WriteFile(file string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

func exists(file string) bool {
	_, err := os.Stat(file)
	return err == nil
}
