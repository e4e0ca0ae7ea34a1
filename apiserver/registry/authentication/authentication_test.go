package authentication_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	_ "minik8s/api/all"
	authenticationv1 "minik8s/api/authentication/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/auth/serviceaccount"
	"minik8s/apiserver/auth/tokenfile"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/endpoints"
	_ "minik8s/apiserver/registry/all"
	"minik8s/apiserver/registry/authentication"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/storage/memory"
)

// cluster is the request path (endpoints.API) over in-memory storage with
// the authentication resources and a static admin token.
type cluster struct {
	st  *generic.Store
	api *endpoints.API
	now time.Time
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	st := generic.New(memory.New(), cache.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	c := &cluster{st: st, now: time.Now().Truncate(time.Second)}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := serviceaccount.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := serviceaccount.NewPublicKey(key.Public())
	clock := func() time.Time { return c.now }
	iss := &serviceaccount.Issuer{Signer: signer, Issuer: serviceaccount.DefaultIssuer, Audiences: []string{"api"}, Now: clock}
	sa := &serviceaccount.Authenticator{Issuers: []string{iss.Issuer}, Keys: []serviceaccount.PublicKey{pub}, Audiences: []string{"api"}, Getter: st, Now: clock}
	tf, err := tokenfile.Parse(strings.NewReader("admin-token,admin,1,system:masters\n"))
	if err != nil {
		t.Fatal(err)
	}
	union := auth.Union{Authenticators: []auth.Authenticator{auth.Tokens{TokenAuthenticator: tf}, auth.Tokens{TokenAuthenticator: sa}}}
	c.api = endpoints.New(union, nil, nil)
	for _, k := range []string{"serviceaccounts", "pods"} {
		kind, _ := scheme.ByResource(k)
		c.api.Register(k, st.For(kind))
	}
	c.api.Register("serviceaccounts/token", authentication.TokenRequests{Getter: st, Issuer: iss})
	c.api.Register("tokenreviews", authentication.TokenReviews{Authenticator: union, Audiences: []string{"api"}})
	c.api.Register("selfsubjectreviews", authentication.SelfSubjectReviews{Authenticator: union})
	return c
}

func as(token string) context.Context {
	return auth.WithCredentials(context.Background(), auth.Credentials{BearerToken: token})
}

func (c *cluster) create(t *testing.T, resource string, obj scheme.Object) scheme.Object {
	t.Helper()
	out, err := c.api.Create(as("admin-token"), endpoints.Target{Resource: resource, Namespace: "default"}, obj, rest.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (c *cluster) requestToken(ctx context.Context, sa string, spec *authenticationv1.TokenRequestSpec) (*authenticationv1.TokenRequest, error) {
	out, err := c.api.Create(ctx, endpoints.Target{Resource: "serviceaccounts", Subresource: "token", Namespace: "default", Name: sa},
		&authenticationv1.TokenRequest{Spec: spec}, rest.WriteOptions{})
	if err != nil {
		return nil, err
	}
	return out.(*authenticationv1.TokenRequest), nil
}

func (c *cluster) whoami(token string) (*authenticationv1.UserInfo, error) {
	out, err := c.api.Create(as(token), endpoints.Target{Resource: "selfsubjectreviews"}, &authenticationv1.SelfSubjectReview{}, rest.WriteOptions{})
	if err != nil {
		return nil, err
	}
	return out.(*authenticationv1.SelfSubjectReview).GetStatus().GetUserInfo(), nil
}

func (c *cluster) review(t *testing.T, token string, audiences ...string) *authenticationv1.TokenReviewStatus {
	t.Helper()
	out, err := c.api.Create(as("admin-token"), endpoints.Target{Resource: "tokenreviews"},
		&authenticationv1.TokenReview{Spec: &authenticationv1.TokenReviewSpec{Token: token, Audiences: audiences}}, rest.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out.(*authenticationv1.TokenReview).GetStatus()
}

func ptr[T any](v T) *T { return &v }

func TestTokenRequest(t *testing.T) {
	c := newCluster(t)
	c.create(t, "serviceaccounts", &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "builder"}})
	pod := c.create(t, "pods", &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web-1"},
		Spec: &corev1.PodSpec{ServiceAccountName: "builder", Containers: []*corev1.Container{{Name: "web", Image: "nginx"}}}}).(*corev1.Pod)

	tr, err := c.requestToken(as("admin-token"), "builder", nil)
	if err != nil {
		t.Fatal(err)
	}
	if tr.GetKind() != "TokenRequest" || tr.GetSpec().GetExpirationSeconds() != 3600 || tr.GetSpec().GetAudiences()[0] != "api" ||
		!tr.GetStatus().GetExpirationTimestamp().AsTime().Equal(c.now.Add(time.Hour)) {
		t.Fatalf("default request: %v", tr)
	}
	u, err := c.whoami(tr.Status.Token)
	if err != nil || u.GetUsername() != "system:serviceaccount:default:builder" {
		t.Fatalf("whoami: %v %v", u, err)
	}

	bound, err := c.requestToken(as("admin-token"), "builder", &authenticationv1.TokenRequestSpec{
		Audiences: []string{"vault"}, ExpirationSeconds: ptr(int64(600)),
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", ApiVersion: "v1", Name: "web-1", Uid: pod.Metadata.Uid}})
	if err != nil {
		t.Fatal(err)
	}
	if st := c.review(t, bound.Status.Token); st.Authenticated || st.Error != "invalid bearer token" {
		t.Fatalf("review for the apiserver's audience: %v", st)
	}
	st := c.review(t, bound.Status.Token, "vault")
	if !st.Authenticated || st.Audiences[0] != "vault" || st.User.Extra["authentication.kubernetes.io/pod-uid"].Values[0].GetStringValue() != pod.Metadata.Uid {
		t.Fatalf("review for vault: %v", st)
	}
	c.now = c.now.Add(601 * time.Second)
	if st := c.review(t, bound.Status.Token, "vault"); st.Authenticated {
		t.Fatalf("expired token: %v", st)
	}

	for _, tc := range []struct {
		name   string
		ctx    context.Context
		sa     string
		spec   *authenticationv1.TokenRequestSpec
		reason string
	}{
		{"anonymous", context.Background(), "builder", nil, apierrors.ReasonUnauthorized},
		{"bad token", as("nope"), "builder", nil, apierrors.ReasonUnauthorized},
		{"no account", as("admin-token"), "ghost", nil, apierrors.ReasonNotFound},
		{"too short", as("admin-token"), "builder", &authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(599))}, apierrors.ReasonInvalid},
		{"too long", as("admin-token"), "builder", &authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(1 << 33))}, apierrors.ReasonInvalid},
		{"no pod", as("admin-token"), "builder", &authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", Name: "ghost"}}, apierrors.ReasonNotFound},
		{"pod uid", as("admin-token"), "builder", &authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", Name: "web-1", Uid: "x"}}, apierrors.ReasonConflict},
		{"kind", as("admin-token"), "builder", &authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Node", Name: "n"}}, apierrors.ReasonInvalid},
		{"apiVersion", as("admin-token"), "builder", &authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", ApiVersion: "v2", Name: "web-1"}}, apierrors.ReasonInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.requestToken(tc.ctx, tc.sa, tc.spec)
			if apierrors.ReasonOf(err) != tc.reason {
				t.Fatalf("err %v, want reason %s", err, tc.reason)
			}
		})
	}
}

func TestTokenReviewNeedsToken(t *testing.T) {
	c := newCluster(t)
	_, err := c.api.Create(as("admin-token"), endpoints.Target{Resource: "tokenreviews"}, &authenticationv1.TokenReview{}, rest.WriteOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("err %v, want Invalid", err)
	}
	if st := c.review(t, "admin-token"); !st.Authenticated || st.User.Username != "admin" || st.Audiences[0] != "api" {
		t.Fatalf("static token: %v", st)
	}
}

func TestSelfSubjectReview(t *testing.T) {
	c := newCluster(t)
	u, err := c.whoami("admin-token")
	if err != nil || u.Username != "admin" || u.Uid != "1" || strings.Join(u.Groups, ",") != "system:masters,system:authenticated" {
		t.Fatalf("whoami: %v %v", u, err)
	}
	if _, err := c.whoami("bad"); apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
		t.Fatalf("bad token: %v", err)
	}
}
