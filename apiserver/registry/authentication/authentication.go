// Package authentication serves the authentication.k8s.io/v1 resources,
// none of which is stored: tokenreviews (is this bearer token valid, and
// whose is it), selfsubjectreviews (who am I) and the serviceaccounts/token
// subresource (issue a token for a service account).
package authentication

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	authenticationv1 "minik8s/api/authentication/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/auth/serviceaccount"
	"minik8s/apiserver/registry/rest"
)

// UserInfo converts an authenticated user to its API form.
func UserInfo(u *auth.User) *authenticationv1.UserInfo {
	out := &authenticationv1.UserInfo{Username: u.Name, Uid: u.UID, Groups: append([]string(nil), u.Groups...)}
	for k, vs := range u.Extra {
		l := &structpb.ListValue{}
		for _, v := range vs {
			l.Values = append(l.Values, structpb.NewStringValue(v))
		}
		if out.Extra == nil {
			out.Extra = map[string]*structpb.ListValue{}
		}
		out.Extra[k] = l
	}
	return out
}

func kind(resource string) *scheme.Kind {
	k, err := scheme.ByResource(resource)
	if err != nil {
		panic(err) // api/authentication/v1 is linked into every apiserver
	}
	return k
}

// SelfSubjectReviews answers who the caller is, as the apiserver
// authenticated it (kubectl auth whoami).
type SelfSubjectReviews struct {
	// Authenticator is the apiserver's: it runs again on the request's
	// credentials, which the storage sees only through the context.
	Authenticator auth.Authenticator
}

var _ rest.Creater = SelfSubjectReviews{}

// Kind implements rest.Storage.
func (SelfSubjectReviews) Kind() *scheme.Kind { return kind("selfsubjectreviews") }

// Create implements rest.Creater; the body's content is ignored.
func (s SelfSubjectReviews) Create(ctx context.Context, _ string, obj scheme.Object, _ rest.WriteOptions) (scheme.Object, error) {
	if _, ok := obj.(*authenticationv1.SelfSubjectReview); !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("selfsubjectreviews takes a SelfSubjectReview, not %T", obj))
	}
	u, ok, err := s.Authenticator.Authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierrors.NewUnauthorized("Unauthorized")
	}
	out := &authenticationv1.SelfSubjectReview{Metadata: &metav1.ObjectMeta{CreationTimestamp: timestamppb.New(time.Now().Truncate(time.Second))},
		Status: &authenticationv1.SelfSubjectReviewStatus{UserInfo: UserInfo(u)}}
	scheme.SetTypeMeta(out, s.Kind())
	return out, nil
}

// TokenReviews checks a bearer token for another component (a kubelet
// authenticating the callers of its API).
type TokenReviews struct {
	// Authenticator is the apiserver's; it sees only the reviewed token,
	// never the reviewer's own credentials.
	Authenticator auth.Authenticator
	// Audiences are reported when the review names none (--api-audiences).
	Audiences []string
}

var _ rest.Creater = TokenReviews{}

// Kind implements rest.Storage.
func (TokenReviews) Kind() *scheme.Kind { return kind("tokenreviews") }

// Create implements rest.Creater: status.authenticated and the user, or
// a generic error saying the token is not valid.
func (t TokenReviews) Create(ctx context.Context, _ string, obj scheme.Object, _ rest.WriteOptions) (scheme.Object, error) {
	in, ok := obj.(*authenticationv1.TokenReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("tokenreviews takes a TokenReview, not %T", obj))
	}
	tok := in.GetSpec().GetToken()
	if tok == "" {
		return nil, apierrors.NewInvalid("TokenReview", "", []apierrors.FieldError{apierrors.Required("spec.token", "")})
	}
	auds := in.GetSpec().GetAudiences()
	rctx := auth.WithCredentials(ctx, auth.Credentials{BearerToken: tok})
	if len(auds) > 0 {
		rctx = serviceaccount.WithAudiences(rctx, auds)
	}
	status := &authenticationv1.TokenReviewStatus{}
	u, ok, err := t.Authenticator.Authenticate(rctx)
	switch {
	case err != nil && apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized:
		return nil, err // storage unavailable: the reviewer retries
	case err != nil || !ok || u.Name == auth.UserAnonymous:
		status.Error = "invalid bearer token"
	default:
		status.Authenticated = true
		status.User = UserInfo(u)
		status.Audiences = auds
		if len(auds) == 0 {
			status.Audiences = t.Audiences
		}
	}
	out := &authenticationv1.TokenReview{Metadata: &metav1.ObjectMeta{CreationTimestamp: timestamppb.New(time.Now().Truncate(time.Second))},
		Spec: in.GetSpec(), Status: status}
	scheme.SetTypeMeta(out, t.Kind())
	return out, nil
}

// Token lifetimes (Kubernetes' limits).
const (
	DefaultExpirationSeconds = 3600
	MinExpirationSeconds     = 600
	MaxExpirationSeconds     = math.MaxUint32
)

// TokenRequests is the serviceaccounts/token subresource.
type TokenRequests struct {
	Getter serviceaccount.Getter
	Issuer *serviceaccount.Issuer
	// MaxExpiration caps requested lifetimes (0: Kubernetes' 2^32 s).
	MaxExpiration time.Duration
}

var _ rest.NamedCreater = TokenRequests{}

// Kind implements rest.Storage.
func (TokenRequests) Kind() *scheme.Kind { return authenticationv1.TokenRequestKind }

// CreateNamed issues a token for service account ns/name, bound to the
// spec's Pod or Secret when it names one.
func (t TokenRequests) CreateNamed(ctx context.Context, ns, name string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	req, ok := obj.(*authenticationv1.TokenRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("serviceaccounts/token takes a TokenRequest, not %T", obj))
	}
	if n := req.GetMetadata().GetName(); n != "" && n != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the TokenRequest (%s) does not match the service account (%s)", n, name))
	}
	spec := req.GetSpec()
	if spec == nil {
		spec = &authenticationv1.TokenRequestSpec{}
	}
	secs := int64(DefaultExpirationSeconds)
	if spec.ExpirationSeconds != nil {
		secs = spec.GetExpirationSeconds()
	}
	var errs []apierrors.FieldError
	switch {
	case secs < MinExpirationSeconds:
		errs = append(errs, apierrors.Invalid("spec.expirationSeconds", secs, "may not specify a duration less than 10 minutes"))
	case secs > MaxExpirationSeconds:
		errs = append(errs, apierrors.Invalid("spec.expirationSeconds", secs, "may not specify a duration larger than 2^32 seconds"))
	}
	if t.MaxExpiration > 0 && time.Duration(secs)*time.Second > t.MaxExpiration {
		secs = int64(t.MaxExpiration / time.Second)
	}
	ref := spec.GetBoundObjectRef()
	if ref != nil {
		if !slices.Contains([]string{"Pod", "Secret"}, ref.GetKind()) {
			errs = append(errs, apierrors.NotSupported("spec.boundObjectRef.kind", ref.GetKind(), []string{"Pod", "Secret"}))
		}
		if av := ref.GetApiVersion(); av != "" && av != "v1" {
			errs = append(errs, apierrors.NotSupported("spec.boundObjectRef.apiVersion", av, []string{"v1"}))
		}
		if ref.GetName() == "" {
			errs = append(errs, apierrors.Required("spec.boundObjectRef.name", ""))
		}
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid("TokenRequest", name, errs)
	}
	saObj, err := t.Getter.Get(ctx, kind("serviceaccounts"), ns, name)
	if err != nil {
		return nil, err
	}
	b := serviceaccount.Binding{ServiceAccount: saObj.(*corev1.ServiceAccount)}
	if ref != nil {
		res := map[string]string{"Pod": "pods", "Secret": "secrets"}[ref.GetKind()]
		bound, err := t.Getter.Get(ctx, kind(res), ns, ref.GetName())
		if err != nil {
			return nil, err
		}
		if uid := ref.GetUid(); uid != "" && uid != bound.GetMetadata().GetUid() {
			return nil, apierrors.NewConflict(res, ref.GetName(), fmt.Sprintf("the UID in the bound object reference (%s) does not match the object's (%s)", uid, bound.GetMetadata().GetUid()))
		}
		switch v := bound.(type) {
		case *corev1.Pod:
			if sa := v.GetSpec().GetServiceAccountName(); sa != name {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind a token for service account %q to pod %q, which runs as service account %q", name, ref.GetName(), sa))
			}
			b.Pod = v
		case *corev1.Secret:
			b.Secret = v
		}
	}
	auds := spec.GetAudiences()
	if len(auds) == 0 {
		auds = t.Issuer.Audiences
	}
	out := &authenticationv1.TokenRequest{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns, CreationTimestamp: timestamppb.New(time.Now().Truncate(time.Second))},
		Spec:     &authenticationv1.TokenRequestSpec{Audiences: auds, ExpirationSeconds: &secs, BoundObjectRef: ref},
		Status:   &authenticationv1.TokenRequestStatus{},
	}
	scheme.SetTypeMeta(out, t.Kind())
	if o.DryRun {
		return out, nil
	}
	tok, exp, err := t.Issuer.Issue(b, auds, time.Duration(secs)*time.Second)
	if err != nil {
		return nil, apierrors.NewInternal(fmt.Errorf("sign token for service account %s/%s: %w", ns, name, err))
	}
	out.Status.Token = tok
	out.Status.ExpirationTimestamp = timestamppb.New(exp)
	return out, nil
}
