package printers

import (
	"fmt"
	certificatesv1 "minik8s/api/certificates/v1"
	"sort"
	"strings"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

// FormatLabels prints a label map as comma-separated key=value pairs sorted
// by key, or "<none>" when it is empty.
func FormatLabels(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// FormatLabelSelector prints a label selector in the selector syntax
// (app=web,tier in (a,b),!legacy) with its requirements sorted by key, as
// Kubernetes does, or "<none>" when it selects everything or is nil.
func FormatLabelSelector(s *metav1.LabelSelector) string {
	type req struct{ key, text string }
	var reqs []req
	for k, v := range s.GetMatchLabels() {
		reqs = append(reqs, req{k, k + "=" + v})
	}
	for _, r := range s.GetMatchExpressions() {
		vals := append([]string(nil), r.GetValues()...)
		sort.Strings(vals)
		k := r.GetKey()
		var text string
		switch r.GetOperator() {
		case "In":
			text = fmt.Sprintf("%s in (%s)", k, strings.Join(vals, ","))
		case "NotIn":
			text = fmt.Sprintf("%s notin (%s)", k, strings.Join(vals, ","))
		case "Exists":
			text = k
		case "DoesNotExist":
			text = "!" + k
		default:
			text = fmt.Sprintf("%s %s (%s)", k, r.GetOperator(), strings.Join(vals, ","))
		}
		reqs = append(reqs, req{k, text})
	}
	if len(reqs) == 0 {
		return "<none>"
	}
	// Match labels come first among equal keys; map order must not leak.
	sort.SliceStable(reqs, func(i, j int) bool {
		if reqs[i].key != reqs[j].key {
			return reqs[i].key < reqs[j].key
		}
		return reqs[i].text < reqs[j].text
	})
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		parts[i] = r.text
	}
	return strings.Join(parts, ",")
}

// ServiceType is the service's spec.type, ClusterIP when unset (the API's
// default).
func ServiceType(s *corev1.Service) string {
	if t := s.GetSpec().GetType(); t != "" {
		return t
	}
	return "ClusterIP"
}

// LoadBalancerAddresses lists the IPs (or else hostnames) of a service's
// load balancer, sorted and without repeats, comma-separated.
func LoadBalancerAddresses(s *corev1.Service) string {
	var addrs []string
	for _, in := range s.GetStatus().GetLoadBalancer().GetIngress() {
		addrs = append(addrs, firstNonEmpty(in.GetIp(), in.GetHostname()))
	}
	return sortedUnique(addrs)
}

// NodeStatus is Ready, NotReady or Unknown from the node's Ready
// condition, followed by SchedulingDisabled when the node is cordoned.
func NodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			status = "NotReady"
			if c.GetStatus() == corev1.ConditionTrue {
				status = "Ready"
			}
		}
	}
	if n.GetSpec().GetUnschedulable() {
		status += ",SchedulingDisabled"
	}
	return status
}

// NodeRoles lists a node's roles (from node-role.kubernetes.io/<role>
// labels and the kubernetes.io/role label) sorted, or "<none>".
func NodeRoles(n *corev1.Node) string {
	const prefix = "node-role.kubernetes.io/"
	roles := map[string]bool{}
	for k, v := range n.GetMetadata().GetLabels() {
		switch {
		case strings.HasPrefix(k, prefix) && len(k) > len(prefix):
			roles[strings.TrimPrefix(k, prefix)] = true
		case k == "kubernetes.io/role" && v != "":
			roles[v] = true
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	out := make([]string, 0, len(roles))
	for r := range roles {
		out = append(out, r)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// EventSource is "component, host" of whoever reported an event, falling
// back to the reporting component and instance of the newer event API.
func EventSource(e *corev1.Event) string {
	comp := firstNonEmpty(e.GetSource().GetComponent(), e.GetReportingComponent())
	host := firstNonEmpty(e.GetSource().GetHost(), e.GetReportingInstance())
	if host == "" {
		return comp
	}
	return comp + ", " + host
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// sortedUnique joins the non-empty strings of list, sorted and without
// repeats, with commas.
func sortedUnique(list []string) string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// CSRCondition is kubectl's CONDITION of a CertificateSigningRequest:
// Denied, Approved or Pending, then ",Failed" and ",Issued" when they
// apply.
func CSRCondition(c *certificatesv1.CertificateSigningRequest) string {
	var s string
	switch {
	case certificatesv1.ConditionTrue(c, certificatesv1.Denied):
		s = "Denied"
	case certificatesv1.ConditionTrue(c, certificatesv1.Approved):
		s = "Approved"
	default:
		s = "Pending"
	}
	if certificatesv1.IsFailed(c) {
		s += ",Failed"
	}
	if certificatesv1.IsIssued(c) {
		s += ",Issued"
	}
	return s
}
