package admission

import (
	"context"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "minik8s/api/certificates/v1"
	apierrors "minik8s/api/errors"
	"minik8s/apiserver/auth"
)

// The certificates.k8s.io admission plugins, as Kubernetes names them.
// Approving and signing a CertificateSigningRequest are decided per
// signer: besides update on certificatesigningrequests/approval (or
// /status), the caller needs verb "approve" (or "sign") on resource
// "signers" of group certificates.k8s.io, named by the request's
// signerName or by "DOMAIN/*" for every signer of the domain.

// CertificateApproval refuses an update of a request's approval
// subresource by a caller that may not approve for its signer.
type CertificateApproval struct{ Authorizer auth.Authorizer }

// CertificateSigning refuses a change of status.certificate through the
// status subresource by a caller that may not sign for the signer.
type CertificateSigning struct{ Authorizer auth.Authorizer }

// CertificateSubjectRestriction refuses a kube-apiserver-client request
// whose subject names the group system:masters: no client certificate
// of the cluster CA may be made an administrator through a CSR.
type CertificateSubjectRestriction struct{}

// Name implements Plugin.
func (CertificateApproval) Name() string { return "CertificateApproval" }

// Name implements Plugin.
func (CertificateSigning) Name() string { return "CertificateSigning" }

// Name implements Plugin.
func (CertificateSubjectRestriction) Name() string { return "CertificateSubjectRestriction" }

func isCSR(a *Attributes) bool {
	return a.Kind != nil && a.Kind.Group == certificatesv1.Group && a.Kind.Resource == certificatesv1.Kind.Resource
}

// storedCSR is the request as stored: its signerName decides, whatever
// the body of the update says (the subresources keep the stored spec).
func storedCSR(ctx context.Context, a *Attributes) (*certificatesv1.CertificateSigningRequest, error) {
	if a.OldObject != nil {
		obj, err := a.OldObject(ctx)
		if err != nil {
			return nil, err
		}
		if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
			return csr, nil
		}
	}
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected a CertificateSigningRequest, not %T", a.Object))
	}
	return csr, nil
}

// Validate implements Validator.
func (p CertificateApproval) Validate(ctx context.Context, a *Attributes) error {
	if !isCSR(a) || a.Operation != Update || a.Subresource != "approval" {
		return nil
	}
	csr, err := storedCSR(ctx, a)
	if err != nil {
		return err
	}
	return signerAllowed(ctx, p.Authorizer, a, "approve", csr.GetSpec().GetSignerName())
}

// Validate implements Validator.
func (p CertificateSigning) Validate(ctx context.Context, a *Attributes) error {
	if !isCSR(a) || a.Operation != Update || a.Subresource != "status" {
		return nil
	}
	csr, err := storedCSR(ctx, a)
	if err != nil {
		return err
	}
	next, _ := a.Object.(*certificatesv1.CertificateSigningRequest)
	if string(next.GetStatus().GetCertificate()) == string(csr.GetStatus().GetCertificate()) {
		return nil
	}
	return signerAllowed(ctx, p.Authorizer, a, "sign", csr.GetSpec().GetSignerName())
}

// signerAllowed asks whether a.User may do verb on the signer, by its
// name or its domain's wildcard.
func signerAllowed(ctx context.Context, z auth.Authorizer, a *Attributes, verb, signer string) error {
	if z == nil {
		return nil
	}
	names := []string{signer}
	if domain, _, ok := strings.Cut(signer, "/"); ok {
		names = append(names, domain+"/*")
	}
	for _, n := range names {
		d, _, err := z.Authorize(ctx, auth.Attributes{User: a.User, Verb: verb, Group: certificatesv1.Group, Resource: "signers", Name: n})
		if err != nil {
			return apierrors.NewInternal(err)
		}
		if d == auth.Allow {
			return nil
		}
	}
	return apierrors.NewForbidden(a.Kind.GroupResource(), a.Name,
		fmt.Sprintf("user not permitted to %s requests with signerName %q", verb, signer))
}

// Validate implements Validator.
func (CertificateSubjectRestriction) Validate(_ context.Context, a *Attributes) error {
	if !isCSR(a) || a.Operation != Create || a.Subresource != "" {
		return nil
	}
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok || csr.GetSpec().GetSignerName() != certificatesv1.KubeAPIServerClientSignerName {
		return nil
	}
	req, err := certificatesv1.ParseRequest(csr.GetSpec().GetRequest())
	if err != nil {
		return nil // validation reports spec.request
	}
	if slices.Contains(req.Subject.Organization, certificatesv1.MastersGroup) {
		return apierrors.NewForbidden(a.Kind.GroupResource(), a.Name,
			fmt.Sprintf("use of %s signer with %s group is not allowed", certificatesv1.KubeAPIServerClientSignerName, certificatesv1.MastersGroup))
	}
	return nil
}
