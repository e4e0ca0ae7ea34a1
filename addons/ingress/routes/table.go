// Package routes is the ingress controller's routing core: a pure function
// from the watched objects (IngressClasses, Ingresses, Services, Endpoints
// and kubernetes.io/tls Secrets) to an immutable Table that answers, for a
// request's host and path, which backend endpoints serve it, and, for a TLS
// ClientHello's server name, which certificate to present. Nothing here does
// I/O; the proxy swaps whole Tables.
//
// Matching follows networking.k8s.io/v1 as ingress-nginx applies it:
//   - a host picks one group of rules: the exact host if any rule names it,
//     else a wildcard "*.example.com" whose suffix it equals after dropping
//     exactly one leading label, else the rules without a host;
//   - within the group the longest path wins; at equal length Exact beats
//     Prefix; Prefix matches element-wise ("/foo" matches "/foo" and
//     "/foo/bar", not "/foobar"); ImplementationSpecific is Prefix;
//   - when no path of the group matches: the defaultBackend of the oldest
//     Ingress that sets one, else the built-in 404;
//   - two Ingresses claiming the same host, path and type: the older one
//     (creationTimestamp, then namespace/name) wins, the other is reported
//     as a Conflict.
package routes

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "minik8s/api/core/v1"
	networkingv1 "minik8s/api/networking/v1"
)

// Well-known names of the controller.
const (
	// ControllerName is spec.controller of the IngressClasses this
	// controller serves.
	ControllerName = "minik8s.io/ingress"
	// DefaultClassAnnotation marks the cluster's default IngressClass.
	DefaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
	// LegacyClassAnnotation is the pre-IngressClass way to name a class.
	LegacyClassAnnotation = "kubernetes.io/ingress.class"
	// SecretTypeTLS is the only Secret type TLS sections may name.
	SecretTypeTLS = "kubernetes.io/tls"
)

// PathType is an Ingress path's match rule.
type PathType string

// The path types of networking.k8s.io/v1.
const (
	Exact                  PathType = "Exact"
	Prefix                 PathType = "Prefix"
	ImplementationSpecific PathType = "ImplementationSpecific"
)

// Input is everything a Table is built from. Build reads it and keeps no
// reference to the objects, so the caller may hand in informer caches.
type Input struct {
	Classes   []*networkingv1.IngressClass
	Ingresses []*networkingv1.Ingress
	Services  []*corev1.Service
	Endpoints []*corev1.Endpoints
	Secrets   []*corev1.Secret
	// Controller is the controller name to serve (default ControllerName).
	Controller string
}

// Backend is where a route sends requests: a Service port resolved to the
// ready endpoints (IP:port) behind it. Endpoints is empty when the Service
// or its endpoints do not exist yet (the proxy answers 503).
type Backend struct {
	// Key names the backend stably across Tables ("ns/service:port"), so
	// the proxy can keep its round-robin position and connection pools.
	Key       string
	Namespace string
	Service   string
	Port      string // the Ingress's port: a number or a name
	Endpoints []string
	// Ingress is "namespace/name" of the Ingress the backend comes from,
	// the label of the proxy's metrics.
	Ingress string
	// Reason says why Endpoints is empty ("service not found", ...).
	Reason string
}

// Route is one path of one rule.
type Route struct {
	Host    string // "" for any host, "*.example.com" for a wildcard
	Path    string
	Type    PathType
	Backend *Backend
	Ingress string // namespace/name
}

// Conflict reports a route that an older Ingress shadows.
type Conflict struct {
	Host, Path string
	Type       PathType
	Winner     string // namespace/name of the Ingress that serves it
	Loser      string // namespace/name of the shadowed Ingress
}

func (c Conflict) String() string {
	return fmt.Sprintf("host %q path %q (%s): %s shadowed by the older %s", c.Host, c.Path, c.Type, c.Loser, c.Winner)
}

// Table is an immutable routing table. Its methods are safe for concurrent
// use; nothing changes it after Build.
type Table struct {
	exact     map[string][]*Route // host -> routes, best first
	wildcard  map[string][]*Route // suffix after "*." -> routes
	anyHost   []*Route
	def       *Backend // spec.defaultBackend, nil: the 404 backend
	ingresses []string // namespace/name of every Ingress served, sorted
	secrets   []string // namespace/name of every Secret named by a TLS section
	certs     map[string]*tls.Certificate
	wildCerts map[string]*tls.Certificate
	defCert   *tls.Certificate
	conflicts []Conflict
	problems  []string
}

// Empty is the Table before anything was watched: every request gets the
// 404 backend.
func Empty() *Table { return &Table{} }

// Match returns the route for a request to host (a Host header, the port
// is ignored) and path, or nil with the default backend (nil for the
// built-in 404) when nothing matches.
func (t *Table) Match(host, path string) (*Route, *Backend) {
	host = normalizeHost(host)
	group, ok := t.exact[host]
	if !ok {
		if _, suffix, found := strings.Cut(host, "."); found {
			group, ok = t.wildcard[suffix]
		}
	}
	if !ok {
		group = t.anyHost
	}
	if path == "" {
		path = "/"
	}
	for _, r := range group {
		if pathMatches(r.Type, r.Path, path) {
			return r, r.Backend
		}
	}
	return nil, t.def
}

// DefaultBackend is the backend of requests no rule matches, nil for the
// built-in 404.
func (t *Table) DefaultBackend() *Backend { return t.def }

// Certificate returns the certificate for a TLS server name: the exact
// host's, else a one-label wildcard's, else that of a TLS section without
// hosts, else nil (the caller's fallback).
func (t *Table) Certificate(serverName string) *tls.Certificate {
	host := normalizeHost(serverName)
	if c := t.certs[host]; c != nil {
		return c
	}
	if _, suffix, ok := strings.Cut(host, "."); ok {
		if c := t.wildCerts[suffix]; c != nil {
			return c
		}
	}
	return t.defCert
}

// Ingresses lists namespace/name of the Ingresses this table serves.
func (t *Table) Ingresses() []string { return t.ingresses }

// Secrets lists namespace/name of the Secrets the TLS sections name.
func (t *Table) Secrets() []string { return t.secrets }

// Conflicts lists the routes shadowed by older Ingresses.
func (t *Table) Conflicts() []Conflict { return t.conflicts }

// Problems lists what could not be used (a missing or invalid TLS Secret,
// an unknown service port), one sentence each.
func (t *Table) Problems() []string { return t.problems }

// Routes returns every route, grouped by host (exact hosts, wildcards, then
// the hostless group) in match order, for tests and debugging.
func (t *Table) Routes() []*Route {
	var out []*Route
	for _, m := range []map[string][]*Route{t.exact, t.wildcard} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, m[k]...)
		}
	}
	return append(out, t.anyHost...)
}

// normalizeHost lowercases and drops a port and a trailing dot.
func normalizeHost(h string) string {
	h = strings.ToLower(h)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimPrefix(strings.TrimSuffix(h, "]"), "[")
	return strings.TrimSuffix(h, ".")
}

// pathMatches applies one path rule. Prefix compares path elements, and a
// trailing slash in the rule is ignored ("/foo/" matches "/foo").
func pathMatches(typ PathType, rule, path string) bool {
	if typ == Exact {
		return path == rule
	}
	rule = strings.TrimRight(rule, "/")
	if rule == "" {
		return true
	}
	if !strings.HasPrefix(path, rule) {
		return false
	}
	return len(path) == len(rule) || path[len(rule)] == '/'
}

// Build makes the Table of in. It never fails: what cannot be used is
// left out and reported by Problems and Conflicts.
func Build(in Input) *Table {
	controller := in.Controller
	if controller == "" {
		controller = ControllerName
	}
	b := builder{
		t:         &Table{exact: map[string][]*Route{}, wildcard: map[string][]*Route{}, certs: map[string]*tls.Certificate{}, wildCerts: map[string]*tls.Certificate{}},
		services:  map[string]*corev1.Service{},
		endpoints: map[string]*corev1.Endpoints{},
		secrets:   map[string]*corev1.Secret{},
		backends:  map[string]*Backend{},
	}
	for _, s := range in.Services {
		b.services[key(s.GetMetadata().GetNamespace(), s.GetMetadata().GetName())] = s
	}
	for _, e := range in.Endpoints {
		b.endpoints[key(e.GetMetadata().GetNamespace(), e.GetMetadata().GetName())] = e
	}
	for _, s := range in.Secrets {
		b.secrets[key(s.GetMetadata().GetNamespace(), s.GetMetadata().GetName())] = s
	}
	ours := Served(in.Classes, in.Ingresses, controller)
	secretSet := map[string]bool{}
	type claim struct {
		route *Route
		owner *networkingv1.Ingress
	}
	claims := map[string]claim{} // host \x00 path \x00 type
	for _, ing := range ours {
		ingName := key(ing.GetMetadata().GetNamespace(), ing.GetMetadata().GetName())
		b.t.ingresses = append(b.t.ingresses, ingName)
		if db := ing.GetSpec().GetDefaultBackend(); db != nil && b.t.def == nil {
			b.t.def = b.backend(ing, db)
		}
		for _, rule := range ing.GetSpec().GetRules() {
			host := strings.ToLower(rule.GetHost())
			for _, p := range rule.GetHttp().GetPaths() {
				typ := PathType(p.GetPathType())
				if typ == "" || typ == ImplementationSpecific {
					typ = Prefix
				}
				path := p.GetPath()
				if path == "" {
					path = "/"
				}
				k := host + "\x00" + path + "\x00" + string(typ)
				if c, taken := claims[k]; taken {
					b.t.conflicts = append(b.t.conflicts, Conflict{Host: host, Path: path, Type: typ, Winner: c.route.Ingress, Loser: ingName})
					continue
				}
				r := &Route{Host: host, Path: path, Type: typ, Backend: b.backend(ing, p.GetBackend()), Ingress: ingName}
				claims[k] = claim{r, ing}
				switch {
				case host == "":
					b.t.anyHost = append(b.t.anyHost, r)
				case strings.HasPrefix(host, "*."):
					b.t.wildcard[host[2:]] = append(b.t.wildcard[host[2:]], r)
				default:
					b.t.exact[host] = append(b.t.exact[host], r)
				}
			}
		}
		for _, tlsSpec := range ing.GetSpec().GetTls() {
			if tlsSpec.GetSecretName() == "" {
				continue
			}
			sk := key(ing.GetMetadata().GetNamespace(), tlsSpec.GetSecretName())
			secretSet[sk] = true
			cert, err := b.certificate(sk)
			if err != nil {
				b.t.problems = append(b.t.problems, fmt.Sprintf("ingress %s: tls secret %s: %v", ingName, sk, err))
				continue
			}
			if len(tlsSpec.GetHosts()) == 0 && b.t.defCert == nil {
				b.t.defCert = cert
			}
			for _, h := range tlsSpec.GetHosts() {
				h = strings.ToLower(h)
				m, name := b.t.certs, h
				if strings.HasPrefix(h, "*.") {
					m, name = b.t.wildCerts, h[2:]
				}
				if m[name] == nil { // oldest Ingress wins
					m[name] = cert
				}
			}
		}
	}
	for _, m := range []map[string][]*Route{b.t.exact, b.t.wildcard} {
		for _, rs := range m {
			sortRoutes(rs)
		}
	}
	sortRoutes(b.t.anyHost)
	sort.Strings(b.t.ingresses)
	for s := range secretSet {
		b.t.secrets = append(b.t.secrets, s)
	}
	sort.Strings(b.t.secrets)
	return b.t
}

// sortRoutes puts the longest path first and, at equal length, Exact
// before Prefix. The sort is stable, so equal keys keep Ingress age order.
func sortRoutes(rs []*Route) {
	sort.SliceStable(rs, func(i, j int) bool {
		li, lj := len(strings.TrimRight(rs[i].Path, "/")), len(strings.TrimRight(rs[j].Path, "/"))
		if rs[i].Type == Exact {
			li = len(rs[i].Path)
		}
		if rs[j].Type == Exact {
			lj = len(rs[j].Path)
		}
		if li != lj {
			return li > lj
		}
		return rs[i].Type == Exact && rs[j].Type != Exact
	})
}

// Served returns the Ingresses of the classes whose controller is
// controller, oldest first (creationTimestamp, then namespace/name): those
// naming such a class by spec.ingressClassName or the legacy annotation,
// and those naming none when the cluster's default class is ours.
func Served(classes []*networkingv1.IngressClass, ingresses []*networkingv1.Ingress, controller string) []*networkingv1.Ingress {
	ours := map[string]bool{}
	var def *networkingv1.IngressClass
	for _, c := range classes {
		if c.GetMetadata().GetAnnotations()[DefaultClassAnnotation] == "true" {
			// Several defaults: the newest wins, as the DefaultIngressClass
			// admission plugin picks it in Kubernetes.
			if def == nil || olderMeta(def.GetMetadata().GetCreationTimestamp().AsTime(), def.GetMetadata().GetName(), c.GetMetadata().GetCreationTimestamp().AsTime(), c.GetMetadata().GetName()) {
				def = c
			}
		}
		if c.GetSpec().GetController() == controller {
			ours[c.GetMetadata().GetName()] = true
		}
	}
	defaultIsOurs := def != nil && ours[def.GetMetadata().GetName()]
	var out []*networkingv1.Ingress
	for _, ing := range ingresses {
		class := ""
		if ing.GetSpec() != nil && ing.GetSpec().IngressClassName != nil {
			class = ing.GetSpec().GetIngressClassName()
		} else {
			class = ing.GetMetadata().GetAnnotations()[LegacyClassAnnotation]
		}
		if (class == "" && defaultIsOurs) || (class != "" && ours[class]) {
			out = append(out, ing)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		mi, mj := out[i].GetMetadata(), out[j].GetMetadata()
		return olderMeta(mi.GetCreationTimestamp().AsTime(), key(mi.GetNamespace(), mi.GetName()), mj.GetCreationTimestamp().AsTime(), key(mj.GetNamespace(), mj.GetName()))
	})
	return out
}

func olderMeta(ti time.Time, ni string, tj time.Time, nj string) bool {
	if !ti.Equal(tj) {
		return ti.Before(tj)
	}
	return ni < nj
}

func key(ns, name string) string { return ns + "/" + name }

type builder struct {
	t         *Table
	services  map[string]*corev1.Service
	endpoints map[string]*corev1.Endpoints
	secrets   map[string]*corev1.Secret
	backends  map[string]*Backend
	parsed    map[string]certResult
}

type certResult struct {
	cert *tls.Certificate
	err  error
}

// backend resolves an Ingress backend to endpoints; identical backends of
// one Ingress share one *Backend.
func (b *builder) backend(ing *networkingv1.Ingress, ib *networkingv1.IngressBackend) *Backend {
	ns := ing.GetMetadata().GetNamespace()
	ingName := key(ns, ing.GetMetadata().GetName())
	sb := ib.GetService()
	if sb == nil {
		return &Backend{Key: ingName + "#resource", Namespace: ns, Ingress: ingName, Reason: "resource backends are not supported"}
	}
	port := sb.GetPort().GetName()
	if port == "" {
		port = fmt.Sprint(sb.GetPort().GetNumber())
	}
	k := key(ns, sb.GetName()) + ":" + port
	if be, ok := b.backends[ingName+"|"+k]; ok {
		return be
	}
	be := &Backend{Key: k, Namespace: ns, Service: sb.GetName(), Port: port, Ingress: ingName}
	b.backends[ingName+"|"+k] = be
	svc := b.services[key(ns, sb.GetName())]
	if svc == nil {
		be.Reason = "service " + key(ns, sb.GetName()) + " not found"
		return be
	}
	if svc.GetSpec().GetType() == "ExternalName" {
		be.Reason = "ExternalName services are not supported"
		return be
	}
	var sp *corev1.ServicePort
	for _, p := range svc.GetSpec().GetPorts() {
		if (sb.GetPort().GetName() != "" && p.GetName() == sb.GetPort().GetName()) ||
			(sb.GetPort().GetName() == "" && p.GetPort() == sb.GetPort().GetNumber()) {
			sp = p
			break
		}
	}
	if sp == nil {
		be.Reason = "service " + key(ns, sb.GetName()) + " has no port " + port
		b.t.problems = append(b.t.problems, fmt.Sprintf("ingress %s: %s", ingName, be.Reason))
		return be
	}
	if sp.GetProtocol() != "" && sp.GetProtocol() != "TCP" {
		be.Reason = "port " + port + " is not TCP"
		return be
	}
	// The Endpoints controller names each endpoint port after the service
	// port, so the name joins them; targetPort needs no resolving here.
	for _, sub := range b.endpoints[key(ns, sb.GetName())].GetSubsets() {
		for _, ep := range sub.GetPorts() {
			if ep.GetName() != sp.GetName() || (ep.GetProtocol() != "" && ep.GetProtocol() != "TCP") {
				continue
			}
			for _, a := range sub.GetAddresses() {
				be.Endpoints = append(be.Endpoints, joinHostPort(a.GetIp(), ep.GetPort()))
			}
		}
	}
	sort.Strings(be.Endpoints)
	if len(be.Endpoints) == 0 {
		be.Reason = "service " + key(ns, sb.GetName()) + " has no ready endpoints"
	}
	return be
}

func joinHostPort(ip string, port int32) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}

// certificate parses a kubernetes.io/tls Secret once per Build.
func (b *builder) certificate(secretKey string) (*tls.Certificate, error) {
	if b.parsed == nil {
		b.parsed = map[string]certResult{}
	}
	if r, ok := b.parsed[secretKey]; ok {
		return r.cert, r.err
	}
	r := certResult{}
	s := b.secrets[secretKey]
	switch {
	case s == nil:
		r.err = fmt.Errorf("not found (or not of type %s)", SecretTypeTLS)
	case s.GetType() != SecretTypeTLS:
		r.err = fmt.Errorf("type %q, want %s", s.GetType(), SecretTypeTLS)
	default:
		c, err := tls.X509KeyPair(s.GetData()["tls.crt"], s.GetData()["tls.key"])
		if err != nil {
			r.err = err
			break
		}
		if c.Leaf == nil && len(c.Certificate) > 0 {
			c.Leaf, _ = x509.ParseCertificate(c.Certificate[0])
		}
		r.cert = &c
	}
	b.parsed[secretKey] = r
	return r.cert, r.err
}
