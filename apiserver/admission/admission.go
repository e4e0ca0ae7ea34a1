// Package admission is the stage between authorization and validation:
// plugins that may change or refuse an object being created, updated or
// deleted. Reads never pass through admission.
package admission

import (
	"context"

	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
)

// Operations admission sees.
const (
	Create = "CREATE"
	Update = "UPDATE"
	Delete = "DELETE"
)

// Attributes describe one write.
type Attributes struct {
	Operation   string
	Kind        *scheme.Kind
	Namespace   string
	Name        string
	Subresource string
	// Object is the incoming object (nil for Delete); mutating plugins
	// may change it.
	Object scheme.Object
	User   *auth.User
}

// Plugin is one admission step.
type Plugin interface {
	Name() string
	// Admit may mutate a.Object; an error refuses the request and should
	// be an API error (Forbidden, Invalid, ...).
	Admit(ctx context.Context, a *Attributes) error
}

// Chain runs plugins in order; the first refusal wins.
type Chain []Plugin

// Admit runs every plugin.
func (c Chain) Admit(ctx context.Context, a *Attributes) error {
	for _, p := range c {
		if err := p.Admit(ctx, a); err != nil {
			return err
		}
	}
	return nil
}
