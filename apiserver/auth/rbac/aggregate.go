package rbac

import (
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/apiserver/validation"
)

// Aggregate computes the rules of every ClusterRole with an
// aggregationRule: the union of the rules of the other ClusterRoles its
// selectors match, in the order of their names, each distinct rule once.
// Aggregated roles may select each other (admin selects edit, which
// selects view), so the computation repeats until nothing changes. It
// returns the roles whose stored rules differ from the result, by name,
// with the rules they should have; roles is not modified.
func Aggregate(roles []*rbacv1.ClusterRole) map[string][]*rbacv1.PolicyRule {
	sorted := slices.Clone(roles)
	sort.Slice(sorted, func(i, j int) bool {
		return strings.Compare(sorted[i].GetMetadata().GetName(), sorted[j].GetMetadata().GetName()) < 0
	})
	current := map[string][]*rbacv1.PolicyRule{}
	for _, r := range sorted {
		current[r.GetMetadata().GetName()] = r.GetRules()
	}
	for range len(sorted) + 1 {
		changed := false
		for _, r := range sorted {
			if r.GetAggregationRule() == nil {
				continue
			}
			name := r.GetMetadata().GetName()
			var union []*rbacv1.PolicyRule
			for _, other := range sorted {
				if other == r || !selects(r.GetAggregationRule(), other.GetMetadata().GetLabels()) {
					continue
				}
				for _, rule := range current[other.GetMetadata().GetName()] {
					if !slices.ContainsFunc(union, func(u *rbacv1.PolicyRule) bool { return proto.Equal(u, rule) }) {
						union = append(union, rule)
					}
				}
			}
			if !equalRules(union, current[name]) {
				current[name] = union
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	out := map[string][]*rbacv1.PolicyRule{}
	for _, r := range sorted {
		if r.GetAggregationRule() != nil && !equalRules(current[r.GetMetadata().GetName()], r.GetRules()) {
			out[r.GetMetadata().GetName()] = current[r.GetMetadata().GetName()]
		}
	}
	return out
}

func selects(ar *rbacv1.AggregationRule, labels map[string]string) bool {
	for _, sel := range ar.GetClusterRoleSelectors() {
		if validation.SelectorMatches(sel, labels) {
			return true
		}
	}
	return false
}

func equalRules(a, b []*rbacv1.PolicyRule) bool {
	return slices.EqualFunc(a, b, func(x, y *rbacv1.PolicyRule) bool { return proto.Equal(x, y) })
}
