// Package bootstrap authenticates bootstrap tokens, the short-lived
// tokens a new node joins with: "ID.SECRET" (6 and 16 characters of
// [a-z0-9]) matching a Secret of type bootstrap.kubernetes.io/token named
// bootstrap-token-ID in kube-system. The caller becomes
// system:bootstrap:ID in group system:bootstrappers plus the Secret's
// auth-extra-groups, as in Kubernetes.
package bootstrap

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"regexp"
	"strings"
	"time"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
)

// Kubernetes' names for bootstrap token Secrets.
const (
	SecretType            = "bootstrap.kubernetes.io/token"
	Namespace             = "kube-system"
	SecretPrefix          = "bootstrap-token-"
	KeyTokenID            = "token-id"
	KeyTokenSecret        = "token-secret"
	KeyExpiration         = "expiration"
	KeyUsageAuthenticaton = "usage-bootstrap-authentication"
	KeyExtraGroups        = "auth-extra-groups"
)

var (
	tokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	groupRE = regexp.MustCompile(`^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`)
)

// Getter reads Secrets; generic.Store satisfies it.
type Getter interface {
	Get(ctx context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error)
}

// Authenticator checks bootstrap tokens against their Secrets.
type Authenticator struct {
	Getter Getter
	Now    func() time.Time
}

var _ auth.TokenAuthenticator = (*Authenticator)(nil)

// AuthenticateToken implements auth.TokenAuthenticator. A token not of the
// bootstrap form, or whose Secret does not exist, is not this
// authenticator's (false); a token whose Secret exists but does not
// match, has expired or is not for authentication is refused with 401.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*auth.User, bool, error) {
	m := tokenRE.FindStringSubmatch(token)
	if m == nil {
		return nil, false, nil
	}
	id, secret := m[1], m[2]
	k, err := scheme.ByResource("secrets")
	if err != nil {
		return nil, false, err
	}
	obj, err := a.Getter.Get(ctx, k, Namespace, SecretPrefix+id)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		slog.Warn("bootstrap token: reading its secret failed", "id", id, "err", err)
		return nil, false, apierrors.NewUnavailable("cannot check the bootstrap token now")
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	u, why := check(obj.(*corev1.Secret), id, secret, now)
	if u == nil {
		slog.Info("bootstrap token refused", "id", id, "reason", why)
		return nil, false, apierrors.NewUnauthorized("Unauthorized")
	}
	return u, true, nil
}

// check validates the Secret of token id against the presented secret and
// returns the user, or nil and why not (for the log, never the client).
func check(s *corev1.Secret, id, secret string, now time.Time) (*auth.User, string) {
	val := func(key string) string { return string(s.GetData()[key]) }
	switch {
	case s.GetType() != SecretType:
		return nil, "secret has type " + s.GetType()
	case s.GetMetadata().GetDeletionTimestamp() != nil:
		return nil, "secret is being deleted"
	case val(KeyTokenID) != id:
		return nil, "token-id does not match the secret's name"
	case subtle.ConstantTimeCompare([]byte(val(KeyTokenSecret)), []byte(secret)) != 1:
		return nil, "wrong token-secret"
	case val(KeyUsageAuthenticaton) != "true":
		return nil, "not usable for authentication"
	}
	if e := val(KeyExpiration); e != "" {
		exp, err := time.Parse(time.RFC3339, e)
		if err != nil {
			return nil, "unparsable expiration " + e
		}
		if !now.Before(exp) {
			return nil, "expired at " + e
		}
	}
	u := &auth.User{Name: auth.BootstrapUserPrefix + id, Groups: []string{auth.GroupBootstrappers}}
	if g := val(KeyExtraGroups); g != "" {
		for _, g := range strings.Split(g, ",") {
			g = strings.TrimSpace(g)
			if !groupRE.MatchString(g) {
				return nil, "auth-extra-groups: " + g + " is not a system:bootstrappers: group"
			}
			if g != auth.GroupBootstrappers {
				u.Groups = append(u.Groups, g)
			}
		}
	}
	return u, ""
}
