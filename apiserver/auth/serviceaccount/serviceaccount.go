package serviceaccount

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
)

// DefaultIssuer is --service-account-issuer's default, kube-apiserver's
// in-cluster address.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// Extra keys a service-account user carries (Kubernetes' names).
const (
	ExtraPodName      = "authentication.kubernetes.io/pod-name"
	ExtraPodUID       = "authentication.kubernetes.io/pod-uid"
	ExtraNodeName     = "authentication.kubernetes.io/node-name"
	ExtraCredentialID = "authentication.kubernetes.io/credential-id"
)

// Getter reads the objects a token is bound to. generic.Store satisfies
// it; NotFound errors are minik8s/api/errors values.
type Getter interface {
	Get(ctx context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error)
}

// UserName is system:serviceaccount:NS:NAME.
func UserName(ns, name string) string { return auth.ServiceAccountPrefix + ns + ":" + name }

// SplitUserName is UserName's inverse; ok is false for other users.
func SplitUserName(user string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, auth.ServiceAccountPrefix)
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	return ns, name, ok && ns != "" && name != "" && !strings.Contains(name, ":")
}

// Issuer mints tokens (the TokenRequest subresource's back end).
type Issuer struct {
	Signer *Signer
	// Issuer is the iss claim (--service-account-issuer).
	Issuer string
	// Audiences is the aud claim when a request names none
	// (--api-audiences, default the issuer).
	Audiences []string
	Now       func() time.Time
}

// Binding is what a token is issued for: a service account, and
// optionally the pod or secret whose deletion revokes it.
type Binding struct {
	ServiceAccount *corev1.ServiceAccount
	Pod            *corev1.Pod
	Secret         *corev1.Secret
}

// Issue signs a token for b, valid for lifetime from now for audiences
// (the issuer's defaults when empty), and returns it with its expiry.
func (i *Issuer) Issue(b Binding, audiences []string, lifetime time.Duration) (string, time.Time, error) {
	now := time.Now()
	if i.Now != nil {
		now = i.Now()
	}
	if len(audiences) == 0 {
		audiences = i.Audiences
	}
	if len(audiences) == 0 {
		audiences = []string{i.Issuer}
	}
	sa := b.ServiceAccount.GetMetadata()
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	exp := now.Add(lifetime)
	c := &Claims{
		Issuer: i.Issuer, Subject: UserName(sa.GetNamespace(), sa.GetName()), Audience: audiences,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: exp.Unix(), ID: hex.EncodeToString(jti[:]),
		Kubernetes: &KubernetesClaims{Namespace: sa.GetNamespace(), ServiceAccount: Ref{Name: sa.GetName(), UID: sa.GetUid()}},
	}
	if b.Pod != nil {
		md := b.Pod.GetMetadata()
		c.Kubernetes.Pod = &Ref{Name: md.GetName(), UID: md.GetUid()}
	}
	if b.Secret != nil {
		md := b.Secret.GetMetadata()
		c.Kubernetes.Secret = &Ref{Name: md.GetName(), UID: md.GetUid()}
	}
	tok, err := i.Signer.Sign(c)
	return tok, time.Unix(exp.Unix(), 0), err
}

type audiencesKey struct{}

// WithAudiences makes the authenticator accept tokens for audiences
// instead of its own (TokenReview's spec.audiences).
func WithAudiences(ctx context.Context, audiences []string) context.Context {
	return context.WithValue(ctx, audiencesKey{}, audiences)
}

// Authenticator verifies service-account tokens and their binding.
type Authenticator struct {
	// Issuers are the accepted iss values; a token of another issuer is
	// not this authenticator's business (false, no error).
	Issuers []string
	// Keys verify signatures (--service-account-key-file).
	Keys []PublicKey
	// Audiences the token must name at least one of (--api-audiences).
	Audiences []string
	// Getter finds the service account and the bound pod or secret.
	Getter Getter
	Now    func() time.Time
}

var _ auth.TokenAuthenticator = (*Authenticator)(nil)

// Why a token is refused; for logs and tests only.
var (
	ErrExpired      = errors.New("token has expired")
	ErrNotYetValid  = errors.New("token is not valid yet")
	ErrAudience     = errors.New("token audience does not match")
	ErrIssuer       = errors.New("token issuer does not match")
	ErrClaims       = errors.New("token lacks service-account claims")
	ErrBindingGone  = errors.New("bound object not found or replaced")
	ErrAccountGone  = errors.New("service account not found or replaced")
	errLookupFailed = errors.New("looking up the bound objects failed")
)

// clockSkew tolerates apiservers whose clocks differ a little: a token
// minted by one is accepted by another a few seconds behind.
const clockSkew = 60 * time.Second

// AuthenticateToken implements auth.TokenAuthenticator. Tokens that are
// not JWTs of one of its issuers are not its business; its own tokens
// that fail verification are refused with a bare 401.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*auth.User, bool, error) {
	c, err := Parse(token)
	if err != nil || !slices.Contains(a.Issuers, c.Issuer) {
		return nil, false, nil
	}
	u, err := a.Verify(ctx, token)
	if err != nil {
		slog.Info("service account token refused", "sub", c.Subject, "reason", err)
		if errors.Is(err, errLookupFailed) {
			return nil, false, apierrors.NewUnavailable("cannot check the service account token now")
		}
		return nil, false, apierrors.NewUnauthorized("Unauthorized")
	}
	return u, true, nil
}

// Verify checks a token completely (signature, issuer, audience, times,
// binding) and returns its user; errors wrap the Err values above.
func (a *Authenticator) Verify(ctx context.Context, token string) (*auth.User, error) {
	c, err := verifySignature(token, a.Keys)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	auds := a.Audiences
	if v, ok := ctx.Value(audiencesKey{}).([]string); ok && len(v) > 0 {
		auds = v
	}
	switch {
	case !slices.Contains(a.Issuers, c.Issuer):
		return nil, ErrIssuer
	case !slices.ContainsFunc(c.Audience, func(s string) bool { return slices.Contains(auds, s) }):
		return nil, ErrAudience
	case c.Expiry == 0 || !now.Before(time.Unix(c.Expiry, 0)):
		return nil, ErrExpired
	case c.NotBefore != 0 && now.Add(clockSkew).Before(time.Unix(c.NotBefore, 0)):
		return nil, ErrNotYetValid
	}
	k := c.Kubernetes
	ns, name, ok := SplitUserName(c.Subject)
	if k == nil || !ok || k.Namespace != ns || k.ServiceAccount.Name != name || k.ServiceAccount.UID == "" {
		return nil, ErrClaims
	}
	u := &auth.User{
		Name: c.Subject, UID: k.ServiceAccount.UID,
		Groups: []string{auth.GroupServiceAccounts, auth.GroupServiceAccounts + ":" + ns},
		Extra:  map[string][]string{},
	}
	if c.ID != "" {
		u.Extra[ExtraCredentialID] = []string{"JTI=" + c.ID}
	}
	if err := a.checkBinding(ctx, now, k, u); err != nil {
		return nil, err
	}
	return u, nil
}

// checkBinding looks the service account and the bound object up: each
// must exist with the uid the token names.
func (a *Authenticator) checkBinding(ctx context.Context, now time.Time, k *KubernetesClaims, u *auth.User) error {
	if a.Getter == nil {
		return nil
	}
	get := func(resource, name, uid string, gone error) (scheme.Object, error) {
		kind, err := scheme.ByResource(resource)
		if err != nil {
			return nil, err
		}
		obj, err := a.Getter.Get(ctx, kind, k.Namespace, name)
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %s %s/%s", gone, resource, k.Namespace, name)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errLookupFailed, err)
		}
		md := obj.GetMetadata()
		if md.GetUid() != uid {
			return nil, fmt.Errorf("%w: %s %s/%s has uid %s, token names %s", gone, resource, k.Namespace, name, md.GetUid(), uid)
		}
		// Kubernetes keeps a token of an object being deleted valid for
		// a minute past its deletion time, then refuses it.
		if dt := md.GetDeletionTimestamp(); dt != nil && dt.AsTime().Before(now.Add(-clockSkew)) {
			return nil, fmt.Errorf("%w: %s %s/%s is being deleted", gone, resource, k.Namespace, name)
		}
		return obj, nil
	}
	if _, err := get("serviceaccounts", k.ServiceAccount.Name, k.ServiceAccount.UID, ErrAccountGone); err != nil {
		return err
	}
	if p := k.Pod; p != nil {
		obj, err := get("pods", p.Name, p.UID, ErrBindingGone)
		if err != nil {
			return err
		}
		u.Extra[ExtraPodName] = []string{p.Name}
		u.Extra[ExtraPodUID] = []string{p.UID}
		if n := obj.(*corev1.Pod).GetSpec().GetNodeName(); n != "" {
			u.Extra[ExtraNodeName] = []string{n}
		}
	}
	if s := k.Secret; s != nil {
		if _, err := get("secrets", s.Name, s.UID, ErrBindingGone); err != nil {
			return err
		}
	}
	return nil
}
