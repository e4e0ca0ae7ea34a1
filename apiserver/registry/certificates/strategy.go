// Package certificates holds the CertificateSigningRequest strategy, in
// the shape of Kubernetes' pkg/registry/certificates: the requestor is the
// authenticated caller, the spec never changes after create, and the
// status is written through two subresources - approval (Approved and
// Denied conditions, by an approver) and status (the certificate and the
// Failed condition, by a signer) - each unable to touch the other's part.
package certificates

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	certificatesv1 "minik8s/api/certificates/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

// Approval is the subresource approvers write (PUT
// .../certificatesigningrequests/NAME/approval).
const Approval = "approval"

func init() { registry.Register(certificatesv1.Kind.Resource, Strategy{}) }

// Strategy is the CertificateSigningRequest strategy.
type Strategy struct{ registry.Base }

var (
	_ registry.CreatePreparer     = Strategy{}
	_ registry.StatusSubresources = Strategy{}
)

// PrepareForCreate sets spec.username, uid, groups and extra from the
// caller (whatever the client sent) and clears the status: nobody can
// create a request in another's name or one that is already approved.
func (Strategy) PrepareForCreate(ctx context.Context, obj scheme.Object) {
	csr := obj.(*certificatesv1.CertificateSigningRequest)
	if csr.Spec == nil {
		csr.Spec = &certificatesv1.CertificateSigningRequestSpec{}
	}
	s := csr.Spec
	s.Username, s.Uid, s.Groups, s.Extra = "", "", nil, nil
	if u := auth.UserFrom(ctx); u != nil {
		s.Username, s.Uid = u.Name, u.UID
		s.Groups = append([]string(nil), u.Groups...)
		if len(u.Extra) > 0 {
			s.Extra = map[string]*structpb.ListValue{}
			for k, vs := range u.Extra {
				l := &structpb.ListValue{}
				for _, v := range vs {
					l.Values = append(l.Values, structpb.NewStringValue(v))
				}
				s.Extra[k] = l
			}
		}
	}
	csr.Status = nil
}

// Subresources implements registry.StatusSubresources.
func (Strategy) Subresources() []string { return []string{Approval} }

// PrepareSubresourceUpdate keeps what a subresource may not change:
// through status a signer writes the certificate and every condition but
// Approved and Denied (kept from the stored object); through approval an
// approver writes only Approved and Denied (the certificate and the other
// conditions are kept).
func (Strategy) PrepareSubresourceUpdate(sub string, next, old scheme.Object) {
	n := next.(*certificatesv1.CertificateSigningRequest)
	o := old.(*certificatesv1.CertificateSigningRequest)
	if n.Status == nil {
		n.Status = &certificatesv1.CertificateSigningRequestStatus{}
	}
	isApproval := func(c *certificatesv1.CertificateSigningRequestCondition) bool {
		return c.GetType() == certificatesv1.Approved || c.GetType() == certificatesv1.Denied
	}
	// The subresource's conditions come from n, the others from o.
	var conds []*certificatesv1.CertificateSigningRequestCondition
	mine := func(c *certificatesv1.CertificateSigningRequestCondition) bool {
		return isApproval(c) == (sub == Approval)
	}
	for _, c := range o.GetStatus().GetConditions() {
		if !mine(c) {
			conds = append(conds, proto.Clone(c).(*certificatesv1.CertificateSigningRequestCondition))
		}
	}
	for _, c := range n.Status.Conditions {
		if mine(c) {
			conds = append(conds, c)
		}
	}
	n.Status.Conditions = conds
	stampConditions(n, o, time.Now())
	if sub == Approval {
		n.Status.Certificate = o.GetStatus().GetCertificate()
	}
	if len(n.Status.Conditions) == 0 && len(n.Status.Certificate) == 0 {
		n.Status = nil
	}
}

// Validate checks the spec (see ValidateSpec) and the status (see
// ValidateStatus).
func (Strategy) Validate(obj scheme.Object) []apierrors.FieldError {
	csr := obj.(*certificatesv1.CertificateSigningRequest)
	errs := ValidateSpec(csr.GetSpec(), "spec")
	return append(errs, ValidateStatus(csr, "status")...)
}

// ValidateUpdate refuses any change of the spec, and taking back a
// decision or an issued certificate.
func (Strategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	n := newObj.(*certificatesv1.CertificateSigningRequest)
	o := oldObj.(*certificatesv1.CertificateSigningRequest)
	errs := validation.ImmutableMessage("spec", n.GetSpec(), o.GetSpec())
	return append(errs, validateStatusUpdate(n, o)...)
}

// Default sets a condition without a status to True, as Kubernetes does.
func (Strategy) Default(obj scheme.Object) {
	for _, c := range obj.(*certificatesv1.CertificateSigningRequest).GetStatus().GetConditions() {
		if c.Status == "" {
			c.Status = corev1.ConditionTrue
		}
	}
}

// stampConditions fills the times a writer left out: lastUpdateTime is
// now, lastTransitionTime is the stored condition's when the status did
// not change, else now.
func stampConditions(n, o *certificatesv1.CertificateSigningRequest, now time.Time) {
	ts := timestamppb.New(now.Truncate(time.Second))
	for _, c := range n.GetStatus().GetConditions() {
		if c.LastUpdateTime == nil {
			c.LastUpdateTime = ts
		}
		if c.LastTransitionTime != nil {
			continue
		}
		c.LastTransitionTime = ts
		for _, oc := range o.GetStatus().GetConditions() {
			if oc.GetType() == c.GetType() && oc.GetStatus() == c.GetStatus() && oc.LastTransitionTime != nil {
				c.LastTransitionTime = oc.LastTransitionTime
			}
		}
	}
}
