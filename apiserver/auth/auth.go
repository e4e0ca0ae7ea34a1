// Package auth holds the first two stages of the request path:
// authentication (who is calling) and authorization (may they do this).
// Until the security work lands the apiserver runs with Anonymous and
// AlwaysAllow; both are interfaces so real implementations slot in.
package auth

import "context"

// User is the authenticated caller.
type User struct {
	Name   string
	Groups []string
}

// Authenticator identifies the caller of a request.
type Authenticator interface {
	// Authenticate returns the caller, or an Unauthorized API error.
	Authenticate(ctx context.Context) (*User, error)
}

// Attributes describe what a request wants to do, for authorization.
type Attributes struct {
	User        *User
	Verb        string // create, get, list, watch, update, delete
	Group       string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
}

// Authorizer decides whether a request may proceed.
type Authorizer interface {
	// Authorize returns nil to allow, or a Forbidden API error.
	Authorize(ctx context.Context, a Attributes) error
}

// Anonymous treats every caller as system:anonymous.
type Anonymous struct{}

// Authenticate always succeeds.
func (Anonymous) Authenticate(context.Context) (*User, error) {
	return &User{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}}, nil
}

// AlwaysAllow permits every request.
type AlwaysAllow struct{}

// Authorize always allows.
func (AlwaysAllow) Authorize(context.Context, Attributes) error { return nil }
