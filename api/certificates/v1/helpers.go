package certificatesv1

import (
	corev1 "minik8s/api/core/v1"

	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Name prefixes and the group of node identities, as Kubernetes names them.
const (
	NodeUserPrefix = "system:node:"
	NodesGroup     = "system:nodes"
	// MastersGroup is the group no kube-apiserver-client certificate may
	// carry (CertificateSubjectRestriction).
	MastersGroup = "system:masters"
)

// KnownUsages are every key usage string Kubernetes accepts in
// spec.usages, in its order.
var KnownUsages = []string{
	"signing", UsageDigitalSignature, "content commitment", UsageKeyEncipherment, "key agreement",
	"data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
	UsageServerAuth, UsageClientAuth, "code signing", "email protection", "s/mime",
	"ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
	"microsoft sgc", "netscape sgc",
}

// ParseRequest decodes spec.request: one PEM block of type CERTIFICATE
// REQUEST holding a PKCS#10 request whose signature verifies. The error
// says which of those failed.
func ParseRequest(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("invalid signature: %w", err)
	}
	return req, nil
}

// ConditionTrue reports whether csr has condition typ with a status other
// than "False" (Kubernetes reads an empty status as True for these).
func ConditionTrue(csr *CertificateSigningRequest, typ string) bool {
	for _, c := range csr.GetStatus().GetConditions() {
		if c.GetType() == typ && c.GetStatus() != corev1.ConditionFalse {
			return true
		}
	}
	return false
}

// IsApproved reports an Approved condition and no Denied one.
func IsApproved(csr *CertificateSigningRequest) bool {
	return ConditionTrue(csr, Approved) && !ConditionTrue(csr, Denied)
}

// IsDenied reports a Denied condition.
func IsDenied(csr *CertificateSigningRequest) bool { return ConditionTrue(csr, Denied) }

// IsFailed reports a Failed condition.
func IsFailed(csr *CertificateSigningRequest) bool { return ConditionTrue(csr, Failed) }

// IsIssued reports a certificate in the status.
func IsIssued(csr *CertificateSigningRequest) bool { return len(csr.GetStatus().GetCertificate()) > 0 }

// The usage sets a kubelet's requests may name (Kubernetes' helpers: key
// encipherment only with RSA keys, but either is accepted).
var (
	kubeletClientUsages  = [][]string{{UsageDigitalSignature, UsageClientAuth}, {UsageDigitalSignature, UsageKeyEncipherment, UsageClientAuth}}
	kubeletServingUsages = [][]string{{UsageDigitalSignature, UsageServerAuth}, {UsageDigitalSignature, UsageKeyEncipherment, UsageServerAuth}}
)

func usagesIn(usages []string, sets [][]string) bool {
	u := slices.Clone(usages)
	slices.Sort(u)
	u = slices.Compact(u)
	for _, set := range sets {
		s := slices.Clone(set)
		slices.Sort(s)
		if slices.Equal(u, s) {
			return true
		}
	}
	return false
}

// nodeSubject checks the subject of a kubelet's request:
// O=system:nodes only, CN=system:node:NAME with a name.
func nodeSubject(req *x509.CertificateRequest) error {
	if !slices.Equal(req.Subject.Organization, []string{NodesGroup}) {
		return fmt.Errorf("subject organization is not %s", NodesGroup)
	}
	if !strings.HasPrefix(req.Subject.CommonName, NodeUserPrefix) || len(req.Subject.CommonName) == len(NodeUserPrefix) {
		return fmt.Errorf("subject common name does not begin with %s", NodeUserPrefix)
	}
	return nil
}

// ValidateKubeletClient checks a request for the
// kube-apiserver-client-kubelet signer: CN=system:node:NAME,
// O=system:nodes, no subject alternative names, and only client usages
// (digital signature and client auth, optionally key encipherment).
func ValidateKubeletClient(req *x509.CertificateRequest, usages []string) error {
	if err := nodeSubject(req); err != nil {
		return err
	}
	switch {
	case len(req.DNSNames) > 0:
		return errors.New("dnsNames are not allowed")
	case len(req.EmailAddresses) > 0:
		return errors.New("emailAddresses are not allowed")
	case len(req.IPAddresses) > 0:
		return errors.New("ipAddresses are not allowed")
	case len(req.URIs) > 0:
		return errors.New("uriSANs are not allowed")
	}
	if !usagesIn(usages, kubeletClientUsages) {
		return fmt.Errorf("usages did not match %v", kubeletClientUsages)
	}
	return nil
}

// ValidateKubeletServing checks a request for the kubelet-serving signer:
// CN=system:node:NAME, O=system:nodes, at least one DNS or IP SAN, no
// email or URI SANs, and only server usages.
func ValidateKubeletServing(req *x509.CertificateRequest, usages []string) error {
	if err := nodeSubject(req); err != nil {
		return err
	}
	switch {
	case len(req.DNSNames) == 0 && len(req.IPAddresses) == 0:
		return errors.New("DNS or IP subjectAltName is required")
	case len(req.EmailAddresses) > 0:
		return errors.New("email subjectAltNames are not allowed")
	case len(req.URIs) > 0:
		return errors.New("URI subjectAltNames are not allowed")
	}
	if !usagesIn(usages, kubeletServingUsages) {
		return fmt.Errorf("usages did not match %v", kubeletServingUsages)
	}
	return nil
}

// ValidateAPIServerClient checks a request for the kube-apiserver-client
// signer: client auth is required, and only digital signature and key
// encipherment may come with it.
func ValidateAPIServerClient(_ *x509.CertificateRequest, usages []string) error {
	if !slices.Contains(usages, UsageClientAuth) {
		return fmt.Errorf("missing required usage %q", UsageClientAuth)
	}
	for _, u := range usages {
		switch u {
		case UsageClientAuth, UsageDigitalSignature, UsageKeyEncipherment:
		default:
			return fmt.Errorf("invalid usage for client certificate: %s", u)
		}
	}
	return nil
}

// ValidateForSigner runs the check of a kubernetes.io signer; other
// signers' requests pass (their signer decides).
func ValidateForSigner(signerName string, req *x509.CertificateRequest, usages []string) error {
	switch signerName {
	case KubeAPIServerClientSignerName:
		return ValidateAPIServerClient(req, usages)
	case KubeAPIServerClientKubeletSignerName:
		return ValidateKubeletClient(req, usages)
	case KubeletServingSignerName:
		return ValidateKubeletServing(req, usages)
	}
	return nil
}
