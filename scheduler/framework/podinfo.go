package framework

import (
	"errors"
	"fmt"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	"minik8s/api/labels"
)

// HostPort is one host port a pod claims on its node.
type HostPort struct {
	// IP is the host IP; "0.0.0.0" (or "") means every address.
	IP       string
	Protocol string
	Port     int32
}

// conflicts reports whether two claims collide: same protocol and port on
// the same IP, or either on every address.
func (p HostPort) conflicts(q HostPort) bool {
	if p.Port != q.Port || p.Protocol != q.Protocol {
		return false
	}
	return p.IP == q.IP || isWildcardIP(p.IP) || isWildcardIP(q.IP)
}

func isWildcardIP(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }

// AffinityTerm is a parsed PodAffinityTerm: which pods it selects, and in
// which topology domain (the value of TopologyKey on their node).
type AffinityTerm struct {
	// Namespaces lists the namespaces selected by name (the owning pod's own
	// namespace when the term names none and has no namespaceSelector).
	Namespaces map[string]bool
	// NamespaceSelector selects namespaces by their labels; nil if the
	// term has none. An empty selector selects every namespace.
	NamespaceSelector labels.Selector
	Selector          labels.Selector
	TopologyKey       string
}

// WeightedAffinityTerm is a preferred term with its weight (1-100).
type WeightedAffinityTerm struct {
	AffinityTerm
	Weight int64
}

// NamespaceLabels returns a namespace's labels, or nil when it is not
// known; the snapshot provides it for terms with a namespaceSelector.
type NamespaceLabels func(namespace string) map[string]string

// Matches reports whether the term selects pod p.
func (t *AffinityTerm) Matches(p *PodInfo, nsLabels NamespaceLabels) bool {
	if !t.Namespaces[p.Namespace] {
		if t.NamespaceSelector == nil {
			return false
		}
		if !t.NamespaceSelector.Empty() && (nsLabels == nil || !t.NamespaceSelector.Matches(nsLabels(p.Namespace))) {
			return false
		}
	}
	return t.Selector.Matches(p.Labels)
}

// PodInfo is a pod with everything the filters and scores need parsed
// once: requests, host ports, affinity terms, tolerations. It is
// immutable once built and shared between cache snapshots.
type PodInfo struct {
	Pod       *corev1.Pod
	UID       string
	Namespace string
	Name      string
	Labels    map[string]string
	// OwnerUID is the UID of the pod's controller (ReplicaSet, Job...), or "".
	OwnerUID string

	Requests Resource // what the pod needs on a node (Pods == 1)
	NonZero  Resource // cpu and memory for scoring, with defaults for unset requests
	Ports    []HostPort

	NodeSelector          map[string]string
	RequiredNodeAffinity  *corev1.NodeSelector // nil: no requirement
	PreferredNodeAffinity []*corev1.PreferredSchedulingTerm
	Tolerations           []*corev1.Toleration

	RequiredAffinity      []AffinityTerm
	RequiredAntiAffinity  []AffinityTerm
	PreferredAffinity     []WeightedAffinityTerm
	PreferredAntiAffinity []WeightedAffinityTerm

	// Err is set when part of the spec could not be parsed (a bad quantity
	// or selector). An incoming pod with Err is unschedulable; an existing
	// pod with Err is still accounted with what could be parsed.
	Err error
}

// Key returns "namespace/name".
func (p *PodInfo) Key() string { return p.Namespace + "/" + p.Name }

// HasAffinity reports whether the pod has any pod (anti-)affinity term.
func (p *PodInfo) HasAffinity() bool {
	return len(p.RequiredAffinity)+len(p.RequiredAntiAffinity)+len(p.PreferredAffinity)+len(p.PreferredAntiAffinity) > 0
}

// NewPodInfo parses pod. It never fails: problems are collected in Err.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	md := pod.GetMetadata()
	spec := pod.GetSpec()
	pi := &PodInfo{
		Pod:          pod,
		UID:          md.GetUid(),
		Namespace:    md.GetNamespace(),
		Name:         md.GetName(),
		Labels:       md.GetLabels(),
		NodeSelector: spec.GetNodeSelector(),
		Tolerations:  spec.GetTolerations(),
	}
	pi.OwnerUID = helper.GetControllerOf(md).GetUid()
	var errs []error
	reqs, err := PodRequests(spec)
	if err != nil {
		errs = append(errs, err)
		reqs = Resource{Pods: 1}
	}
	pi.Requests = reqs
	pi.NonZero = nonZeroRequests(spec, reqs)
	for _, c := range spec.GetContainers() {
		pi.Ports = appendHostPorts(pi.Ports, c)
	}
	for _, c := range spec.GetInitContainers() {
		if c.GetRestartPolicy() == "Always" {
			pi.Ports = appendHostPorts(pi.Ports, c)
		}
	}
	aff := spec.GetAffinity()
	if na := aff.GetNodeAffinity(); na != nil {
		if req := na.GetRequiredDuringSchedulingIgnoredDuringExecution(); req != nil {
			pi.RequiredNodeAffinity = req
		}
		pi.PreferredNodeAffinity = na.GetPreferredDuringSchedulingIgnoredDuringExecution()
	}
	if pa := aff.GetPodAffinity(); pa != nil {
		pi.RequiredAffinity, err = pi.parseTerms(pa.GetRequiredDuringSchedulingIgnoredDuringExecution())
		errs = appendErr(errs, "podAffinity required", err)
		pi.PreferredAffinity, err = pi.parseWeighted(pa.GetPreferredDuringSchedulingIgnoredDuringExecution())
		errs = appendErr(errs, "podAffinity preferred", err)
	}
	if pa := aff.GetPodAntiAffinity(); pa != nil {
		pi.RequiredAntiAffinity, err = pi.parseTerms(pa.GetRequiredDuringSchedulingIgnoredDuringExecution())
		errs = appendErr(errs, "podAntiAffinity required", err)
		pi.PreferredAntiAffinity, err = pi.parseWeighted(pa.GetPreferredDuringSchedulingIgnoredDuringExecution())
		errs = appendErr(errs, "podAntiAffinity preferred", err)
	}
	if len(errs) > 0 {
		pi.Err = fmt.Errorf("pod %s: %w", pi.Key(), errors.Join(errs...))
	}
	return pi
}

func appendErr(errs []error, what string, err error) []error {
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
	}
	return errs
}

func appendHostPorts(ports []HostPort, c *corev1.Container) []HostPort {
	for _, p := range c.GetPorts() {
		if p.GetHostPort() <= 0 {
			continue
		}
		proto := p.GetProtocol()
		if proto == "" {
			proto = "TCP"
		}
		ip := p.GetHostIP()
		if ip == "" {
			ip = "0.0.0.0"
		}
		ports = append(ports, HostPort{IP: ip, Protocol: proto, Port: p.GetHostPort()})
	}
	return ports
}

func (pi *PodInfo) parseTerms(terms []*corev1.PodAffinityTerm) ([]AffinityTerm, error) {
	out := make([]AffinityTerm, 0, len(terms))
	for i, t := range terms {
		at, err := pi.parseTerm(t)
		if err != nil {
			return out, fmt.Errorf("term %d: %w", i, err)
		}
		out = append(out, at)
	}
	return out, nil
}

func (pi *PodInfo) parseWeighted(terms []*corev1.WeightedPodAffinityTerm) ([]WeightedAffinityTerm, error) {
	out := make([]WeightedAffinityTerm, 0, len(terms))
	for i, t := range terms {
		at, err := pi.parseTerm(t.GetPodAffinityTerm())
		if err != nil {
			return out, fmt.Errorf("term %d: %w", i, err)
		}
		out = append(out, WeightedAffinityTerm{AffinityTerm: at, Weight: int64(t.GetWeight())})
	}
	return out, nil
}

// parseTerm builds the term's selectors. matchLabelKeys (mismatchLabelKeys)
// add "key in (this pod's value)" ("key notin ...") to the label selector,
// as Kubernetes does.
func (pi *PodInfo) parseTerm(t *corev1.PodAffinityTerm) (AffinityTerm, error) {
	if t.GetTopologyKey() == "" {
		return AffinityTerm{}, errors.New("topologyKey is required")
	}
	sel, err := labels.FromLabelSelector(t.GetLabelSelector())
	if err != nil {
		return AffinityTerm{}, fmt.Errorf("labelSelector: %w", err)
	}
	if t.GetLabelSelector() != nil {
		reqs := sel.Requirements()
		for _, k := range t.GetMatchLabelKeys() {
			if v, ok := pi.Labels[k]; ok {
				r, err := labels.NewRequirement(k, labels.In, []string{v})
				if err != nil {
					return AffinityTerm{}, fmt.Errorf("matchLabelKeys: %w", err)
				}
				reqs = append(reqs, r)
			}
		}
		for _, k := range t.GetMismatchLabelKeys() {
			if v, ok := pi.Labels[k]; ok {
				r, err := labels.NewRequirement(k, labels.NotIn, []string{v})
				if err != nil {
					return AffinityTerm{}, fmt.Errorf("mismatchLabelKeys: %w", err)
				}
				reqs = append(reqs, r)
			}
		}
		if len(t.GetMatchLabelKeys())+len(t.GetMismatchLabelKeys()) > 0 {
			sel = labels.NewSelector(reqs...)
		}
	}
	at := AffinityTerm{Selector: sel, TopologyKey: t.GetTopologyKey(), Namespaces: map[string]bool{}}
	for _, ns := range t.GetNamespaces() {
		at.Namespaces[ns] = true
	}
	if t.GetNamespaceSelector() != nil {
		at.NamespaceSelector, err = labels.FromLabelSelector(t.GetNamespaceSelector())
		if err != nil {
			return AffinityTerm{}, fmt.Errorf("namespaceSelector: %w", err)
		}
	} else if len(at.Namespaces) == 0 {
		at.Namespaces[pi.Namespace] = true
	}
	return at, nil
}
