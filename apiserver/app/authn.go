package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/admission"
	"minik8s/apiserver/auth"
	bootstraptoken "minik8s/apiserver/auth/bootstrap"
	"minik8s/apiserver/auth/serviceaccount"
	"minik8s/apiserver/auth/tokenfile"
	"minik8s/apiserver/endpoints"
	"minik8s/apiserver/registry/authentication"
	"minik8s/apiserver/registry/generic"
)

// AuthenticationOptions are kube-apiserver's flags for bearer-token
// authentication and service-account tokens.
type AuthenticationOptions struct {
	TokenAuthFile            string
	EnableBootstrapTokenAuth bool
	// ServiceAccountKeyFiles verify tokens; default: the signing key's
	// public half.
	ServiceAccountKeyFiles        []string
	ServiceAccountSigningKeyFile  string
	ServiceAccountIssuers         []string // the first signs; all are accepted
	APIAudiences                  []string // default: the first issuer
	ServiceAccountMaxTokenExpires time.Duration
}

// AddFlags registers the options on fs.
func (o *AuthenticationOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.TokenAuthFile, "token-auth-file", "", "CSV file of static bearer tokens: token,user,uid,\"group1,group2\"")
	fs.BoolVar(&o.EnableBootstrapTokenAuth, "enable-bootstrap-token-auth", false,
		"accept bootstrap tokens (Secrets of type bootstrap.kubernetes.io/token in kube-system) as bearer tokens")
	fs.Var((*listFlag)(&o.ServiceAccountKeyFiles), "service-account-key-file",
		"PEM file of public keys (or certificates, or private keys) verifying service-account tokens; repeatable or comma-separated (default: the signing key)")
	fs.StringVar(&o.ServiceAccountSigningKeyFile, "service-account-signing-key-file", "",
		"PEM private key (RSA or ECDSA P-256) signing service-account tokens; without it the serviceaccounts/token subresource is not served")
	fs.Var((*listFlag)(&o.ServiceAccountIssuers), "service-account-issuer",
		"iss claim of service-account tokens; repeatable: the first signs, all are accepted (default "+serviceaccount.DefaultIssuer+")")
	fs.Var((*listFlag)(&o.APIAudiences), "api-audiences", "audiences a service-account token must name one of, comma-separated (default: the issuer)")
	fs.DurationVar(&o.ServiceAccountMaxTokenExpires, "service-account-max-token-expiration", 0,
		"longest lifetime of a requested service-account token (0: 2^32 seconds)")
}

// listFlag is a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// Validate checks the flags that need no files.
func (o *AuthenticationOptions) Validate() error {
	for _, iss := range o.ServiceAccountIssuers {
		if strings.Contains(iss, ":") && !strings.HasPrefix(iss, "https://") {
			return fmt.Errorf("--service-account-issuer %q: a URL issuer must use https", iss)
		}
	}
	if o.ServiceAccountMaxTokenExpires < 0 || (o.ServiceAccountMaxTokenExpires > 0 && o.ServiceAccountMaxTokenExpires < time.Hour) {
		return errors.New("--service-account-max-token-expiration: must be 0 or at least 1h")
	}
	return nil
}

// Authentication is what the options build: the token authenticators for
// the apiserver's auth.Union and what serves service-account tokens.
type Authentication struct {
	// Authenticators in Kubernetes' order: static tokens, bootstrap
	// tokens, service-account tokens. The X.509 authenticator goes first.
	Authenticators []auth.Authenticator
	// Issuer signs tokens; nil without --service-account-signing-key-file.
	Issuer *serviceaccount.Issuer
	// Keys verify service-account tokens and are published as the JWKS.
	Keys          []serviceaccount.PublicKey
	IssuerURL     string
	Audiences     []string
	MaxExpiration time.Duration
	getter        serviceaccount.Getter
}

// Build reads the files the options name. getter finds service accounts,
// pods and secrets (StoreGetter in the apiserver).
func (o *AuthenticationOptions) Build(getter serviceaccount.Getter) (*Authentication, error) {
	a := &Authentication{IssuerURL: serviceaccount.DefaultIssuer, MaxExpiration: o.ServiceAccountMaxTokenExpires, getter: getter}
	issuers := o.ServiceAccountIssuers
	if len(issuers) > 0 {
		a.IssuerURL = issuers[0]
	} else {
		issuers = []string{a.IssuerURL}
	}
	a.Audiences = o.APIAudiences
	if len(a.Audiences) == 0 {
		a.Audiences = []string{a.IssuerURL}
	}
	if o.TokenAuthFile != "" {
		tf, err := tokenfile.ReadFile(o.TokenAuthFile)
		if err != nil {
			return nil, fmt.Errorf("--token-auth-file: %w", err)
		}
		a.Authenticators = append(a.Authenticators, auth.Tokens{TokenAuthenticator: tf})
	}
	if o.EnableBootstrapTokenAuth {
		a.Authenticators = append(a.Authenticators, auth.Tokens{TokenAuthenticator: &bootstraptoken.Authenticator{Getter: getter}})
	}
	if o.ServiceAccountSigningKeyFile != "" {
		s, err := serviceaccount.ReadSigningKey(o.ServiceAccountSigningKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--service-account-signing-key-file: %w", err)
		}
		a.Issuer = &serviceaccount.Issuer{Signer: s, Issuer: a.IssuerURL, Audiences: a.Audiences}
		if len(o.ServiceAccountKeyFiles) == 0 {
			k, err := serviceaccount.NewPublicKey(s.Public())
			if err != nil {
				return nil, err
			}
			a.Keys = append(a.Keys, k)
		}
	}
	for _, f := range o.ServiceAccountKeyFiles {
		keys, err := serviceaccount.ReadPublicKeys(f)
		if err != nil {
			return nil, fmt.Errorf("--service-account-key-file: %w", err)
		}
		a.Keys = append(a.Keys, keys...)
	}
	if len(a.Keys) > 0 {
		a.Authenticators = append(a.Authenticators, auth.Tokens{TokenAuthenticator: &serviceaccount.Authenticator{
			Issuers: issuers, Keys: a.Keys, Audiences: a.Audiences, Getter: getter}})
	}
	return a, nil
}

// Install serves the authentication.k8s.io resources on api
// (selfsubjectreviews, tokenreviews, and serviceaccounts/token when there
// is a signing key), checking with api's authenticator. Call it before
// serving: endpoints.API is not safe for registration while it serves.
func (a *Authentication) Install(api *endpoints.API) {
	api.Register("selfsubjectreviews", authentication.SelfSubjectReviews{Authenticator: api.Authenticator})
	api.Register("tokenreviews", authentication.TokenReviews{Authenticator: api.Authenticator, Audiences: a.Audiences})
	if a.Issuer != nil {
		api.Register("serviceaccounts/token", authentication.TokenRequests{Getter: a.getter, Issuer: a.Issuer, MaxExpiration: a.MaxExpiration})
	}
}

// InstallOpenID serves the OIDC discovery documents
// (/.well-known/openid-configuration, /openid/v1/jwks) on mux when there
// are service-account keys.
func (a *Authentication) InstallOpenID(mux *http.ServeMux) {
	if len(a.Keys) > 0 {
		h := serviceaccount.OpenID(a.IssuerURL, a.Keys)
		mux.Handle(serviceaccount.OpenIDConfigPath, h)
		mux.Handle(serviceaccount.JWKSPath, h)
	}
}

// StoreGetter reads objects from the watch cache, and from storage when
// the cache does not have them (created a moment ago, or really gone):
// token checks stay off etcd on the hot path, and a deleted pod's token
// stops working as soon as the cache sees the deletion.
func StoreGetter(st *generic.Store) serviceaccount.Getter { return storeGetter{st} }

type storeGetter struct{ st *generic.Store }

func (g storeGetter) Get(ctx context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error) {
	if c := g.st.Cache(k); c != nil {
		if obj, ok := c.Get(ns, name); ok {
			return obj, nil
		}
	}
	return g.st.Get(ctx, k, ns, name)
}

// ServiceAccountAdmission is the ServiceAccount admission plugin reading
// service accounts from the watch cache, then storage. It belongs after
// NamespaceLifecycle; pods it admits need the kube-root-ca.crt ConfigMap
// (the controller-manager's root-ca-cert-publisher) and a kubelet that
// requests tokens.
func ServiceAccountAdmission(st *generic.Store) admission.Plugin {
	return serviceAccountAdmission(st, true)
}

// serviceAccountAdmission is ServiceAccountAdmission, mounting tokens
// only when the apiserver can issue them.
func serviceAccountAdmission(st *generic.Store, tokens bool) admission.ServiceAccount {
	get := StoreGetter(st)
	saKind, _ := scheme.ByResource("serviceaccounts")
	return admission.ServiceAccount{NoTokens: !tokens, DefaultAccountWait: admission.DefaultAccountWait,
		Get: func(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
			obj, err := get.Get(ctx, saKind, ns, name)
			if err != nil {
				return nil, err
			}
			return obj.(*corev1.ServiceAccount), nil
		}}
}
