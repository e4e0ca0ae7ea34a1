// Package serviceaccount issues and verifies service-account tokens: JSON
// Web Tokens (RFC 7519) signed with RS256 or ES256, carrying the claims
// Kubernetes puts in them (iss, sub, aud, exp, nbf, iat, jti and the
// kubernetes.io binding to the service account and the pod or secret).
// Only the standard library signs and verifies; the tokens are compact
// JWS with the key's id (kid) in the header, so any OIDC-aware verifier
// can check them against the JWKS this package also serves.
package serviceaccount

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Algorithms (RFC 7518 names).
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// Claims are a service-account token's payload.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	Expiry    int64    `json:"exp"`
	NotBefore int64    `json:"nbf"`
	IssuedAt  int64    `json:"iat"`
	ID        string   `json:"jti,omitempty"`
	// Kubernetes binds the token to what it was issued for.
	Kubernetes *KubernetesClaims `json:"kubernetes.io,omitempty"`
}

// KubernetesClaims is the private "kubernetes.io" claim.
type KubernetesClaims struct {
	Namespace      string `json:"namespace"`
	ServiceAccount Ref    `json:"serviceaccount"`
	Pod            *Ref   `json:"pod,omitempty"`
	Secret         *Ref   `json:"secret,omitempty"`
	Node           *Ref   `json:"node,omitempty"`
}

// Ref names a bound object by name and uid.
type Ref struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// Audience is the aud claim: RFC 7519 allows a string or an array; we
// always write an array, as Kubernetes does.
type Audience []string

// UnmarshalJSON takes either form.
func (a *Audience) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Typ string `json:"typ,omitempty"`
}

var b64 = base64.RawURLEncoding

// KeyID is the key id Kubernetes gives a public key: the unpadded
// base64url SHA-256 of its PKIX DER form, so every apiserver derives the
// same id from the same key.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return b64.EncodeToString(sum[:]), nil
}

// algorithm picks the JWS algorithm for a key; other key types and curves
// are refused.
func algorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA key of %d bits: want at least 2048", k.N.BitLen())
		}
		return RS256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("ECDSA key on %s: only P-256 (ES256) is supported", k.Curve.Params().Name)
		}
		return ES256, nil
	}
	return "", fmt.Errorf("unsupported key type %T (want RSA or ECDSA P-256)", pub)
}

// Signer signs tokens with one private key.
type Signer struct {
	key crypto.Signer
	alg string
	kid string
}

// NewSigner returns a signer for an RSA (RS256) or ECDSA P-256 (ES256) key.
func NewSigner(key crypto.Signer) (*Signer, error) {
	alg, err := algorithm(key.Public())
	if err != nil {
		return nil, err
	}
	kid, err := KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, alg: alg, kid: kid}, nil
}

// Public is the signer's public key.
func (s *Signer) Public() crypto.PublicKey { return s.key.Public() }

// Sign returns the compact serialization of c.
func (s *Signer) Sign(c *Claims) (string, error) {
	h, _ := json.Marshal(header{Alg: s.alg, Kid: s.kid, Typ: "JWT"})
	p, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := s.key.(type) {
	case *ecdsa.PrivateKey:
		// JWS wants r||s, each 32 bytes, not ASN.1.
		r, ss, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	default:
		sig, err = s.key.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return "", err
		}
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// PublicKey is one verification key with its id.
type PublicKey struct {
	Key crypto.PublicKey
	ID  string
	Alg string
}

// NewPublicKey wraps an RSA or ECDSA P-256 public key.
func NewPublicKey(pub crypto.PublicKey) (PublicKey, error) {
	alg, err := algorithm(pub)
	if err != nil {
		return PublicKey{}, err
	}
	kid, err := KeyID(pub)
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKey{Key: pub, ID: kid, Alg: alg}, nil
}

// Errors of Parse and Verify. They are for logs and tests: the apiserver
// answers every one of them with the same 401.
var (
	ErrMalformed = errors.New("malformed token")
	ErrSignature = errors.New("invalid signature")
)

// Parse splits a compact JWS and decodes its header and claims without
// checking the signature: callers use it only to see whether a token is
// theirs (by issuer) before verifying it.
func Parse(token string) (*Claims, error) {
	_, c, _, _, err := split(token)
	return c, err
}

func split(token string) (*header, *Claims, string, []byte, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, "", nil, ErrMalformed
	}
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, nil, "", nil, ErrMalformed
	}
	var h header
	var c Claims
	if json.Unmarshal(hb, &h) != nil || json.Unmarshal(pb, &c) != nil {
		return nil, nil, "", nil, ErrMalformed
	}
	return &h, &c, parts[0] + "." + parts[1], sig, nil
}

// verifySignature checks the token against keys: the one its kid names,
// or each key of the header's algorithm when it names none. The algorithm
// comes from the key, never from the token alone, so "none" or an HMAC
// with a public key as secret cannot pass.
func verifySignature(token string, keys []PublicKey) (*Claims, error) {
	h, c, input, sig, err := split(token)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(input))
	for _, k := range keys {
		if k.Alg != h.Alg || (h.Kid != "" && h.Kid != k.ID) {
			continue
		}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil {
				return c, nil
			}
		case *ecdsa.PublicKey:
			if len(sig) == 64 && ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
				return c, nil
			}
		}
	}
	return nil, ErrSignature
}
