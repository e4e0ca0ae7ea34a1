package auth

import (
	"context"
	"errors"
)

// ResolveRules lists what user may do in namespace under z, as
// SelfSubjectRulesReview reports it. AlwaysAllow grants "*" on every
// resource and path, AlwaysDeny nothing; a UnionAuthorizer merges its
// members' rules; a RuleResolver answers for itself; any other authorizer
// (Node, a webhook) cannot list rules, so the answer is incomplete.
// Errors of the members are joined; the rules found are still returned.
func ResolveRules(ctx context.Context, z Authorizer, user *User, namespace string) ([]ResourceRule, []NonResourceRule, bool, error) {
	switch z := z.(type) {
	case AlwaysAllow:
		return []ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}},
			[]NonResourceRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}}, false, nil
	case AlwaysDeny:
		return nil, nil, false, nil
	case UnionAuthorizer:
		var (
			res        []ResourceRule
			nonRes     []NonResourceRule
			incomplete bool
			errs       []error
		)
		for _, m := range z {
			r, n, inc, err := ResolveRules(ctx, m, user, namespace)
			res, nonRes = append(res, r...), append(nonRes, n...)
			incomplete = incomplete || inc
			if err != nil {
				errs = append(errs, err)
			}
		}
		return res, nonRes, incomplete, errors.Join(errs...)
	case RuleResolver:
		return z.RulesFor(ctx, user, namespace)
	}
	return nil, nil, true, nil
}
