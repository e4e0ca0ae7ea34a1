package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/auth/node"
	"minik8s/apiserver/auth/rbac"
	"minik8s/apiserver/registry/generic"
)

// AuthorizationModes are the modes --authorization-mode may name; the
// flag's order is the order they are asked in (the first Allow or Deny
// decides), as in kube-apiserver.
var AuthorizationModes = []string{"AlwaysAllow", "AlwaysDeny", "Node", "RBAC"}

// DefaultAuthorizationMode is kube-apiserver's default.
const DefaultAuthorizationMode = "AlwaysAllow"

// parseAuthorizationModes checks the flag's names; empty (an Options
// built in code) means the default.
func parseAuthorizationModes(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		v = DefaultAuthorizationMode
	}
	var modes []string
	for _, m := range strings.Split(v, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if !slices.Contains(AuthorizationModes, m) {
			return nil, fmt.Errorf("--authorization-mode: unknown mode %q (known: %s)", m, strings.Join(AuthorizationModes, ", "))
		}
		if slices.Contains(modes, m) {
			return nil, fmt.Errorf("--authorization-mode: mode %q given twice", m)
		}
		modes = append(modes, m)
	}
	return modes, nil
}

// authorizer builds the modes of --authorization-mode in the flag's order.
// Authorizers that follow the store (Node's graph) run until ctx ends.
func (o *Options) authorizer(ctx context.Context, st *generic.Store) (auth.Authorizer, error) {
	modes, err := parseAuthorizationModes(o.AuthorizationMode)
	if err != nil {
		return nil, err
	}
	var u auth.UnionAuthorizer
	for _, m := range modes {
		switch m {
		case "AlwaysAllow":
			u = append(u, auth.AlwaysAllow{})
		case "AlwaysDeny":
			u = append(u, auth.AlwaysDeny{})
		case "Node":
			u = append(u, NodeAuthorizer(ctx, st))
		case "RBAC":
			u = append(u, rbac.New()) // filled and kept current by startRBAC
		}
	}
	if len(u) == 1 {
		return u[0], nil
	}
	return u, nil
}

// NodeAuthorizer is the Node authorizer over st's pod watch cache; its
// graph follows the pods until ctx ends.
func NodeAuthorizer(ctx context.Context, st *generic.Store) *node.Authorizer {
	g := node.NewGraph()
	podKind, _ := scheme.ByResource("pods")
	go g.Run(ctx, st.Cache(podKind))
	return node.NewAuthorizer(g)
}
