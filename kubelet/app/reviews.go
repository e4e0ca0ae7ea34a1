package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	authenticationv1 "minik8s/api/authentication/v1"
	authorizationv1 "minik8s/api/authorization/v1"
	"minik8s/api/client"
	"minik8s/api/scheme"
	"minik8s/kubelet/server"
)

// Kubelet authorization modes (--authorization-mode).
const (
	AuthorizationModeAlwaysAllow = "AlwaysAllow"
	AuthorizationModeWebhook     = "Webhook"
)

// Kubernetes' defaults for the kubelet's webhook caches.
const (
	DefaultTokenWebhookCacheTTL  = 2 * time.Minute
	DefaultAuthorizedCacheTTL    = 5 * time.Minute
	DefaultUnauthorizedCacheTTL  = 30 * time.Second
	defaultReviewRequestDeadline = 10 * time.Second
)

// Creater creates an object of one resource (client.Resource's Create).
type Creater interface {
	Create(ctx context.Context, obj scheme.Object) (scheme.Object, error)
}

// APIReviewer asks the apiserver: TokenReviews for bearer tokens on the
// kubelet API, SubjectAccessReviews for what callers may do.
type APIReviewer struct {
	TokenReviews         Creater
	SubjectAccessReviews Creater
}

var (
	_ server.TokenReviewer  = APIReviewer{}
	_ server.AccessReviewer = APIReviewer{}
)

// NewAPIReviewer asks through c with the kubelet's own credentials.
func NewAPIReviewer(c *client.Client) (APIReviewer, error) {
	tr, err := c.Dynamic("tokenreviews")
	if err != nil {
		return APIReviewer{}, err
	}
	sar, err := c.Dynamic("subjectaccessreviews")
	if err != nil {
		return APIReviewer{}, err
	}
	return APIReviewer{TokenReviews: tr, SubjectAccessReviews: sar}, nil
}

// ReviewToken implements server.TokenReviewer.
func (r APIReviewer) ReviewToken(ctx context.Context, token string) (*server.User, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultReviewRequestDeadline)
	defer cancel()
	out, err := r.TokenReviews.Create(ctx, &authenticationv1.TokenReview{ApiVersion: authenticationv1.Group + "/v1", Kind: "TokenReview",
		Spec: &authenticationv1.TokenReviewSpec{Token: token}})
	if err != nil {
		return nil, false, fmt.Errorf("token review: %w", err)
	}
	st := out.(*authenticationv1.TokenReview).GetStatus()
	if !st.GetAuthenticated() {
		return nil, false, nil
	}
	u := st.GetUser()
	su := &server.User{Name: u.GetUsername(), UID: u.GetUid(), Groups: u.GetGroups()}
	for k, l := range u.GetExtra() {
		if su.Extra == nil {
			su.Extra = map[string][]string{}
		}
		for _, v := range l.GetValues() {
			su.Extra[k] = append(su.Extra[k], v.GetStringValue())
		}
	}
	return su, true, nil
}

// ReviewAccess implements server.AccessReviewer.
func (r APIReviewer) ReviewAccess(ctx context.Context, a server.Attributes) (bool, string, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultReviewRequestDeadline)
	defer cancel()
	spec := &authorizationv1.SubjectAccessReviewSpec{
		User: a.User.Name, Uid: a.User.UID, Groups: a.User.Groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: a.Verb, Version: "v1", Resource: a.Resource, Subresource: a.Subresource, Name: a.Name},
	}
	keys := make([]string, 0, len(a.User.Extra))
	for k := range a.User.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		l := &structpb.ListValue{}
		for _, v := range a.User.Extra[k] {
			l.Values = append(l.Values, structpb.NewStringValue(v))
		}
		if spec.Extra == nil {
			spec.Extra = map[string]*structpb.ListValue{}
		}
		spec.Extra[k] = l
	}
	out, err := r.SubjectAccessReviews.Create(ctx, &authorizationv1.SubjectAccessReview{ApiVersion: authorizationv1.Group + "/v1", Kind: "SubjectAccessReview", Spec: spec})
	if err != nil {
		return false, "", fmt.Errorf("subject access review: %w", err)
	}
	st := out.(*authorizationv1.SubjectAccessReview).GetStatus()
	if !st.GetAllowed() && st.GetEvaluationError() != "" && st.GetReason() == "" {
		return false, "", fmt.Errorf("subject access review: %s", st.GetEvaluationError())
	}
	return st.GetAllowed(), st.GetReason(), nil
}

// parseAuthorizationMode checks --authorization-mode.
func parseAuthorizationMode(v string) (string, error) {
	switch v = strings.TrimSpace(v); v {
	case "", AuthorizationModeAlwaysAllow:
		return AuthorizationModeAlwaysAllow, nil
	case AuthorizationModeWebhook:
		return v, nil
	}
	return "", fmt.Errorf("--authorization-mode: unknown mode %q (known: %s, %s)", v, AuthorizationModeAlwaysAllow, AuthorizationModeWebhook)
}

// reviewers builds what the kubelet server authenticates tokens and
// authorizes requests with, from the flags; nil for what is off. c is
// the apiserver client (nil without one: then neither may be on).
func (o *Options) reviewers(c *client.Client) (server.TokenReviewer, server.AccessReviewer, error) {
	mode, err := parseAuthorizationMode(o.AuthorizationMode)
	if err != nil {
		return nil, nil, err
	}
	if !o.AuthenticationTokenWebhook && mode != AuthorizationModeWebhook {
		return nil, nil, nil
	}
	if c == nil {
		return nil, nil, fmt.Errorf("--authentication-token-webhook and --authorization-mode=Webhook need an apiserver (--kubeconfig or --server)")
	}
	api, err := NewAPIReviewer(c)
	if err != nil {
		return nil, nil, err
	}
	cached := &server.Cached{Tokens: api, Access: api, TokenTTL: o.AuthenticationTokenWebhookCacheTTL,
		AuthorizedTTL: o.AuthorizationWebhookCacheAuthorizedTTL, UnauthorizedTTL: o.AuthorizationWebhookCacheUnauthorizedTTL}
	var (
		tr server.TokenReviewer
		ar server.AccessReviewer
	)
	if o.AuthenticationTokenWebhook {
		tr = cached
	}
	if mode == AuthorizationModeWebhook {
		ar = cached
	}
	return tr, ar, nil
}
