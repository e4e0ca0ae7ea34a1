package routes

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	networkingv1 "minik8s/api/networking/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func class(name, controller string, def bool) *networkingv1.IngressClass {
	c := &networkingv1.IngressClass{Metadata: &metav1.ObjectMeta{Name: name, CreationTimestamp: timestamppb.New(t0)}, Spec: &networkingv1.IngressClassSpec{Controller: controller}}
	if def {
		c.Metadata.Annotations = map[string]string{DefaultClassAnnotation: "true"}
	}
	return c
}

// path is "TYPE /p -> svc:port".
type path struct{ typ, path, svc string }

func rule(host string, paths ...path) *networkingv1.IngressRule {
	r := &networkingv1.IngressRule{Host: host, Http: &networkingv1.HTTPIngressRuleValue{}}
	for _, p := range paths {
		r.Http.Paths = append(r.Http.Paths, &networkingv1.HTTPIngressPath{Path: p.path, PathType: new(p.typ), Backend: svcBackend(p.svc)})
	}
	return r
}

func svcBackend(svc string) *networkingv1.IngressBackend {
	return &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: &networkingv1.ServiceBackendPort{Number: 80}}}
}

func ingress(name string, age int, class string, rules ...*networkingv1.IngressRule) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: timestamppb.New(t0.Add(time.Duration(age) * time.Minute))},
		Spec:     &networkingv1.IngressSpec{Rules: rules},
	}
	if class != "" {
		ing.Spec.IngressClassName = new(class)
	}
	return ing
}

// service makes svc with port 80 named "http" and one endpoint per IP on 8080.
func service(name string, ips ...string) (*corev1.Service, *corev1.Endpoints) {
	s := &corev1.Service{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: &corev1.ServiceSpec{Ports: []*corev1.ServicePort{{Name: "http", Port: 80, Protocol: "TCP"}}}}
	e := &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if len(ips) > 0 {
		sub := &corev1.EndpointSubset{Ports: []*corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}}}
		for _, ip := range ips {
			sub.Addresses = append(sub.Addresses, &corev1.EndpointAddress{Ip: ip})
		}
		e.Subsets = []*corev1.EndpointSubset{sub}
	}
	return s, e
}

// fixture is a cluster with every kind of rule; the services are named
// after what they should serve.
func fixture() Input {
	in := Input{Classes: []*networkingv1.IngressClass{class("minik8s", ControllerName, true), class("other", "example.com/other", false)}}
	for i, name := range []string{"exact-foo", "prefix-foo", "prefix-foo-bar", "root", "wild", "wild-api", "any", "any-api", "older", "newer", "default", "other-class", "legacy"} {
		s, e := service(name, fmt.Sprintf("10.0.0.%d", i+1))
		in.Services = append(in.Services, s)
		in.Endpoints = append(in.Endpoints, e)
	}
	withDefault := ingress("with-default", 3, "minik8s")
	withDefault.Spec.DefaultBackend = svcBackend("default")
	legacy := ingress("legacy", 9, "", rule("legacy.example.com", path{"Prefix", "/", "legacy"}))
	legacy.Metadata.Annotations = map[string]string{LegacyClassAnnotation: "minik8s"}
	in.Ingresses = []*networkingv1.Ingress{
		ingress("site", 1, "minik8s", rule("foo.example.com",
			path{"Exact", "/foo", "exact-foo"},
			path{"Prefix", "/foo", "prefix-foo"},
			path{"Prefix", "/foo/bar/", "prefix-foo-bar"},
			path{"ImplementationSpecific", "/", "root"},
		)),
		ingress("wildcard", 2, "", rule("*.example.com", path{"Prefix", "/", "wild"}, path{"Prefix", "/api", "wild-api"})),
		withDefault,
		ingress("catch-all", 4, "minik8s", rule("", path{"Prefix", "/", "any"}, path{"Exact", "/api", "any-api"})),
		// Same host, path and type twice: the older Ingress wins whatever the order.
		ingress("newer", 6, "minik8s", rule("dup.example.com", path{"Prefix", "/", "newer"})),
		ingress("older", 5, "minik8s", rule("dup.example.com", path{"Prefix", "/", "older"})),
		ingress("foreign", 0, "other", rule("foreign.example.com", path{"Prefix", "/", "other-class"})),
		legacy,
	}
	return in
}

func TestMatch(t *testing.T) {
	tab := Build(fixture())
	for _, tc := range []struct {
		host, path, want string
	}{
		{"foo.example.com", "/foo", "exact-foo"},            // Exact beats Prefix at equal length
		{"foo.example.com", "/foo/", "prefix-foo"},          // Exact does not match a trailing slash
		{"foo.example.com", "/foo/baz", "prefix-foo"},       // element-wise prefix
		{"foo.example.com", "/foobar", "root"},              // "/foo" is not a string prefix match
		{"foo.example.com", "/foo/bar", "prefix-foo-bar"},   // a rule's trailing slash is ignored
		{"foo.example.com", "/foo/bar/x", "prefix-foo-bar"}, // longest prefix wins
		{"foo.example.com", "/foo/barx", "prefix-foo"},      // element-wise again
		{"FOO.Example.COM:8080", "/", "root"},               // case and port ignored
		{"foo.example.com.", "/", "root"},                   // trailing dot
		{"bar.example.com", "/", "wild"},                    // wildcard: one label
		{"bar.example.com", "/api/v1", "wild-api"},          // longest path within the wildcard
		{"a.bar.example.com", "/", "any"},                   // wildcard matches one label only
		{"example.com", "/", "any"},                         // nor the bare suffix
		{"unknown.test", "/api", "any-api"},                 // hostless rules
		{"unknown.test", "/api/x", "any"},                   // Exact /api does not match /api/x
		{"dup.example.com", "/", "older"},                   // conflict: oldest wins
		{"legacy.example.com", "/", "legacy"},               // kubernetes.io/ingress.class
		{"foreign.example.com", "/", "wild"},                // another controller's class is ignored
		{"10.1.2.3:30080", "/x", "any"},                     // an IP Host header
		{"[fd00::1]:30080", "/", "any"},                     // an IPv6 one
	} {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			_, be := tab.Match(tc.host, tc.path)
			if be == nil || be.Service != tc.want {
				t.Fatalf("Match(%q, %q) = %+v, want service %s", tc.host, tc.path, be, tc.want)
			}
			if len(be.Endpoints) != 1 {
				t.Errorf("endpoints %v, want one", be.Endpoints)
			}
		})
	}
}

func TestDefaultBackendAnd404(t *testing.T) {
	in := fixture()
	in.Ingresses = in.Ingresses[:3] // site, wildcard, with-default: no catch-all
	tab := Build(in)
	if r, be := tab.Match("nowhere.test", "/"); r != nil || be == nil || be.Service != "default" {
		t.Errorf("unknown host: route %v backend %+v, want spec.defaultBackend", r, be)
	}
	// A host group without a matching path falls to the default backend,
	// not to other groups (as ingress-nginx's server blocks do).
	in.Ingresses = []*networkingv1.Ingress{in.Ingresses[0], in.Ingresses[2]}
	in.Ingresses[0].Spec.Rules[0].Http.Paths = in.Ingresses[0].Spec.Rules[0].Http.Paths[:1]
	if _, be := Build(in).Match("foo.example.com", "/other"); be == nil || be.Service != "default" {
		t.Errorf("no path in host group: %+v, want the default backend", be)
	}
	in.Ingresses = in.Ingresses[:1]
	if r, be := Build(in).Match("nowhere.test", "/"); r != nil || be != nil {
		t.Errorf("no default backend: %v %+v, want nil (the built-in 404)", r, be)
	}
	if r, be := Empty().Match("x", "/"); r != nil || be != nil {
		t.Errorf("empty table: %v %+v", r, be)
	}
}

func TestClasses(t *testing.T) {
	noClass := ingress("no-class", 1, "", rule("a.test", path{"Prefix", "/", "s"}))
	named := ingress("named", 2, "minik8s", rule("b.test", path{"Prefix", "/", "s"}))
	for _, tc := range []struct {
		name    string
		classes []*networkingv1.IngressClass
		want    string
	}{
		{"ours and default", []*networkingv1.IngressClass{class("minik8s", ControllerName, true)}, "default/named default/no-class"},
		{"ours, not default", []*networkingv1.IngressClass{class("minik8s", ControllerName, false)}, "default/named"},
		{"another default", []*networkingv1.IngressClass{class("minik8s", ControllerName, false), class("x", "x.io/x", true)}, "default/named"},
		{"no class objects", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Build(Input{Classes: tc.classes, Ingresses: []*networkingv1.Ingress{noClass, named}}).Ingresses()
			if strings.Join(got, " ") != tc.want {
				t.Errorf("served %v, want %q", got, tc.want)
			}
		})
	}
}

func TestBackendResolution(t *testing.T) {
	svc, ep := service("web", "10.0.0.2", "10.0.0.1")
	ep.Subsets[0].NotReadyAddresses = []*corev1.EndpointAddress{{Ip: "10.0.0.9"}}
	ep.Subsets = append(ep.Subsets, &corev1.EndpointSubset{Addresses: []*corev1.EndpointAddress{{Ip: "10.0.0.3"}}, Ports: []*corev1.EndpointPort{{Name: "metrics", Port: 9090}}})
	ext := &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "ext", Namespace: "default"}, Spec: &corev1.ServiceSpec{Type: "ExternalName"}}
	named := rule("named.test", path{"Prefix", "/", "web"})
	named.Http.Paths[0].Backend.Service.Port = &networkingv1.ServiceBackendPort{Name: "http"}
	in := Input{
		Classes:   []*networkingv1.IngressClass{class("minik8s", ControllerName, true)},
		Services:  []*corev1.Service{svc, ext},
		Endpoints: []*corev1.Endpoints{ep},
		Ingresses: []*networkingv1.Ingress{ingress("i", 0, "", named,
			rule("num.test", path{"Prefix", "/", "web"}),
			rule("missing.test", path{"Prefix", "/", "nope"}),
			rule("ext.test", path{"Prefix", "/", "ext"}),
		)},
	}
	in.Ingresses[0].Spec.Rules = append(in.Ingresses[0].Spec.Rules, rule("badport.test", path{"Prefix", "/", "web"}))
	in.Ingresses[0].Spec.Rules[4].Http.Paths[0].Backend.Service.Port.Number = 81
	tab := Build(in)
	for _, tc := range []struct{ host, endpoints, reason string }{
		{"named.test", "10.0.0.1:8080 10.0.0.2:8080", ""},
		{"num.test", "10.0.0.1:8080 10.0.0.2:8080", ""},
		{"missing.test", "", "not found"},
		{"ext.test", "", "ExternalName"},
		{"badport.test", "", "no port 81"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			_, be := tab.Match(tc.host, "/")
			if got := strings.Join(be.Endpoints, " "); got != tc.endpoints || !strings.Contains(be.Reason, tc.reason) {
				t.Errorf("endpoints %q reason %q, want %q and a reason with %q", got, be.Reason, tc.endpoints, tc.reason)
			}
		})
	}
}

// TestGolden dumps the fixture's whole table: routes in match order and
// the conflicts, in testdata/table.golden (go test -update rewrites it).
func TestGolden(t *testing.T) {
	tab := Build(fixture())
	var b bytes.Buffer
	fmt.Fprintf(&b, "ingresses: %s\n", strings.Join(tab.Ingresses(), " "))
	for _, r := range tab.Routes() {
		host := r.Host
		if host == "" {
			host = "*"
		}
		fmt.Fprintf(&b, "%-20s %-8s %-10s -> %-32s %s (%s)\n", host, r.Type, r.Path, r.Backend.Key, strings.Join(r.Backend.Endpoints, ","), r.Ingress)
	}
	fmt.Fprintf(&b, "default: %s\n", tab.DefaultBackend().Key)
	for _, c := range tab.Conflicts() {
		fmt.Fprintf(&b, "conflict: %s\n", c)
	}
	golden := filepath.Join("testdata", "table.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("table differs from %s (go test -update if intended):\n%s", golden, b.String())
	}
}

func TestCertificates(t *testing.T) {
	crt, key := selfSigned(t, "a.test")
	wcrt, wkey := selfSigned(t, "*.wild.test")
	dcrt, dkey := selfSigned(t, "default")
	secret := func(name, typ string, c, k []byte) *corev1.Secret {
		return &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}, Type: typ, Data: map[string][]byte{"tls.crt": c, "tls.key": k}}
	}
	ing := ingress("tls", 0, "", rule("a.test", path{"Prefix", "/", "s"}))
	ing.Spec.Tls = []*networkingv1.IngressTLS{
		{Hosts: []string{"a.test"}, SecretName: "a"},
		{Hosts: []string{"*.wild.test"}, SecretName: "wild"},
		{SecretName: "def"},
		{Hosts: []string{"opaque.test"}, SecretName: "opaque"},
		{Hosts: []string{"missing.test"}, SecretName: "missing"},
	}
	newer := ingress("newer", 1, "", rule("a.test", path{"Prefix", "/x", "s"}))
	newer.Spec.Tls = []*networkingv1.IngressTLS{{Hosts: []string{"a.test"}, SecretName: "wild"}}
	tab := Build(Input{
		Classes:   []*networkingv1.IngressClass{class("minik8s", ControllerName, true)},
		Ingresses: []*networkingv1.Ingress{newer, ing},
		Secrets: []*corev1.Secret{secret("a", SecretTypeTLS, crt, key), secret("wild", SecretTypeTLS, wcrt, wkey),
			secret("def", SecretTypeTLS, dcrt, dkey), secret("opaque", "Opaque", crt, key)},
	})
	for _, tc := range []struct{ sni, want string }{
		{"a.test", "a.test"}, // the older Ingress's secret
		{"A.TEST", "a.test"},
		{"x.wild.test", "*.wild.test"},
		{"y.x.wild.test", "default"},
		{"opaque.test", "default"}, // not kubernetes.io/tls: unusable
		{"", "default"},
	} {
		c := tab.Certificate(tc.sni)
		if c == nil || c.Leaf.Subject.CommonName != tc.want {
			t.Errorf("Certificate(%q) = %v, want CN %s", tc.sni, c, tc.want)
		}
	}
	if got := strings.Join(tab.Secrets(), " "); got != "default/a default/def default/missing default/opaque default/wild" {
		t.Errorf("Secrets() = %s", got)
	}
	if len(tab.Problems()) != 2 {
		t.Errorf("problems %q, want the opaque and the missing secret", tab.Problems())
	}
}

// selfSigned returns PEM certificate and key for cn (also its DNS name).
func selfSigned(t testing.TB, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}
