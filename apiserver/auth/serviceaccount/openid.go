package serviceaccount

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"net/http"
	"slices"
	"strings"
)

// Paths of the OIDC discovery documents kube-apiserver serves.
const (
	OpenIDConfigPath = "/.well-known/openid-configuration"
	JWKSPath         = "/openid/v1/jwks"
)

// JWK is one key of a JWKS document (RFC 7517).
type JWK struct {
	Use string `json:"use"`
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKS renders the public keys as a key set.
func JWKS(keys []PublicKey) []JWK {
	out := []JWK{}
	for _, k := range keys {
		j := JWK{Use: "sig", Kid: k.ID, Alg: k.Alg}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			j.Kty, j.N, j.E = "RSA", b64.EncodeToString(pub.N.Bytes()), b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
		case *ecdsa.PublicKey:
			ecdh, err := pub.ECDH()
			if err != nil {
				continue
			}
			raw := ecdh.Bytes() // 0x04 || X || Y, 32 bytes each on P-256
			j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:65])
		default:
			continue
		}
		out = append(out, j)
	}
	return out
}

// OpenID serves /.well-known/openid-configuration and /openid/v1/jwks, so
// other verifiers (a cloud's workload identity, a kubelet) can check the
// apiserver's service-account tokens. The documents hold only public
// data; who may read them is the authorizer's call (Kubernetes grants
// them to system:service-account-issuer-discovery).
func OpenID(issuer string, keys []PublicKey) http.Handler {
	var algs []string
	for _, k := range keys {
		if !slices.Contains(algs, k.Alg) {
			algs = append(algs, k.Alg)
		}
	}
	slices.Sort(algs)
	config, _ := json.Marshal(map[string]any{
		"issuer":                                issuer,
		"jwks_uri":                              strings.TrimSuffix(issuer, "/") + JWKSPath,
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": algs,
	})
	jwks, _ := json.Marshal(map[string]any{"keys": JWKS(keys)})
	serve := func(ctype string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "public, max-age=3600")
			_, _ = w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle(OpenIDConfigPath, serve("application/json", config))
	mux.Handle(JWKSPath, serve("application/jwk-set+json", jwks))
	return mux
}
