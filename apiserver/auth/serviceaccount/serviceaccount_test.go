package serviceaccount

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	_ "minik8s/api/all"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/cache"
	_ "minik8s/apiserver/registry/all"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/storage/memory"
	vt "minik8s/apiserver/validation/validationtest"
)

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
)

// testKeys makes one RSA and one P-256 key per test binary (RSA
// generation is slow).
func testKeys(t testing.TB) (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	keysOnce.Do(func() {
		rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048)
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	return rsaKey, ecKey
}

func mustSigner(t testing.TB, k crypto.Signer) *Signer {
	t.Helper()
	s, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustPublic(t testing.TB, k crypto.PublicKey) PublicKey {
	t.Helper()
	p, err := NewPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newStore is the apiserver's generic store on in-memory storage.
func newStore(t *testing.T) *generic.Store {
	t.Helper()
	st := generic.New(memory.New(), cache.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return st
}

func create[T scheme.Object](t *testing.T, st *generic.Store, resource string, obj T) T {
	t.Helper()
	k, _ := scheme.ByResource(resource)
	out, err := st.Create(context.Background(), k, obj.GetMetadata().GetNamespace(), obj, rest.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out.(T)
}

func remove(t *testing.T, st *generic.Store, resource, ns, name string) {
	t.Helper()
	k, _ := scheme.ByResource(resource)
	zero := int64(0)
	if _, err := st.Delete(context.Background(), k, ns, name, &metav1.DeleteOptions{GracePeriodSeconds: &zero}, rest.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestSignVerifyAlgorithms(t *testing.T) {
	rk, ek := testKeys(t)
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  string
	}{{"rsa", rk, RS256}, {"ecdsa", ek, ES256}} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSigner(t, tc.key)
			c := &Claims{Issuer: "iss", Subject: "sub", Audience: Audience{"a"}, Expiry: now.Unix() + 60}
			tok, err := s.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			h, _, _, _, err := split(tok)
			if err != nil || h.Alg != tc.alg || h.Kid == "" {
				t.Fatalf("header %+v, %v", h, err)
			}
			keys := []PublicKey{mustPublic(t, tc.key.Public())}
			got, err := verifySignature(tok, keys)
			if err != nil || got.Subject != "sub" || got.Audience[0] != "a" {
				t.Fatalf("verify: %+v, %v", got, err)
			}
			// Every single-byte change of the signature or payload fails.
			parts := strings.Split(tok, ".")
			for i, p := range parts {
				bad := append([]string(nil), parts...)
				r := []byte(p)
				r[len(r)/2] ^= 1
				bad[i] = string(r)
				if _, err := verifySignature(strings.Join(bad, "."), keys); err == nil {
					t.Errorf("tampered part %d verified", i)
				}
			}
			// Another key of the same type does not verify it.
			var other crypto.Signer
			if tc.alg == RS256 {
				other, _ = rsa.GenerateKey(rand.Reader, 2048)
			} else {
				other, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			}
			if _, err := verifySignature(tok, []PublicKey{mustPublic(t, other.Public())}); !errors.Is(err, ErrSignature) {
				t.Errorf("other key: %v", err)
			}
		})
	}
}

func TestSignatureAlgorithmConfusion(t *testing.T) {
	rk, ek := testKeys(t)
	keys := []PublicKey{mustPublic(t, rk.Public()), mustPublic(t, ek.Public())}
	payload := b64.EncodeToString([]byte(`{"iss":"iss","sub":"x","aud":"a","exp":99999999999}`))
	for _, alg := range []string{"none", "HS256", "RS384", ""} {
		h := b64.EncodeToString([]byte(`{"alg":"` + alg + `"}`))
		if _, err := verifySignature(h+"."+payload+".", keys); err == nil {
			t.Errorf("alg %q verified", alg)
		}
	}
	for _, tok := range []string{"", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.e30"} {
		if _, err := verifySignature(tok, keys); err == nil {
			t.Errorf("%q verified", tok)
		}
	}
}

func TestKeyTypes(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for name, k := range map[string]crypto.Signer{"rsa-1024": small, "p384": p384, "ed25519": ed} {
		if _, err := NewSigner(k); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAudienceForms(t *testing.T) {
	for in, want := range map[string]string{`{"aud":"x"}`: "x", `{"aud":["y","z"]}`: "y"} {
		var c Claims
		if err := json.Unmarshal([]byte(in), &c); err != nil || c.Audience[0] != want {
			t.Errorf("%s: %v %v", in, c.Audience, err)
		}
	}
}

// fixture is a cluster with service account default/builder and pod
// default/web-1 running as it.
type fixture struct {
	st     *generic.Store
	sa     *corev1.ServiceAccount
	pod    *corev1.Pod
	issuer *Issuer
	authn  *Authenticator
	now    time.Time
}

func newFixture(t *testing.T) *fixture {
	rk, ek := testKeys(t)
	st := newStore(t)
	f := &fixture{st: st, now: time.Now().Truncate(time.Second)}
	f.sa = create(t, st, "serviceaccounts", &corev1.ServiceAccount{Metadata: vt.Meta("builder", "default", nil)})
	spec := vt.PodSpec()
	spec.ServiceAccountName = "builder"
	spec.NodeName = "node-a"
	f.pod = create(t, st, "pods", &corev1.Pod{Metadata: vt.Meta("web-1", "default", nil), Spec: spec})
	clock := func() time.Time { return f.now }
	f.issuer = &Issuer{Signer: mustSigner(t, rk), Issuer: DefaultIssuer, Now: clock}
	f.authn = &Authenticator{Issuers: []string{DefaultIssuer}, Audiences: []string{DefaultIssuer}, Getter: st, Now: clock,
		Keys: []PublicKey{mustPublic(t, rk.Public()), mustPublic(t, ek.Public())}}
	return f
}

func (f *fixture) token(t *testing.T, b Binding, auds ...string) string {
	t.Helper()
	tok, exp, err := f.issuer.Issue(b, auds, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(f.now.Add(time.Hour)) {
		t.Fatalf("expiry %v, want %v", exp, f.now.Add(time.Hour))
	}
	return tok
}

func TestAuthenticateBoundToken(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, Binding{ServiceAccount: f.sa, Pod: f.pod})
	u, ok, err := f.authn.AuthenticateToken(context.Background(), tok)
	if err != nil || !ok {
		t.Fatalf("authenticate: %v %v", ok, err)
	}
	if u.Name != "system:serviceaccount:default:builder" || u.UID != f.sa.Metadata.Uid {
		t.Errorf("user %s uid %s", u.Name, u.UID)
	}
	if strings.Join(u.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:default" {
		t.Errorf("groups %v", u.Groups)
	}
	if u.Extra[ExtraPodName][0] != "web-1" || u.Extra[ExtraPodUID][0] != f.pod.Metadata.Uid || u.Extra[ExtraNodeName][0] != "node-a" {
		t.Errorf("extra %v", u.Extra)
	}
	if !strings.HasPrefix(u.Extra[ExtraCredentialID][0], "JTI=") {
		t.Errorf("credential id %v", u.Extra[ExtraCredentialID])
	}
	// Through the union, as the apiserver runs it.
	union := auth.Union{Authenticators: []auth.Authenticator{auth.Tokens{TokenAuthenticator: f.authn}}}
	ctx := auth.WithCredentials(context.Background(), auth.Credentials{BearerToken: tok})
	if u, ok, err := union.Authenticate(ctx); err != nil || !ok || u.Groups[len(u.Groups)-1] != auth.GroupAuthenticated {
		t.Errorf("union: %+v %v %v", u, ok, err)
	}
}

func TestRefused(t *testing.T) {
	f := newFixture(t)
	good := Binding{ServiceAccount: f.sa, Pod: f.pod}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (context.Context, string)
		want  error
	}{
		{"expired", func(t *testing.T) (context.Context, string) {
			tok := f.token(t, good)
			f.now = f.now.Add(time.Hour)
			t.Cleanup(func() { f.now = f.now.Add(-time.Hour) })
			return context.Background(), tok
		}, ErrExpired},
		{"not yet valid", func(t *testing.T) (context.Context, string) {
			f.now = f.now.Add(10 * time.Minute)
			tok := f.token(t, good)
			f.now = f.now.Add(-10 * time.Minute)
			return context.Background(), tok
		}, ErrNotYetValid},
		{"other audience", func(t *testing.T) (context.Context, string) {
			return context.Background(), f.token(t, good, "vault")
		}, ErrAudience},
		{"audience asked for by TokenReview", func(t *testing.T) (context.Context, string) {
			return WithAudiences(context.Background(), []string{"vault"}), f.token(t, good)
		}, ErrAudience},
		{"bad signature", func(t *testing.T) (context.Context, string) {
			tok := f.token(t, good)
			return context.Background(), tok[:len(tok)-4] + "AAAA"
		}, ErrSignature},
		{"unknown key", func(t *testing.T) (context.Context, string) {
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			i := *f.issuer
			i.Signer = mustSigner(t, k)
			tok, _, _ := i.Issue(good, nil, time.Hour)
			return context.Background(), tok
		}, ErrSignature},
		{"service account of another uid", func(t *testing.T) (context.Context, string) {
			sa := &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "builder", Namespace: "default", Uid: "old"}}
			return context.Background(), f.token(t, Binding{ServiceAccount: sa, Pod: f.pod})
		}, ErrAccountGone},
		{"pod of another uid", func(t *testing.T) (context.Context, string) {
			pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web-1", Namespace: "default", Uid: "old"}}
			return context.Background(), f.token(t, Binding{ServiceAccount: f.sa, Pod: pod})
		}, ErrBindingGone},
		{"secret gone", func(t *testing.T) (context.Context, string) {
			s := &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "nope", Namespace: "default", Uid: "u"}}
			return context.Background(), f.token(t, Binding{ServiceAccount: f.sa, Secret: s})
		}, ErrBindingGone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, tok := tc.setup(t)
			if _, err := f.authn.Verify(ctx, tok); !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			u, ok, err := f.authn.AuthenticateToken(ctx, tok)
			if ok || u != nil || apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
				t.Fatalf("AuthenticateToken: %v %v %v, want 401", u, ok, err)
			}
			if strings.Contains(err.Error(), "builder") || strings.Contains(err.Error(), "uid") {
				t.Fatalf("error leaks details: %v", err)
			}
		})
	}
}

func TestNotOurs(t *testing.T) {
	f := newFixture(t)
	other := *f.issuer
	other.Issuer = "https://elsewhere"
	tok, _, _ := other.Issue(Binding{ServiceAccount: f.sa}, []string{DefaultIssuer}, time.Hour)
	for name, tok := range map[string]string{"static token": "abc123", "other issuer": tok, "three dots": "a.b.c"} {
		if u, ok, err := f.authn.AuthenticateToken(context.Background(), tok); ok || err != nil || u != nil {
			t.Errorf("%s: %v %v %v, want not ours", name, u, ok, err)
		}
	}
}

// TestDeletionRevokes is the binding invalidation: a token stops working
// once its pod or service account is deleted or replaced.
func TestDeletionRevokes(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, Binding{ServiceAccount: f.sa, Pod: f.pod})
	ctx := context.Background()
	if _, err := f.authn.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	remove(t, f.st, "pods", "default", "web-1")
	if _, err := f.authn.Verify(ctx, tok); !errors.Is(err, ErrBindingGone) {
		t.Fatalf("pod deleted: %v", err)
	}
	spec := vt.PodSpec()
	spec.ServiceAccountName = "builder"
	create(t, f.st, "pods", &corev1.Pod{Metadata: vt.Meta("web-1", "default", nil), Spec: spec})
	if _, err := f.authn.Verify(ctx, tok); !errors.Is(err, ErrBindingGone) {
		t.Fatalf("pod recreated: %v", err)
	}

	tok = f.token(t, Binding{ServiceAccount: f.sa})
	if _, err := f.authn.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	remove(t, f.st, "serviceaccounts", "default", "builder")
	if _, err := f.authn.Verify(ctx, tok); !errors.Is(err, ErrAccountGone) {
		t.Fatalf("service account deleted: %v", err)
	}
}

func TestUserName(t *testing.T) {
	for in, ok := range map[string]bool{
		"system:serviceaccount:ns:name": true, "system:serviceaccount:ns": false,
		"system:serviceaccount::name": false, "admin": false, "system:serviceaccount:a:b:c": false,
	} {
		if _, _, got := SplitUserName(in); got != ok {
			t.Errorf("%s: %v", in, got)
		}
	}
	if ns, n, _ := SplitUserName(UserName("a", "b")); ns != "a" || n != "b" {
		t.Error("round trip")
	}
}
