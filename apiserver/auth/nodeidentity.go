package auth

import (
	"slices"
	"strings"
)

// NodeIdentity tells whether u is a kubelet and which node it speaks for
// (Kubernetes' nodeidentifier): a user named system:node:NAME in the group
// system:nodes. isNode with an empty name is a node whose name is unknown;
// the Node authorizer and NodeRestriction refuse everything it asks.
func NodeIdentity(u *User) (name string, isNode bool) {
	if u == nil || !strings.HasPrefix(u.Name, NodeUserPrefix) || !slices.Contains(u.Groups, GroupNodes) {
		return "", false
	}
	return strings.TrimPrefix(u.Name, NodeUserPrefix), true
}
