package auth

import (
	"context"
	"net/url"
	"slices"
	"strings"

	apierrors "minik8s/api/errors"
)

// The headers (REST) and, lower-cased, the metadata keys (gRPC) that ask
// to impersonate, as Kubernetes names them. Extra keys follow the prefix,
// percent-encoded.
const (
	ImpersonateUserHeader        = "Impersonate-User"
	ImpersonateGroupHeader       = "Impersonate-Group"
	ImpersonateUIDHeader         = "Impersonate-Uid"
	ImpersonateExtraHeaderPrefix = "Impersonate-Extra-"
)

// Impersonation is whom a request asks to act as.
type Impersonation struct {
	User   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// ImpersonationFrom reads the Impersonate-* entries of h, whose keys are
// canonical header names (REST) or lower-case metadata keys (gRPC); nil
// when there are none.
func ImpersonationFrom(h map[string][]string) *Impersonation {
	var im Impersonation
	found := false
	for k, vs := range h {
		lk := strings.ToLower(k)
		switch {
		case lk == strings.ToLower(ImpersonateUserHeader) && len(vs) > 0:
			im.User, found = vs[0], true
		case lk == strings.ToLower(ImpersonateGroupHeader):
			im.Groups, found = append(im.Groups, vs...), true
		case lk == strings.ToLower(ImpersonateUIDHeader) && len(vs) > 0:
			im.UID, found = vs[0], true
		case strings.HasPrefix(lk, strings.ToLower(ImpersonateExtraHeaderPrefix)):
			key := lk[len(ImpersonateExtraHeaderPrefix):]
			if u, err := url.PathUnescape(key); err == nil {
				key = u
			}
			if im.Extra == nil {
				im.Extra = map[string][]string{}
			}
			im.Extra[key], found = append(im.Extra[key], vs...), true
		}
	}
	if !found {
		return nil
	}
	return &im
}

// Impersonating authenticates with Authenticator, then, when the
// credentials ask to impersonate, checks with Authorizer that the caller
// may (verb "impersonate" on users, groups, serviceaccounts, uids and
// userextras/KEY, Kubernetes' attributes) and returns the impersonated
// user instead. Everything after it (the REST door, the request path,
// the reviews) sees only the impersonated user.
type Impersonating struct {
	Authenticator Authenticator
	Authorizer    Authorizer
}

// Authenticate implements Authenticator. A caller that may not
// impersonate gets Forbidden, as Kubernetes answers:
//
//	users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope
func (i Impersonating) Authenticate(ctx context.Context) (*User, bool, error) {
	u, ok, err := i.Authenticator.Authenticate(ctx)
	im := CredentialsFrom(ctx).Impersonate
	if err != nil || !ok || im == nil {
		return u, ok, err
	}
	out, err := Impersonate(ctx, i.Authorizer, u, im)
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// Impersonate checks that caller may act as im under z and returns the
// user im describes, with system:authenticated added (system:
// unauthenticated for system:anonymous) and, for a service account named
// without groups, its service-account groups.
func Impersonate(ctx context.Context, z Authorizer, caller *User, im *Impersonation) (*User, error) {
	if im.User == "" {
		return nil, apierrors.NewBadRequest("impersonating groups, a uid or extra fields requires impersonating a user (Impersonate-User)")
	}
	check := func(a Attributes) error {
		a.User, a.Verb = caller, "impersonate"
		return Check(ctx, z, a)
	}
	out := &User{Name: im.User, UID: im.UID, Groups: append([]string(nil), im.Groups...), Impersonator: caller}
	if ns, name, ok := serviceAccount(im.User); ok {
		if err := check(Attributes{Resource: "serviceaccounts", Namespace: ns, Name: name}); err != nil {
			return nil, err
		}
		if len(im.Groups) == 0 {
			out.Groups = []string{GroupServiceAccounts, GroupServiceAccounts + ":" + ns}
		}
	} else if err := check(Attributes{Resource: "users", Name: im.User}); err != nil {
		return nil, err
	}
	for _, g := range im.Groups {
		if err := check(Attributes{Resource: "groups", Name: g}); err != nil {
			return nil, err
		}
	}
	if im.UID != "" {
		if err := check(Attributes{Group: "authentication.k8s.io", Resource: "uids", Name: im.UID}); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(im.Extra))
	for k := range im.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range im.Extra[k] {
			if err := check(Attributes{Group: "authentication.k8s.io", Resource: "userextras", Subresource: k, Name: v}); err != nil {
				return nil, err
			}
		}
		if out.Extra == nil {
			out.Extra = map[string][]string{}
		}
		out.Extra[k] = append([]string(nil), im.Extra[k]...)
	}
	if out.Name == UserAnonymous {
		return withGroup(out, GroupUnauthenticated), nil
	}
	return withGroup(out, GroupAuthenticated), nil
}

// serviceAccount splits system:serviceaccount:NS:NAME.
func serviceAccount(user string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, ServiceAccountPrefix)
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return ns, name, true
}
