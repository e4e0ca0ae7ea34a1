package rbac

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/apiserver/auth"
)

// All is the wildcard of verbs, API groups, resources and URLs.
const All = "*"

// RuleAllows reports whether rule permits the request a, with
// Kubernetes' matching: "*" matches any verb, group or resource; a rule
// resource "pods/log" matches only that subresource, "*/scale" the scale
// subresource of every resource and "pods/*" every subresource of pods
// (the last is our addition); resourceNames restrict a rule to requests
// naming one of them, so such a rule never allows list, watch or create
// without a name; nonResourceURLs match a path exactly or, ending in "*",
// by prefix.
func RuleAllows(a auth.Attributes, rule *rbacv1.PolicyRule) bool {
	if !matches(rule.GetVerbs(), a.Verb) {
		return false
	}
	if !a.IsResourceRequest() {
		return urlMatches(rule.GetNonResourceURLs(), a.Path)
	}
	return matches(rule.GetApiGroups(), a.Group) &&
		resourceMatches(rule.GetResources(), a.Resource, a.Subresource) &&
		(len(rule.GetResourceNames()) == 0 || slices.Contains(rule.GetResourceNames(), a.Name) && a.Name != "")
}

func matches(list []string, v string) bool {
	for _, x := range list {
		if x == All || x == v {
			return true
		}
	}
	return false
}

func resourceMatches(list []string, resource, sub string) bool {
	combined := resource
	if sub != "" {
		combined += "/" + sub
	}
	for _, r := range list {
		switch {
		case r == All || r == combined:
			return true
		case sub == "":
			continue
		case r == "*/"+sub || r == resource+"/*":
			return true
		}
	}
	return false
}

func urlMatches(list []string, path string) bool {
	for _, u := range list {
		if u == All || u == path {
			return true
		}
		if p, ok := strings.CutSuffix(u, "*"); ok && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Covers reports whether the rules owner holds grant everything rules
// grant; missing lists what they do not (compacted: rules that differ
// only in verbs are merged). It is the escalation check's core: a role
// may be written only by someone it does not lift above themselves.
func Covers(owner, rules []*rbacv1.PolicyRule) (bool, []*rbacv1.PolicyRule) {
	var missing []*rbacv1.PolicyRule
	for _, r := range rules {
		for _, atom := range breakdown(r) {
			if !slices.ContainsFunc(owner, func(o *rbacv1.PolicyRule) bool { return ruleCovers(o, atom) }) {
				missing = append(missing, atom)
			}
		}
	}
	return len(missing) == 0, compact(missing)
}

// breakdown splits a rule into rules of one verb, one group, one resource
// and at most one name (or one verb and one URL).
func breakdown(r *rbacv1.PolicyRule) []*rbacv1.PolicyRule {
	var out []*rbacv1.PolicyRule
	for _, g := range r.GetApiGroups() {
		for _, res := range r.GetResources() {
			for _, v := range r.GetVerbs() {
				if len(r.GetResourceNames()) == 0 {
					out = append(out, &rbacv1.PolicyRule{Verbs: []string{v}, ApiGroups: []string{g}, Resources: []string{res}})
					continue
				}
				for _, n := range r.GetResourceNames() {
					out = append(out, &rbacv1.PolicyRule{Verbs: []string{v}, ApiGroups: []string{g}, Resources: []string{res}, ResourceNames: []string{n}})
				}
			}
		}
	}
	for _, u := range r.GetNonResourceURLs() {
		for _, v := range r.GetVerbs() {
			out = append(out, &rbacv1.PolicyRule{Verbs: []string{v}, NonResourceURLs: []string{u}})
		}
	}
	return out
}

func hasAll(set, want []string) bool {
	for _, w := range want {
		if !slices.Contains(set, w) {
			return false
		}
	}
	return true
}

// ruleCovers reports whether owner grants all of sub (Kubernetes'
// rule: wildcards in owner cover anything; a rule without names covers
// named ones, never the reverse).
func ruleCovers(owner, sub *rbacv1.PolicyRule) bool {
	if !slices.Contains(owner.GetVerbs(), All) && !hasAll(owner.GetVerbs(), sub.GetVerbs()) {
		return false
	}
	if !slices.Contains(owner.GetApiGroups(), All) && !hasAll(owner.GetApiGroups(), sub.GetApiGroups()) {
		return false
	}
	if !resourcesCover(owner.GetResources(), sub.GetResources()) {
		return false
	}
	for _, u := range sub.GetNonResourceURLs() {
		if !slices.ContainsFunc(owner.GetNonResourceURLs(), func(o string) bool { return urlCovers(o, u) }) {
			return false
		}
	}
	if len(owner.GetResourceNames()) > 0 {
		return len(sub.GetResourceNames()) > 0 && hasAll(owner.GetResourceNames(), sub.GetResourceNames())
	}
	return true
}

func resourcesCover(owner, want []string) bool {
	if slices.Contains(owner, All) {
		return true
	}
	for _, w := range want {
		if slices.Contains(owner, w) {
			continue
		}
		res, sub, ok := strings.Cut(w, "/")
		if !ok || !(slices.Contains(owner, "*/"+sub) || slices.Contains(owner, res+"/*")) {
			return false
		}
	}
	return true
}

func urlCovers(owner, url string) bool {
	if owner == url || owner == All {
		return true
	}
	p, ok := strings.CutSuffix(owner, "*")
	return ok && strings.HasPrefix(url, p)
}

// compact merges rules that differ only in their verbs, in a stable order.
func compact(rules []*rbacv1.PolicyRule) []*rbacv1.PolicyRule {
	byKey := map[string]*rbacv1.PolicyRule{}
	var keys []string
	for _, r := range rules {
		k := fmt.Sprint(r.GetApiGroups(), r.GetResources(), r.GetResourceNames(), r.GetNonResourceURLs())
		if have, ok := byKey[k]; ok {
			for _, v := range r.GetVerbs() {
				if !slices.Contains(have.Verbs, v) {
					have.Verbs = append(have.Verbs, v)
				}
			}
			continue
		}
		c := &rbacv1.PolicyRule{Verbs: slices.Clone(r.GetVerbs()), ApiGroups: r.GetApiGroups(), Resources: r.GetResources(),
			ResourceNames: r.GetResourceNames(), NonResourceURLs: r.GetNonResourceURLs()}
		byKey[k] = c
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*rbacv1.PolicyRule, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

// CompactString prints a rule as Kubernetes does in escalation errors:
// {APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list"]}.
func CompactString(r *rbacv1.PolicyRule) string {
	var parts []string
	for _, f := range []struct {
		name string
		v    []string
	}{{"APIGroups", r.GetApiGroups()}, {"Resources", r.GetResources()}, {"ResourceNames", r.GetResourceNames()},
		{"NonResourceURLs", r.GetNonResourceURLs()}, {"Verbs", r.GetVerbs()}} {
		if len(f.v) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", f.name, f.v))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
