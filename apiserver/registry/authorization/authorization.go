// Package authorization serves the authorization.k8s.io/v1 resources,
// none of which is stored: each create asks the apiserver's authorizer a
// question and returns the answer in status. subjectaccessreviews (may
// this user do this?), localsubjectaccessreviews (the same in the
// request's namespace), selfsubjectaccessreviews (may I? kubectl auth
// can-i) and selfsubjectrulesreviews (what may I do? kubectl auth can-i
// --list).
package authorization

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	authorizationv1 "minik8s/api/authorization/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/registry/rest"
)

func kind(resource string) *scheme.Kind {
	k, err := scheme.ByResource(resource)
	if err != nil {
		panic(err) // api/authorization/v1 is linked into every apiserver
	}
	return k
}

func meta(ns string) *metav1.ObjectMeta {
	return &metav1.ObjectMeta{Namespace: ns, CreationTimestamp: timestamppb.New(time.Now().Truncate(time.Second))}
}

// attributes turns a review's spec into what the authorizer is asked;
// the field errors say what is wrong with it (Kubernetes' messages).
func attributes(u *auth.User, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) (auth.Attributes, []apierrors.FieldError) {
	if (ra == nil) == (nra == nil) {
		return auth.Attributes{}, []apierrors.FieldError{apierrors.Invalid("spec.resourceAttributes", nil,
			"exactly one of nonResourceAttributes or resourceAttributes must be specified")}
	}
	if nra != nil {
		// An empty path would read as a resource request; "/" is what
		// a path rule must then match.
		path := nra.GetPath()
		if path == "" {
			path = "/"
		}
		return auth.Attributes{User: u, Verb: nra.GetVerb(), Path: path}, nil
	}
	return auth.Attributes{User: u, Verb: ra.GetVerb(), Group: ra.GetGroup(), Resource: ra.GetResource(),
		Subresource: ra.GetSubresource(), Namespace: ra.GetNamespace(), Name: ra.GetName()}, nil
}

// decide asks z and fills the status as Kubernetes does: allowed on
// Allow, denied on Deny, neither on NoOpinion; a failure to decide is the
// evaluationError, not an API error.
func decide(ctx context.Context, z auth.Authorizer, a auth.Attributes) *authorizationv1.SubjectAccessReviewStatus {
	d, reason, err := z.Authorize(ctx, a)
	st := &authorizationv1.SubjectAccessReviewStatus{Allowed: d == auth.Allow, Denied: d == auth.Deny, Reason: reason}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	return st
}

// caller is the request's user, as the apiserver authenticated it (after
// impersonation).
func caller(ctx context.Context, a auth.Authenticator) (*auth.User, error) {
	u, ok, err := a.Authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierrors.NewUnauthorized("Unauthorized")
	}
	return u, nil
}

// specUser is the user a SubjectAccessReview names.
func specUser(s *authorizationv1.SubjectAccessReviewSpec) *auth.User {
	u := &auth.User{Name: s.GetUser(), UID: s.GetUid(), Groups: append([]string(nil), s.GetGroups()...)}
	for k, l := range s.GetExtra() {
		if u.Extra == nil {
			u.Extra = map[string][]string{}
		}
		for _, v := range l.GetValues() {
			u.Extra[k] = append(u.Extra[k], v.GetStringValue())
		}
	}
	return u
}

// SubjectAccessReviews answers whether the user of the spec may do what
// the spec says (the kubelet asks it for every call on its API).
type SubjectAccessReviews struct{ Authorizer auth.Authorizer }

var _ rest.Creater = SubjectAccessReviews{}

// Kind implements rest.Storage.
func (SubjectAccessReviews) Kind() *scheme.Kind { return kind("subjectaccessreviews") }

// Create implements rest.Creater.
func (s SubjectAccessReviews) Create(ctx context.Context, _ string, obj scheme.Object, _ rest.WriteOptions) (scheme.Object, error) {
	in, ok := obj.(*authorizationv1.SubjectAccessReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("subjectaccessreviews takes a SubjectAccessReview, not %T", obj))
	}
	spec := in.GetSpec()
	a, errs := attributes(specUser(spec), spec.GetResourceAttributes(), spec.GetNonResourceAttributes())
	if spec.GetUser() == "" && len(spec.GetGroups()) == 0 {
		errs = append(errs, apierrors.Invalid("spec.user", "", "at least one of user or group must be specified"))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid("SubjectAccessReview.authorization.k8s.io", in.GetMetadata().GetName(), errs)
	}
	out := &authorizationv1.SubjectAccessReview{Metadata: meta(""), Spec: spec, Status: decide(ctx, s.Authorizer, a)}
	scheme.SetTypeMeta(out, s.Kind())
	return out, nil
}

// LocalSubjectAccessReviews is SubjectAccessReviews in one namespace: a
// namespace admin may be allowed to ask about its own namespace only.
type LocalSubjectAccessReviews struct{ Authorizer auth.Authorizer }

var _ rest.Creater = LocalSubjectAccessReviews{}

// Kind implements rest.Storage.
func (LocalSubjectAccessReviews) Kind() *scheme.Kind { return kind("localsubjectaccessreviews") }

// Create implements rest.Creater; ns is the request's namespace.
func (s LocalSubjectAccessReviews) Create(ctx context.Context, ns string, obj scheme.Object, _ rest.WriteOptions) (scheme.Object, error) {
	in, ok := obj.(*authorizationv1.LocalSubjectAccessReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("localsubjectaccessreviews takes a LocalSubjectAccessReview, not %T", obj))
	}
	spec := in.GetSpec()
	a, errs := attributes(specUser(spec), spec.GetResourceAttributes(), spec.GetNonResourceAttributes())
	if spec.GetUser() == "" && len(spec.GetGroups()) == 0 {
		errs = append(errs, apierrors.Invalid("spec.user", "", "at least one of user or group must be specified"))
	}
	if spec.GetNonResourceAttributes() != nil {
		errs = append(errs, apierrors.Invalid("spec.nonResourceAttributes", nil, "disallowed on this kind of request"))
	}
	if ra := spec.GetResourceAttributes(); ra != nil && ra.GetNamespace() != ns {
		errs = append(errs, apierrors.Invalid("spec.resourceAttributes.namespace", ra.GetNamespace(), "must match metadata.namespace"))
	}
	if mns := in.GetMetadata().GetNamespace(); mns != "" && mns != ns {
		errs = append(errs, apierrors.Invalid("metadata.namespace", mns, "does not match the namespace of the request"))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid("LocalSubjectAccessReview.authorization.k8s.io", in.GetMetadata().GetName(), errs)
	}
	out := &authorizationv1.LocalSubjectAccessReview{Metadata: meta(ns), Spec: spec, Status: decide(ctx, s.Authorizer, a)}
	scheme.SetTypeMeta(out, s.Kind())
	return out, nil
}

// SelfSubjectAccessReviews answers whether the caller may do what the
// spec says (kubectl auth can-i).
type SelfSubjectAccessReviews struct {
	Authenticator auth.Authenticator
	Authorizer    auth.Authorizer
}

var _ rest.Creater = SelfSubjectAccessReviews{}

// Kind implements rest.Storage.
func (SelfSubjectAccessReviews) Kind() *scheme.Kind { return kind("selfsubjectaccessreviews") }

// Create implements rest.Creater.
func (s SelfSubjectAccessReviews) Create(ctx context.Context, _ string, obj scheme.Object, _ rest.WriteOptions) (scheme.Object, error) {
	in, ok := obj.(*authorizationv1.SelfSubjectAccessReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("selfsubjectaccessreviews takes a SelfSubjectAccessReview, not %T", obj))
	}
	u, err := caller(ctx, s.Authenticator)
	if err != nil {
		return nil, err
	}
	spec := in.GetSpec()
	a, errs := attributes(u, spec.GetResourceAttributes(), spec.GetNonResourceAttributes())
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid("SelfSubjectAccessReview.authorization.k8s.io", in.GetMetadata().GetName(), errs)
	}
	out := &authorizationv1.SelfSubjectAccessReview{Metadata: meta(""), Spec: spec, Status: decide(ctx, s.Authorizer, a)}
	scheme.SetTypeMeta(out, s.Kind())
	return out, nil
}

// SelfSubjectRulesReviews lists what the caller may do in a namespace
// (kubectl auth can-i --list), from auth.ResolveRules.
type SelfSubjectRulesReviews struct {
	Authenticator auth.Authenticator
	Authorizer    auth.Authorizer
}

var _ rest.Creater = SelfSubjectRulesReviews{}

// Kind implements rest.Storage.
func (SelfSubjectRulesReviews) Kind() *scheme.Kind { return kind("selfsubjectrulesreviews") }

// Create implements rest.Creater.
func (s SelfSubjectRulesReviews) Create(ctx context.Context, _ string, obj scheme.Object, _ rest.WriteOptions) (scheme.Object, error) {
	in, ok := obj.(*authorizationv1.SelfSubjectRulesReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("selfsubjectrulesreviews takes a SelfSubjectRulesReview, not %T", obj))
	}
	u, err := caller(ctx, s.Authenticator)
	if err != nil {
		return nil, err
	}
	spec := in.GetSpec()
	if spec == nil {
		spec = &authorizationv1.SelfSubjectRulesReviewSpec{}
	}
	res, nonRes, incomplete, err := auth.ResolveRules(ctx, s.Authorizer, u, spec.GetNamespace())
	st := &authorizationv1.SubjectRulesReviewStatus{Incomplete: incomplete}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	for _, r := range res {
		st.ResourceRules = append(st.ResourceRules, &authorizationv1.ResourceRule{
			Verbs: r.Verbs, ApiGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
	}
	for _, r := range nonRes {
		st.NonResourceRules = append(st.NonResourceRules, &authorizationv1.NonResourceRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
	}
	out := &authorizationv1.SelfSubjectRulesReview{Metadata: meta(""), Spec: spec, Status: st}
	scheme.SetTypeMeta(out, s.Kind())
	return out, nil
}

// Install serves the four reviews on api, answered by api's authenticator
// and authorizer. Call it before serving, after the authenticator and
// authorizer are final.
func Install(api interface {
	Register(path string, s rest.Storage)
}, authn auth.Authenticator, authz auth.Authorizer) {
	api.Register("subjectaccessreviews", SubjectAccessReviews{Authorizer: authz})
	api.Register("localsubjectaccessreviews", LocalSubjectAccessReviews{Authorizer: authz})
	api.Register("selfsubjectaccessreviews", SelfSubjectAccessReviews{Authenticator: authn, Authorizer: authz})
	api.Register("selfsubjectrulesreviews", SelfSubjectRulesReviews{Authenticator: authn, Authorizer: authz})
}
