package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// User is a caller of the kubelet API.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// Well-known users and groups (Kubernetes' names).
const (
	userAnonymous        = "system:anonymous"
	groupAuthenticated   = "system:authenticated"
	groupUnauthenticated = "system:unauthenticated"
)

// TokenReviewer checks a bearer token (--authentication-token-webhook:
// a TokenReview to the apiserver). ok is false for a token the apiserver
// does not accept; err is for failures to ask.
type TokenReviewer interface {
	ReviewToken(ctx context.Context, token string) (user *User, ok bool, err error)
}

// Attributes are what the kubelet asks the apiserver about one request:
// verb on nodes/SUBRESOURCE named after the node (Kubernetes' kubelet
// attributes), with the request's path for the record.
type Attributes struct {
	User        *User
	Verb        string
	Resource    string // always "nodes"
	Subresource string
	Name        string
	Path        string
}

// AccessReviewer decides a request (--authorization-mode=Webhook: a
// SubjectAccessReview to the apiserver). err is for failures to decide.
type AccessReviewer interface {
	ReviewAccess(ctx context.Context, a Attributes) (allowed bool, reason string, err error)
}

// RequestAttributes maps a request on the kubelet API to what the
// apiserver must allow, in order; allowing any one lets the request in.
// The verb follows the method (GET and HEAD get, POST create, PUT
// update, PATCH patch, DELETE delete), except that opening a stream
// (/exec, /attach, /portForward, /run) is always create; /stats, /metrics, /logs and /spec
// are nodes/stats, nodes/metrics, nodes/log and nodes/spec; /pods is
// nodes/pods, else nodes/proxy (Kubernetes' fine-grained kubelet
// authorization); everything else (exec, run, containerLogs,
// portForward, attach) is nodes/proxy.
func RequestAttributes(u *User, node string, r *http.Request) []Attributes {
	verb := map[string]string{http.MethodGet: "get", http.MethodHead: "get", http.MethodPost: "create",
		http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete"}[r.Method]
	if verb == "get" && streaming(r.URL.Path) {
		// A GET that upgrades to a stream runs commands as surely as a
		// POST: get on nodes/proxy must not be enough to exec.
		verb = "create"
	}
	at := func(sub string) Attributes {
		return Attributes{User: u, Verb: verb, Resource: "nodes", Subresource: sub, Name: node, Path: r.URL.Path}
	}
	p := r.URL.Path
	switch {
	case isSubpath(p, "/stats"):
		return []Attributes{at("stats")}
	case isSubpath(p, "/metrics"):
		return []Attributes{at("metrics")}
	case isSubpath(p, "/logs"):
		return []Attributes{at("log")}
	case isSubpath(p, "/spec"):
		return []Attributes{at("spec")}
	case isSubpath(p, "/pods"):
		return []Attributes{at("pods"), at("proxy")}
	}
	return []Attributes{at("proxy")}
}

// streaming says p opens a command or port stream into a pod.
func streaming(p string) bool {
	for _, prefix := range []string{"/exec", "/attach", "/portForward", "/run"} {
		if isSubpath(p, prefix) {
			return true
		}
	}
	return false
}

// isSubpath says p is prefix or below it.
func isSubpath(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// guard authenticates and authorizes every request but /healthz, as
// Kubernetes' kubelet does: a client certificate of the client CA (its
// common name the user, its organizations the groups), else a bearer
// token the TokenReviewer accepts, else system:anonymous when
// AnonymousAuth; anything else gets 401. Then the AccessReviewer (nil:
// everyone authenticated is allowed) must allow one of the request's
// attributes, or the request gets 403.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		u, err := s.authenticateRequest(r)
		if err != nil {
			slog.Debug("kubelet API: unauthenticated", "path", r.URL.Path, "err", err)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if s.cfg.Authorizer == nil {
			next.ServeHTTP(w, r)
			return
		}
		attrs := RequestAttributes(u, s.cfg.NodeName, r)
		var failed error
		for _, a := range attrs {
			ok, _, err := s.cfg.Authorizer.ReviewAccess(r.Context(), a)
			if err != nil {
				failed = err
				continue
			}
			if ok {
				next.ServeHTTP(w, r)
				return
			}
		}
		subs := make([]string, len(attrs))
		for i, a := range attrs {
			subs[i] = a.Subresource
		}
		what := fmt.Sprintf("user=%s, verb=%s, resource=%s, subresource=%s", u.Name, attrs[0].Verb, attrs[0].Resource, subs[0])
		if len(subs) > 1 {
			what = fmt.Sprintf("user=%s, verb=%s, resource=%s, subresource(s)=%v", u.Name, attrs[0].Verb, attrs[0].Resource, subs)
		}
		if failed != nil {
			slog.Warn("kubelet API: authorization failed", "path", r.URL.Path, "user", u.Name, "err", failed)
			http.Error(w, "Authorization error ("+what+")", http.StatusInternalServerError)
			return
		}
		http.Error(w, "Forbidden ("+what+")", http.StatusForbidden)
	})
}

func (s *Server) authenticateRequest(r *http.Request) (*User, error) {
	if u := certUser(r, s.cfg.ClientCAs); u != nil {
		return u, nil
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") && s.cfg.Tokens != nil {
		u, ok, err := s.cfg.Tokens.ReviewToken(r.Context(), strings.TrimSpace(h[7:]))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("invalid bearer token")
		}
		return withGroup(u, groupAuthenticated), nil
	}
	// Without token authentication a bearer token is not a credential
	// here, as in Kubernetes' kubelet; a rejected one is (401 above).
	if s.cfg.AnonymousAuth {
		return &User{Name: userAnonymous, Groups: []string{groupUnauthenticated}}, nil
	}
	return nil, fmt.Errorf("no credentials")
}

// certUser is the user of a client certificate that verifies against
// cas; nil when there is none.
func certUser(r *http.Request, cas *x509.CertPool) *User {
	if !verified(r, cas) {
		return nil
	}
	c := r.TLS.PeerCertificates[0]
	return &User{Name: c.Subject.CommonName, Groups: append(append([]string(nil), c.Subject.Organization...), groupAuthenticated)}
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

// Cached answers from memory what Reviewer answered before: tokens for
// TokenTTL (accepted or not), allowed requests for AuthorizedTTL, refused
// ones for UnauthorizedTTL (Kubernetes' --authentication-token-webhook-
// cache-ttl 2m, --authorization-webhook-cache-authorized-ttl 5m and
// --authorization-webhook-cache-unauthorized-ttl 30s). Failures to ask
// are never cached. A zero TTL does not cache.
type Cached struct {
	Tokens          TokenReviewer
	Access          AccessReviewer
	TokenTTL        time.Duration
	AuthorizedTTL   time.Duration
	UnauthorizedTTL time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	mu     sync.Mutex
	tokens map[string]tokenEntry
	access map[string]accessEntry
}

type tokenEntry struct {
	user    *User
	ok      bool
	expires time.Time
}

type accessEntry struct {
	allowed bool
	reason  string
	expires time.Time
}

var (
	_ TokenReviewer  = (*Cached)(nil)
	_ AccessReviewer = (*Cached)(nil)
)

func (c *Cached) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ReviewToken implements TokenReviewer.
func (c *Cached) ReviewToken(ctx context.Context, token string) (*User, bool, error) {
	now := c.now()
	c.mu.Lock()
	e, hit := c.tokens[token]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		return e.user, e.ok, nil
	}
	u, ok, err := c.Tokens.ReviewToken(ctx, token)
	if err != nil || c.TokenTTL <= 0 {
		return u, ok, err
	}
	c.mu.Lock()
	if c.tokens == nil {
		c.tokens = map[string]tokenEntry{}
	}
	c.sweepLocked(now)
	c.tokens[token] = tokenEntry{user: u, ok: ok, expires: now.Add(c.TokenTTL)}
	c.mu.Unlock()
	return u, ok, nil
}

// ReviewAccess implements AccessReviewer.
func (c *Cached) ReviewAccess(ctx context.Context, a Attributes) (bool, string, error) {
	key := accessKey(a)
	now := c.now()
	c.mu.Lock()
	e, hit := c.access[key]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		return e.allowed, e.reason, nil
	}
	allowed, reason, err := c.Access.ReviewAccess(ctx, a)
	if err != nil {
		return false, "", err
	}
	ttl := c.UnauthorizedTTL
	if allowed {
		ttl = c.AuthorizedTTL
	}
	if ttl > 0 {
		c.mu.Lock()
		if c.access == nil {
			c.access = map[string]accessEntry{}
		}
		c.sweepLocked(now)
		c.access[key] = accessEntry{allowed: allowed, reason: reason, expires: now.Add(ttl)}
		c.mu.Unlock()
	}
	return allowed, reason, nil
}

// sweepLocked drops expired entries once the maps grow, so a stream of
// distinct tokens cannot grow them without bound.
func (c *Cached) sweepLocked(now time.Time) {
	const limit = 4096
	if len(c.tokens) >= limit {
		for k, e := range c.tokens {
			if !now.Before(e.expires) {
				delete(c.tokens, k)
			}
		}
	}
	if len(c.access) >= limit {
		for k, e := range c.access {
			if !now.Before(e.expires) {
				delete(c.access, k)
			}
		}
	}
}

// accessKey is everything the answer depends on: the user (name, uid,
// groups, extra) and the attributes (not the path, which only records).
func accessKey(a Attributes) string {
	var b strings.Builder
	u := a.User
	if u == nil {
		u = &User{}
	}
	fmt.Fprintf(&b, "%q %q %q", u.Name, u.UID, u.Groups)
	if len(u.Extra) > 0 {
		keys := make([]string, 0, len(u.Extra))
		for k := range u.Extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %q=%q", k, u.Extra[k])
		}
	}
	fmt.Fprintf(&b, "|%q %q %q %q", a.Verb, a.Resource, a.Subresource, a.Name)
	return b.String()
}
