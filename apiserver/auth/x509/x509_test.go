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
