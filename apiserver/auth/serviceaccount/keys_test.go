package serviceaccount

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writePEM(t *testing.T, blocks ...*pem.Block) string {
	t.Helper()
	var data []byte
	for _, b := range blocks {
		data = append(data, pem.EncodeToMemory(b)...)
	}
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadKeys(t *testing.T) {
	rk, ek := testKeys(t)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ek)
	sec1, _ := x509.MarshalECPrivateKey(ek)
	rsaPub, _ := x509.MarshalPKIXPublicKey(rk.Public())
	for _, tc := range []struct {
		name  string
		block *pem.Block
		alg   string
	}{
		{"pkcs1", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}, RS256},
		{"sec1", &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}, ES256},
		{"pkcs8", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}, ES256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writePEM(t, tc.block)
			s, err := ReadSigningKey(p)
			if err != nil || s.alg != tc.alg {
				t.Fatalf("signing key: %v %v", s, err)
			}
			keys, err := ReadPublicKeys(p)
			if err != nil || len(keys) != 1 || keys[0].ID != s.kid {
				t.Fatalf("public keys: %v %v", keys, err)
			}
		})
	}
	// A file of several public keys, as --service-account-key-file takes
	// during a key rotation.
	ecPub, _ := x509.MarshalPKIXPublicKey(ek.Public())
	keys, err := ReadPublicKeys(writePEM(t, &pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub}, &pem.Block{Type: "PUBLIC KEY", Bytes: ecPub}))
	if err != nil || len(keys) != 2 {
		t.Fatalf("two keys: %v %v", keys, err)
	}
	for name, b := range map[string]*pem.Block{
		"no keys":   {Type: "CERTIFICATE REQUEST", Bytes: []byte{1}},
		"garbage":   {Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}},
		"small rsa": {Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsa.PublicKey{N: big.NewInt(1<<62 + 1), E: 65537})},
	} {
		if _, err := ReadPublicKeys(writePEM(t, b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := ReadSigningKey(writePEM(t, b)); err == nil {
			t.Errorf("%s: accepted as signing key", name)
		}
	}
}

// TestOpenID fetches the discovery documents and verifies a token with
// keys rebuilt from the JWKS alone, as an outside verifier would.
func TestOpenID(t *testing.T) {
	rk, ek := testKeys(t)
	keys := []PublicKey{mustPublic(t, rk.Public()), mustPublic(t, ek.Public())}
	srv := httptest.NewServer(OpenID(DefaultIssuer, keys))
	defer srv.Close()

	var cfg struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	get(t, srv.URL+OpenIDConfigPath, "application/json", &cfg)
	if cfg.Issuer != DefaultIssuer || cfg.JWKSURI != DefaultIssuer+JWKSPath || len(cfg.Algs) != 2 {
		t.Fatalf("config %+v", cfg)
	}
	var set struct{ Keys []JWK }
	get(t, srv.URL+JWKSPath, "application/jwk-set+json", &set)
	if len(set.Keys) != 2 {
		t.Fatalf("jwks %+v", set)
	}
	var rebuilt []PublicKey
	for _, j := range set.Keys {
		var pub any
		switch j.Kty {
		case "RSA":
			n, _ := b64.DecodeString(j.N)
			e, _ := b64.DecodeString(j.E)
			pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "EC":
			x, _ := b64.DecodeString(j.X)
			y, _ := b64.DecodeString(j.Y)
			pub = &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		}
		k := mustPublic(t, pub)
		if k.ID != j.Kid || k.Alg != j.Alg {
			t.Fatalf("jwk %s: rebuilt id %s alg %s", j.Kid, k.ID, k.Alg)
		}
		rebuilt = append(rebuilt, k)
	}
	for _, signer := range []*Signer{mustSigner(t, rk), mustSigner(t, ek)} {
		tok, _ := signer.Sign(&Claims{Issuer: DefaultIssuer, Expiry: time.Now().Add(time.Hour).Unix()})
		if _, err := verifySignature(tok, rebuilt); err != nil {
			t.Errorf("%s token with JWKS keys: %v", signer.alg, err)
		}
	}
	resp, err := http.Post(srv.URL+JWKSPath, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func get(t *testing.T, url, ctype string, v any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
