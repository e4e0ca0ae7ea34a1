package admission

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// NamespaceGetter finds a namespace; the apiserver passes its store.
type NamespaceGetter func(ctx context.Context, name string) (*corev1.Namespace, error)

// NamespaceLifecycle refuses objects in namespaces that do not exist or
// are being deleted, and the deletion of the system namespaces.
type NamespaceLifecycle struct {
	Get NamespaceGetter
	// Live, if set, reads storage rather than a cache: for ForceLiveTTL
	// after a namespace's deletion passes this plugin, creates in it look
	// the namespace up live, so they cannot slip in while the cache still
	// shows it Active (as Kubernetes' forced live lookups). Use
	// NewNamespaceLifecycle to set it.
	Live   NamespaceGetter
	recent *recentDeletes
}

// ForceLiveTTL is how long creates in a just-deleted namespace read it
// live (Kubernetes' 5 seconds would do; the cache lags by milliseconds).
const ForceLiveTTL = 5 * time.Second

// NewNamespaceLifecycle returns the plugin reading namespaces with get
// (a cache), and with live for just-deleted ones.
func NewNamespaceLifecycle(get, live NamespaceGetter) NamespaceLifecycle {
	return NamespaceLifecycle{Get: get, Live: live, recent: &recentDeletes{at: map[string]time.Time{}}}
}

// recentDeletes are the namespaces whose deletion this plugin admitted,
// and when.
type recentDeletes struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (r *recentDeletes) add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for n, t := range r.at {
		if now.Sub(t) > ForceLiveTTL {
			delete(r.at, n)
		}
	}
	r.at[name] = now
}

func (r *recentDeletes) recent(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.at[name]
	return ok && time.Since(t) <= ForceLiveTTL
}

// Name is the plugin name as Kubernetes spells it.
func (NamespaceLifecycle) Name() string { return "NamespaceLifecycle" }

// Immortal namespaces cannot be deleted.
var Immortal = map[string]bool{"default": true, "kube-system": true, "kube-public": true}

// Validate implements Validator.
func (p NamespaceLifecycle) Validate(ctx context.Context, a *Attributes) error {
	if a.Kind.Resource == "namespaces" {
		if a.Operation == Delete && Immortal[a.Name] {
			return apierrors.NewForbidden("namespaces", a.Name, "this namespace may not be deleted")
		}
		if a.Operation == Delete && p.recent != nil {
			p.recent.add(a.Name)
		}
		return nil
	}
	if !a.Kind.Namespaced || a.Operation != Create {
		return nil
	}
	get := p.Get
	if p.Live != nil && p.recent != nil && p.recent.recent(a.Namespace) {
		get = p.Live
	}
	ns, err := get(ctx, a.Namespace)
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound("namespaces", a.Namespace)
	}
	if err != nil {
		return err
	}
	if helper.IsNamespaceTerminating(ns) {
		return apierrors.NewForbidden(a.Kind.GroupResource(), objectName(a.Object),
			fmt.Sprintf("unable to create new content in namespace %s because it is being terminated", a.Namespace))
	}
	return nil
}

func objectName(o scheme.Object) string {
	if o == nil {
		return ""
	}
	md := o.GetMetadata()
	if md.GetName() != "" {
		return md.GetName()
	}
	return md.GetGenerateName()
}
