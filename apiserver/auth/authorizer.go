package auth

import (
	"context"
	"fmt"
	"strings"

	apierrors "minik8s/api/errors"
)

// Attributes describe what a request wants to do, for authorization.
type Attributes struct {
	User        *User
	Verb        string // get, list, watch, create, update, patch, delete, deletecollection; impersonate, bind, escalate, ...
	Group       string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	// FieldSelector is a list's or watch's field selector as sent
	// ("spec.nodeName=n1"): the Node authorizer lets a kubelet list only
	// the pods bound to it.
	FieldSelector string
	// Path is set instead of Resource for non-resource requests (/healthz,
	// /version, /metrics, ...).
	Path string
}

// IsResourceRequest tells a request on a resource from one on a path.
func (a Attributes) IsResourceRequest() bool { return a.Path == "" }

// Decision is an authorizer's answer.
type Decision int

const (
	// NoOpinion lets the next authorizer of a Union decide; the request
	// is refused when none does.
	NoOpinion Decision = iota
	// Allow permits the request; no further authorizer is asked.
	Allow
	// Deny refuses the request; no further authorizer is asked.
	Deny
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "NoOpinion"
}

// Authorizer decides whether a request may proceed (Kubernetes'
// authorizer.Authorizer). reason says why, for the Forbidden message and
// SubjectAccessReview; err is for failures to decide, never for "no".
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (d Decision, reason string, err error)
}

// AlwaysAllow permits every request (--authorization-mode=AlwaysAllow).
type AlwaysAllow struct{}

// Authorize always allows.
func (AlwaysAllow) Authorize(context.Context, Attributes) (Decision, string, error) {
	return Allow, "", nil
}

// AlwaysDeny refuses every request (--authorization-mode=AlwaysDeny).
type AlwaysDeny struct{}

// Authorize always denies.
func (AlwaysDeny) Authorize(context.Context, Attributes) (Decision, string, error) {
	return Deny, "Everything is forbidden.", nil
}

// UnionAuthorizer asks each authorizer in order (the modes of
// --authorization-mode); the first Allow or Deny decides. Errors are kept
// and returned only when nobody decides, so one failing authorizer does
// not hide another's Allow.
type UnionAuthorizer []Authorizer

// Authorize implements Authorizer.
func (u UnionAuthorizer) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	var reasons []string
	var errs []error
	for _, z := range u {
		d, reason, err := z.Authorize(ctx, a)
		if err != nil {
			errs = append(errs, err)
		}
		if reason != "" {
			reasons = append(reasons, reason)
		}
		if d != NoOpinion {
			return d, reason, nil
		}
	}
	var err error
	if len(errs) > 0 {
		err = fmt.Errorf("authorize: %w", errs[0])
	}
	return NoOpinion, strings.Join(reasons, "\n"), err
}

// Check asks z about a and turns anything but Allow into the Forbidden
// error Kubernetes returns, naming user, verb and resource:
//
//	pods "x" is forbidden: User "jane" cannot delete resource "pods" in API group "" in the namespace "default"
func Check(ctx context.Context, z Authorizer, a Attributes) error {
	d, reason, err := z.Authorize(ctx, a)
	if d == Allow {
		return nil
	}
	if err != nil && reason == "" {
		reason = err.Error()
	}
	return Forbidden(a, reason)
}

// Forbidden is the error for a refused request.
func Forbidden(a Attributes, reason string) error {
	name := "<unknown>"
	if a.User != nil {
		name = a.User.Name
	}
	var msg string
	if !a.IsResourceRequest() {
		msg = fmt.Sprintf("User %q cannot %s path %q", name, a.Verb, a.Path)
	} else {
		res := a.Resource
		if a.Subresource != "" {
			res += "/" + a.Subresource
		}
		msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q", name, a.Verb, res, a.Group)
		if a.Namespace != "" {
			msg += fmt.Sprintf(" in the namespace %q", a.Namespace)
		} else {
			msg += " at the cluster scope"
		}
	}
	if reason != "" {
		msg += ": " + reason
	}
	if !a.IsResourceRequest() {
		return apierrors.NewForbidden("", "", msg)
	}
	gr := a.Resource
	if a.Group != "" {
		gr += "." + a.Group
	}
	return apierrors.NewForbidden(gr, a.Name, msg)
}

// ResourceRule is one rule of what a user may do on resources (the shape
// of SelfSubjectRulesReview's resourceRules).
type ResourceRule struct {
	Verbs         []string
	APIGroups     []string
	Resources     []string // "pods", "pods/log", "*"
	ResourceNames []string
}

// NonResourceRule is one rule of what a user may do on paths.
type NonResourceRule struct {
	Verbs           []string
	NonResourceURLs []string // "/healthz", "/api/*"
}

// RuleResolver lists the rules that apply to a user in a namespace (all
// cluster-wide rules plus the namespace's); SelfSubjectRulesReview and
// `kubectl auth can-i --list` show them. incomplete is true when some
// rules could not be resolved (a binding naming a missing role) or an
// authorizer that cannot list rules (Node) also decides.
type RuleResolver interface {
	RulesFor(ctx context.Context, user *User, namespace string) (resource []ResourceRule, nonResource []NonResourceRule, incomplete bool, err error)
}
