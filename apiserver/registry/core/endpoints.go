package core

import (
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("endpoints", endpointsStrategy{}) }

// endpointsStrategy checks that endpoints list IP addresses and valid ports.
type endpointsStrategy struct{ registry.Base }

// Default sets port protocol TCP.
func (endpointsStrategy) Default(obj scheme.Object) {
	for _, ss := range obj.(*corev1.Endpoints).Subsets {
		for _, p := range ss.Ports {
			if p.Protocol == "" {
				p.Protocol = "TCP"
			}
		}
	}
}

// Validate checks every subset: some address, IP addresses, ports.
func (endpointsStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for i, ss := range obj.(*corev1.Endpoints).Subsets {
		sp := index("subsets", i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, apierrors.Required(sp, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(a, index(child(sp, "addresses"), j))...)
		}
		for j, a := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(a, index(child(sp, "notReadyAddresses"), j))...)
		}
		if len(ss.Ports) == 0 {
			errs = append(errs, apierrors.Required(child(sp, "ports"), ""))
		}
		names := map[string]bool{}
		for j, p := range ss.Ports {
			pp := index(child(sp, "ports"), j)
			switch {
			case p.Name == "" && len(ss.Ports) > 1:
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
		}
	}
	return errs
}

func validateEndpointAddress(a *corev1.EndpointAddress, p string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	if a.Ip == "" {
		errs = append(errs, apierrors.Required(child(p, "ip"), ""))
	} else {
		errs = append(errs, msgs(child(p, "ip"), a.Ip, validation.IsValidIP(a.Ip))...)
	}
	if a.Hostname != "" {
		errs = append(errs, msgs(child(p, "hostname"), a.Hostname, validation.IsDNS1123Label(a.Hostname))...)
	}
	if n := a.GetNodeName(); n != "" {
		errs = append(errs, msgs(child(p, "nodeName"), n, validation.IsDNS1123Subdomain(n))...)
	}
	return errs
}
