package signer

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client/fake"
	"minik8s/controller-manager/certificates/certtest"
)

func approve(c *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequest {
	c.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: []*certificatesv1.CertificateSigningRequestCondition{{Type: "Approved", Status: "True"}}}
	return c
}

func TestSign(t *testing.T) {
	caPEM, keyPEM := certtest.CA(t, 30*24*time.Hour)
	ca, err := CAFromPEM(caPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	userReq, _ := certtest.Request(t, "jane", []string{"dev", "qa"}, nil, nil)
	nodeReq, _ := certtest.Request(t, "system:node:n1", []string{"system:nodes"}, nil, nil)
	servingReq, _ := certtest.Request(t, "system:node:n1", []string{"system:nodes"}, []string{"n1"}, []net.IP{net.ParseIP("10.0.0.1")})
	day := int32(86400)
	withExp := func(c *certificatesv1.CertificateSigningRequest, s int32) *certificatesv1.CertificateSigningRequest {
		c.Spec.ExpirationSeconds = proto.Int32(s)
		return c
	}
	tests := []struct {
		name     string
		csr      *certificatesv1.CertificateSigningRequest
		wantEKU  x509.ExtKeyUsage
		lifetime time.Duration // 0: no certificate expected
		failed   bool
	}{
		{"user, one day", withExp(approve(certtest.CSR("a", userReq, certificatesv1.KubeAPIServerClientSignerName, "admin", nil, "digital signature", "client auth")), day),
			x509.ExtKeyUsageClientAuth, 24 * time.Hour, false},
		{"kubelet client, capped by the CA", approve(certtest.CSR("a", nodeReq, certificatesv1.KubeAPIServerClientKubeletSignerName, "system:bootstrap:x", nil, "digital signature", "client auth")),
			x509.ExtKeyUsageClientAuth, 30 * 24 * time.Hour, false},
		{"kubelet serving", withExp(approve(certtest.CSR("a", servingReq, certificatesv1.KubeletServingSignerName, "system:node:n1", nil, "digital signature", "server auth")), 3600),
			x509.ExtKeyUsageServerAuth, time.Hour, false},
		{"not approved", certtest.CSR("a", userReq, certificatesv1.KubeAPIServerClientSignerName, "admin", nil, "client auth"), 0, 0, false},
		{"another signer", approve(certtest.CSR("a", userReq, "example.com/x", "admin", nil, "client auth")), 0, 0, false},
		{"signer refuses a user as kubelet", approve(certtest.CSR("a", userReq, certificatesv1.KubeAPIServerClientKubeletSignerName, "admin", nil, "digital signature", "client auth")),
			0, 0, true},
	}
	now := time.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *certificatesv1.CertificateSigningRequest
			c := New(Config{Informer: fake.Informer(t, tt.csr), CA: ca,
				UpdateStatus: func(_ context.Context, csr *certificatesv1.CertificateSigningRequest) (*certificatesv1.CertificateSigningRequest, error) {
					got = csr
					return csr, nil
				}})
			c.Now = func() time.Time { return now }
			if err := c.sync(context.Background(), "a"); err != nil {
				t.Fatal(err)
			}
			if tt.failed {
				if got == nil || !certificatesv1.IsFailed(got) || len(got.Status.Certificate) > 0 {
					t.Fatalf("want Failed, got %v", got.GetStatus())
				}
				return
			}
			if tt.lifetime == 0 {
				if got != nil {
					t.Fatalf("wrote %v", got.GetStatus())
				}
				return
			}
			block, _ := pem.Decode(got.GetStatus().GetCertificate())
			if block == nil {
				t.Fatal("no certificate")
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tt.wantEKU}}); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{tt.wantEKU}) || cert.IsCA {
				t.Errorf("ext key usages %v, CA %v", cert.ExtKeyUsage, cert.IsCA)
			}
			req, _ := certificatesv1.ParseRequest(tt.csr.Spec.Request)
			if cert.Subject.String() != req.Subject.String() || len(cert.DNSNames) != len(req.DNSNames) || len(cert.IPAddresses) != len(req.IPAddresses) {
				t.Errorf("subject %s SANs %v %v, want %s", cert.Subject, cert.DNSNames, cert.IPAddresses, req.Subject)
			}
			wantAfter := now.Add(tt.lifetime)
			if wantAfter.After(ca.Cert.NotAfter) {
				wantAfter = ca.Cert.NotAfter
			}
			if d := cert.NotAfter.Sub(wantAfter); d > time.Second || d < -time.Second {
				t.Errorf("NotAfter %v, want %v", cert.NotAfter, wantAfter)
			}
			if cert.NotAfter.After(ca.Cert.NotAfter) {
				t.Error("certificate outlives its CA")
			}
			if cert.NotBefore.After(now.Add(-4 * time.Minute)) {
				t.Errorf("NotBefore %v not backdated", cert.NotBefore)
			}
		})
	}
}

func TestLifetime(t *testing.T) {
	s := func(v int32) *int32 { return &v }
	for _, tt := range []struct {
		exp  *int32
		max  time.Duration
		want time.Duration
	}{
		{nil, DefaultDuration, DefaultDuration},
		{s(3600), DefaultDuration, time.Hour},
		{s(86400 * 400), DefaultDuration, DefaultDuration},
		{s(60), DefaultDuration, 10 * time.Minute},
	} {
		if got := Lifetime(tt.exp, tt.max); got != tt.want {
			t.Errorf("Lifetime(%v, %v) = %v, want %v", tt.exp, tt.max, got, tt.want)
		}
	}
}

func TestKeyUsages(t *testing.T) {
	ku, eku, err := KeyUsages([]string{"digital signature", "key encipherment", "client auth", "server auth"})
	if err != nil || ku != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment ||
		!slices.Equal(eku, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}) {
		t.Errorf("got %v %v %v", ku, eku, err)
	}
	if _, _, err := KeyUsages([]string{"flying"}); err == nil {
		t.Error("unknown usage accepted")
	}
	for _, u := range certificatesv1.KnownUsages {
		if _, _, err := KeyUsages([]string{u}); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestExpiredCA(t *testing.T) {
	caPEM, keyPEM := certtest.CA(t, time.Minute)
	ca, _ := CAFromPEM(caPEM, keyPEM)
	req, _ := certtest.Request(t, "jane", nil, nil, nil)
	r, _ := certificatesv1.ParseRequest(req)
	if _, err := ca.Sign(r, []string{"client auth"}, time.Hour, time.Now().Add(time.Hour)); err == nil {
		t.Error("signed with an expired CA")
	}
}
