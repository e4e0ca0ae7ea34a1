package auth

import (
	"context"
	"reflect"
	"testing"

	apierrors "minik8s/api/errors"
)

type fixed struct {
	user *User
	ok   bool
	err  error
}

func (f fixed) Authenticate(context.Context) (*User, bool, error) { return f.user, f.ok, f.err }

type tokenMap map[string]*User

func (m tokenMap) AuthenticateToken(_ context.Context, tok string) (*User, bool, error) {
	u, ok := m[tok]
	if !ok {
		return nil, false, nil
	}
	return u, true, nil
}

func TestUnion(t *testing.T) {
	alice := &User{Name: "alice", Groups: []string{"dev"}}
	bad := apierrors.NewUnauthorized("token expired")
	tests := []struct {
		name      string
		union     Union
		wantUser  *User
		wantError bool
	}{
		{"first that recognizes decides",
			Union{Authenticators: []Authenticator{fixed{}, fixed{user: alice, ok: true}}},
			&User{Name: "alice", Groups: []string{"dev", GroupAuthenticated}}, false},
		{"bad credentials stop the chain",
			Union{Authenticators: []Authenticator{fixed{err: bad}, fixed{user: alice, ok: true}}, AllowAnonymous: true},
			nil, true},
		{"nobody recognizes, anonymous allowed",
			Union{Authenticators: []Authenticator{fixed{}}, AllowAnonymous: true},
			&User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}}, false},
		{"nobody recognizes, anonymous refused",
			Union{Authenticators: []Authenticator{fixed{}}},
			nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok, err := tt.union.Authenticate(context.Background())
			if tt.wantError {
				if err == nil || ok {
					t.Fatalf("got %v, %v, %v; want an error", u, ok, err)
				}
				if apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
					t.Fatalf("reason %q, want Unauthorized (%v)", apierrors.ReasonOf(err), err)
				}
				return
			}
			if err != nil || !ok || !reflect.DeepEqual(u, tt.wantUser) {
				t.Fatalf("got %+v, %v, %v; want %+v", u, ok, err, tt.wantUser)
			}
		})
	}
	// An unknown token is refused even where anonymous requests pass.
	ctx := WithCredentials(context.Background(), Credentials{BearerToken: "nobody-knows-me"})
	if _, ok, err := (Union{Authenticators: []Authenticator{fixed{}}, AllowAnonymous: true}).Authenticate(ctx); ok || apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
		t.Fatalf("unknown token: ok=%v err=%v, want 401", ok, err)
	}
	// The group is added to a copy: the authenticator's user is not changed.
	if len(alice.Groups) != 1 {
		t.Fatalf("Union changed the authenticator's user: %v", alice.Groups)
	}
}

func TestTokensReadsTheBearerToken(t *testing.T) {
	a := Tokens{tokenMap{"s3cret": {Name: "bob"}}}
	if _, ok, err := a.Authenticate(context.Background()); ok || err != nil {
		t.Fatalf("no token: ok=%v err=%v, want not recognized", ok, err)
	}
	ctx := WithCredentials(context.Background(), Credentials{BearerToken: "s3cret"})
	u, ok, err := a.Authenticate(ctx)
	if err != nil || !ok || u.Name != "bob" {
		t.Fatalf("got %+v %v %v, want bob", u, ok, err)
	}
}
