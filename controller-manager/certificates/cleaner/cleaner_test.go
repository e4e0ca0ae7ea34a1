package cleaner

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client/fake"
	metav1 "minik8s/api/meta/v1"
)

func certExpiring(t *testing.T, notAfter time.Time) []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestClean(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(-d)) }
	csr := func(created time.Duration, cert []byte, conds ...*certificatesv1.CertificateSigningRequestCondition) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{Metadata: &metav1.ObjectMeta{Name: "a", Uid: "u", CreationTimestamp: ago(created)},
			Status: &certificatesv1.CertificateSigningRequestStatus{Conditions: conds, Certificate: cert}}
	}
	cond := func(typ string, d time.Duration) *certificatesv1.CertificateSigningRequestCondition {
		return &certificatesv1.CertificateSigningRequestCondition{Type: typ, Status: "True", LastUpdateTime: ago(d)}
	}
	tests := []struct {
		name   string
		csr    *certificatesv1.CertificateSigningRequest
		delete bool
	}{
		{"pending, fresh", csr(23*time.Hour, nil), false},
		{"pending past a day", csr(25*time.Hour, nil), true},
		{"approved a minute ago", csr(2*time.Hour, nil, cond("Approved", time.Minute)), false},
		{"approved over an hour ago", csr(2*time.Hour, nil, cond("Approved", 61*time.Minute)), true},
		{"issued, approved over an hour ago", csr(2*time.Hour, certExpiring(t, now.Add(time.Hour)), cond("Approved", 61*time.Minute)), true},
		{"denied over an hour ago", csr(2*time.Hour, nil, cond("Denied", 61*time.Minute)), true},
		{"failed over an hour ago", csr(2*time.Hour, nil, cond("Approved", 10*time.Minute), cond("Failed", 61*time.Minute)), true},
		{"issued certificate expired", csr(2*time.Hour, certExpiring(t, now.Add(-time.Minute)), cond("Approved", 30*time.Minute)), true},
		{"issued certificate valid", csr(2*time.Hour, certExpiring(t, now.Add(time.Hour)), cond("Approved", 30*time.Minute)), false},
		{"condition without time", csr(2*time.Hour, nil, &certificatesv1.CertificateSigningRequestCondition{Type: "Approved", Status: "True"}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var deleted []string
			c := New(Config{Informer: fake.Informer(t, tt.csr), Delete: func(_ context.Context, name string, opts *metav1.DeleteOptions) error {
				if opts.GetPreconditions().GetUid() != "u" {
					t.Errorf("no uid precondition")
				}
				deleted = append(deleted, name)
				return nil
			}})
			c.Now = func() time.Time { return now }
			if err := c.sync(context.Background(), "a"); err != nil {
				t.Fatal(err)
			}
			if got := len(deleted) == 1; got != tt.delete {
				t.Fatalf("deleted %v, want %v", got, tt.delete)
			}
		})
	}
}
