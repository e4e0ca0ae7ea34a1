package quota

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/scheme"
)

// Operations an Evaluator is asked about (admission's names).
const (
	Create = "CREATE"
	Update = "UPDATE"
)

// Scopes a quota may name (spec.scopes and spec.scopeSelector).
const (
	ScopeTerminating               = "Terminating"
	ScopeNotTerminating            = "NotTerminating"
	ScopeBestEffort                = "BestEffort"
	ScopeNotBestEffort             = "NotBestEffort"
	ScopePriorityClass             = "PriorityClass"
	ScopeCrossNamespacePodAffinity = "CrossNamespacePodAffinity"
)

// Evaluator measures the usage of one resource's objects.
type Evaluator interface {
	// Resource is the group-resource it measures ("pods", "deployments.apps").
	Resource() string
	// Handles reports whether a write (Create or Update, with its
	// subresource) can change usage.
	Handles(operation, subresource string) bool
	// MatchingResources lists the names of names this evaluator measures.
	MatchingResources(names []string) []string
	// MatchesScope reports whether obj is in the scope sel names.
	MatchesScope(sel *corev1.ScopedResourceSelectorRequirement, obj scheme.Object) bool
	// Constraints checks that obj states what the quota's resources
	// (required) need it to state; the error is Kubernetes' "must
	// specify ..." text.
	Constraints(required []string, obj scheme.Object) error
	// Usage is what obj costs at time now.
	Usage(obj scheme.Object, now time.Time) map[string]string
}

// ObjectCountName is the quota name counting objects of a group-resource:
// "count/pods", "count/deployments.apps".
func ObjectCountName(groupResource string) string { return "count/" + groupResource }

// legacyCount are the names that count objects without "count/", as
// Kubernetes kept them from before count/RESOURCE.GROUP.
var legacyCount = map[string]string{
	"configmaps": "configmaps", "secrets": "secrets", "replicationcontrollers": "replicationcontrollers",
	"resourcequotas": "resourcequotas", "persistentvolumeclaims": "persistentvolumeclaims",
}

// ignored are resources a quota never counts (Kubernetes ignores events;
// the others are not stored objects of their own).
var ignored = map[string]bool{"events": true, "bindings": true, "componentstatuses": true}

// For returns the evaluator of a kind, or nil when objects of the kind do
// not count against quotas (cluster-scoped kinds, events).
func For(k *scheme.Kind) Evaluator {
	if k == nil || !k.Namespaced || ignored[k.Resource] && k.Group == "" {
		return nil
	}
	switch k.GroupResource() {
	case "pods":
		return Pods{}
	case "services":
		return Services{}
	}
	return ObjectCount{GroupResource: k.GroupResource(), Legacy: legacyCount[k.GroupResource()]}
}

// ForName returns the evaluator that measures a quota resource name, or
// nil when no registered kind does ("count/widgets.example.com" of an
// unknown kind, a misspelling).
func ForName(name string) Evaluator {
	for _, e := range []Evaluator{Pods{}, Services{}} {
		if len(e.MatchingResources([]string{name})) > 0 {
			return e
		}
	}
	gr, ok := strings.CutPrefix(name, "count/")
	if !ok {
		gr, ok = legacyCount[name]
	}
	if !ok {
		return nil
	}
	k, err := scheme.Lookup(gr)
	if err != nil || k.GroupResource() != gr {
		return nil
	}
	return For(k)
}

// ScopeSelectors are a quota's scopes (as Exists requirements) and its
// scopeSelector's expressions: all must match an object for the quota to
// apply to it.
func ScopeSelectors(q *corev1.ResourceQuota) []*corev1.ScopedResourceSelectorRequirement {
	var out []*corev1.ScopedResourceSelectorRequirement
	for _, s := range q.GetSpec().GetScopes() {
		out = append(out, &corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: "Exists"})
	}
	return append(out, q.GetSpec().GetScopeSelector().GetMatchExpressions()...)
}

// Matches reports whether a quota limiting hard (status.hard in
// admission, spec.hard in the controller) with scopes applies to obj: it
// limits something e measures and obj is in every scope.
func Matches(e Evaluator, hard map[string]string, scopes []*corev1.ScopedResourceSelectorRequirement, obj scheme.Object) bool {
	if len(e.MatchingResources(Names(hard))) == 0 {
		return false
	}
	for _, s := range scopes {
		if !e.MatchesScope(s, obj) {
			return false
		}
	}
	return true
}

// CalculateUsage recomputes a quota's usage in a namespace from its
// objects: for every evaluator measuring something hard names, the sum
// of the usage of the objects in the quota's scopes, with a zero for
// every limited name nothing uses. list returns the objects of a
// group-resource in the quota's namespace. Names no evaluator measures
// are left out of the result.
func CalculateUsage(hard map[string]string, scopes []*corev1.ScopedResourceSelectorRequirement,
	list func(groupResource string) ([]scheme.Object, error), now time.Time) (map[string]string, error) {
	byResource := map[string]Evaluator{}
	for _, n := range Names(hard) {
		if e := ForName(n); e != nil {
			byResource[e.Resource()] = e
		}
	}
	used := map[string]string{}
	for _, gr := range Names(stringSet(byResource)) {
		e := byResource[gr]
		names := e.MatchingResources(Names(hard))
		for _, n := range names {
			used[n] = "0"
		}
		objs, err := list(gr)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", gr, err)
		}
	obj:
		for _, o := range objs {
			for _, s := range scopes {
				if !e.MatchesScope(s, o) {
					continue obj
				}
			}
			used = Add(used, Mask(e.Usage(o, now), names))
		}
	}
	return used, nil
}

func stringSet[V any](m map[string]V) map[string]string {
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = ""
	}
	return out
}

// ObjectCount is the evaluator of kinds quotas only count:
// count/RESOURCE.GROUP, and the legacy name some core kinds also have
// ("configmaps", "secrets", ...). Only creates change the count; a
// quota with scopes never applies.
type ObjectCount struct {
	GroupResource string
	Legacy        string // "" when the kind has none
}

// Resource implements Evaluator.
func (e ObjectCount) Resource() string { return e.GroupResource }

// Handles implements Evaluator: only creates add objects.
func (e ObjectCount) Handles(op, subresource string) bool { return op == Create && subresource == "" }

// MatchingResources implements Evaluator.
func (e ObjectCount) MatchingResources(names []string) []string {
	var out []string
	for _, n := range names {
		if n == ObjectCountName(e.GroupResource) || e.Legacy != "" && n == e.Legacy {
			out = append(out, n)
		}
	}
	return out
}

// MatchesScope implements Evaluator: scopes are about pods.
func (ObjectCount) MatchesScope(*corev1.ScopedResourceSelectorRequirement, scheme.Object) bool {
	return false
}

// Constraints implements Evaluator: counting needs nothing of the object.
func (ObjectCount) Constraints([]string, scheme.Object) error { return nil }

// Usage implements Evaluator: one object.
func (e ObjectCount) Usage(scheme.Object, time.Time) map[string]string {
	out := map[string]string{ObjectCountName(e.GroupResource): "1"}
	if e.Legacy != "" {
		out[e.Legacy] = "1"
	}
	return out
}

// Services measures services: their count, load balancers and node ports.
type Services struct{}

var serviceResources = []string{"count/services", "services", "services.loadbalancers", "services.nodeports"}

// Resource implements Evaluator.
func (Services) Resource() string { return "services" }

// Handles implements Evaluator: an update may change the type.
func (Services) Handles(op, subresource string) bool {
	return (op == Create || op == Update) && subresource == ""
}

// MatchingResources implements Evaluator.
func (Services) MatchingResources(names []string) []string {
	return Intersection(names, serviceResources)
}

// MatchesScope implements Evaluator: scopes are about pods.
func (Services) MatchesScope(*corev1.ScopedResourceSelectorRequirement, scheme.Object) bool {
	return false
}

// Constraints implements Evaluator.
func (Services) Constraints([]string, scheme.Object) error { return nil }

// Usage implements Evaluator: a NodePort service uses a node port per
// port; a LoadBalancer service a load balancer and, unless it turned
// their allocation off, a node port per port.
func (Services) Usage(obj scheme.Object, _ time.Time) map[string]string {
	out := map[string]string{"count/services": "1", "services": "1", "services.loadbalancers": "0", "services.nodeports": "0"}
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return out
	}
	ports := svc.GetSpec().GetPorts()
	switch svc.GetSpec().GetType() {
	case "NodePort":
		out["services.nodeports"] = fmt.Sprint(len(ports))
	case "LoadBalancer":
		out["services.loadbalancers"] = "1"
		n := len(ports)
		if a := svc.GetSpec().AllocateLoadBalancerNodePorts; a != nil && !*a {
			n = 0
			for _, p := range ports {
				if p.GetNodePort() != 0 {
					n++
				}
			}
		}
		out["services.nodeports"] = fmt.Sprint(n)
	}
	return out
}

// FormatNames joins sorted names with commas, as quota errors list them.
func FormatNames(names []string) string {
	s := slices.Clone(names)
	slices.Sort(s)
	return strings.Join(s, ",")
}
