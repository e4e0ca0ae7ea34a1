package certificate

// TEST-ONLY SIGNER. It stands in for the controller-manager's csrapproving
// and csrsigning controllers (branch csr) in these unit tests: it approves
// (or denies) every CertificateSigningRequest it sees in a fake API and
// signs it with a test CA. Not for production use.

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client"
	"minik8s/api/pki"
)

// testSigner approves and signs CSRs in csrs until its context ends.
type testSigner struct {
	ca   *pki.KeyPair
	csrs client.Interface[*CSR]
	// now is the issued certificates' notBefore; life their lifetime
	// (the request's expirationSeconds wins).
	now  func() time.Time
	life time.Duration
	// deny refuses requests instead (reason "TestDenied").
	deny bool
}

func (s *testSigner) run(ctx context.Context, t *testing.T) {
	w, err := s.csrs.Watch(ctx, "", client.ListOptions{})
	if err != nil {
		t.Errorf("test signer: watch: %v", err)
		return
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if ev.Type != client.Added {
			continue
		}
		csr := ev.Object
		if s.deny {
			csr.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: []*certificatesv1.CertificateSigningRequestCondition{
				{Type: certificatesv1.Denied, Status: "True", Reason: "TestDenied", Message: "the test signer denies everything"}}}
		} else {
			der, err := signRequest(s.ca, csr, s.now(), s.life)
			if err != nil {
				t.Errorf("test signer: %v", err)
				continue
			}
			csr.Status = &certificatesv1.CertificateSigningRequestStatus{
				Conditions: []*certificatesv1.CertificateSigningRequestCondition{
					{Type: certificatesv1.Approved, Status: "True", Reason: "TestApproved"}},
				Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			}
		}
		if _, err := s.csrs.UpdateStatus(ctx, csr); err != nil && ctx.Err() == nil {
			t.Errorf("test signer: update status of %s: %v", csr.GetMetadata().GetName(), err)
		}
	}
}

// signRequest issues the certificate csr asks for, valid from notBefore
// for life (or the request's expirationSeconds).
func signRequest(ca *pki.KeyPair, csr *CSR, notBefore time.Time, life time.Duration) ([]byte, error) {
	b, _ := pem.Decode(csr.GetSpec().GetRequest())
	if b == nil {
		return nil, errors.New("request is not PEM")
	}
	req, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, err
	}
	if s := csr.GetSpec().GetExpirationSeconds(); s > 0 {
		life = time.Duration(s) * time.Second
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(notBefore.UnixNano()),
		Subject:      req.Subject,
		DNSNames:     req.DNSNames,
		IPAddresses:  req.IPAddresses,
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(life),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	for _, u := range csr.GetSpec().GetUsages() {
		switch u {
		case certificatesv1.UsageClientAuth:
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		case certificatesv1.UsageServerAuth:
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		case certificatesv1.UsageKeyEncipherment:
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, req.PublicKey, ca.Key)
}
