package helper

import "testing"

func TestIsKubeletLabel(t *testing.T) {
	for key, want := range map[string]bool{
		"rack":                                   true,
		"example.com/rack":                       true,
		"notkubernetes.io/x":                     true,
		"kubernetes.io/hostname":                 true,
		"topology.kubernetes.io/zone":            true,
		"node.kubernetes.io/exclude-from-lb":     true,
		"x.kubelet.kubernetes.io/y":              true,
		"kubernetes.io/role":                     false,
		"node-role.kubernetes.io/worker":         false,
		"node-restriction.kubernetes.io/trusted": false,
		"a.node-restriction.kubernetes.io/b":     false,
		"k8s.io/x":                               false,
	} {
		t.Run(key, func(t *testing.T) {
			if got := IsKubeletLabel(key); got != want {
				t.Errorf("IsKubeletLabel(%q) = %v, want %v", key, got, want)
			}
		})
	}
}
