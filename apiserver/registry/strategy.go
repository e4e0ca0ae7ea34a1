// Package registry holds the per-kind rules the generic store applies on
// every write: defaulting, validation, and what an update may change. The
// store (apiserver/storage) handles what all kinds share - names, uid,
// resourceVersion, generation, the status subresource; a Strategy adds only
// what is particular to its kind.
package registry

import (
	"context"
	"sync"

	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// Strategy is the kind-specific part of create and update.
// Implementations must not keep references to the objects they are given.
type Strategy interface {
	// Default fills defaults into a new or updated object (restartPolicy,
	// schedulerName, replicas, ...). It runs before validation.
	Default(obj scheme.Object)
	// Validate checks a complete object; field paths are from the object
	// root ("spec.containers[0].image"). Metadata is already checked.
	Validate(obj scheme.Object) []apierrors.FieldError
	// ValidateUpdate checks what may not change between old and new
	// (immutable fields). Validate has already passed on newObj.
	ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError
}

// Base is a Strategy that accepts anything; kinds embed it and override
// what they need.
type Base struct{}

// Default does nothing.
func (Base) Default(scheme.Object) {}

// Validate accepts everything.
func (Base) Validate(scheme.Object) []apierrors.FieldError { return nil }

// ValidateUpdate accepts every change.
func (Base) ValidateUpdate(_, _ scheme.Object) []apierrors.FieldError { return nil }

var (
	mu         sync.RWMutex
	strategies = map[string]Strategy{}
)

// Register sets the strategy for a resource ("pods"). Called from init.
func Register(resource string, s Strategy) {
	mu.Lock()
	defer mu.Unlock()
	strategies[resource] = s
}

// For returns the strategy of a resource, or Base when it has none.
func For(resource string) Strategy {
	mu.RLock()
	defer mu.RUnlock()
	if s, ok := strategies[resource]; ok {
		return s
	}
	return Base{}
}

// CreatePreparer is an optional Strategy interface: PrepareForCreate runs
// first on a create, with the request's context (the caller is
// auth.UserFrom(ctx)), to set what the server owns whatever the client
// sent (a CertificateSigningRequest's requestor, a cleared status).
type CreatePreparer interface {
	PrepareForCreate(ctx context.Context, obj scheme.Object)
}

// StatusSubresources is an optional Strategy interface for kinds whose
// status is written through more subresources than "status", each taking
// only part of it (a CertificateSigningRequest's approval conditions and
// its signer's certificate). Every name it lists is served like
// KIND/status; the generic store takes the status from the request and
// PrepareSubresourceUpdate puts back what that subresource may not change.
type StatusSubresources interface {
	// Subresources names the extra subresources, e.g. "approval".
	Subresources() []string
	// PrepareSubresourceUpdate is called for "status" and for each
	// extra subresource. next is the stored object carrying the request's
	// status; old is the stored object. It edits next only.
	PrepareSubresourceUpdate(subresource string, next, old scheme.Object)
}

// Subresources returns the extra status subresources of a resource (nil
// for most).
func Subresources(resource string) []string {
	if s, ok := For(resource).(StatusSubresources); ok {
		return s.Subresources()
	}
	return nil
}
