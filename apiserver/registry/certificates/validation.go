package certificates

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "minik8s/api/certificates/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/apiserver/validation"
)

// MinExpirationSeconds is the shortest lifetime a request may ask for
// (Kubernetes: 10 minutes).
const MinExpirationSeconds = 600

// ValidateSpec checks a request's spec: request is a PEM CERTIFICATE
// REQUEST with a valid signature; signerName is set and of the form
// DOMAIN/PATH; usages are known and not repeated; expirationSeconds, when
// set, is at least 600; and a request for a kubernetes.io signer has the
// subject and usages that signer issues (see certificatesv1.ValidateForSigner).
func ValidateSpec(s *certificatesv1.CertificateSigningRequestSpec, path string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	reqPath := validation.Child(path, "request")
	var req *x509.CertificateRequest
	if len(s.GetRequest()) == 0 {
		errs = append(errs, apierrors.Required(reqPath, ""))
	} else {
		var err error
		if req, err = certificatesv1.ParseRequest(s.GetRequest()); err != nil {
			errs = append(errs, apierrors.Invalid(reqPath, "<request data>", err.Error()))
		}
	}
	signerPath := validation.Child(path, "signerName")
	if s.GetSignerName() == "" {
		errs = append(errs, apierrors.Required(signerPath, ""))
	} else {
		for _, msg := range validateSignerName(s.GetSignerName()) {
			errs = append(errs, apierrors.Invalid(signerPath, s.GetSignerName(), msg))
		}
	}
	if s.ExpirationSeconds != nil && s.GetExpirationSeconds() < MinExpirationSeconds {
		errs = append(errs, apierrors.Invalid(validation.Child(path, "expirationSeconds"), s.GetExpirationSeconds(),
			fmt.Sprintf("may not specify a duration less than %d seconds (10 minutes)", MinExpirationSeconds)))
	}
	usagesPath := validation.Child(path, "usages")
	usagesOK := true
	if len(s.GetUsages()) == 0 {
		errs = append(errs, apierrors.Required(usagesPath, "usages must be provided"))
		usagesOK = false
	}
	seen := map[string]bool{}
	for i, u := range s.GetUsages() {
		switch {
		case !slices.Contains(certificatesv1.KnownUsages, u):
			errs = append(errs, apierrors.NotSupported(validation.Index(usagesPath, i), u, certificatesv1.KnownUsages))
			usagesOK = false
		case seen[u]:
			errs = append(errs, apierrors.Duplicate(validation.Index(usagesPath, i), u))
			usagesOK = false
		}
		seen[u] = true
	}
	if req != nil && usagesOK {
		if err := certificatesv1.ValidateForSigner(s.GetSignerName(), req, s.GetUsages()); err != nil {
			errs = append(errs, apierrors.Invalid(reqPath, "<request data>",
				fmt.Sprintf("not valid for signer %s: %v", s.GetSignerName(), err)))
		}
	}
	return errs
}

// validateSignerName checks DOMAIN/PATH: DOMAIN a DNS subdomain with at
// least one dot, PATH a non-empty string of DNS subdomain segments joined
// by "/" (Kubernetes' rule for signerName).
func validateSignerName(name string) []string {
	const form = "must be a fully qualified domain and path of the form 'example.com/signer-name'"
	domain, p, ok := strings.Cut(name, "/")
	if !ok || domain == "" || p == "" {
		return []string{form}
	}
	var msgs []string
	if !strings.Contains(domain, ".") {
		msgs = append(msgs, "should be a domain with at least two segments separated by dots")
	}
	for _, m := range validation.IsDNS1123Subdomain(domain) {
		msgs = append(msgs, "domain: "+m)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" {
			msgs = append(msgs, "path: must not contain empty segments")
			continue
		}
		if strings.ContainsAny(seg, " \t\n") || len(seg) > 253 {
			msgs = append(msgs, "path: "+form)
		}
	}
	if len(name) > 571 {
		msgs = append(msgs, "must be no more than 571 characters")
	}
	return msgs
}

// ValidateStatus checks conditions and the certificate: condition types
// are set and not repeated, statuses are True, False or Unknown, Approved
// and Denied exclude each other, and a certificate is one or more PEM
// CERTIFICATE blocks, only on an approved request.
func ValidateStatus(csr *certificatesv1.CertificateSigningRequest, path string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	condPath := validation.Child(path, "conditions")
	seen := map[string]bool{}
	var approved, denied bool
	for i, c := range csr.GetStatus().GetConditions() {
		p := validation.Index(condPath, i)
		if c.GetType() == "" {
			errs = append(errs, apierrors.Required(validation.Child(p, "type"), ""))
		}
		switch c.GetStatus() {
		case corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown:
		case "":
			errs = append(errs, apierrors.Required(validation.Child(p, "status"), ""))
		default:
			errs = append(errs, apierrors.NotSupported(validation.Child(p, "status"), c.GetStatus(), []string{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}))
		}
		switch c.GetType() {
		case certificatesv1.Approved, certificatesv1.Denied, certificatesv1.Failed:
			if seen[c.GetType()] {
				errs = append(errs, apierrors.Duplicate(validation.Child(p, "type"), c.GetType()))
			}
			seen[c.GetType()] = true
			if c.GetType() == certificatesv1.Approved || c.GetType() == certificatesv1.Denied {
				if c.GetStatus() != corev1.ConditionTrue && c.GetStatus() != "" {
					errs = append(errs, apierrors.NotSupported(validation.Child(p, "status"), c.GetStatus(), []string{corev1.ConditionTrue}))
				}
			}
		}
		approved = approved || c.GetType() == certificatesv1.Approved
		denied = denied || c.GetType() == certificatesv1.Denied
	}
	if approved && denied {
		errs = append(errs, apierrors.Invalid(condPath, "", "Approved and Denied conditions are mutually exclusive"))
	}
	cert := csr.GetStatus().GetCertificate()
	certPath := validation.Child(path, "certificate")
	if len(cert) > 0 {
		if !approved || denied {
			errs = append(errs, apierrors.Forbidden(certPath, "may only be set on an approved request"))
		}
		if err := validCertificates(cert); err != nil {
			errs = append(errs, apierrors.Invalid(certPath, "<certificate data>", err.Error()))
		}
	}
	return errs
}

// validCertificates checks for one or more PEM CERTIFICATE blocks that
// parse, with nothing but whitespace around them.
func validCertificates(data []byte) error {
	n := 0
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			if len(bytes.TrimSpace(data)) > 0 {
				return fmt.Errorf("extra data after certificate %d", n)
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("only CERTIFICATE PEM blocks are allowed, found %q", block.Type)
		}
		if len(block.Headers) > 0 {
			return fmt.Errorf("no PEM block headers are permitted")
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %v", n+1, err)
		}
		n++
		data = rest
	}
	if n == 0 {
		return fmt.Errorf("must contain at least one CERTIFICATE PEM block")
	}
	return nil
}

// validateStatusUpdate refuses taking back a decision or an issued
// certificate: an Approved or Denied condition stays, and a certificate,
// once written, does not change.
func validateStatusUpdate(n, o *certificatesv1.CertificateSigningRequest) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for _, typ := range []string{certificatesv1.Approved, certificatesv1.Denied} {
		if hasType(o, typ) && !hasType(n, typ) {
			errs = append(errs, apierrors.Forbidden("status.conditions", fmt.Sprintf("updates may not remove a condition of type %q", typ)))
		}
	}
	if oc := o.GetStatus().GetCertificate(); len(oc) > 0 && !bytes.Equal(oc, n.GetStatus().GetCertificate()) {
		errs = append(errs, apierrors.Invalid("status.certificate", "<certificate data>", "updates may not modify existing certificate content"))
	}
	return errs
}

func hasType(csr *certificatesv1.CertificateSigningRequest, typ string) bool {
	for _, c := range csr.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return true
		}
	}
	return false
}
