package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	apierrors "minik8s/api/errors"
	"minik8s/apiserver/auth"
)

// allowList allows the impersonations it lists ("resource/name" or
// "resource/subresource/name", with the namespace first for namespaced
// ones) and records every question.
type allowList struct {
	allow map[string]bool
	asked []string
}

func (z *allowList) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	key := a.Resource
	if a.Subresource != "" {
		key += "/" + a.Subresource
	}
	key += "/" + a.Name
	if a.Namespace != "" {
		key = a.Namespace + "/" + key
	}
	z.asked = append(z.asked, fmt.Sprintf("%s %s %s [%s]", a.User.Name, a.Verb, key, a.Group))
	if z.allow[key] {
		return auth.Allow, "", nil
	}
	return auth.NoOpinion, "", nil
}

// fixed authenticates everyone as bob.
type fixed struct{}

func (fixed) Authenticate(context.Context) (*auth.User, bool, error) {
	return &auth.User{Name: "bob", Groups: []string{"dev", auth.GroupAuthenticated}}, true, nil
}

func TestImpersonating(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers http.Header
		allow   []string
		want    *auth.User
		asked   []string
		wantErr string
	}{
		{name: "no impersonation", headers: http.Header{},
			want: &auth.User{Name: "bob", Groups: []string{"dev", auth.GroupAuthenticated}}},
		{name: "user allowed", headers: http.Header{"Impersonate-User": {"jane"}}, allow: []string{"users/jane"},
			want:  &auth.User{Name: "jane", Groups: []string{auth.GroupAuthenticated}},
			asked: []string{"bob impersonate users/jane []"}},
		{name: "user refused", headers: http.Header{"Impersonate-User": {"jane"}},
			wantErr: `users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope`},
		{name: "groups each checked", headers: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"b", "a"}},
			allow:   []string{"users/jane", "groups/a"}, // in the headers' order: b first
			asked:   []string{"bob impersonate users/jane []", "bob impersonate groups/b []"},
			wantErr: `groups "b" is forbidden: User "bob" cannot impersonate resource "groups" in API group "" at the cluster scope`},
		{name: "user and groups", headers: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"g", auth.GroupAuthenticated}},
			allow: []string{"users/jane", "groups/g", "groups/" + auth.GroupAuthenticated},
			want:  &auth.User{Name: "jane", Groups: []string{"g", auth.GroupAuthenticated}}},
		{name: "service account", headers: http.Header{"Impersonate-User": {"system:serviceaccount:ns1:robot"}},
			allow: []string{"ns1/serviceaccounts/robot"},
			asked: []string{"bob impersonate ns1/serviceaccounts/robot []"},
			want: &auth.User{Name: "system:serviceaccount:ns1:robot",
				Groups: []string{auth.GroupServiceAccounts, "system:serviceaccounts:ns1", auth.GroupAuthenticated}}},
		{name: "service account refused", headers: http.Header{"Impersonate-User": {"system:serviceaccount:ns1:robot"}},
			wantErr: `serviceaccounts "robot" is forbidden: User "bob" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "ns1"`},
		{name: "uid and extra", headers: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Uid": {"42"}, "Impersonate-Extra-Scopes": {"view", "edit"}},
			allow: []string{"users/jane", "uids/42", "userextras/scopes/view", "userextras/scopes/edit"},
			asked: []string{"bob impersonate users/jane []", "bob impersonate uids/42 [authentication.k8s.io]",
				"bob impersonate userextras/scopes/view [authentication.k8s.io]", "bob impersonate userextras/scopes/edit [authentication.k8s.io]"},
			want: &auth.User{Name: "jane", UID: "42", Groups: []string{auth.GroupAuthenticated}, Extra: map[string][]string{"scopes": {"view", "edit"}}}},
		{name: "extra key escaped", headers: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Example.com%2fteam": {"x"}},
			allow: []string{"users/jane", "userextras/example.com/team/x"},
			want:  &auth.User{Name: "jane", Groups: []string{auth.GroupAuthenticated}, Extra: map[string][]string{"example.com/team": {"x"}}}},
		{name: "anonymous", headers: http.Header{"Impersonate-User": {auth.UserAnonymous}}, allow: []string{"users/" + auth.UserAnonymous},
			want: &auth.User{Name: auth.UserAnonymous, Groups: []string{auth.GroupUnauthenticated}}},
		{name: "group without user", headers: http.Header{"Impersonate-Group": {"g"}},
			wantErr: "impersonating groups, a uid or extra fields requires impersonating a user (Impersonate-User)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := &allowList{allow: map[string]bool{}}
			for _, a := range tc.allow {
				z.allow[a] = true
			}
			ctx := auth.WithCredentials(context.Background(), auth.Credentials{Impersonate: auth.ImpersonationFrom(tc.headers)})
			u, ok, err := auth.Impersonating{Authenticator: fixed{}, Authorizer: z}.Authenticate(ctx)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if !apierrors.IsForbidden(err) && !apierrors.IsBadRequest(err) {
					t.Errorf("reason %s", apierrors.ReasonOf(err))
				}
			} else {
				if err != nil || !ok {
					t.Fatalf("Authenticate: %v, %v", ok, err)
				}
				if tc.want.Name != "bob" {
					if u.Impersonator == nil || u.Impersonator.Name != "bob" {
						t.Errorf("impersonator %+v", u.Impersonator)
					}
					tc.want.Impersonator = u.Impersonator
				}
				if !reflect.DeepEqual(u, tc.want) {
					t.Errorf("user %+v, want %+v", u, tc.want)
				}
			}
			if tc.asked != nil && !reflect.DeepEqual(z.asked, tc.asked) {
				t.Errorf("asked %q, want %q", z.asked, tc.asked)
			}
		})
	}
}

func TestImpersonationFromGRPCMetadata(t *testing.T) {
	im := auth.ImpersonationFrom(map[string][]string{"impersonate-user": {"jane"}, "impersonate-group": {"g"}, "authorization": {"Bearer x"}})
	if im == nil || im.User != "jane" || !reflect.DeepEqual(im.Groups, []string{"g"}) {
		t.Errorf("got %+v", im)
	}
	if auth.ImpersonationFrom(map[string][]string{"authorization": {"Bearer x"}}) != nil {
		t.Error("impersonation without headers")
	}
}
