// Package admission is the stage between authorization and validation:
// plugins that may change or refuse an object being created, updated or
// deleted. Reads never pass through admission.
//
// As in Kubernetes, a chain runs in two phases: every mutating plugin
// (Mutator) first, in order, then every validating plugin (Validator) on
// the object as the mutators left it. A plugin may be both.
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
	// OldObject reads the stored object an Update or Delete acts on; nil
	// for Create. It is a read, done only by the plugins that need it.
	OldObject func(ctx context.Context) (scheme.Object, error)
	User      *auth.User
	// DryRun requests run the whole chain but must change nothing
	// elsewhere either (a quota is not charged).
	DryRun bool
}

// Plugin is one admission step; it implements Mutator, Validator or both.
type Plugin interface {
	// Name is the plugin's name as --enable-admission-plugins spells it.
	Name() string
}

// Mutator is a plugin that may change the object.
type Mutator interface {
	Plugin
	// Admit may mutate a.Object; an error refuses the request and should
	// be an API error (Forbidden, Invalid, ...).
	Admit(ctx context.Context, a *Attributes) error
}

// Validator is a plugin that may only refuse.
type Validator interface {
	Plugin
	// Validate must not change a.Object; an error refuses the request.
	Validate(ctx context.Context, a *Attributes) error
}

// Chain is the enabled plugins in their order.
type Chain []Plugin

// Admit runs every Mutator, then every Validator; the first refusal wins.
func (c Chain) Admit(ctx context.Context, a *Attributes) error {
	for _, p := range c {
		if m, ok := p.(Mutator); ok {
			if err := m.Admit(ctx, a); err != nil {
				return err
			}
		}
	}
	for _, p := range c {
		if v, ok := p.(Validator); ok {
			if err := v.Validate(ctx, a); err != nil {
				return err
			}
		}
	}
	return nil
}
