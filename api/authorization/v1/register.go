// Package authorizationv1 holds the authorization.k8s.io/v1 kinds: access
// reviews, asked at create and never stored.
package authorizationv1

import "minik8s/api/scheme"

// Group is the API group of these kinds.
const Group = "authorization.k8s.io"

func init() {
	for _, k := range []*scheme.Kind{
		{Kind: "SubjectAccessReview", Resource: "subjectaccessreviews", New: func() scheme.Object { return &SubjectAccessReview{} }},
		{Kind: "SelfSubjectAccessReview", Resource: "selfsubjectaccessreviews", New: func() scheme.Object { return &SelfSubjectAccessReview{} }},
		{Kind: "LocalSubjectAccessReview", Resource: "localsubjectaccessreviews", Namespaced: true, New: func() scheme.Object { return &LocalSubjectAccessReview{} }},
		{Kind: "SelfSubjectRulesReview", Resource: "selfsubjectrulesreviews", New: func() scheme.Object { return &SelfSubjectRulesReview{} }},
	} {
		k.Group, k.Version, k.CreateOnly = Group, "v1", true
		scheme.Register(k)
	}
}
