package helper

import "strings"

// LabelNamespaceNodeRestriction is the label prefix only administrators
// may set on a Node: labels a kubelet cannot set are what a cluster
// steers sensitive workloads with.
const LabelNamespaceNodeRestriction = "node-restriction.kubernetes.io"

// kubeletLabels are the kubernetes.io labels a kubelet may set on its
// Node (Kubernetes' k8s.io/kubelet/pkg/apis).
var kubeletLabels = map[string]bool{
	"kubernetes.io/hostname":                   true,
	"topology.kubernetes.io/zone":              true,
	"topology.kubernetes.io/region":            true,
	"failure-domain.beta.kubernetes.io/zone":   true,
	"failure-domain.beta.kubernetes.io/region": true,
	"beta.kubernetes.io/instance-type":         true,
	"node.kubernetes.io/instance-type":         true,
	"kubernetes.io/os":                         true,
	"kubernetes.io/arch":                       true,
	"beta.kubernetes.io/os":                    true,
	"beta.kubernetes.io/arch":                  true,
}

// KubeletLabelNamespaces are the prefixes (with their subdomains) a
// kubelet may use freely.
var KubeletLabelNamespaces = []string{"kubelet.kubernetes.io", "node.kubernetes.io"}

func labelNamespace(key string) string {
	ns, _, ok := strings.Cut(key, "/")
	if !ok {
		return ""
	}
	return ns
}

func inDomain(ns, domain string) bool { return ns == domain || strings.HasSuffix(ns, "."+domain) }

// IsKubeletLabel reports whether a kubelet may set the label key on its
// Node: any label outside kubernetes.io and k8s.io; within them only the
// kubelet's own (hostname, os, arch, topology, instance type, and the
// kubelet.kubernetes.io and node.kubernetes.io prefixes), never
// node-restriction.kubernetes.io. NodeRestriction enforces it; the
// kubelet refuses such --node-labels at start.
func IsKubeletLabel(key string) bool {
	ns := labelNamespace(key)
	if inDomain(ns, LabelNamespaceNodeRestriction) {
		return false
	}
	if !inDomain(ns, "kubernetes.io") && !inDomain(ns, "k8s.io") {
		return true
	}
	if kubeletLabels[key] {
		return true
	}
	for _, d := range KubeletLabelNamespaces {
		if inDomain(ns, d) {
			return true
		}
	}
	return false
}
