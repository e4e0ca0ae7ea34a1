// Package authenticationv1 holds the authentication.k8s.io/v1 kinds.
package authenticationv1

import "minik8s/api/scheme"

// Group is the API group of these kinds.
const Group = "authentication.k8s.io"

// TokenRequestKind is the kind of the serviceaccounts/token subresource.
// It is not a resource of its own, so it is not in the scheme's resource
// table.
var TokenRequestKind = &scheme.Kind{Group: Group, Version: "v1", Kind: "TokenRequest", Resource: "token",
	Namespaced: true, New: func() scheme.Object { return &TokenRequest{} }}

func init() {
	scheme.Register(&scheme.Kind{Group: Group, Version: "v1", Kind: "TokenReview", Resource: "tokenreviews", CreateOnly: true,
		New: func() scheme.Object { return &TokenReview{} }})
	scheme.Register(&scheme.Kind{Group: Group, Version: "v1", Kind: "SelfSubjectReview", Resource: "selfsubjectreviews", CreateOnly: true,
		New: func() scheme.Object { return &SelfSubjectReview{} }})
}
