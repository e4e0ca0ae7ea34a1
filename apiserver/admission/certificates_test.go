package admission

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"

	certificatesv1 "minik8s/api/certificates/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
)

// signerRules allows user verb on the signer names listed.
type signerRules map[string][]string // "user verb" -> names

func (r signerRules) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if a.Group != certificatesv1.Group || a.Resource != "signers" {
		return auth.NoOpinion, "", nil
	}
	for _, n := range r[a.User.Name+" "+a.Verb] {
		if n == a.Name {
			return auth.Allow, "", nil
		}
	}
	return auth.NoOpinion, "", nil
}

func csrAttrs(op, sub, user string, obj, old *certificatesv1.CertificateSigningRequest) *Attributes {
	a := &Attributes{Operation: op, Kind: certificatesv1.Kind, Name: "x", Subresource: sub, Object: obj, User: &auth.User{Name: user}}
	if old != nil {
		a.OldObject = func(context.Context) (scheme.Object, error) { return old, nil }
	}
	return a
}

func testCSR(signer string, cert []byte) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{Metadata: &metav1.ObjectMeta{Name: "x"},
		Spec:   &certificatesv1.CertificateSigningRequestSpec{SignerName: signer},
		Status: &certificatesv1.CertificateSigningRequestStatus{Certificate: cert}}
}

func TestCertificateApprovalAndSigning(t *testing.T) {
	z := signerRules{
		"approver approve": {"kubernetes.io/kube-apiserver-client"},
		"wild approve":     {"example.com/*"},
		"signer sign":      {"kubernetes.io/kube-apiserver-client"},
	}
	client := "kubernetes.io/kube-apiserver-client"
	tests := []struct {
		name    string
		plugin  Validator
		a       *Attributes
		wantErr bool
	}{
		{"approver approves its signer", CertificateApproval{z},
			csrAttrs(Update, "approval", "approver", testCSR(client, nil), testCSR(client, nil)), false},
		{"approver cannot approve another signer", CertificateApproval{z},
			csrAttrs(Update, "approval", "approver", testCSR(client, nil), testCSR("kubernetes.io/kubelet-serving", nil)), true},
		{"the stored signer decides, not the body", CertificateApproval{z},
			csrAttrs(Update, "approval", "wild", testCSR("example.com/a", nil), testCSR(client, nil)), true},
		{"domain wildcard", CertificateApproval{z},
			csrAttrs(Update, "approval", "wild", testCSR("example.com/a", nil), testCSR("example.com/a", nil)), false},
		{"no approve permission", CertificateApproval{z},
			csrAttrs(Update, "approval", "signer", testCSR(client, nil), testCSR(client, nil)), true},
		{"approval plugin ignores status", CertificateApproval{z},
			csrAttrs(Update, "status", "nobody", testCSR(client, []byte("c")), testCSR(client, nil)), false},
		{"approval plugin ignores plain updates", CertificateApproval{z},
			csrAttrs(Update, "", "nobody", testCSR(client, nil), testCSR(client, nil)), false},
		{"signer writes a certificate", CertificateSigning{z},
			csrAttrs(Update, "status", "signer", testCSR(client, []byte("c")), testCSR(client, nil)), false},
		{"non-signer writes a certificate", CertificateSigning{z},
			csrAttrs(Update, "status", "approver", testCSR(client, []byte("c")), testCSR(client, nil)), true},
		{"status without a certificate change", CertificateSigning{z},
			csrAttrs(Update, "status", "approver", testCSR(client, []byte("c")), testCSR(client, []byte("c"))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.plugin.Validate(context.Background(), tt.a)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !apierrors.IsForbidden(err) {
				t.Errorf("err = %v, want Forbidden", err)
			}
		})
	}
}

func pemRequest(t *testing.T, orgs ...string) []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "u", Organization: orgs}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestCertificateSubjectRestriction(t *testing.T) {
	tests := []struct {
		name    string
		signer  string
		orgs    []string
		wantErr bool
	}{
		{"plain user", certificatesv1.KubeAPIServerClientSignerName, []string{"dev"}, false},
		{"masters", certificatesv1.KubeAPIServerClientSignerName, []string{"dev", "system:masters"}, true},
		{"masters for another signer", "example.com/x", []string{"system:masters"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCSR(tt.signer, nil)
			c.Spec.Request = pemRequest(t, tt.orgs...)
			err := CertificateSubjectRestriction{}.Validate(context.Background(), csrAttrs(Create, "", "u", c, nil))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
