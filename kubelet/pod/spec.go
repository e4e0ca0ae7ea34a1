package pod

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/resource"
	"minik8s/kubelet/runtime"
)

// containerHash identifies a container spec; a running container whose
// spec hash differs from the pod's is restarted.
func containerHash(c *corev1.Container) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// podLookup reads what env and volumes refer to. Implementations return
// errors.IsNotFound-style errors for missing objects.
type podLookup interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
	// Services lists the services of a namespace, for the service
	// environment variables.
	Services(namespace string) []*corev1.Service
}

// envContext is what the downward API and env sources see.
type envContext struct {
	pod      *corev1.Pod
	podIP    string
	hostIP   string
	nodeName string
	lookup   podLookup
}

// makeEnv builds a container's environment in Kubernetes' order: service
// variables first, then envFrom, then env (later wins).
func makeEnv(c *corev1.Container, ec envContext) ([]string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	ns := ec.pod.GetMetadata().GetNamespace()
	if ec.lookup != nil && (ec.pod.GetSpec().EnableServiceLinks == nil || ec.pod.GetSpec().GetEnableServiceLinks()) {
		for _, kv := range serviceEnv(ec.lookup.Services(ns)) {
			set(kv[0], kv[1])
		}
	}
	for _, ef := range c.GetEnvFrom() {
		switch {
		case ef.GetConfigMapRef() != nil:
			cm, err := ec.lookup.ConfigMap(ns, ef.ConfigMapRef.GetName())
			if err != nil {
				if ef.ConfigMapRef.GetOptional() {
					continue
				}
				return nil, fmt.Errorf("envFrom configMap %s: %w", ef.ConfigMapRef.GetName(), err)
			}
			for _, k := range sortedKeys(cm.GetData()) {
				set(ef.GetPrefix()+k, cm.Data[k])
			}
		case ef.GetSecretRef() != nil:
			s, err := ec.lookup.Secret(ns, ef.SecretRef.GetName())
			if err != nil {
				if ef.SecretRef.GetOptional() {
					continue
				}
				return nil, fmt.Errorf("envFrom secret %s: %w", ef.SecretRef.GetName(), err)
			}
			for _, k := range sortedKeys(s.GetData()) {
				set(ef.GetPrefix()+k, string(s.Data[k]))
			}
		}
	}
	for _, e := range c.GetEnv() {
		if e.GetValueFrom() == nil {
			set(e.GetName(), expand(e.GetValue(), vars))
			continue
		}
		v, ok, err := envSource(e.ValueFrom, c, ec)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.GetName(), err)
		}
		if ok {
			set(e.GetName(), v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vars[k])
	}
	return out, nil
}

// expandCommand expands $(VAR) references in a container's command or
// args with its final environment, as Kubernetes does (so
// `args: ["--port=$(PORT)"]` works); unknown references stay as written.
func expandCommand(list []string, env []string) []string {
	if len(list) == 0 {
		return list
	}
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = expand(s, vars)
	}
	return out
}

// expand replaces $(VAR) with earlier variables, as Kubernetes does; $$
// escapes.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+end+1])
			}
			i += end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func envSource(src *corev1.EnvVarSource, c *corev1.Container, ec envContext) (string, bool, error) {
	ns := ec.pod.GetMetadata().GetNamespace()
	switch {
	case src.GetFieldRef() != nil:
		v, err := fieldRef(src.FieldRef.GetFieldPath(), ec)
		return v, err == nil, err
	case src.GetResourceFieldRef() != nil:
		r := src.ResourceFieldRef
		limits := c.GetResources().GetLimits()
		res := strings.TrimPrefix(strings.TrimPrefix(r.GetResource(), "limits."), "requests.")
		if strings.HasPrefix(r.GetResource(), "requests.") {
			limits = c.GetResources().GetRequests()
		}
		q := limits[res]
		if q == "" {
			return "0", true, nil
		}
		milli, err := resource.ParseQuantity(q)
		if err != nil {
			return "", false, err
		}
		div := int64(1000)
		if d := r.GetDivisor(); d != "" {
			if dm, err := resource.ParseQuantity(d); err == nil && dm > 0 {
				div = dm
			}
		}
		return strconv.FormatInt((milli+div-1)/div, 10), true, nil
	case src.GetConfigMapKeyRef() != nil:
		ref := src.ConfigMapKeyRef
		cm, err := ec.lookup.ConfigMap(ns, ref.GetName())
		if err != nil {
			if ref.GetOptional() {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configMap %s: %w", ref.GetName(), err)
		}
		v, ok := cm.GetData()[ref.GetKey()]
		if !ok && !ref.GetOptional() {
			return "", false, fmt.Errorf("configMap %s has no key %q", ref.GetName(), ref.GetKey())
		}
		return v, ok, nil
	case src.GetSecretKeyRef() != nil:
		ref := src.SecretKeyRef
		s, err := ec.lookup.Secret(ns, ref.GetName())
		if err != nil {
			if ref.GetOptional() {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %s: %w", ref.GetName(), err)
		}
		v, ok := s.GetData()[ref.GetKey()]
		if !ok && !ref.GetOptional() {
			return "", false, fmt.Errorf("secret %s has no key %q", ref.GetName(), ref.GetKey())
		}
		return string(v), ok, nil
	}
	return "", false, nil
}

// fieldRef resolves the downward API paths Kubernetes supports for env.
func fieldRef(path string, ec envContext) (string, error) {
	md := ec.pod.GetMetadata()
	switch path {
	case "metadata.name":
		return md.GetName(), nil
	case "metadata.namespace":
		return md.GetNamespace(), nil
	case "metadata.uid":
		return md.GetUid(), nil
	case "spec.nodeName":
		return ec.nodeName, nil
	case "spec.serviceAccountName":
		return ec.pod.GetSpec().GetServiceAccountName(), nil
	case "status.podIP", "status.podIPs":
		return ec.podIP, nil
	case "status.hostIP", "status.hostIPs":
		return ec.hostIP, nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return md.GetLabels()[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return md.GetAnnotations()[strings.TrimSuffix(k, "']")], nil
	}
	return "", fmt.Errorf("unsupported fieldRef %q", path)
}

// serviceEnv returns the docker-links style variables of services with a
// cluster IP: FOO_SERVICE_HOST, FOO_SERVICE_PORT, FOO_PORT_80_TCP, ...
func serviceEnv(svcs []*corev1.Service) [][2]string {
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].GetMetadata().GetName() < svcs[j].GetMetadata().GetName() })
	var out [][2]string
	for _, s := range svcs {
		ip := s.GetSpec().GetClusterIP()
		if ip == "" || ip == "None" || len(s.GetSpec().GetPorts()) == 0 {
			continue
		}
		name := strings.ToUpper(strings.ReplaceAll(s.GetMetadata().GetName(), "-", "_"))
		p0 := s.Spec.Ports[0]
		out = append(out, [2]string{name + "_SERVICE_HOST", ip}, [2]string{name + "_SERVICE_PORT", strconv.Itoa(int(p0.GetPort()))})
		for _, p := range s.Spec.Ports {
			if p.GetName() != "" {
				out = append(out, [2]string{name + "_SERVICE_PORT_" + strings.ToUpper(strings.ReplaceAll(p.GetName(), "-", "_")), strconv.Itoa(int(p.GetPort()))})
			}
		}
		proto0 := strings.ToLower(p0.GetProtocol())
		if proto0 == "" {
			proto0 = "tcp"
		}
		out = append(out, [2]string{name + "_PORT", fmt.Sprintf("%s://%s:%d", proto0, ip, p0.GetPort())})
		for _, p := range s.Spec.Ports {
			pr := p.GetProtocol()
			if pr == "" {
				pr = "TCP"
			}
			pre := fmt.Sprintf("%s_PORT_%d_%s", name, p.GetPort(), strings.ToUpper(pr))
			out = append(out,
				[2]string{pre, fmt.Sprintf("%s://%s:%d", strings.ToLower(pr), ip, p.GetPort())},
				[2]string{pre + "_PROTO", strings.ToLower(pr)},
				[2]string{pre + "_PORT", strconv.Itoa(int(p.GetPort()))},
				[2]string{pre + "_ADDR", ip})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// resources turns requests and limits into cgroup settings: cpu shares
// from the cpu request (1024 per core, at least 2), a CFS quota from the
// cpu limit over a 100ms period, and the memory limit.
func resources(c *corev1.Container) (runtime.Resources, error) {
	var r runtime.Resources
	req, lim := c.GetResources().GetRequests(), c.GetResources().GetLimits()
	cpuReq := req["cpu"]
	if cpuReq == "" {
		cpuReq = lim["cpu"]
	}
	if cpuReq != "" {
		m, err := resource.ParseQuantity(cpuReq)
		if err != nil {
			return r, fmt.Errorf("cpu request %q: %w", cpuReq, err)
		}
		r.CPUShares = uint64(max(m*1024/1000, 2))
	}
	if l := lim["cpu"]; l != "" {
		m, err := resource.ParseQuantity(l)
		if err != nil {
			return r, fmt.Errorf("cpu limit %q: %w", l, err)
		}
		r.CPUPeriod = 100000
		r.CPUQuota = max(m*100, 1000) // millicores * period / 1000
	}
	if l := lim["memory"]; l != "" {
		m, err := resource.ParseQuantity(l)
		if err != nil {
			return r, fmt.Errorf("memory limit %q: %w", l, err)
		}
		r.MemoryLimit = m / 1000
	}
	return r, nil
}

// security merges the pod's and the container's securityContext.
func security(pod *corev1.Pod, c *corev1.Container) runtime.Security {
	var s runtime.Security
	if psc := pod.GetSpec().GetSecurityContext(); psc != nil {
		s.RunAsUser, s.RunAsGroup = psc.RunAsUser, psc.RunAsGroup
	}
	if sc := c.GetSecurityContext(); sc != nil {
		if sc.RunAsUser != nil {
			s.RunAsUser = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			s.RunAsGroup = sc.RunAsGroup
		}
		s.Privileged = sc.GetPrivileged()
		s.ReadOnlyRootfs = sc.GetReadOnlyRootFilesystem()
		s.CapAdd = sc.GetCapabilities().GetAdd()
		s.CapDrop = sc.GetCapabilities().GetDrop()
	}
	return s
}

// resolvConf renders /etc/resolv.conf for a pod: with ClusterFirst (the
// default) the cluster DNS and the Kubernetes search path with ndots:5;
// with Default, the node's file; plus spec.dnsConfig.
func resolvConf(pod *corev1.Pod, clusterDNS []string, domain string, hostResolv []byte) string {
	spec := pod.GetSpec()
	policy := spec.GetDnsPolicy()
	if policy == "" {
		policy = "ClusterFirst"
	}
	if policy == "ClusterFirst" && spec.GetHostNetwork() {
		policy = "Default" // as Kubernetes: ClusterFirstWithHostNet opts in
	}
	var servers, searches, options []string
	switch {
	case (policy == "ClusterFirst" || policy == "ClusterFirstWithHostNet") && len(clusterDNS) > 0:
		servers = append(servers, clusterDNS...)
		ns := pod.GetMetadata().GetNamespace()
		searches = []string{ns + ".svc." + domain, "svc." + domain, domain}
		options = []string{"ndots:5"}
	case policy == "None":
	default:
		for _, line := range strings.Split(string(hostResolv), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "nameserver":
				servers = append(servers, f[1])
			case "search":
				searches = append(searches, f[1:]...)
			case "options":
				options = append(options, f[1:]...)
			}
		}
	}
	if dc := spec.GetDnsConfig(); dc != nil {
		servers = append(servers, dc.GetNameservers()...)
		searches = append(searches, dc.GetSearches()...)
		for _, o := range dc.GetOptions() {
			if o.Value != nil {
				options = append(options, o.GetName()+":"+o.GetValue())
			} else {
				options = append(options, o.GetName())
			}
		}
	}
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.String()
}

// etcHosts renders the pod's /etc/hosts: localhost, the pod's own name on
// its IP, and spec.hostAliases.
func etcHosts(pod *corev1.Pod, podIP, domain string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	host := podHostname(pod)
	if podIP != "" {
		if sub := pod.GetSpec().GetSubdomain(); sub != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", podIP, host, sub, pod.GetMetadata().GetNamespace(), domain, host)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", podIP, host)
		}
	}
	for _, ha := range pod.GetSpec().GetHostAliases() {
		fmt.Fprintf(&b, "%s\t%s\n", ha.GetIp(), strings.Join(ha.GetHostnames(), "\t"))
	}
	return b.String()
}

// podHostname is spec.hostname or the pod's name (truncated to 63).
func podHostname(pod *corev1.Pod) string {
	h := pod.GetSpec().GetHostname()
	if h == "" {
		h = pod.GetMetadata().GetName()
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// writeFileAtomic replaces path's content without readers seeing a partial file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
