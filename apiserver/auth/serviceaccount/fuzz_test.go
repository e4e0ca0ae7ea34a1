package serviceaccount

import (
	"context"
	"testing"
	"time"
)

// FuzzAuthenticate feeds arbitrary bearer tokens to the authenticator: it
// must never panic, and nothing but a token signed by its key may pass.
// The seeds run with every `go test`; -fuzz=FuzzAuthenticate explores.
func FuzzAuthenticate(f *testing.F) {
	rk, ek := testKeys(f)
	good, _ := mustSigner(f, ek).Sign(&Claims{Issuer: DefaultIssuer, Subject: "system:serviceaccount:a:b", Audience: Audience{DefaultIssuer},
		Expiry: time.Now().Add(time.Hour).Unix(), Kubernetes: &KubernetesClaims{Namespace: "a", ServiceAccount: Ref{Name: "b", UID: "u"}}})
	for _, s := range []string{good, "", "a.b.c", "..", "e30.e30.", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2t1YmVybmV0ZXMuZGVmYXVsdC5zdmMuY2x1c3Rlci5sb2NhbCJ9.", good + "x"} {
		f.Add(s)
	}
	a := &Authenticator{Issuers: []string{DefaultIssuer}, Audiences: []string{DefaultIssuer},
		Keys: []PublicKey{mustPublic(f, rk.Public()), mustPublic(f, ek.Public())}}
	f.Fuzz(func(t *testing.T, tok string) {
		u, ok, err := a.AuthenticateToken(context.Background(), tok)
		if ok && (err != nil || u == nil) {
			t.Fatalf("ok with %v %v", u, err)
		}
		if ok && tok != good {
			// Another encoding of the same signed bytes can only
			// come from base64 slack; anything else is a forgery.
			if _, err := verifySignature(tok, a.Keys); err != nil {
				t.Fatalf("accepted an unverifiable token %q", tok)
			}
		}
	})
}
