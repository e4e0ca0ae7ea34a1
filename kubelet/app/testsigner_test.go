package app

// TEST-ONLY SIGNER. Until the controller-manager's csrapproving and
// csrsigning controllers (branch csr) land, this stands in for them in
// TestTLSBootstrapAndRotation: it approves every CertificateSigningRequest
// and signs it with the test PKI's cluster CA. The integrator replaces it
// with the real controllers. Not for production use.

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client"
	"minik8s/api/pki"
)

type testSigner struct {
	ca   *pki.KeyPair
	csrs *client.Resource[*certificatesv1.CertificateSigningRequest]
	// renewLife is the lifetime of every certificate after the first of
	// each signer (whose lifetime is the request's expirationSeconds):
	// long, so that a test that moved its fake clock past the first
	// rotation does not see the renewal due at once.
	renewLife time.Duration

	mu     sync.Mutex
	issued map[string]int // per signer name
	names  []string       // the CSRs signed, in order
}

func (s *testSigner) run(ctx context.Context, t *testing.T) {
	s.issued = map[string]int{}
	for ctx.Err() == nil {
		w, err := s.csrs.Watch(ctx, "", client.ListOptions{})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type != client.Added || len(ev.Object.GetStatus().GetConditions()) > 0 {
				continue
			}
			csr := ev.Object
			s.mu.Lock()
			n := s.issued[csr.GetSpec().GetSignerName()]
			s.issued[csr.GetSpec().GetSignerName()]++
			s.names = append(s.names, csr.GetMetadata().GetName())
			s.mu.Unlock()
			life := time.Duration(csr.GetSpec().GetExpirationSeconds()) * time.Second
			if n > 0 || life == 0 {
				life = s.renewLife
			}
			der, err := s.sign(csr, life)
			if err != nil {
				t.Errorf("test signer: %s: %v", csr.GetMetadata().GetName(), err)
				continue
			}
			// Approved through the approval subresource, then the
			// certificate through status, as the real controllers write.
			csr.Status = &certificatesv1.CertificateSigningRequestStatus{
				Conditions: []*certificatesv1.CertificateSigningRequestCondition{
					{Type: certificatesv1.Approved, Status: "True", Reason: "TestSignerApproved", Message: "approved by the test-only signer"}},
			}
			approved, err := s.csrs.UpdateSubresource(ctx, csr, "approval")
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("test signer: approve %s: %v", csr.GetMetadata().GetName(), err)
				}
				continue
			}
			approved.Status.Certificate = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
			if _, err := s.csrs.UpdateStatus(ctx, approved); err != nil && ctx.Err() == nil {
				t.Errorf("test signer: update status of %s: %v", csr.GetMetadata().GetName(), err)
			}
		}
		w.Stop()
	}
}

func (s *testSigner) signed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.names...)
}

// sign issues what csr asks for, valid from a minute ago for life.
func (s *testSigner) sign(csr *certificatesv1.CertificateSigningRequest, life time.Duration) ([]byte, error) {
	b, _ := pem.Decode(csr.GetSpec().GetRequest())
	if b == nil {
		return nil, errors.New("request is not PEM")
	}
	req, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, err
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	if err != nil {
		return nil, err
	}
	nb := time.Now().Add(-time.Minute)
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: req.Subject, DNSNames: req.DNSNames, IPAddresses: req.IPAddresses,
		NotBefore: nb, NotAfter: nb.Add(life), KeyUsage: x509.KeyUsageDigitalSignature, AuthorityKeyId: s.ca.Cert.SubjectKeyId}
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
	return x509.CreateCertificate(rand.Reader, tmpl, s.ca.Cert, req.PublicKey, s.ca.Key)
}
