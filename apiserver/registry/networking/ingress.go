// Package networking holds the Ingress strategy.
package networking

import (
	"strings"

	apierrors "minik8s/api/errors"
	networkingv1 "minik8s/api/networking/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("ingresses", ingressStrategy{}) }

// ingressStrategy checks an Ingress's rules, paths and backends.
type ingressStrategy struct{ registry.Base }

var pathTypes = []string{"Exact", "Prefix", "ImplementationSpecific"}

// Validate requires rules or a default backend, valid hosts, paths with a
// pathType and absolute path, and backends naming a service port.
func (ingressStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*networkingv1.Ingress).GetSpec()
	var errs []apierrors.FieldError
	if len(s.GetRules()) == 0 && s.GetDefaultBackend() == nil {
		errs = append(errs, apierrors.Invalid("spec.rules", "", "either `defaultBackend` or `rules` must be specified"))
	}
	if b := s.GetDefaultBackend(); b != nil {
		errs = append(errs, validateBackend(b, "spec.defaultBackend")...)
	}
	if c := s.GetIngressClassName(); s != nil && s.IngressClassName != nil {
		errs = append(errs, validation.Msgs("spec.ingressClassName", c, validation.IsDNS1123Subdomain(c))...)
	}
	for i, r := range s.GetRules() {
		rp := validation.Index("spec.rules", i)
		if r.Host != "" {
			errs = append(errs, validateHost(r.Host, validation.Child(rp, "host"))...)
		}
		if r.Http == nil {
			continue
		}
		pp := validation.Child(rp, "http", "paths")
		if len(r.Http.Paths) == 0 {
			errs = append(errs, apierrors.Required(pp, ""))
		}
		for j, p := range r.Http.Paths {
			errs = append(errs, validatePath(p, validation.Index(pp, j))...)
		}
	}
	for i, t := range s.GetTls() {
		for j, h := range t.Hosts {
			errs = append(errs, validateHost(h, validation.Index(validation.Child(validation.Index("spec.tls", i), "hosts"), j))...)
		}
	}
	return errs
}

// validateHost checks a rule host: a DNS subdomain, optionally with a
// leading "*." wildcard; never an IP.
func validateHost(host, p string) []apierrors.FieldError {
	if len(validation.IsValidIP(host)) == 0 {
		return []apierrors.FieldError{apierrors.Invalid(p, host, "must be a DNS name, not an IP address")}
	}
	return validation.Msgs(p, host, validation.IsDNS1123Subdomain(strings.TrimPrefix(host, "*.")))
}

func validatePath(p *networkingv1.HTTPIngressPath, fp string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	tp := validation.Child(fp, "pathType")
	if p.PathType == nil {
		errs = append(errs, apierrors.Required(tp, "pathType must be specified"))
	} else {
		errs = append(errs, validation.Enum(tp, *p.PathType, pathTypes)...)
	}
	pathPath := validation.Child(fp, "path")
	switch {
	case p.Path == "" && p.GetPathType() != "ImplementationSpecific":
		errs = append(errs, apierrors.Required(pathPath, "must be specified when pathType is '"+p.GetPathType()+"'"))
	case p.Path != "" && !strings.HasPrefix(p.Path, "/"):
		errs = append(errs, apierrors.Invalid(pathPath, p.Path, "must be an absolute path"))
	}
	if p.Backend == nil {
		errs = append(errs, apierrors.Required(validation.Child(fp, "backend"), ""))
	} else {
		errs = append(errs, validateBackend(p.Backend, validation.Child(fp, "backend"))...)
	}
	return errs
}

// validateBackend requires exactly one of service or resource; a service
// needs a name and a port given by name or number.
func validateBackend(b *networkingv1.IngressBackend, p string) []apierrors.FieldError {
	switch {
	case b.Service != nil && b.Resource != nil:
		return []apierrors.FieldError{apierrors.Invalid(p, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		if b.Resource.Kind == "" || b.Resource.Name == "" {
			return []apierrors.FieldError{apierrors.Required(validation.Child(p, "resource"), "kind and name are required")}
		}
		return nil
	case b.Service == nil:
		return []apierrors.FieldError{apierrors.Invalid(p, "", "resource or service backend is required")}
	}
	sp := validation.Child(p, "service")
	var errs []apierrors.FieldError
	if b.Service.Name == "" {
		errs = append(errs, apierrors.Required(validation.Child(sp, "name"), ""))
	} else {
		errs = append(errs, validation.Msgs(validation.Child(sp, "name"), b.Service.Name, validation.IsDNS1035Label(b.Service.Name))...)
	}
	port := b.Service.GetPort()
	pp := validation.Child(sp, "port")
	switch {
	case port.GetName() != "" && port.GetNumber() != 0:
		errs = append(errs, apierrors.Invalid(pp, port.GetName(), "cannot set both port name & port number"))
	case port.GetName() != "":
		errs = append(errs, validation.Msgs(validation.Child(pp, "name"), port.Name, validation.IsValidPortName(port.Name))...)
	case port.GetNumber() != 0:
		errs = append(errs, validation.Msgs(validation.Child(pp, "number"), port.Number, validation.IsValidPortNum(port.Number))...)
	default:
		errs = append(errs, apierrors.Invalid(pp, "", "port name or number is required"))
	}
	return errs
}
