package core

import (
	"strconv"
	"strings"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("services", serviceStrategy{}) }

// serviceStrategy defaults and validates services. Cluster IPs and node
// ports are allocated elsewhere; here they are only syntax-checked, and a
// cluster IP once set may not change.
type serviceStrategy struct{ registry.Base }

var serviceTypes = []string{"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"}

// Default sets type ClusterIP, sessionAffinity None, port protocol TCP,
// targetPort = port, the traffic policies and single-stack IPv4.
func (serviceStrategy) Default(obj scheme.Object) {
	svc := obj.(*corev1.Service)
	if svc.Spec == nil {
		svc.Spec = &corev1.ServiceSpec{}
	}
	s := svc.Spec
	if s.Type == "" {
		s.Type = "ClusterIP"
	}
	if s.SessionAffinity == "" {
		s.SessionAffinity = "None"
	}
	if s.SessionAffinity == "ClientIP" {
		if s.SessionAffinityConfig == nil {
			s.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
		}
		if s.SessionAffinityConfig.ClientIP == nil {
			s.SessionAffinityConfig.ClientIP = &corev1.ClientIPConfig{}
		}
		if s.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			s.SessionAffinityConfig.ClientIP.TimeoutSeconds = new(int32(10800))
		}
	}
	for _, p := range s.Ports {
		if p.Protocol == "" {
			p.Protocol = "TCP"
		}
		if p.TargetPort == nil || (p.TargetPort.Type == 0 && p.TargetPort.IntVal == 0) {
			p.TargetPort = &metav1.IntOrString{IntVal: p.Port}
		}
	}
	if s.Type == "ExternalName" {
		return
	}
	if s.InternalTrafficPolicy == nil {
		s.InternalTrafficPolicy = new("Cluster")
	}
	if (s.Type == "NodePort" || s.Type == "LoadBalancer") && s.ExternalTrafficPolicy == "" {
		s.ExternalTrafficPolicy = "Cluster"
	}
	if s.Type == "LoadBalancer" && s.AllocateLoadBalancerNodePorts == nil {
		s.AllocateLoadBalancerNodePorts = new(true)
	}
	if s.IpFamilyPolicy == nil {
		s.IpFamilyPolicy = new("SingleStack")
	}
	if len(s.IpFamilies) == 0 {
		s.IpFamilies = []string{"IPv4"}
	}
}

// Validate checks ports, type, cluster IPs, selector and policies.
func (serviceStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*corev1.Service).Spec
	if s == nil {
		return []apierrors.FieldError{apierrors.Required("spec", "")}
	}
	errs := enum("spec.type", s.Type, serviceTypes)
	headless := s.ClusterIP == "None"
	if len(s.Ports) == 0 && !headless && s.Type != "ExternalName" {
		errs = append(errs, apierrors.Required("spec.ports", ""))
	}
	errs = append(errs, validateServicePorts(s)...)
	errs = append(errs, validateClusterIPs(s)...)
	switch s.Type {
	case "ExternalName":
		name := strings.TrimSuffix(s.ExternalName, ".")
		if name == "" {
			errs = append(errs, apierrors.Required("spec.externalName", ""))
		} else {
			errs = append(errs, msgs("spec.externalName", s.ExternalName, validation.IsDNS1123Subdomain(name))...)
		}
	case "NodePort", "LoadBalancer":
		if headless {
			errs = append(errs, apierrors.Invalid("spec.clusterIP", s.ClusterIP, "may not be set to 'None' for "+s.Type+" services"))
		}
	}
	errs = append(errs, validation.ValidateLabels(s.Selector, "spec.selector")...)
	errs = append(errs, enum("spec.sessionAffinity", s.SessionAffinity, []string{"None", "ClientIP"})...)
	if c := s.GetSessionAffinityConfig().GetClientIP(); c != nil && c.TimeoutSeconds != nil && (*c.TimeoutSeconds < 1 || *c.TimeoutSeconds > 86400) {
		errs = append(errs, apierrors.Invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", *c.TimeoutSeconds, "must be greater than 0 and less than 86400"))
	}
	for i, ip := range s.ExternalIPs {
		errs = append(errs, msgs(index("spec.externalIPs", i), ip, validation.IsValidIP(ip))...)
	}
	for i, cidr := range s.LoadBalancerSourceRanges {
		errs = append(errs, msgs(index("spec.loadBalancerSourceRanges", i), cidr, validation.IsCIDR(cidr))...)
	}
	if s.ExternalTrafficPolicy != "" {
		if s.Type != "NodePort" && s.Type != "LoadBalancer" {
			errs = append(errs, apierrors.Invalid("spec.externalTrafficPolicy", s.ExternalTrafficPolicy, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
		} else {
			errs = append(errs, enum("spec.externalTrafficPolicy", s.ExternalTrafficPolicy, []string{"Cluster", "Local"})...)
		}
	}
	if p := s.InternalTrafficPolicy; p != nil {
		errs = append(errs, enum("spec.internalTrafficPolicy", *p, []string{"Cluster", "Local"})...)
	}
	if p := s.IpFamilyPolicy; p != nil {
		errs = append(errs, enum("spec.ipFamilyPolicy", *p, []string{"SingleStack", "PreferDualStack", "RequireDualStack"})...)
	}
	for i, f := range s.IpFamilies {
		errs = append(errs, enum(index("spec.ipFamilies", i), f, []string{"IPv4", "IPv6"})...)
	}
	return errs
}

func validateServicePorts(s *corev1.ServiceSpec) []apierrors.FieldError {
	var errs []apierrors.FieldError
	names := map[string]bool{}
	type portKey struct {
		port     int32
		protocol string
	}
	ports := map[portKey]bool{}
	nodePorts := map[portKey]bool{}
	for i, p := range s.Ports {
		pp := index("spec.ports", i)
		switch {
		case p.Name == "" && len(s.Ports) > 1:
			errs = append(errs, apierrors.Required(child(pp, "name"), ""))
		case p.Name != "":
			errs = append(errs, msgs(child(pp, "name"), p.Name, validation.IsDNS1123Label(p.Name))...)
			if names[p.Name] {
				errs = append(errs, apierrors.Duplicate(child(pp, "name"), p.Name))
			}
			names[p.Name] = true
		}
		errs = append(errs, msgs(child(pp, "port"), p.Port, validation.IsValidPortNum(p.Port))...)
		errs = append(errs, enum(child(pp, "protocol"), p.Protocol, protocols)...)
		if k := (portKey{p.Port, p.Protocol}); ports[k] {
			errs = append(errs, apierrors.Duplicate(pp, p.Protocol+"/"+strconv.Itoa(int(p.Port))))
		} else {
			ports[k] = true
		}
		errs = append(errs, validatePortNumOrName(p.TargetPort, child(pp, "targetPort"))...)
		if p.NodePort != 0 {
			np := child(pp, "nodePort")
			if s.Type == "ClusterIP" || s.Type == "ExternalName" {
				errs = append(errs, apierrors.Forbidden(np, "may not be used when `type` is '"+s.Type+"'"))
			}
			errs = append(errs, msgs(np, p.NodePort, validation.IsValidPortNum(p.NodePort))...)
			if k := (portKey{p.NodePort, p.Protocol}); nodePorts[k] {
				errs = append(errs, apierrors.Duplicate(np, p.NodePort))
			} else {
				nodePorts[k] = true
			}
		}
	}
	return errs
}

func validateClusterIPs(s *corev1.ServiceSpec) []apierrors.FieldError {
	var errs []apierrors.FieldError
	if s.Type == "ExternalName" {
		if s.ClusterIP != "" {
			errs = append(errs, apierrors.Forbidden("spec.clusterIP", "may not be set for type `ExternalName`"))
		}
		return errs
	}
	if s.ClusterIP != "" && s.ClusterIP != "None" {
		errs = append(errs, msgs("spec.clusterIP", s.ClusterIP, validation.IsValidIP(s.ClusterIP))...)
	}
	for i, ip := range s.ClusterIPs {
		p := index("spec.clusterIPs", i)
		switch {
		case i == 0 && s.ClusterIP != "" && ip != s.ClusterIP:
			errs = append(errs, apierrors.Invalid(p, ip, "must match `spec.clusterIP`"))
		case ip == "None":
			if i > 0 || len(s.ClusterIPs) > 1 {
				errs = append(errs, apierrors.Invalid(p, ip, "'None' may only be the only entry"))
			}
		default:
			errs = append(errs, msgs(p, ip, validation.IsValidIP(ip))...)
		}
	}
	return errs
}

// ValidateUpdate keeps a set cluster IP: it may only change when the
// service becomes or stops being an ExternalName.
func (serviceStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	ns, os := newObj.(*corev1.Service).GetSpec(), oldObj.(*corev1.Service).GetSpec()
	if os.GetClusterIP() == "" || os.GetType() == "ExternalName" || ns.GetType() == "ExternalName" {
		return nil
	}
	return validation.Immutable("spec.clusterIP", ns.GetClusterIP(), os.GetClusterIP())
}
