package x509

import (
	"context"
	"crypto/x509"
	"slices"
	"testing"
	"time"

	apierrors "minik8s/api/errors"
	"minik8s/api/pki"
	"minik8s/apiserver/auth"
)

func TestAuthenticate(t *testing.T) {
	ca, _ := pki.NewCA("ca")
	other, _ := pki.NewCA("other")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	sign := func(signer *pki.KeyPair, c pki.CertConfig) []*x509.Certificate {
		kp, err := signer.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return []*x509.Certificate{kp.Cert}
	}
	alice := sign(ca, pki.CertConfig{CommonName: "alice", Organization: []string{"dev", "ops"}, Usage: pki.Client})
	for _, tc := range []struct {
		name       string
		chain      []*x509.Certificate
		now        time.Time
		wantUser   string
		wantGroups []string
		wantOK     bool
		want401    bool
	}{
		{name: "no certificate"},
		{name: "valid", chain: alice, wantUser: "alice", wantGroups: []string{"dev", "ops"}, wantOK: true},
		{name: "another CA", chain: sign(other, pki.CertConfig{CommonName: "mallory", Usage: pki.Client}), want401: true},
		{name: "server certificate", chain: sign(ca, pki.CertConfig{CommonName: "srv", Usage: pki.Server}), want401: true},
		{name: "expired", chain: alice, now: time.Now().Add(2 * pki.LeafValidity), want401: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Authenticator{Roots: pool}
			if !tc.now.IsZero() {
				a.Now = func() time.Time { return tc.now }
			}
			ctx := auth.WithCredentials(context.Background(), auth.Credentials{Certificates: tc.chain})
			u, ok, err := a.Authenticate(ctx)
			if tc.want401 {
				if apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
					t.Fatalf("err = %v, want Unauthorized", err)
				}
				return
			}
			if err != nil || ok != tc.wantOK {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			if ok && (u.Name != tc.wantUser || !slices.Equal(u.Groups, tc.wantGroups)) {
				t.Fatalf("user %+v", u)
			}
		})
	}
}

// TestVerifiedCache: a chain that verified is answered from memory, but
// never past any certificate's validity, never against other roots, and
// a caller changing its user does not change the next answer.
func TestVerifiedCache(t *testing.T) {
	ca, _ := pki.NewCA("ca")
	other, _ := pki.NewCA("other")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	kp, err := ca.Sign(pki.CertConfig{CommonName: "alice", Organization: []string{"dev"}, Usage: pki.Client})
	if err != nil {
		t.Fatal(err)
	}
	ctx := auth.WithCredentials(context.Background(), auth.Credentials{Certificates: []*x509.Certificate{kp.Cert}})
	now := time.Now()
	a := &Authenticator{Roots: pool, Now: func() time.Time { return now }}

	u, ok, err := a.Authenticate(ctx)
	if err != nil || !ok || u.Name != "alice" {
		t.Fatalf("first: %v %v %v", u, ok, err)
	}
	u.Groups[0] = "system:masters"
	if u, _, _ := a.Authenticate(ctx); !slices.Equal(u.Groups, []string{"dev"}) {
		t.Fatalf("cached user changed by a caller: %v", u.Groups)
	}
	if len(a.verified.entries) != 1 {
		t.Fatalf("cache holds %d chains, want 1", len(a.verified.entries))
	}

	now = kp.Cert.NotAfter.Add(time.Second)
	if _, _, err := a.Authenticate(ctx); apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
		t.Fatalf("past NotAfter: %v, want Unauthorized", err)
	}
	now = time.Now()
	otherPool := x509.NewCertPool()
	otherPool.AddCert(other.Cert)
	a.Roots = otherPool
	if _, _, err := a.Authenticate(ctx); apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
		t.Fatalf("other roots: %v, want Unauthorized", err)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	ca, _ := pki.NewCA("ca")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	kp, err := ca.Sign(pki.CertConfig{CommonName: "alice", Usage: pki.Client})
	if err != nil {
		b.Fatal(err)
	}
	ctx := auth.WithCredentials(context.Background(), auth.Credentials{Certificates: []*x509.Certificate{kp.Cert}})
	for _, cached := range []bool{false, true} {
		name := map[bool]string{false: "verify", true: "cached"}[cached]
		b.Run(name, func(b *testing.B) {
			a := &Authenticator{Roots: pool}
			for i := 0; i < b.N; i++ {
				if !cached {
					a.verified = verifiedCache{}
				}
				if _, ok, err := a.Authenticate(ctx); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
