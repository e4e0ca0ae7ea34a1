package admission

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
)

// The Pod Security Standards levels.
const (
	LevelPrivileged = "privileged"
	LevelBaseline   = "baseline"
	LevelRestricted = "restricted"
)

// Violation is one failed Pod Security check: Kubernetes' reason
// ("privileged") and detail (`container "c" must not set
// securityContext.privileged=true`).
type Violation struct {
	Reason, Detail string
}

// psCheck is one check of the standards; it returns ok or the violation.
type psCheck func(spec *corev1.PodSpec) (Violation, bool)

// The checks in the order Kubernetes evaluates them: the baseline ones
// every non-privileged level runs, the baseline ones the restricted level
// replaces with stricter versions, and the restricted ones.
var (
	baselineChecks   = []psCheck{checkHostNamespaces, checkHostPorts, checkPrivileged, checkProcMount, checkSELinux, checkSysctls}
	baselineOnly     = []psCheck{checkCapabilitiesBaseline, checkHostPathVolumes, checkSeccompBaseline}
	restrictedChecks = []psCheck{checkAllowPrivilegeEscalation, checkCapabilitiesRestricted, checkRestrictedVolumes,
		checkRunAsNonRoot, checkRunAsUser, checkSeccompRestricted}
)

// EvaluatePodSecurity returns the checks of level ("privileged",
// "baseline" or "restricted") that spec fails, in Kubernetes' order; the
// privileged level allows everything. Every version is judged by the
// latest standards.
func EvaluatePodSecurity(level string, spec *corev1.PodSpec) []Violation {
	if level == LevelPrivileged || spec == nil {
		return nil
	}
	checks := slices.Clone(baselineChecks)
	if level == LevelBaseline {
		checks = append(checks, baselineOnly...)
	} else {
		checks = append(checks, restrictedChecks...)
	}
	var out []Violation
	for _, c := range checks {
		if v, ok := c(spec); !ok {
			out = append(out, v)
		}
	}
	return out
}

// FormatViolations joins violations as Kubernetes' messages do:
// `reason (detail), reason (detail)`.
func FormatViolations(vs []Violation) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.Reason
		if v.Detail != "" {
			parts[i] += " (" + v.Detail + ")"
		}
	}
	return strings.Join(parts, ", ")
}

func pluralize(singular, plural string, n int) string {
	if n == 1 {
		return singular
	}
	return plural
}

func joinQuote(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// containersWord is `container "a"` or `containers "a", "b"`.
func containersWord(names []string) string {
	return pluralize("container", "containers", len(names)) + " " + joinQuote(names)
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// podSC and containerSC are the security contexts, empty when unset, so
// their optional fields read as nil.
func podSC(spec *corev1.PodSpec) *corev1.PodSecurityContext {
	if sc := spec.GetSecurityContext(); sc != nil {
		return sc
	}
	return &corev1.PodSecurityContext{}
}

func containerSC(c *corev1.Container) *corev1.SecurityContext {
	if sc := c.GetSecurityContext(); sc != nil {
		return sc
	}
	return &corev1.SecurityContext{}
}

func userNamespaced(spec *corev1.PodSpec) bool {
	return spec.HostUsers != nil && !*spec.HostUsers
}

func checkHostNamespaces(spec *corev1.PodSpec) (Violation, bool) {
	var set []string
	if spec.HostNetwork {
		set = append(set, "hostNetwork=true")
	}
	if spec.HostPID {
		set = append(set, "hostPID=true")
	}
	if spec.HostIPC {
		set = append(set, "hostIPC=true")
	}
	return Violation{"host namespaces", strings.Join(set, ", ")}, len(set) == 0
}

func checkHostPorts(spec *corev1.PodSpec) (Violation, bool) {
	var names []string
	ports := map[string]bool{}
	for _, c := range helper.AllContainers(spec) {
		used := false
		for _, p := range c.GetPorts() {
			if p.GetHostPort() != 0 {
				used = true
				ports[strconv.Itoa(int(p.GetHostPort()))] = true
			}
		}
		if used {
			names = append(names, c.GetName())
		}
	}
	if len(names) == 0 {
		return Violation{}, true
	}
	return Violation{"hostPort", fmt.Sprintf("%s %s %s %s", containersWord(names), pluralize("uses", "use", len(names)),
		pluralize("hostPort", "hostPorts", len(ports)), strings.Join(sortedSet(ports), ", "))}, false
}

func checkPrivileged(spec *corev1.PodSpec) (Violation, bool) {
	var names []string
	for _, c := range helper.AllContainers(spec) {
		if c.GetSecurityContext().GetPrivileged() {
			names = append(names, c.GetName())
		}
	}
	return Violation{"privileged", containersWord(names) + " must not set securityContext.privileged=true"}, len(names) == 0
}

func checkProcMount(spec *corev1.PodSpec) (Violation, bool) {
	if userNamespaced(spec) {
		return Violation{}, true
	}
	var names []string
	values := map[string]bool{}
	for _, c := range helper.AllContainers(spec) {
		if pm := c.GetSecurityContext().GetProcMount(); pm != "" && pm != "Default" {
			names = append(names, c.GetName())
			values[pm] = true
		}
	}
	return Violation{"procMount", fmt.Sprintf("%s must not set securityContext.procMount to %s", containersWord(names),
		joinQuote(sortedSet(values)))}, len(names) == 0
}

var allowedSELinuxTypes = []string{"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

func checkSELinux(spec *corev1.PodSpec) (Violation, bool) {
	types, users, roles := map[string]bool{}, map[string]bool{}, map[string]bool{}
	bad := func(o *corev1.SELinuxOptions) bool {
		if o == nil {
			return false
		}
		b := false
		if !slices.Contains(allowedSELinuxTypes, o.GetType()) {
			types[o.GetType()], b = true, true
		}
		if o.GetUser() != "" {
			users[o.GetUser()], b = true, true
		}
		if o.GetRole() != "" {
			roles[o.GetRole()], b = true, true
		}
		return b
	}
	var setters []string
	if bad(spec.GetSecurityContext().GetSeLinuxOptions()) {
		setters = append(setters, "pod")
	}
	var names []string
	for _, c := range helper.AllContainers(spec) {
		if bad(c.GetSecurityContext().GetSeLinuxOptions()) {
			names = append(names, c.GetName())
		}
	}
	if len(names) > 0 {
		setters = append(setters, containersWord(names))
	}
	if len(setters) == 0 {
		return Violation{}, true
	}
	var what []string
	for _, f := range []struct {
		one, many string
		set       map[string]bool
	}{{"type", "types", types}, {"user", "users", users}, {"role", "roles", roles}} {
		if len(f.set) > 0 {
			what = append(what, pluralize(f.one, f.many, len(f.set))+" "+joinQuote(sortedSet(f.set)))
		}
	}
	return Violation{"seLinuxOptions", fmt.Sprintf("%s set forbidden securityContext.seLinuxOptions: %s",
		strings.Join(setters, " and "), strings.Join(what, "; "))}, false
}

// safeSysctls are the sysctls the baseline level allows.
var safeSysctls = []string{
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
}

func checkSysctls(spec *corev1.PodSpec) (Violation, bool) {
	var bad []string
	for _, s := range spec.GetSecurityContext().GetSysctls() {
		if !slices.Contains(safeSysctls, s.GetName()) {
			bad = append(bad, s.GetName())
		}
	}
	return Violation{"forbidden sysctls", strings.Join(bad, ", ")}, len(bad) == 0
}

// baselineCapabilities are the capabilities a baseline pod may add
// (the container runtime's default set).
var baselineCapabilities = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}

func addedCapabilities(spec *corev1.PodSpec, allowed []string) (names []string, caps map[string]bool) {
	caps = map[string]bool{}
	for _, c := range helper.AllContainers(spec) {
		added := false
		for _, capability := range c.GetSecurityContext().GetCapabilities().GetAdd() {
			if !slices.Contains(allowed, capability) {
				added = true
				caps[capability] = true
			}
		}
		if added {
			names = append(names, c.GetName())
		}
	}
	return names, caps
}

func checkCapabilitiesBaseline(spec *corev1.PodSpec) (Violation, bool) {
	names, caps := addedCapabilities(spec, baselineCapabilities)
	return Violation{"non-default capabilities", fmt.Sprintf("%s must not include %s in securityContext.capabilities.add",
		containersWord(names), joinQuote(sortedSet(caps)))}, len(names) == 0
}

func checkHostPathVolumes(spec *corev1.PodSpec) (Violation, bool) {
	var names []string
	for _, v := range spec.GetVolumes() {
		if v.GetHostPath() != nil {
			names = append(names, v.GetName())
		}
	}
	return Violation{"hostPath volumes", pluralize("volume", "volumes", len(names)) + " " + joinQuote(names)}, len(names) == 0
}

func checkSeccompBaseline(spec *corev1.PodSpec) (Violation, bool) {
	var setters []string
	if spec.GetSecurityContext().GetSeccompProfile().GetType() == "Unconfined" {
		setters = append(setters, "pod")
	}
	var names []string
	for _, c := range helper.AllContainers(spec) {
		if c.GetSecurityContext().GetSeccompProfile().GetType() == "Unconfined" {
			names = append(names, c.GetName())
		}
	}
	if len(names) > 0 {
		setters = append(setters, containersWord(names))
	}
	return Violation{"seccompProfile", strings.Join(setters, " and ") + ` must not set securityContext.seccompProfile.type to "Unconfined"`}, len(setters) == 0
}

func checkAllowPrivilegeEscalation(spec *corev1.PodSpec) (Violation, bool) {
	var names []string
	for _, c := range helper.AllContainers(spec) {
		if sc := c.GetSecurityContext(); sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			names = append(names, c.GetName())
		}
	}
	return Violation{"allowPrivilegeEscalation != false", containersWord(names) + " must set securityContext.allowPrivilegeEscalation=false"}, len(names) == 0
}

func checkCapabilitiesRestricted(spec *corev1.PodSpec) (Violation, bool) {
	var noDrop []string
	for _, c := range helper.AllContainers(spec) {
		if !slices.Contains(c.GetSecurityContext().GetCapabilities().GetDrop(), "ALL") {
			noDrop = append(noDrop, c.GetName())
		}
	}
	adding, caps := addedCapabilities(spec, []string{"NET_BIND_SERVICE"})
	var details []string
	if len(noDrop) > 0 {
		details = append(details, containersWord(noDrop)+` must set securityContext.capabilities.drop=["ALL"]`)
	}
	if len(adding) > 0 {
		details = append(details, fmt.Sprintf("%s must not include %s in securityContext.capabilities.add", containersWord(adding), joinQuote(sortedSet(caps))))
	}
	return Violation{"unrestricted capabilities", strings.Join(details, "; ")}, len(details) == 0
}

func checkRestrictedVolumes(spec *corev1.PodSpec) (Violation, bool) {
	// Of the volume sources minik8s has, only hostPath is outside the
	// restricted set (configMap, downwardAPI, emptyDir,
	// persistentVolumeClaim, projected, secret).
	var names []string
	for _, v := range spec.GetVolumes() {
		if v.GetHostPath() != nil {
			names = append(names, v.GetName())
		}
	}
	if len(names) == 0 {
		return Violation{}, true
	}
	return Violation{"restricted volume types", fmt.Sprintf(`%s %s %s %s`, pluralize("volume", "volumes", len(names)), joinQuote(names),
		pluralize("uses restricted volume type", "use restricted volume types", len(names)), `"hostPath"`)}, false
}

func checkRunAsNonRoot(spec *corev1.PodSpec) (Violation, bool) {
	if userNamespaced(spec) {
		return Violation{}, true
	}
	var setters []string
	podNonRoot := false
	if p := podSC(spec).RunAsNonRoot; p != nil {
		if *p {
			podNonRoot = true
		} else {
			setters = append(setters, "pod")
		}
	}
	var explicit, implicit []string
	for _, c := range helper.AllContainers(spec) {
		if p := containerSC(c).RunAsNonRoot; p != nil {
			if !*p {
				explicit = append(explicit, c.GetName())
			}
		} else if !podNonRoot {
			implicit = append(implicit, c.GetName())
		}
	}
	if len(explicit) > 0 {
		setters = append(setters, containersWord(explicit))
	}
	if len(setters) > 0 {
		return Violation{"runAsNonRoot != true", strings.Join(setters, " and ") + " must not set securityContext.runAsNonRoot=false"}, false
	}
	return Violation{"runAsNonRoot != true", "pod or " + containersWord(implicit) + " must set securityContext.runAsNonRoot=true"}, len(implicit) == 0
}

func checkRunAsUser(spec *corev1.PodSpec) (Violation, bool) {
	if userNamespaced(spec) {
		return Violation{}, true
	}
	var setters []string
	if u := podSC(spec).RunAsUser; u != nil && *u == 0 {
		setters = append(setters, "pod")
	}
	var names []string
	for _, c := range helper.AllContainers(spec) {
		if u := containerSC(c).RunAsUser; u != nil && *u == 0 {
			names = append(names, c.GetName())
		}
	}
	if len(names) > 0 {
		setters = append(setters, containersWord(names))
	}
	return Violation{"runAsUser=0", strings.Join(setters, " and ") + " must not set runAsUser=0"}, len(setters) == 0
}

func validSeccomp(t string) bool { return t == "RuntimeDefault" || t == "Localhost" }

func checkSeccompRestricted(spec *corev1.PodSpec) (Violation, bool) {
	var setters []string
	values := map[string]bool{}
	podSet := false
	if p := spec.GetSecurityContext().GetSeccompProfile(); p != nil {
		if validSeccomp(p.GetType()) {
			podSet = true
		} else {
			setters = append(setters, "pod")
			values[p.GetType()] = true
		}
	}
	var explicit, implicit []string
	for _, c := range helper.AllContainers(spec) {
		if p := c.GetSecurityContext().GetSeccompProfile(); p != nil {
			if !validSeccomp(p.GetType()) {
				explicit = append(explicit, c.GetName())
				values[p.GetType()] = true
			}
		} else if !podSet {
			implicit = append(implicit, c.GetName())
		}
	}
	if len(explicit) > 0 {
		setters = append(setters, containersWord(explicit))
	}
	if len(setters) > 0 {
		return Violation{"seccompProfile", fmt.Sprintf("%s must not set securityContext.seccompProfile.type to %s",
			strings.Join(setters, " and "), joinQuote(sortedSet(values)))}, false
	}
	return Violation{"seccompProfile", "pod or " + containersWord(implicit) +
		` must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`}, len(implicit) == 0
}
