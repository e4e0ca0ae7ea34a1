// Package auth holds the first two stages of the request path:
// authentication (who is calling) and authorization (may they do this).
// Both fronts (gRPC and REST) put what a request presents into its context
// with WithCredentials; authenticators read it back from there, so no
// authenticator knows which front a request came through.
package auth

import (
	"context"
	"crypto/x509"

	apierrors "minik8s/api/errors"
)

// User is the authenticated caller.
type User struct {
	Name   string
	UID    string
	Groups []string
	// Extra carries what an authenticator knows beyond name and groups
	// (a service-account token's pod name and uid, for example).
	Extra map[string][]string
}

// Well-known users and groups (Kubernetes' names).
const (
	UserAnonymous        = "system:anonymous"
	GroupUnauthenticated = "system:unauthenticated"
	GroupAuthenticated   = "system:authenticated"
	GroupMasters         = "system:masters"
	GroupNodes           = "system:nodes"
	GroupBootstrappers   = "system:bootstrappers"
	GroupServiceAccounts = "system:serviceaccounts"
	ServiceAccountPrefix = "system:serviceaccount:"
	NodeUserPrefix       = "system:node:"
	BootstrapUserPrefix  = "system:bootstrap:"
)

// Credentials are what one request presents.
type Credentials struct {
	// Certificates is the client's certificate chain (leaf first) as the
	// TLS handshake received it; nil without TLS or without a client
	// certificate. The x509 authenticator verifies it against its CA.
	Certificates []*x509.Certificate
	// BearerToken is the token of an "Authorization: Bearer" header (REST)
	// or of the "authorization" metadata (gRPC); empty when none.
	BearerToken string
}

type credentialsKey struct{}

// WithCredentials returns ctx carrying c. Each front calls it once per
// request, before anything authenticates.
func WithCredentials(ctx context.Context, c Credentials) context.Context {
	return context.WithValue(ctx, credentialsKey{}, c)
}

// CredentialsFrom returns what WithCredentials stored (zero when nothing).
func CredentialsFrom(ctx context.Context) Credentials {
	c, _ := ctx.Value(credentialsKey{}).(Credentials)
	return c
}

// Authenticator identifies the caller of a request from the credentials in
// its context.
type Authenticator interface {
	// Authenticate returns the caller and true; false (and no error) when
	// the request carries no credentials of the kind this authenticator
	// knows; an Unauthorized API error when it carries such credentials
	// and they are bad (expired, unknown, wrong CA).
	Authenticate(ctx context.Context) (user *User, ok bool, err error)
}

// TokenAuthenticator checks one bearer token; the same contract as
// Authenticator (false: not a token of this kind).
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (user *User, ok bool, err error)
}

// Union tries each authenticator in order. The first that recognizes the
// credentials decides; when none does, the caller is anonymous if
// AllowAnonymous and it presented no bearer token, else the request is
// refused with 401. Every authenticated user also gets the group
// system:authenticated.
type Union struct {
	Authenticators []Authenticator
	AllowAnonymous bool
}

// Authenticate implements the union.
func (u Union) Authenticate(ctx context.Context) (*User, bool, error) {
	for _, a := range u.Authenticators {
		user, ok, err := a.Authenticate(ctx)
		if err != nil {
			return nil, false, err
		}
		if ok {
			return withGroup(user, GroupAuthenticated), true, nil
		}
	}
	// A token nobody recognized is a bad credential, not an anonymous
	// request (Kubernetes answers 401 for it too).
	if u.AllowAnonymous && CredentialsFrom(ctx).BearerToken == "" {
		return &User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}}, true, nil
	}
	return nil, false, apierrors.NewUnauthorized("Unauthorized")
}

func withGroup(u *User, g string) *User {
	for _, have := range u.Groups {
		if have == g {
			return u
		}
	}
	c := *u
	c.Groups = append(append([]string(nil), u.Groups...), g)
	return &c
}

// Tokens adapts a TokenAuthenticator to an Authenticator: requests with no
// bearer token are not its business.
type Tokens struct{ TokenAuthenticator }

// Authenticate implements Authenticator.
func (t Tokens) Authenticate(ctx context.Context) (*User, bool, error) {
	tok := CredentialsFrom(ctx).BearerToken
	if tok == "" {
		return nil, false, nil
	}
	return t.AuthenticateToken(ctx, tok)
}

// Anonymous treats every caller as system:anonymous (the apiserver's
// --anonymous-auth, for requests with no credentials at all).
type Anonymous struct{}

// Authenticate always succeeds.
func (Anonymous) Authenticate(context.Context) (*User, bool, error) {
	return &User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}}, true, nil
}

type userKey struct{}

// WithUser returns ctx carrying the authenticated caller; the request
// path (apiserver/endpoints) sets it before calling a storage, so that
// storages that decide by caller (RBAC's escalation check) can read it.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the caller WithUser stored, or nil.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}
