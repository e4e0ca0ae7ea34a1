package authorization_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	authorizationv1 "minik8s/api/authorization/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"

	"minik8s/apiserver/auth"
	"minik8s/apiserver/registry/authorization"
	"minik8s/apiserver/registry/rest"
)

// podReader allows jane to get and list pods in ns1 and get /healthz,
// denies everything to mallory, fails for "broken", and has no opinion
// otherwise. It records the last question.
type podReader struct{ last auth.Attributes }

func (z *podReader) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	z.last = a
	switch {
	case a.User.Name == "mallory":
		return auth.Deny, "mallory is banned", nil
	case a.User.Name == "broken":
		return auth.NoOpinion, "", errors.New("policy unavailable")
	case a.User.Name == "jane" && a.Resource == "pods" && a.Namespace == "ns1" && (a.Verb == "get" || a.Verb == "list"):
		return auth.Allow, "jane reads pods", nil
	case a.User.Name == "jane" && a.Path == "/healthz" && a.Verb == "get":
		return auth.Allow, "", nil
	}
	return auth.NoOpinion, "", nil
}

// as authenticates everyone as one user.
type as string

func (u as) Authenticate(context.Context) (*auth.User, bool, error) {
	return &auth.User{Name: string(u), Groups: []string{auth.GroupAuthenticated}}, true, nil
}

func res(verb, ns, resource string) *authorizationv1.ResourceAttributes {
	return &authorizationv1.ResourceAttributes{Verb: verb, Namespace: ns, Resource: resource}
}

func TestSubjectAccessReviews(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    *authorizationv1.SubjectAccessReviewSpec
		want    *authorizationv1.SubjectAccessReviewStatus
		wantErr string
	}{
		{"allowed", &authorizationv1.SubjectAccessReviewSpec{User: "jane", ResourceAttributes: res("get", "ns1", "pods")},
			&authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "jane reads pods"}, ""},
		{"no opinion", &authorizationv1.SubjectAccessReviewSpec{User: "jane", ResourceAttributes: res("delete", "ns1", "pods")},
			&authorizationv1.SubjectAccessReviewStatus{}, ""},
		{"denied", &authorizationv1.SubjectAccessReviewSpec{User: "mallory", ResourceAttributes: res("get", "ns1", "pods")},
			&authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "mallory is banned"}, ""},
		{"evaluation error", &authorizationv1.SubjectAccessReviewSpec{User: "broken", ResourceAttributes: res("get", "ns1", "pods")},
			&authorizationv1.SubjectAccessReviewStatus{EvaluationError: "policy unavailable"}, ""},
		{"path", &authorizationv1.SubjectAccessReviewSpec{User: "jane", NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/healthz", Verb: "get"}},
			&authorizationv1.SubjectAccessReviewStatus{Allowed: true}, ""},
		{"neither attributes", &authorizationv1.SubjectAccessReviewSpec{User: "jane"}, nil,
			`SubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified`},
		{"no user", &authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: res("get", "ns1", "pods")}, nil,
			`spec.user: Invalid value: "": at least one of user or group must be specified`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := authorization.SubjectAccessReviews{Authorizer: &podReader{}}
			out, err := s.Create(context.Background(), "", &authorizationv1.SubjectAccessReview{Spec: tc.spec}, rest.WriteOptions{})
			if tc.wantErr != "" {
				if err == nil || !apierrors.IsInvalid(err) || !contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := out.(*authorizationv1.SubjectAccessReview)
			if !proto.Equal(got.Status, tc.want) {
				t.Errorf("status %v, want %v", got.Status, tc.want)
			}
			if got.Kind != "SubjectAccessReview" || got.ApiVersion != "authorization.k8s.io/v1" {
				t.Errorf("type meta %s %s", got.ApiVersion, got.Kind)
			}
		})
	}
}

func TestSubjectAccessReviewUser(t *testing.T) {
	z := &podReader{}
	extra := map[string]*structpb.ListValue{"scopes": {Values: []*structpb.Value{structpb.NewStringValue("a")}}}
	_, err := authorization.SubjectAccessReviews{Authorizer: z}.Create(context.Background(), "", &authorizationv1.SubjectAccessReview{
		Spec: &authorizationv1.SubjectAccessReviewSpec{User: "u", Uid: "1", Groups: []string{"g"}, Extra: extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Group: "apps", Resource: "deployments", Subresource: "scale", Namespace: "n", Name: "d"}}}, rest.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := z.last
	if a.User.Name != "u" || a.User.UID != "1" || a.User.Groups[0] != "g" || a.User.Extra["scopes"][0] != "a" ||
		a.Group != "apps" || a.Resource != "deployments" || a.Subresource != "scale" || a.Namespace != "n" || a.Name != "d" || !a.IsResourceRequest() {
		t.Errorf("asked %+v user %+v", a, a.User)
	}
}

func TestLocalSubjectAccessReviews(t *testing.T) {
	s := authorization.LocalSubjectAccessReviews{Authorizer: &podReader{}}
	out, err := s.Create(context.Background(), "ns1", &authorizationv1.LocalSubjectAccessReview{
		Metadata: &metav1.ObjectMeta{Namespace: "ns1"},
		Spec:     &authorizationv1.SubjectAccessReviewSpec{User: "jane", ResourceAttributes: res("list", "ns1", "pods")}}, rest.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !out.(*authorizationv1.LocalSubjectAccessReview).Status.Allowed {
		t.Error("not allowed")
	}
	for name, spec := range map[string]*authorizationv1.SubjectAccessReviewSpec{
		"must match metadata.namespace":      {User: "jane", ResourceAttributes: res("list", "ns2", "pods")},
		"disallowed on this kind of request": {User: "jane", NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/x", Verb: "get"}},
	} {
		_, err := s.Create(context.Background(), "ns1", &authorizationv1.LocalSubjectAccessReview{Spec: spec}, rest.WriteOptions{})
		if !apierrors.IsInvalid(err) || !contains(err.Error(), name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestSelfSubjectAccessReviews(t *testing.T) {
	for _, tc := range []struct {
		user  string
		z     auth.Authorizer
		attrs *authorizationv1.ResourceAttributes
		want  *authorizationv1.SubjectAccessReviewStatus
	}{
		{"jane", &podReader{}, res("list", "ns1", "pods"), &authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "jane reads pods"}},
		{"jane", &podReader{}, res("create", "ns1", "pods"), &authorizationv1.SubjectAccessReviewStatus{}},
		{"jane", auth.AlwaysAllow{}, res("create", "ns1", "pods"), &authorizationv1.SubjectAccessReviewStatus{Allowed: true}},
		{"jane", auth.AlwaysDeny{}, res("get", "ns1", "pods"), &authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "Everything is forbidden."}},
	} {
		t.Run(tc.attrs.Verb+"/"+tc.user, func(t *testing.T) {
			s := authorization.SelfSubjectAccessReviews{Authenticator: as(tc.user), Authorizer: tc.z}
			out, err := s.Create(context.Background(), "", &authorizationv1.SelfSubjectAccessReview{
				Spec: &authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: tc.attrs}}, rest.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.(*authorizationv1.SelfSubjectAccessReview).Status; !proto.Equal(got, tc.want) {
				t.Errorf("status %v, want %v", got, tc.want)
			}
		})
	}
}

// lister is a RuleResolver granting get on pods in its namespace.
type lister struct{ auth.AlwaysDeny }

func (lister) RulesFor(_ context.Context, u *auth.User, ns string) ([]auth.ResourceRule, []auth.NonResourceRule, bool, error) {
	return []auth.ResourceRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}, ResourceNames: []string{u.Name + "-" + ns}}},
		[]auth.NonResourceRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}, false, nil
}

func TestSelfSubjectRulesReviews(t *testing.T) {
	all := &authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    []*authorizationv1.ResourceRule{{Verbs: []string{"*"}, ApiGroups: []string{"*"}, Resources: []string{"*"}}},
		NonResourceRules: []*authorizationv1.NonResourceRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}},
	}
	janes := &authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    []*authorizationv1.ResourceRule{{Verbs: []string{"get"}, ApiGroups: []string{""}, Resources: []string{"pods"}, ResourceNames: []string{"jane-ns1"}}},
		NonResourceRules: []*authorizationv1.NonResourceRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}},
	}
	for _, tc := range []struct {
		name string
		z    auth.Authorizer
		want *authorizationv1.SubjectRulesReviewStatus
	}{
		{"AlwaysAllow", auth.AlwaysAllow{}, all},
		{"AlwaysDeny", auth.AlwaysDeny{}, &authorizationv1.SubjectRulesReviewStatus{}},
		{"resolver", lister{}, janes},
		{"cannot list", &podReader{}, &authorizationv1.SubjectRulesReviewStatus{Incomplete: true}},
		{"union", auth.UnionAuthorizer{&podReader{}, lister{}}, func() *authorizationv1.SubjectRulesReviewStatus {
			s := proto.Clone(janes).(*authorizationv1.SubjectRulesReviewStatus)
			s.Incomplete = true
			return s
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := authorization.SelfSubjectRulesReviews{Authenticator: as("jane"), Authorizer: tc.z}
			out, err := s.Create(context.Background(), "", &authorizationv1.SelfSubjectRulesReview{
				Spec: &authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "ns1"}}, rest.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.(*authorizationv1.SelfSubjectRulesReview).Status; !proto.Equal(got, tc.want) {
				t.Errorf("status %v, want %v", got, tc.want)
			}
		})
	}
}

// TestInstall: the four resources are served, each with its kind.
func TestInstall(t *testing.T) {
	got := map[string]string{}
	authorization.Install(registrar(got), as("x"), auth.AlwaysAllow{})
	want := map[string]string{"subjectaccessreviews": "SubjectAccessReview", "localsubjectaccessreviews": "LocalSubjectAccessReview",
		"selfsubjectaccessreviews": "SelfSubjectAccessReview", "selfsubjectrulesreviews": "SelfSubjectRulesReview"}
	if len(got) != len(want) {
		t.Fatalf("registered %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
}

type registrar map[string]string

func (r registrar) Register(path string, s rest.Storage) { r[path] = s.Kind().Kind }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
