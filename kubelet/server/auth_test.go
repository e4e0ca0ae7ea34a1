package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"minik8s/api/pki"
)

// tokens accepts "bob-token" as bob; "boom" fails to ask.
type tokens struct{ asked int }

func (f *tokens) ReviewToken(_ context.Context, tok string) (*User, bool, error) {
	f.asked++
	switch tok {
	case "bob-token":
		return &User{Name: "bob", Groups: []string{"dev"}}, true, nil
	case "boom":
		return nil, false, errors.New("apiserver unreachable")
	}
	return nil, false, nil
}

// policy allows system:masters everything, bob get on nodes/stats and
// nodes/pods, anonymous nothing; carol's requests fail to be decided.
type policy struct{ asked []string }

func (p *policy) ReviewAccess(_ context.Context, a Attributes) (bool, string, error) {
	p.asked = append(p.asked, a.User.Name+" "+a.Verb+" "+a.Resource+"/"+a.Subresource+" "+a.Name)
	switch {
	case a.User.Name == "carol":
		return false, "", errors.New("apiserver unreachable")
	case contains(a.User.Groups, pki.GroupMasters):
		return true, "", nil
	case a.User.Name == "bob" && a.Verb == "get" && (a.Subresource == "stats" || a.Subresource == "pods"):
		return true, "", nil
	}
	return false, "no", nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestGuard: over HTTPS a client certificate of the client CA or a token
// the apiserver accepts gets past /healthz, and then only what the
// apiserver allows.
func TestGuard(t *testing.T) {
	ca, _ := pki.NewCA("ca")
	other, _ := pki.NewCA("other")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	certOf := func(signer *pki.KeyPair, cn string, org []string, u pki.Usage) []tls.Certificate {
		kp, err := signer.Sign(pki.CertConfig{CommonName: cn, Organization: org, Usage: u})
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key}}
	}
	apiserver := certOf(ca, pki.UserAPIServerKubelet, []string{pki.GroupMasters}, pki.Client)
	bobCert := certOf(ca, "bob", nil, pki.Client)
	carolCert := certOf(ca, "carol", nil, pki.Client)
	for _, tc := range []struct {
		name      string
		anonymous bool
		noTokens  bool
		authz     bool
		certs     []tls.Certificate
		token     string
		method    string
		path      string
		want      int
		body      string
	}{
		{name: "apiserver client exec", certs: apiserver, method: "POST", path: "/exec/default/p/c", want: 200},
		{name: "apiserver client pods", certs: apiserver, path: "/pods", want: 200},
		{name: "no certificate pods", path: "/pods", want: 401},
		{name: "no certificate run", method: "POST", path: "/run/default/p/c", want: 401},
		{name: "no certificate metrics", path: "/metrics", want: 401},
		{name: "no certificate healthz", path: "/healthz", want: 200},
		{name: "another CA", certs: certOf(other, "x", nil, pki.Client), path: "/pods", want: 401},
		{name: "server certificate", certs: certOf(ca, "x", nil, pki.Server), path: "/pods", want: 401},
		{name: "anonymous allowed in", anonymous: true, path: "/pods", want: 200},
		{name: "token", token: "bob-token", path: "/pods", want: 200},
		{name: "bad token", token: "nope", path: "/pods", want: 401},
		{name: "bad token even with anonymous", anonymous: true, token: "nope", path: "/pods", want: 401},
		{name: "token review fails", token: "boom", path: "/pods", want: 401},
		{name: "token not checked, anonymous", noTokens: true, anonymous: true, token: "nope", path: "/pods", want: 200},
		{name: "token not checked", noTokens: true, token: "bob-token", path: "/pods", want: 401},
		{name: "authz apiserver exec", authz: true, certs: apiserver, method: "POST", path: "/exec/default/p/c", want: 200},
		{name: "authz bob stats", authz: true, certs: bobCert, path: "/stats/summary", want: 200},
		{name: "authz bob token pods", authz: true, token: "bob-token", path: "/pods", want: 200},
		{name: "authz bob exec", authz: true, certs: bobCert, method: "POST", path: "/exec/default/p/c", want: 403,
			body: "Forbidden (user=bob, verb=create, resource=nodes, subresource=proxy)"},
		{name: "authz bob metrics", authz: true, token: "bob-token", path: "/metrics", want: 403,
			body: "Forbidden (user=bob, verb=get, resource=nodes, subresource=metrics)"},
		{name: "authz anonymous pods", authz: true, anonymous: true, path: "/pods", want: 403,
			body: "Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource(s)=[pods proxy])"},
		{name: "authz healthz open", authz: true, path: "/healthz", want: 200},
		{name: "authz error", authz: true, certs: carolCert, path: "/stats/summary", want: 500,
			body: "Authorization error (user=carol, verb=get, resource=nodes, subresource=stats)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{NodeName: "n1", ClientCAs: pool, AnonymousAuth: tc.anonymous, Tokens: &tokens{}}
			if tc.authz {
				cfg.Authorizer = &policy{}
			}
			if tc.noTokens {
				cfg.Tokens = nil
			}
			srv := httptest.NewUnstartedServer((&Server{cfg: cfg}).guard(ok))
			srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
			srv.StartTLS()
			defer srv.Close()
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.TLSClientConfig.Certificates = tc.certs
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req, _ := http.NewRequest(method, srv.URL+tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.want, body)
			}
			if tc.body != "" && strings.TrimSpace(string(body)) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
		})
	}
}

func TestRequestAttributes(t *testing.T) {
	u := &User{Name: "u"}
	for _, tc := range []struct {
		method, path string
		want         []string
	}{
		{"GET", "/pods", []string{"get nodes/pods", "get nodes/proxy"}},
		{"GET", "/stats/summary", []string{"get nodes/stats"}},
		{"GET", "/stats", []string{"get nodes/stats"}},
		{"GET", "/statsfoo", []string{"get nodes/proxy"}},
		{"GET", "/metrics", []string{"get nodes/metrics"}},
		{"GET", "/metrics/cadvisor", []string{"get nodes/metrics"}},
		{"GET", "/logs/syslog", []string{"get nodes/log"}},
		{"GET", "/spec/", []string{"get nodes/spec"}},
		{"GET", "/containerLogs/ns/p/c", []string{"get nodes/proxy"}},
		{"POST", "/exec/ns/p/c", []string{"create nodes/proxy"}},
		{"GET", "/exec/ns/p/c", []string{"create nodes/proxy"}}, // a websocket upgrade
		{"GET", "/portForward/ns/p", []string{"create nodes/proxy"}},
		{"GET", "/executable", []string{"get nodes/proxy"}},
		{"POST", "/run/ns/p/c", []string{"create nodes/proxy"}},
		{"POST", "/portForward/ns/p", []string{"create nodes/proxy"}},
		{"POST", "/attach/ns/p/c", []string{"create nodes/proxy"}},
		{"HEAD", "/healthz", []string{"get nodes/proxy"}},
		{"PUT", "/x", []string{"update nodes/proxy"}},
		{"PATCH", "/x", []string{"patch nodes/proxy"}},
		{"DELETE", "/x", []string{"delete nodes/proxy"}},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			var got []string
			for _, a := range RequestAttributes(u, "n1", r) {
				if a.Name != "n1" || a.User != u || a.Path != tc.path {
					t.Errorf("attributes %+v", a)
				}
				got = append(got, a.Verb+" "+a.Resource+"/"+a.Subresource)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCached: answers are kept for their TTLs, failures not at all.
func TestCached(t *testing.T) {
	now := time.Unix(1000, 0)
	p, tk := &policy{}, &tokens{}
	c := &Cached{Tokens: tk, Access: p, TokenTTL: 2 * time.Minute, AuthorizedTTL: 5 * time.Minute, UnauthorizedTTL: 30 * time.Second,
		Now: func() time.Time { return now }}
	ctx := context.Background()
	bob := &User{Name: "bob"}
	stats := Attributes{User: bob, Verb: "get", Resource: "nodes", Subresource: "stats", Name: "n1", Path: "/stats/summary"}
	exec := Attributes{User: bob, Verb: "create", Resource: "nodes", Subresource: "proxy", Name: "n1"}
	ask := func(a Attributes, want bool) {
		t.Helper()
		got, _, err := c.ReviewAccess(ctx, a)
		if err != nil || got != want {
			t.Fatalf("ReviewAccess %+v = %v, %v; want %v", a, got, err, want)
		}
	}
	ask(stats, true)
	ask(exec, false)
	stats.Path = "/stats" // the path is not part of the question
	ask(stats, true)
	ask(exec, false)
	if len(p.asked) != 2 {
		t.Fatalf("asked %d times, want 2: %q", len(p.asked), p.asked)
	}
	now = now.Add(31 * time.Second) // the refusal expires, the permission not
	ask(stats, true)
	ask(exec, false)
	if len(p.asked) != 3 {
		t.Fatalf("after 31s asked %d times, want 3: %q", len(p.asked), p.asked)
	}
	now = now.Add(5 * time.Minute)
	ask(stats, true)
	if len(p.asked) != 4 {
		t.Fatalf("after 5m asked %d times, want 4", len(p.asked))
	}
	// Another user (or group set) is another question.
	ask(Attributes{User: &User{Name: "bob", Groups: []string{pki.GroupMasters}}, Verb: "create", Resource: "nodes", Subresource: "proxy", Name: "n1"}, true)
	// Failures are not cached.
	carol := Attributes{User: &User{Name: "carol"}, Verb: "get", Resource: "nodes", Subresource: "stats", Name: "n1"}
	for i := 0; i < 2; i++ {
		if _, _, err := c.ReviewAccess(ctx, carol); err == nil {
			t.Fatal("no error")
		}
	}
	if len(p.asked) != 7 {
		t.Fatalf("asked %d times, want 7: %q", len(p.asked), p.asked)
	}

	for _, tok := range []string{"bob-token", "bob-token", "nope", "nope", "boom", "boom"} {
		_, _, _ = c.ReviewToken(ctx, tok)
	}
	if tk.asked != 4 {
		t.Fatalf("token reviews %d, want 4 (bob once, nope once, boom twice)", tk.asked)
	}
	now = now.Add(2 * time.Minute)
	if u, ok, err := c.ReviewToken(ctx, "bob-token"); err != nil || !ok || u.Name != "bob" || tk.asked != 5 {
		t.Fatalf("after the TTL: %v %v %v, asked %d", u, ok, err, tk.asked)
	}
}
