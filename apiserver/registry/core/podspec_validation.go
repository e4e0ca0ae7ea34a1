package core

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/resource"
	"minik8s/apiserver/validation"
)

// Shorthands for the field path helpers.
var (
	child        = validation.Child
	index        = validation.Index
	key          = validation.Key
	msgs         = validation.Msgs
	enum         = validation.Enum
	optionalEnum = validation.OptionalEnum
	nonNegative  = validation.NonNegative
	positive     = validation.Positive
)

var (
	protocols         = []string{"TCP", "UDP", "SCTP"}
	restartPolicies   = []string{"Always", "OnFailure", "Never"}
	dnsPolicies       = []string{"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"}
	pullPolicies      = []string{"Always", "IfNotPresent", "Never"}
	termMsgPolicies   = []string{"File", "FallbackToLogsOnError"}
	taintEffects      = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}
	nodeSelectorOps   = []string{"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}
	unsatisfiableWhen = []string{"DoNotSchedule", "ScheduleAnyway"}
)

// ValidatePodTemplate checks a workload's pod template at path
// ("spec.template"): its labels and annotations and its pod spec.
func ValidatePodTemplate(t *corev1.PodTemplateSpec, p string) []apierrors.FieldError {
	if t == nil {
		return []apierrors.FieldError{apierrors.Required(p, "")}
	}
	md := child(p, "metadata")
	errs := validation.ValidateLabels(t.GetMetadata().GetLabels(), child(md, "labels"))
	errs = append(errs, validation.ValidateAnnotations(t.GetMetadata().GetAnnotations(), child(md, "annotations"))...)
	if t.Spec == nil {
		return append(errs, apierrors.Required(child(p, "spec"), ""))
	}
	return append(errs, ValidatePodSpec(t.Spec, child(p, "spec"))...)
}

// ValidateWorkloadTemplate checks the pod template of a workload
// controller at path ("spec.template") and that its restartPolicy is one
// the controller supports (Always for long-running workloads, OnFailure or
// Never for Jobs).
func ValidateWorkloadTemplate(t *corev1.PodTemplateSpec, restartPolicies []string, p string) []apierrors.FieldError {
	errs := ValidatePodTemplate(t, p)
	if t.GetSpec() != nil {
		errs = append(errs, optionalEnum(child(p, "spec", "restartPolicy"), t.Spec.RestartPolicy, restartPolicies)...)
	}
	return errs
}

// ValidatePodSpec checks a pod spec at path ("spec" for a pod,
// "spec.template.spec" for a workload): volumes, containers, policies,
// scheduling constraints.
func ValidatePodSpec(s *corev1.PodSpec, p string) []apierrors.FieldError {
	volumes, errs := validateVolumes(s.Volumes, child(p, "volumes"))
	if len(s.Containers) == 0 {
		errs = append(errs, apierrors.Required(child(p, "containers"), ""))
	}
	names := map[string]bool{}
	for i, c := range s.InitContainers {
		errs = append(errs, validateContainer(c, true, s, volumes, names, index(child(p, "initContainers"), i))...)
	}
	for i, c := range s.Containers {
		errs = append(errs, validateContainer(c, false, s, volumes, names, index(child(p, "containers"), i))...)
	}
	errs = append(errs, enum(child(p, "restartPolicy"), s.RestartPolicy, restartPolicies)...)
	errs = append(errs, enum(child(p, "dnsPolicy"), s.DnsPolicy, dnsPolicies)...)
	if s.DnsPolicy == "None" && s.DnsConfig == nil {
		errs = append(errs, apierrors.Required(child(p, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
	}
	errs = append(errs, validateDNSConfig(s.DnsConfig, child(p, "dnsConfig"))...)
	if s.TerminationGracePeriodSeconds != nil {
		errs = append(errs, nonNegative(child(p, "terminationGracePeriodSeconds"), *s.TerminationGracePeriodSeconds)...)
	}
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, positive(child(p, "activeDeadlineSeconds"), *s.ActiveDeadlineSeconds)...)
	}
	errs = append(errs, validation.ValidateLabels(s.NodeSelector, child(p, "nodeSelector"))...)
	for _, f := range []struct{ name, value string }{
		{"serviceAccountName", s.ServiceAccountName}, {"nodeName", s.NodeName}, {"schedulerName", s.SchedulerName},
	} {
		if f.value != "" {
			errs = append(errs, msgs(child(p, f.name), f.value, validation.IsDNS1123Subdomain(f.value))...)
		}
	}
	for _, f := range []struct{ name, value string }{{"hostname", s.Hostname}, {"subdomain", s.Subdomain}} {
		if f.value != "" {
			errs = append(errs, msgs(child(p, f.name), f.value, validation.IsDNS1123Label(f.value))...)
		}
	}
	errs = append(errs, validateTolerations(s.Tolerations, child(p, "tolerations"))...)
	errs = append(errs, validateAffinity(s.Affinity, child(p, "affinity"))...)
	for i, h := range s.HostAliases {
		errs = append(errs, msgs(child(index(child(p, "hostAliases"), i), "ip"), h.Ip, validation.IsValidIP(h.Ip))...)
	}
	for i, g := range s.ReadinessGates {
		errs = append(errs, msgs(child(index(child(p, "readinessGates"), i), "conditionType"), g.ConditionType, validation.IsQualifiedName(g.ConditionType))...)
	}
	for i, t := range s.TopologySpreadConstraints {
		tp := index(child(p, "topologySpreadConstraints"), i)
		errs = append(errs, positive(child(tp, "maxSkew"), int64(t.MaxSkew))...)
		if t.TopologyKey == "" {
			errs = append(errs, apierrors.Required(child(tp, "topologyKey"), "can not be empty"))
		}
		errs = append(errs, enum(child(tp, "whenUnsatisfiable"), t.WhenUnsatisfiable, unsatisfiableWhen)...)
		errs = append(errs, validation.ValidateLabelSelector(t.LabelSelector, child(tp, "labelSelector"))...)
	}
	errs = append(errs, validation.ValidateResourceList(s.Overhead, child(p, "overhead"))...)
	return errs
}

// validateVolumes checks names (unique RFC 1123 labels) and that each
// volume has exactly one source; it returns the set of volume names.
func validateVolumes(vols []*corev1.Volume, p string) (map[string]bool, []apierrors.FieldError) {
	var errs []apierrors.FieldError
	names := map[string]bool{}
	for i, v := range vols {
		vp := index(p, i)
		switch {
		case v.Name == "":
			errs = append(errs, apierrors.Required(child(vp, "name"), ""))
		case names[v.Name]:
			errs = append(errs, apierrors.Duplicate(child(vp, "name"), v.Name))
		default:
			errs = append(errs, msgs(child(vp, "name"), v.Name, validation.IsDNS1123Label(v.Name))...)
		}
		names[v.Name] = true
		errs = append(errs, validateVolumeSource(v, vp)...)
	}
	return names, errs
}

func validateVolumeSource(v *corev1.Volume, vp string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	sources := 0
	count := func(set bool, name string) bool {
		if !set {
			return false
		}
		sources++
		if sources > 1 {
			errs = append(errs, apierrors.Forbidden(child(vp, name), "may not specify more than 1 volume type"))
			return false
		}
		return true
	}
	if count(v.HostPath != nil, "hostPath") {
		if v.HostPath.Path == "" {
			errs = append(errs, apierrors.Required(child(vp, "hostPath", "path"), ""))
		}
		if t := v.HostPath.GetType(); t != "" {
			errs = append(errs, enum(child(vp, "hostPath", "type"), t,
				[]string{"DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"})...)
		}
	}
	if count(v.EmptyDir != nil, "emptyDir") {
		errs = append(errs, optionalEnum(child(vp, "emptyDir", "medium"), v.EmptyDir.Medium, []string{"Memory", "HugePages"})...)
		if v.EmptyDir.SizeLimit != "" {
			errs = append(errs, validation.ValidateQuantity(v.EmptyDir.SizeLimit, child(vp, "emptyDir", "sizeLimit"))...)
		}
	}
	if count(v.Secret != nil, "secret") {
		if v.Secret.SecretName == "" {
			errs = append(errs, apierrors.Required(child(vp, "secret", "secretName"), ""))
		}
		errs = append(errs, validateKeyToPaths(v.Secret.Items, child(vp, "secret", "items"))...)
	}
	if count(v.PersistentVolumeClaim != nil, "persistentVolumeClaim") && v.PersistentVolumeClaim.ClaimName == "" {
		errs = append(errs, apierrors.Required(child(vp, "persistentVolumeClaim", "claimName"), ""))
	}
	if count(v.ConfigMap != nil, "configMap") {
		if v.ConfigMap.Name == "" {
			errs = append(errs, apierrors.Required(child(vp, "configMap", "name"), ""))
		}
		errs = append(errs, validateKeyToPaths(v.ConfigMap.Items, child(vp, "configMap", "items"))...)
	}
	if count(v.DownwardAPI != nil, "downwardAPI") {
		for i, f := range v.DownwardAPI.Items {
			errs = append(errs, validateLocalPath(f.Path, child(index(child(vp, "downwardAPI", "items"), i), "path"))...)
		}
	}
	count(v.Projected != nil, "projected")
	if sources == 0 {
		errs = append(errs, apierrors.Required(vp, "must specify a volume type"))
	}
	return errs
}

func validateKeyToPaths(items []*corev1.KeyToPath, p string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for i, it := range items {
		ip := index(p, i)
		if it.Key == "" {
			errs = append(errs, apierrors.Required(child(ip, "key"), ""))
		}
		errs = append(errs, validateLocalPath(it.Path, child(ip, "path"))...)
	}
	return errs
}

// validateLocalPath checks a relative path inside a volume: no absolute
// path and no ".." element.
func validateLocalPath(v, p string) []apierrors.FieldError {
	switch {
	case v == "":
		return []apierrors.FieldError{apierrors.Required(p, "")}
	case path.IsAbs(v):
		return []apierrors.FieldError{apierrors.Invalid(p, v, "must be a relative path")}
	case strings.Contains("/"+v+"/", "/../"):
		return []apierrors.FieldError{apierrors.Invalid(p, v, "must not contain '..'")}
	}
	return nil
}

// validateContainer checks one container; names collects the container
// names seen so far (init and app containers share one namespace).
func validateContainer(c *corev1.Container, init bool, s *corev1.PodSpec, volumes, names map[string]bool, p string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	switch {
	case c.Name == "":
		errs = append(errs, apierrors.Required(child(p, "name"), ""))
	case names[c.Name]:
		errs = append(errs, apierrors.Duplicate(child(p, "name"), c.Name))
	default:
		errs = append(errs, msgs(child(p, "name"), c.Name, validation.IsDNS1123Label(c.Name))...)
	}
	names[c.Name] = true
	if strings.TrimSpace(c.Image) == "" {
		errs = append(errs, apierrors.Required(child(p, "image"), ""))
	} else if c.Image != strings.TrimSpace(c.Image) {
		errs = append(errs, apierrors.Invalid(child(p, "image"), c.Image, "must not have leading or trailing whitespace"))
	}
	errs = append(errs, enum(child(p, "imagePullPolicy"), c.ImagePullPolicy, pullPolicies)...)
	errs = append(errs, enum(child(p, "terminationMessagePolicy"), c.TerminationMessagePolicy, termMsgPolicies)...)
	sidecar := false
	if c.RestartPolicy != nil {
		if !init {
			errs = append(errs, apierrors.Forbidden(child(p, "restartPolicy"), "may not be set for non-init containers"))
		} else if *c.RestartPolicy != "Always" {
			errs = append(errs, apierrors.NotSupported(child(p, "restartPolicy"), *c.RestartPolicy, []string{"Always"}))
		} else {
			sidecar = true
		}
	}
	errs = append(errs, validatePorts(c.Ports, s.HostNetwork, child(p, "ports"))...)
	errs = append(errs, validateEnv(c.Env, child(p, "env"))...)
	errs = append(errs, validateEnvFrom(c.EnvFrom, child(p, "envFrom"))...)
	errs = append(errs, validateVolumeMounts(c.VolumeMounts, volumes, child(p, "volumeMounts"))...)
	errs = append(errs, validateResources(c.Resources, child(p, "resources"))...)
	probes := []struct {
		name  string
		probe *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}}
	for _, pr := range probes {
		if pr.probe == nil {
			continue
		}
		pp := child(p, pr.name)
		if init && !sidecar {
			errs = append(errs, apierrors.Forbidden(pp, "may not be set for init containers without restartPolicy=Always"))
			continue
		}
		errs = append(errs, validateProbe(pr.probe, pp)...)
		if pr.name != "readinessProbe" && pr.probe.SuccessThreshold != 1 {
			errs = append(errs, apierrors.Invalid(child(pp, "successThreshold"), pr.probe.SuccessThreshold, "must be 1"))
		}
	}
	if l := c.Lifecycle; l != nil {
		errs = append(errs, validateLifecycleHandler(l.PostStart, child(p, "lifecycle", "postStart"))...)
		errs = append(errs, validateLifecycleHandler(l.PreStop, child(p, "lifecycle", "preStop"))...)
	}
	return errs
}

func validatePorts(ports []*corev1.ContainerPort, hostNetwork bool, p string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	names := map[string]bool{}
	for i, port := range ports {
		pp := index(p, i)
		if port.Name != "" {
			np := child(pp, "name")
			errs = append(errs, msgs(np, port.Name, validation.IsValidPortName(port.Name))...)
			if names[port.Name] {
				errs = append(errs, apierrors.Duplicate(np, port.Name))
			}
			names[port.Name] = true
		}
		if port.ContainerPort == 0 {
			errs = append(errs, apierrors.Required(child(pp, "containerPort"), ""))
		} else {
			errs = append(errs, msgs(child(pp, "containerPort"), port.ContainerPort, validation.IsValidPortNum(port.ContainerPort))...)
		}
		if port.HostPort != 0 {
			errs = append(errs, msgs(child(pp, "hostPort"), port.HostPort, validation.IsValidPortNum(port.HostPort))...)
		}
		if hostNetwork && port.HostPort != port.ContainerPort {
			errs = append(errs, apierrors.Invalid(child(pp, "containerPort"), port.ContainerPort, "must match `hostPort` when `hostNetwork` is true"))
		}
		if port.HostIP != "" {
			errs = append(errs, msgs(child(pp, "hostIP"), port.HostIP, validation.IsValidIP(port.HostIP))...)
		}
		errs = append(errs, enum(child(pp, "protocol"), port.Protocol, protocols)...)
	}
	return errs
}

func validateEnv(env []*corev1.EnvVar, p string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for i, e := range env {
		ep := index(p, i)
		if e.Name == "" {
			errs = append(errs, apierrors.Required(child(ep, "name"), ""))
		} else {
			errs = append(errs, msgs(child(ep, "name"), e.Name, validation.IsEnvVarName(e.Name))...)
		}
		src := e.ValueFrom
		if src == nil {
			continue
		}
		vp := child(ep, "valueFrom")
		n := 0
		if f := src.FieldRef; f != nil {
			n++
			if f.FieldPath == "" {
				errs = append(errs, apierrors.Required(child(vp, "fieldRef", "fieldPath"), ""))
			}
		}
		if r := src.ResourceFieldRef; r != nil {
			n++
			if r.Resource == "" {
				errs = append(errs, apierrors.Required(child(vp, "resourceFieldRef", "resource"), ""))
			}
		}
		if r := src.ConfigMapKeyRef; r != nil {
			n++
			errs = append(errs, validateKeyRef(r.Name, r.Key, child(vp, "configMapKeyRef"))...)
		}
		if r := src.SecretKeyRef; r != nil {
			n++
			errs = append(errs, validateKeyRef(r.Name, r.Key, child(vp, "secretKeyRef"))...)
		}
		switch {
		case n == 0:
			errs = append(errs, apierrors.Invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
		case n > 1:
			errs = append(errs, apierrors.Invalid(vp, "", "may not have more than one field specified at a time"))
		case e.Value != "":
			errs = append(errs, apierrors.Invalid(vp, "", "may not be specified when `value` is not empty"))
		}
	}
	return errs
}

func validateKeyRef(name, k, p string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	if name == "" {
		errs = append(errs, apierrors.Required(child(p, "name"), ""))
	}
	if k == "" {
		errs = append(errs, apierrors.Required(child(p, "key"), ""))
	} else {
		errs = append(errs, msgs(child(p, "key"), k, validation.IsConfigMapKey(k))...)
	}
	return errs
}

func validateEnvFrom(from []*corev1.EnvFromSource, p string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for i, f := range from {
		fp := index(p, i)
		if f.Prefix != "" {
			errs = append(errs, msgs(child(fp, "prefix"), f.Prefix, validation.IsEnvVarName(f.Prefix))...)
		}
		switch {
		case f.ConfigMapRef == nil && f.SecretRef == nil:
			errs = append(errs, apierrors.Invalid(fp, "", "must specify one of: `configMapRef` or `secretRef`"))
		case f.ConfigMapRef != nil && f.SecretRef != nil:
			errs = append(errs, apierrors.Invalid(fp, "", "may not have more than one field specified at a time"))
		case f.ConfigMapRef != nil && f.ConfigMapRef.Name == "":
			errs = append(errs, apierrors.Required(child(fp, "configMapRef", "name"), ""))
		case f.SecretRef != nil && f.SecretRef.Name == "":
			errs = append(errs, apierrors.Required(child(fp, "secretRef", "name"), ""))
		}
	}
	return errs
}

func validateVolumeMounts(mounts []*corev1.VolumeMount, volumes map[string]bool, p string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	paths := map[string]bool{}
	for i, m := range mounts {
		mp := index(p, i)
		switch {
		case m.Name == "":
			errs = append(errs, apierrors.Required(child(mp, "name"), ""))
		case !volumes[m.Name]:
			errs = append(errs, validation.NotFound(child(mp, "name"), m.Name))
		}
		switch {
		case m.MountPath == "":
			errs = append(errs, apierrors.Required(child(mp, "mountPath"), ""))
		case paths[m.MountPath]:
			errs = append(errs, apierrors.Invalid(child(mp, "mountPath"), m.MountPath, "must be unique"))
		}
		paths[m.MountPath] = true
		if m.SubPath != "" {
			errs = append(errs, validateLocalPath(m.SubPath, child(mp, "subPath"))...)
		}
		if m.MountPropagation != nil {
			errs = append(errs, enum(child(mp, "mountPropagation"), *m.MountPropagation, []string{"None", "HostToContainer", "Bidirectional"})...)
		}
	}
	return errs
}

// validateResources checks quantities and that no request exceeds its limit.
func validateResources(r *corev1.ResourceRequirements, p string) []apierrors.FieldError {
	if r == nil {
		return nil
	}
	errs := validation.ValidateResourceList(r.Limits, child(p, "limits"))
	errs = append(errs, validation.ValidateResourceList(r.Requests, child(p, "requests"))...)
	if len(errs) > 0 {
		return errs
	}
	for _, name := range validation.SortedKeys(r.Requests) {
		limit, ok := r.Limits[name]
		if !ok {
			continue
		}
		req, _ := resource.ParseQuantity(r.Requests[name])
		lim, _ := resource.ParseQuantity(limit)
		if req > lim {
			errs = append(errs, apierrors.Invalid(key(child(p, "requests"), name), r.Requests[name],
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit)))
		}
	}
	return errs
}

func validateProbe(pr *corev1.Probe, p string) []apierrors.FieldError {
	errs := validateHandler(handler{exec: pr.Exec, httpGet: pr.HttpGet, tcpSocket: pr.TcpSocket, grpc: pr.Grpc}, p)
	for _, f := range []struct {
		name string
		v    int32
	}{{"initialDelaySeconds", pr.InitialDelaySeconds}, {"timeoutSeconds", pr.TimeoutSeconds}, {"periodSeconds", pr.PeriodSeconds},
		{"successThreshold", pr.SuccessThreshold}, {"failureThreshold", pr.FailureThreshold}} {
		errs = append(errs, nonNegative(child(p, f.name), int64(f.v))...)
	}
	if pr.TerminationGracePeriodSeconds != nil {
		errs = append(errs, positive(child(p, "terminationGracePeriodSeconds"), *pr.TerminationGracePeriodSeconds)...)
	}
	return errs
}

func validateLifecycleHandler(h *corev1.LifecycleHandler, p string) []apierrors.FieldError {
	if h == nil {
		return nil
	}
	return validateHandler(handler{exec: h.Exec, httpGet: h.HttpGet, tcpSocket: h.TcpSocket, sleep: h.Sleep}, p)
}

// handler is the union of the actions a probe or lifecycle hook may take.
type handler struct {
	exec      *corev1.ExecAction
	httpGet   *corev1.HTTPGetAction
	tcpSocket *corev1.TCPSocketAction
	grpc      *corev1.GRPCAction
	sleep     *corev1.SleepAction
}

// validateHandler checks that exactly one action is set, and that action.
func validateHandler(h handler, p string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	n := 0
	one := func(name string) bool {
		n++
		if n > 1 {
			errs = append(errs, apierrors.Forbidden(child(p, name), "may not specify more than 1 handler type"))
			return false
		}
		return true
	}
	if h.exec != nil && one("exec") && len(h.exec.Command) == 0 {
		errs = append(errs, apierrors.Required(child(p, "exec", "command"), ""))
	}
	if h.httpGet != nil && one("httpGet") {
		hp := child(p, "httpGet")
		errs = append(errs, validatePortNumOrName(h.httpGet.Port, child(hp, "port"))...)
		errs = append(errs, enum(child(hp, "scheme"), h.httpGet.Scheme, []string{"HTTP", "HTTPS"})...)
		if h.httpGet.Path == "" {
			errs = append(errs, apierrors.Required(child(hp, "path"), ""))
		}
	}
	if h.tcpSocket != nil && one("tcpSocket") {
		errs = append(errs, validatePortNumOrName(h.tcpSocket.Port, child(p, "tcpSocket", "port"))...)
	}
	if h.grpc != nil && one("grpc") {
		errs = append(errs, msgs(child(p, "grpc", "port"), h.grpc.Port, validation.IsValidPortNum(h.grpc.Port))...)
	}
	if h.sleep != nil && one("sleep") {
		errs = append(errs, nonNegative(child(p, "sleep", "seconds"), h.sleep.Seconds)...)
	}
	if n == 0 {
		errs = append(errs, apierrors.Required(p, "must specify a handler type"))
	}
	return errs
}

// validatePortNumOrName checks an int-or-string port: a number 1-65535
// or an IANA service name.
func validatePortNumOrName(port *metav1.IntOrString, p string) []apierrors.FieldError {
	switch {
	case port == nil:
		return []apierrors.FieldError{apierrors.Required(p, "")}
	case port.Type == 1:
		return msgs(p, port.StrVal, validation.IsValidPortName(port.StrVal))
	default:
		return msgs(p, port.IntVal, validation.IsValidPortNum(port.IntVal))
	}
}

func validateDNSConfig(c *corev1.PodDNSConfig, p string) []apierrors.FieldError {
	if c == nil {
		return nil
	}
	var errs []apierrors.FieldError
	if len(c.Nameservers) > 3 {
		errs = append(errs, apierrors.Invalid(child(p, "nameservers"), strings.Join(c.Nameservers, ","), "must not have more than 3 nameservers"))
	}
	for i, ns := range c.Nameservers {
		errs = append(errs, msgs(index(child(p, "nameservers"), i), ns, validation.IsValidIP(ns))...)
	}
	for i, o := range c.Options {
		if o.Name == "" {
			errs = append(errs, apierrors.Required(child(index(child(p, "options"), i), "name"), "must not be empty"))
		}
	}
	return errs
}

func validateTolerations(ts []*corev1.Toleration, p string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for i, t := range ts {
		tp := index(p, i)
		if t.Key != "" {
			errs = append(errs, msgs(child(tp, "key"), t.Key, validation.IsQualifiedName(t.Key))...)
		}
		switch t.Operator {
		case "", "Equal":
			if t.Key == "" {
				errs = append(errs, apierrors.Invalid(child(tp, "operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
			}
			errs = append(errs, msgs(child(tp, "value"), t.Value, validation.IsValidLabelValue(t.Value))...)
		case "Exists":
			if t.Value != "" {
				errs = append(errs, apierrors.Invalid(child(tp, "operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, apierrors.NotSupported(child(tp, "operator"), t.Operator, []string{"Equal", "Exists"}))
		}
		errs = append(errs, optionalEnum(child(tp, "effect"), t.Effect, taintEffects)...)
		if t.TolerationSeconds != nil && t.Effect != "NoExecute" {
			errs = append(errs, apierrors.Invalid(child(tp, "effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
	}
	return errs
}

func validateAffinity(a *corev1.Affinity, p string) []apierrors.FieldError {
	if a == nil {
		return nil
	}
	var errs []apierrors.FieldError
	if na := a.NodeAffinity; na != nil {
		np := child(p, "nodeAffinity")
		if req := na.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
			rp := child(np, "requiredDuringSchedulingIgnoredDuringExecution")
			if len(req.NodeSelectorTerms) == 0 {
				errs = append(errs, apierrors.Required(child(rp, "nodeSelectorTerms"), "must have at least one node selector term"))
			}
			for i, t := range req.NodeSelectorTerms {
				errs = append(errs, validateNodeSelectorTerm(t, index(child(rp, "nodeSelectorTerms"), i))...)
			}
		}
		for i, pt := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			pp := index(child(np, "preferredDuringSchedulingIgnoredDuringExecution"), i)
			errs = append(errs, validateWeight(pt.Weight, child(pp, "weight"))...)
			errs = append(errs, validateNodeSelectorTerm(pt.Preference, child(pp, "preference"))...)
		}
	}
	podTerms := func(name string, req []*corev1.PodAffinityTerm, pref []*corev1.WeightedPodAffinityTerm) {
		pp := child(p, name)
		for i, t := range req {
			errs = append(errs, validatePodAffinityTerm(t, index(child(pp, "requiredDuringSchedulingIgnoredDuringExecution"), i))...)
		}
		for i, w := range pref {
			wp := index(child(pp, "preferredDuringSchedulingIgnoredDuringExecution"), i)
			errs = append(errs, validateWeight(w.Weight, child(wp, "weight"))...)
			errs = append(errs, validatePodAffinityTerm(w.PodAffinityTerm, child(wp, "podAffinityTerm"))...)
		}
	}
	if pa := a.PodAffinity; pa != nil {
		podTerms("podAffinity", pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if pa := a.PodAntiAffinity; pa != nil {
		podTerms("podAntiAffinity", pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	return errs
}

func validateWeight(w int32, p string) []apierrors.FieldError {
	if w < 1 || w > 100 {
		return []apierrors.FieldError{apierrors.Invalid(p, w, "must be in the range 1-100")}
	}
	return nil
}

func validateNodeSelectorTerm(t *corev1.NodeSelectorTerm, p string) []apierrors.FieldError {
	if t == nil {
		return []apierrors.FieldError{apierrors.Required(p, "")}
	}
	var errs []apierrors.FieldError
	for i, r := range t.MatchExpressions {
		rp := index(child(p, "matchExpressions"), i)
		errs = append(errs, msgs(child(rp, "key"), r.Key, validation.IsQualifiedName(r.Key))...)
		errs = append(errs, validateNodeSelectorRequirement(r, rp)...)
	}
	for i, r := range t.MatchFields {
		rp := index(child(p, "matchFields"), i)
		if r.Key != "metadata.name" {
			errs = append(errs, apierrors.NotSupported(child(rp, "key"), r.Key, []string{"metadata.name"}))
		}
		if r.Operator != "In" && r.Operator != "NotIn" {
			errs = append(errs, apierrors.NotSupported(child(rp, "operator"), r.Operator, []string{"In", "NotIn"}))
		} else if len(r.Values) != 1 {
			errs = append(errs, apierrors.Required(child(rp, "values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
		}
	}
	return errs
}

func validateNodeSelectorRequirement(r *corev1.NodeSelectorRequirement, p string) []apierrors.FieldError {
	vp := child(p, "values")
	switch r.Operator {
	case "In", "NotIn":
		if len(r.Values) == 0 {
			return []apierrors.FieldError{apierrors.Required(vp, "must be specified when `operator` is 'In' or 'NotIn'")}
		}
	case "Exists", "DoesNotExist":
		if len(r.Values) > 0 {
			return []apierrors.FieldError{apierrors.Forbidden(vp, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")}
		}
	case "Gt", "Lt":
		if len(r.Values) != 1 {
			return []apierrors.FieldError{apierrors.Required(vp, "must be specified single value when `operator` is 'Lt' or 'Gt'")}
		}
		if _, err := strconv.ParseInt(r.Values[0], 10, 64); err != nil {
			return []apierrors.FieldError{apierrors.Invalid(index(vp, 0), r.Values[0], "must be an integer")}
		}
	default:
		return []apierrors.FieldError{apierrors.NotSupported(child(p, "operator"), r.Operator, nodeSelectorOps)}
	}
	var errs []apierrors.FieldError
	for i, v := range r.Values {
		errs = append(errs, msgs(index(vp, i), v, validation.IsValidLabelValue(v))...)
	}
	return errs
}

func validatePodAffinityTerm(t *corev1.PodAffinityTerm, p string) []apierrors.FieldError {
	if t == nil {
		return []apierrors.FieldError{apierrors.Required(p, "")}
	}
	var errs []apierrors.FieldError
	if t.TopologyKey == "" {
		errs = append(errs, apierrors.Required(child(p, "topologyKey"), "can not be empty"))
	} else {
		errs = append(errs, msgs(child(p, "topologyKey"), t.TopologyKey, validation.IsQualifiedName(t.TopologyKey))...)
	}
	errs = append(errs, validation.ValidateLabelSelector(t.LabelSelector, child(p, "labelSelector"))...)
	errs = append(errs, validation.ValidateLabelSelector(t.NamespaceSelector, child(p, "namespaceSelector"))...)
	for i, ns := range t.Namespaces {
		errs = append(errs, msgs(index(child(p, "namespaces"), i), ns, validation.IsDNS1123Label(ns))...)
	}
	return errs
}
