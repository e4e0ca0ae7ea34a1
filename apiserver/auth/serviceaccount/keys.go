package serviceaccount

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// ReadSigningKey reads the PEM private key of
// --service-account-signing-key-file (PKCS#1 or SEC 1 or PKCS#8; RSA or
// ECDSA P-256).
func ReadSigningKey(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("service account signing key: %w", err)
	}
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("service account signing key %s: no PEM private key", path)
		}
		var key any
		switch b.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("service account signing key %s: %w", path, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("service account signing key %s: %T cannot sign", path, key)
		}
		s, err := NewSigner(signer)
		if err != nil {
			return nil, fmt.Errorf("service account signing key %s: %w", path, err)
		}
		return s, nil
	}
}

// ReadPublicKeys reads every key of a --service-account-key-file: PEM
// public keys, certificates (their keys) or private keys (their public
// halves), as kube-apiserver accepts.
func ReadPublicKeys(path string) ([]PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("service account key file: %w", err)
	}
	var out []PublicKey
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var pub any
		switch b.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				pub = c.PublicKey
			}
		case "RSA PRIVATE KEY":
			var k *rsa.PrivateKey
			if k, err = x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
				pub = k.Public()
			}
		case "EC PRIVATE KEY":
			var k *ecdsa.PrivateKey
			if k, err = x509.ParseECPrivateKey(b.Bytes); err == nil {
				pub = k.Public()
			}
		case "PRIVATE KEY":
			var k any
			if k, err = x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
				if s, ok := k.(crypto.Signer); ok {
					pub = s.Public()
				} else {
					err = fmt.Errorf("unsupported private key %T", k)
				}
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("service account key file %s: %s block: %w", path, b.Type, err)
		}
		k, err := NewPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("service account key file %s: %w", path, err)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("service account key file %s: no PEM keys", path)
	}
	return out, nil
}
