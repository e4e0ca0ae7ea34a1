package app

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/admission"
	"minik8s/apiserver/audit"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/generic"
)

// AdmissionPlugins are the plugins --enable-admission-plugins and
// --disable-admission-plugins may name, in the order they run whatever
// order the flags list them in: kube-apiserver's RecommendedPluginOrder,
// narrowed to the plugins minik8s has. The chain runs every mutating
// step in this order, then every validating step in this order.
var AdmissionPlugins = []string{
	"NamespaceLifecycle",
	"LimitRanger",
	"ServiceAccount",
	"NodeRestriction",
	"AlwaysPullImages",
	"PodSecurity",
	"DefaultTolerationSeconds",
	"CertificateApproval",
	"CertificateSigning",
	"CertificateSubjectRestriction",
	// Last, as in Kubernetes, so it charges only what every other plugin
	// admitted.
	"ResourceQuota",
}

// DefaultAdmissionPlugins run without any flag: kube-apiserver's
// default-enabled plugins that minik8s has. --enable-admission-plugins
// adds to them and --disable-admission-plugins removes from them.
// AlwaysPullImages and NodeRestriction are off by default, as in
// Kubernetes.
var DefaultAdmissionPlugins = []string{
	"NamespaceLifecycle",
	"LimitRanger",
	"ServiceAccount",
	"PodSecurity",
	"DefaultTolerationSeconds",
	"CertificateApproval",
	"CertificateSigning",
	"CertificateSubjectRestriction",
	"ResourceQuota",
}

// DefaultTolerationSeconds is kube-apiserver's default of
// --default-not-ready-toleration-seconds and
// --default-unreachable-toleration-seconds.
const DefaultTolerationSeconds = 300

// addAdmissionFlags registers kube-apiserver's admission flags on fs.
func (o *Options) addAdmissionFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.EnableAdmissionPlugins, "enable-admission-plugins", "",
		"comma-separated admission plugins to run in addition to the default ones ("+strings.Join(DefaultAdmissionPlugins, ", ")+
			"), of: "+strings.Join(AdmissionPlugins, ", ")+"; they run in that order whatever order the flag gives")
	fs.StringVar(&o.DisableAdmissionPlugins, "disable-admission-plugins", "",
		"comma-separated admission plugins not to run, even if they are default-enabled")
	seconds := func(p **int64) func(string) error {
		return func(s string) error {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < 0 {
				return fmt.Errorf("%q: must be a number of seconds, 0 or more", s)
			}
			*p = &v
			return nil
		}
	}
	fs.Func("default-not-ready-toleration-seconds",
		"tolerationSeconds of the node.kubernetes.io/not-ready:NoExecute toleration DefaultTolerationSeconds adds to every pod without one (default 300)",
		seconds(&o.DefaultNotReadyTolerationSeconds))
	fs.Func("default-unreachable-toleration-seconds",
		"tolerationSeconds of the node.kubernetes.io/unreachable:NoExecute toleration DefaultTolerationSeconds adds to every pod without one (default 300)",
		seconds(&o.DefaultUnreachableTolerationSeconds))
}

// splitPlugins checks the names of one flag.
func splitPlugins(flagName, v string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(v, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(AdmissionPlugins, n) {
			return nil, fmt.Errorf("--%s: unknown plugin %q (known: %s)", flagName, n, strings.Join(AdmissionPlugins, ", "))
		}
		names = append(names, n)
	}
	return names, nil
}

// AdmissionPluginNames returns the plugins that run, in AdmissionPlugins'
// order: DefaultAdmissionPlugins plus --enable-admission-plugins minus
// --disable-admission-plugins. A plugin named by both flags is an error,
// as in kube-apiserver.
func (o *Options) AdmissionPluginNames() ([]string, error) {
	enable, err := splitPlugins("enable-admission-plugins", o.EnableAdmissionPlugins)
	if err != nil {
		return nil, err
	}
	disable, err := splitPlugins("disable-admission-plugins", o.DisableAdmissionPlugins)
	if err != nil {
		return nil, err
	}
	for _, n := range enable {
		if slices.Contains(disable, n) {
			return nil, fmt.Errorf("admission plugin %q is both enabled (--enable-admission-plugins) and disabled (--disable-admission-plugins)", n)
		}
	}
	var out []string
	for _, n := range AdmissionPlugins {
		if (slices.Contains(DefaultAdmissionPlugins, n) || slices.Contains(enable, n)) && !slices.Contains(disable, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// validateAdmission checks the admission flags.
func (o *Options) validateAdmission() error {
	_, err := o.AdmissionPluginNames()
	return err
}

func tolerationSeconds(p *int64) int64 {
	if p == nil {
		return DefaultTolerationSeconds
	}
	return *p
}

// admissionChain builds the plugins that run, in AdmissionPlugins' order;
// authz is the API's authorizer (the certificate plugins ask it whether
// the caller may approve or sign for a signer).
// Add a plugin with its name in AdmissionPlugins and a case here.
func (o *Options) admissionChain(st *generic.Store, authz auth.Authorizer) admission.Chain {
	names, _ := o.AdmissionPluginNames()
	var chain admission.Chain
	for _, n := range names {
		switch n {
		case "NamespaceLifecycle":
			chain = append(chain, NamespaceLifecycle(st))
		case "LimitRanger":
			chain = append(chain, LimitRanger(st))
		case "ServiceAccount":
			// Without a signing key the apiserver issues no tokens: the
			// plugin still names and checks the account but mounts none.
			chain = append(chain, serviceAccountAdmission(st, o.Authentication.ServiceAccountSigningKeyFile != ""))
		case "NodeRestriction":
			chain = append(chain, NodeRestriction(st))
		case "AlwaysPullImages":
			chain = append(chain, admission.AlwaysPullImages{})
		case "PodSecurity":
			chain = append(chain, admission.PodSecurity{Namespaces: namespaceGetter(st), Pods: podLister(st), Audit: audit.AddAnnotation})
		case "DefaultTolerationSeconds":
			chain = append(chain, admission.DefaultTolerationSeconds{
				NotReadySeconds:    tolerationSeconds(o.DefaultNotReadyTolerationSeconds),
				UnreachableSeconds: tolerationSeconds(o.DefaultUnreachableTolerationSeconds),
			})
		case "CertificateApproval":
			chain = append(chain, admission.CertificateApproval{Authorizer: authz})
		case "CertificateSigning":
			chain = append(chain, admission.CertificateSigning{Authorizer: authz})
		case "CertificateSubjectRestriction":
			chain = append(chain, admission.CertificateSubjectRestriction{})
		case "ResourceQuota":
			chain = append(chain, ResourceQuotaAdmission(st))
		}
	}
	return chain
}

// LimitRanger is the LimitRanger plugin reading LimitRanges from the
// watch cache. A namespace whose cache holds none is read again once the
// cache has caught up with etcd (at most every limitRangeLiveTTL per
// namespace, as Kubernetes' live lookups), so a LimitRange created just
// before a pod applies to it.
func LimitRanger(st *generic.Store) admission.Plugin {
	lrKind, _ := scheme.ByResource("limitranges")
	var mu sync.Mutex
	live := map[string]time.Time{}
	list := func(ctx context.Context, ns string, minRV int64) ([]*corev1.LimitRange, error) {
		items, _, _, err := st.Cache(lrKind).List(ctx, cache.Filter{Namespace: ns}, cache.ListOptions{MinRV: minRV})
		if err != nil {
			return nil, err
		}
		out := make([]*corev1.LimitRange, len(items))
		for i, it := range items {
			out[i] = it.Object.(*corev1.LimitRange)
		}
		return out, nil
	}
	return admission.LimitRanger{List: func(ctx context.Context, ns string) ([]*corev1.LimitRange, error) {
		out, err := list(ctx, ns, 0)
		if err != nil || len(out) > 0 {
			return out, err
		}
		mu.Lock()
		fresh := time.Since(live[ns]) < limitRangeLiveTTL
		if !fresh {
			live[ns] = time.Now()
			if len(live) > 10000 {
				clear(live)
			}
		}
		mu.Unlock()
		if fresh {
			return nil, nil
		}
		rv, err := st.ConsistentRV(ctx)
		if err != nil {
			return nil, err
		}
		return list(ctx, ns, rv)
	}}
}

// limitRangeLiveTTL is how long a namespace found without LimitRanges is
// trusted to the cache (Kubernetes' LimitRanger: 30 seconds).
const limitRangeLiveTTL = 30 * time.Second

// podLister lists a namespace's pods from the watch cache.
func podLister(st *generic.Store) func(ctx context.Context, ns string) ([]*corev1.Pod, error) {
	podKind, _ := scheme.ByResource("pods")
	return func(ctx context.Context, ns string) ([]*corev1.Pod, error) {
		items, _, _, err := st.Cache(podKind).List(ctx, cache.Filter{Namespace: ns}, cache.ListOptions{})
		if err != nil {
			return nil, err
		}
		out := make([]*corev1.Pod, len(items))
		for i, it := range items {
			out[i] = it.Object.(*corev1.Pod)
		}
		return out, nil
	}
}
