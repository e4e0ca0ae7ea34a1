package app

import (
	"fmt"
	"slices"
	"strings"

	"minik8s/apiserver/admission"
	"minik8s/apiserver/registry/generic"
)

// AdmissionPlugins are the plugins --enable-admission-plugins may name,
// in the order they run whatever order the flag lists them in (as
// kube-apiserver orders its plugins).
var AdmissionPlugins = []string{"NamespaceLifecycle", "ServiceAccount", "NodeRestriction", "ResourceQuota"}

// DefaultAdmissionPlugins run when the flag is not given. ServiceAccount
// is not among them because its pods mount tokens that only an apiserver
// with --service-account-signing-key-file can issue.
const DefaultAdmissionPlugins = "NamespaceLifecycle"

// parseAdmissionPlugins checks the flag's names.
func parseAdmissionPlugins(v string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(v, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(AdmissionPlugins, n) {
			return nil, fmt.Errorf("--enable-admission-plugins: unknown plugin %q (known: %s)", n, strings.Join(AdmissionPlugins, ", "))
		}
		names = append(names, n)
	}
	return names, nil
}

// validateAdmission checks the plugins against the other flags.
func (o *Options) validateAdmission() error {
	names, err := parseAdmissionPlugins(o.EnableAdmissionPlugins)
	if err != nil {
		return err
	}
	if slices.Contains(names, "ServiceAccount") && o.Authentication.ServiceAccountSigningKeyFile == "" {
		return fmt.Errorf("--enable-admission-plugins: ServiceAccount needs --service-account-signing-key-file (the tokens it mounts into pods are issued with it)")
	}
	return nil
}

// admissionChain builds the enabled plugins, in AdmissionPlugins' order.
func (o *Options) admissionChain(st *generic.Store) admission.Chain {
	names, _ := parseAdmissionPlugins(o.EnableAdmissionPlugins)
	var chain admission.Chain
	for _, n := range AdmissionPlugins {
		if !slices.Contains(names, n) {
			continue
		}
		switch n {
		case "NamespaceLifecycle":
			chain = append(chain, NamespaceLifecycle(st))
		case "ServiceAccount":
			chain = append(chain, ServiceAccountAdmission(st))
		case "NodeRestriction":
			chain = append(chain, NodeRestriction(st))
		case "ResourceQuota":
			chain = append(chain, ResourceQuotaAdmission(st))
		}
	}
	return chain
}
