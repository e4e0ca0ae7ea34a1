package certificates

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/codec"
	metav1 "minik8s/api/meta/v1"
	"minik8s/apiserver/auth"
)

// makeRequest returns a PEM CERTIFICATE REQUEST for subject and SANs.
func makeRequest(t testing.TB, cn string, orgs []string, dns []string, ips []net.IP) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn, Organization: orgs}, DNSNames: dns, IPAddresses: ips,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func csrOf(req []byte, signer string, usages ...string) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		Metadata: &metav1.ObjectMeta{Name: "x"},
		Spec:     &certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: signer, Usages: usages},
	}
}

func TestValidate(t *testing.T) {
	user := makeRequest(t, "jane", []string{"developers"}, nil, nil)
	node := makeRequest(t, "system:node:n1", []string{"system:nodes"}, nil, nil)
	serving := makeRequest(t, "system:node:n1", []string{"system:nodes"}, []string{"n1"}, []net.IP{net.ParseIP("10.0.0.1")})
	badSig := []byte(strings.Replace(string(user), "CERTIFICATE REQUEST", "CERTIFICATE", 2))
	tampered := func() []byte {
		b, _ := pem.Decode(user)
		der := append([]byte(nil), b.Bytes...)
		der[len(der)-5] ^= 0xff // inside the signature
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}()
	exp := func(c *certificatesv1.CertificateSigningRequest, s int32) *certificatesv1.CertificateSigningRequest {
		c.Spec.ExpirationSeconds = proto.Int32(s)
		return c
	}
	client := certificatesv1.KubeAPIServerClientSignerName
	kubelet := certificatesv1.KubeAPIServerClientKubeletSignerName
	kserving := certificatesv1.KubeletServingSignerName
	tests := []struct {
		name string
		csr  *certificatesv1.CertificateSigningRequest
		want []string // field paths, in order
	}{
		{"user request", csrOf(user, client, "client auth"), nil},
		{"user request with digital signature", exp(csrOf(user, client, "digital signature", "client auth"), 600), nil},
		{"other signer takes anything known", csrOf(user, "example.com/my-signer", "server auth", "code signing"), nil},
		{"no request", csrOf(nil, client, "client auth"), []string{"spec.request"}},
		{"not a request block", csrOf(badSig, client, "client auth"), []string{"spec.request"}},
		{"bad signature", csrOf(tampered, client, "client auth"), []string{"spec.request"}},
		{"no signer", csrOf(user, "", "client auth"), []string{"spec.signerName"}},
		{"signer without path", csrOf(user, "example.com", "client auth"), []string{"spec.signerName"}},
		{"signer without dot", csrOf(user, "example/signer", "client auth"), []string{"spec.signerName"}},
		{"no usages", csrOf(user, client), []string{"spec.usages"}},
		{"unknown usage", csrOf(user, client, "client auth", "flying"), []string{"spec.usages[1]"}},
		{"repeated usage", csrOf(user, client, "client auth", "client auth"), []string{"spec.usages[1]"}},
		{"short expiration", exp(csrOf(user, client, "client auth"), 599), []string{"spec.expirationSeconds"}},
		{"client signer needs client auth", csrOf(user, client, "digital signature"), []string{"spec.request"}},
		{"client signer refuses server auth", csrOf(user, client, "client auth", "server auth"), []string{"spec.request"}},
		{"kubelet client", csrOf(node, kubelet, "digital signature", "client auth"), nil},
		{"kubelet client with key encipherment", csrOf(node, kubelet, "digital signature", "key encipherment", "client auth"), nil},
		{"kubelet client needs node subject", csrOf(user, kubelet, "digital signature", "client auth"), []string{"spec.request"}},
		{"kubelet client no SANs", csrOf(serving, kubelet, "digital signature", "client auth"), []string{"spec.request"}},
		{"kubelet client only client usages", csrOf(node, kubelet, "digital signature", "server auth"), []string{"spec.request"}},
		{"kubelet serving", csrOf(serving, kserving, "digital signature", "key encipherment", "server auth"), nil},
		{"kubelet serving needs a SAN", csrOf(node, kserving, "digital signature", "server auth"), []string{"spec.request"}},
		{"kubelet serving only server usages", csrOf(serving, kserving, "digital signature", "client auth"), []string{"spec.request"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := Strategy{}.Validate(tt.csr)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("fields = %v, want %v (%v)", got, tt.want, errs)
			}
		})
	}
}

func cond(typ string) *certificatesv1.CertificateSigningRequestCondition {
	return &certificatesv1.CertificateSigningRequestCondition{Type: typ, Status: "True"}
}

func TestValidateStatus(t *testing.T) {
	req := makeRequest(t, "jane", nil, nil, nil)
	cert := selfSigned(t)
	tests := []struct {
		name   string
		conds  []*certificatesv1.CertificateSigningRequestCondition
		cert   []byte
		wantOK bool
	}{
		{"pending", nil, nil, true},
		{"approved", []*certificatesv1.CertificateSigningRequestCondition{cond("Approved")}, nil, true},
		{"approved and issued", []*certificatesv1.CertificateSigningRequestCondition{cond("Approved")}, cert, true},
		{"approved and denied", []*certificatesv1.CertificateSigningRequestCondition{cond("Approved"), cond("Denied")}, nil, false},
		{"approved twice", []*certificatesv1.CertificateSigningRequestCondition{cond("Approved"), cond("Approved")}, nil, false},
		{"approved False", []*certificatesv1.CertificateSigningRequestCondition{{Type: "Approved", Status: "False"}}, nil, false},
		{"bad status", []*certificatesv1.CertificateSigningRequestCondition{{Type: "Custom", Status: "Maybe"}}, nil, false},
		{"certificate before approval", nil, cert, false},
		{"garbage certificate", []*certificatesv1.CertificateSigningRequestCondition{cond("Approved")}, []byte("nope"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := csrOf(req, certificatesv1.KubeAPIServerClientSignerName, "client auth")
			c.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: tt.conds, Certificate: tt.cert}
			errs := Strategy{}.Validate(c)
			if (len(errs) == 0) != tt.wantOK {
				t.Errorf("errors = %v, want ok %v", errs, tt.wantOK)
			}
		})
	}
}

func selfSigned(t testing.TB) []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestPrepareForCreate(t *testing.T) {
	c := csrOf(makeRequest(t, "jane", nil, nil, nil), certificatesv1.KubeAPIServerClientSignerName, "client auth")
	c.Spec.Username, c.Spec.Groups = "system:admin", []string{"system:masters"}
	c.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: []*certificatesv1.CertificateSigningRequestCondition{cond("Approved")}}
	ctx := auth.WithUser(context.Background(), &auth.User{Name: "jane", UID: "u1", Groups: []string{"dev", "system:authenticated"},
		Extra: map[string][]string{"scopes": {"a", "b"}}})
	Strategy{}.PrepareForCreate(ctx, c)
	s := c.Spec
	if s.Username != "jane" || s.Uid != "u1" || strings.Join(s.Groups, ",") != "dev,system:authenticated" || c.Status != nil {
		t.Fatalf("spec = %v, status = %v", s, c.Status)
	}
	if vs := s.Extra["scopes"].GetValues(); len(vs) != 2 || vs[1].GetStringValue() != "b" {
		t.Errorf("extra = %v", s.Extra)
	}
}

func TestPrepareSubresourceUpdate(t *testing.T) {
	req := makeRequest(t, "jane", nil, nil, nil)
	cert := selfSigned(t)
	old := csrOf(req, certificatesv1.KubeAPIServerClientSignerName, "client auth")
	old.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: []*certificatesv1.CertificateSigningRequestCondition{cond("Approved")}}

	// A signer writing through status cannot deny; its certificate and Failed stay.
	next := proto.Clone(old).(*certificatesv1.CertificateSigningRequest)
	next.Status = &certificatesv1.CertificateSigningRequestStatus{Certificate: cert,
		Conditions: []*certificatesv1.CertificateSigningRequestCondition{cond("Denied"), cond("Failed")}}
	Strategy{}.PrepareSubresourceUpdate("status", next, old)
	if got := types(next); got != "Approved,Failed" || len(next.Status.Certificate) == 0 {
		t.Errorf("status: conditions %s, certificate %d bytes", got, len(next.Status.Certificate))
	}
	if next.Status.Conditions[1].LastUpdateTime == nil {
		t.Error("no lastUpdateTime stamped")
	}

	// An approver writing through approval cannot issue nor drop Failed.
	old2 := proto.Clone(next).(*certificatesv1.CertificateSigningRequest)
	next2 := proto.Clone(old2).(*certificatesv1.CertificateSigningRequest)
	next2.Status = &certificatesv1.CertificateSigningRequestStatus{Certificate: []byte("other"),
		Conditions: []*certificatesv1.CertificateSigningRequestCondition{cond("Approved")}}
	Strategy{}.PrepareSubresourceUpdate(Approval, next2, old2)
	if got := types(next2); got != "Failed,Approved" || string(next2.Status.Certificate) != string(cert) {
		t.Errorf("approval: conditions %s, certificate %q", got, next2.Status.Certificate)
	}
}

func types(c *certificatesv1.CertificateSigningRequest) string {
	var out []string
	for _, x := range c.GetStatus().GetConditions() {
		out = append(out, x.GetType())
	}
	return strings.Join(out, ",")
}

func TestValidateUpdate(t *testing.T) {
	req := makeRequest(t, "jane", nil, nil, nil)
	old := csrOf(req, certificatesv1.KubeAPIServerClientSignerName, "client auth")
	old.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: []*certificatesv1.CertificateSigningRequestCondition{cond("Approved")}, Certificate: selfSigned(t)}
	tests := []struct {
		name   string
		change func(c *certificatesv1.CertificateSigningRequest)
		wantOK bool
	}{
		{"labels only", func(c *certificatesv1.CertificateSigningRequest) { c.Metadata.Labels = map[string]string{"a": "b"} }, true},
		{"signer changed", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example.com/x" }, false},
		{"username changed", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Username = "mallory" }, false},
		{"approval removed", func(c *certificatesv1.CertificateSigningRequest) { c.Status.Conditions = nil }, false},
		{"certificate replaced", func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = selfSigned(t) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := proto.Clone(old).(*certificatesv1.CertificateSigningRequest)
			tt.change(n)
			errs := Strategy{}.ValidateUpdate(n, old)
			if (len(errs) == 0) != tt.wantOK {
				t.Errorf("errors = %v, want ok %v", errs, tt.wantOK)
			}
		})
	}
}

// TestExampleValidates: deploy/examples/csr.yaml is a valid request.
func TestExampleValidates(t *testing.T) {
	data, err := os.ReadFile("../../../deploy/examples/csr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := codec.DecodeObjects(data)
	if err != nil || len(objs) != 1 {
		t.Fatalf("decode: %v", err)
	}
	if errs := (Strategy{}).Validate(objs[0]); len(errs) > 0 {
		t.Fatalf("deploy/examples/csr.yaml is invalid: %v", errs)
	}
}
