package printers

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	batchv1 "minik8s/api/batch/v1"
	"minik8s/api/codec"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	apiprinters "minik8s/api/printers"
	"minik8s/api/scheme"
)

// LastAppliedAnnotation is where apply records the configuration it applied.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// DescribeInput is what Describe needs: the object, the events whose
// involvedObject is the object, and optionally related objects.
type DescribeInput struct {
	Object scheme.Object
	Events []*corev1.Event
	// Endpoints of a described Service, when the caller fetched them.
	Endpoints *corev1.Endpoints
	// Now is the reference time for ages; its location formats timestamps.
	Now time.Time
}

// describer accumulates tab-separated lines; the result goes through a tab
// writer so that labels and values line up per block, as in kubectl.
type describer struct {
	b   strings.Builder
	now time.Time
}

// w writes one line at an indentation level (two spaces per level).
func (d *describer) w(level int, format string, args ...any) {
	d.b.WriteString(strings.Repeat("  ", level))
	fmt.Fprintf(&d.b, format, args...)
	d.b.WriteByte('\n')
}

func (d *describer) String() string {
	var out strings.Builder
	tw := tabwriter.NewWriter(&out, 0, 8, 2, ' ', 0)
	_, _ = tw.Write([]byte(d.b.String()))
	_ = tw.Flush()
	return out.String()
}

func (d *describer) time(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "<unset>"
	}
	return ts.AsTime().In(d.now.Location()).Format(time.RFC1123Z)
}

// mapLines prints a map as "Title:\tk=v" with one pair per line.
func (d *describer) mapLines(level int, title string, m map[string]string, sep string, skip map[string]bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !skip[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		d.w(level, "%s:\t<none>", title)
		return
	}
	for i, k := range keys {
		v := m[k]
		if len(v) > 200 {
			v = v[:197] + "..."
		}
		if i == 0 {
			d.w(level, "%s:\t%s%s%s", title, k, sep, v)
		} else {
			d.w(level, "\t%s%s%s", k, sep, v)
		}
	}
}

func (d *describer) meta(md *metav1.ObjectMeta, namespaced bool) {
	d.w(0, "Name:\t%s", md.GetName())
	if namespaced {
		d.w(0, "Namespace:\t%s", md.GetNamespace())
	}
}

func (d *describer) labels(md *metav1.ObjectMeta) {
	d.mapLines(0, "Labels", md.GetLabels(), "=", nil)
	d.mapLines(0, "Annotations", md.GetAnnotations(), ": ", map[string]bool{LastAppliedAnnotation: true})
}

func (d *describer) controlledBy(md *metav1.ObjectMeta) {
	for _, r := range md.GetOwnerReferences() {
		if r.GetController() {
			d.w(0, "Controlled By:\t%s/%s", r.GetKind(), r.GetName())
			return
		}
	}
}

// Describe renders `minictl describe` output for one object.
func Describe(in DescribeInput) string {
	d := &describer{now: in.Now}
	k, err := scheme.KindOf(in.Object)
	namespaced := err == nil && k.Namespaced
	switch o := in.Object.(type) {
	case *corev1.Pod:
		describePod(d, o)
	case *appsv1.Deployment:
		describeDeployment(d, o)
	case *appsv1.ReplicaSet:
		s := o.GetSpec()
		describeWorkload(d, o.GetMetadata(), apiprinters.FormatLabelSelector(s.GetSelector()),
			fmt.Sprintf("%d current / %d desired", o.GetStatus().GetReplicas(), apiprinters.DesiredReplicas(s)), s.GetTemplate())
	case *corev1.ReplicationController:
		s := o.GetSpec()
		describeWorkload(d, o.GetMetadata(), FormatLabels(s.GetSelector()),
			fmt.Sprintf("%d current / %d desired", o.GetStatus().GetReplicas(), apiprinters.DesiredReplicas(s)), s.GetTemplate())
	case *appsv1.StatefulSet:
		s := o.GetSpec()
		describeWorkload(d, o.GetMetadata(), apiprinters.FormatLabelSelector(s.GetSelector()),
			fmt.Sprintf("%d desired | %d total", apiprinters.DesiredReplicas(s), o.GetStatus().GetReplicas()), s.GetTemplate())
	case *appsv1.DaemonSet:
		st := o.GetStatus()
		describeWorkload(d, o.GetMetadata(), apiprinters.FormatLabelSelector(o.GetSpec().GetSelector()),
			"", o.GetSpec().GetTemplate())
		d.w(0, "Desired Number of Nodes Scheduled:\t%d", st.GetDesiredNumberScheduled())
		d.w(0, "Current Number of Nodes Scheduled:\t%d", st.GetCurrentNumberScheduled())
		d.w(0, "Number of Nodes Scheduled with Up-to-date Pods:\t%d", st.GetUpdatedNumberScheduled())
		d.w(0, "Number of Nodes Scheduled with Available Pods:\t%d", st.GetNumberAvailable())
		d.w(0, "Number of Nodes Misscheduled:\t%d", st.GetNumberMisscheduled())
	case *batchv1.Job:
		describeJob(d, o)
	case *corev1.Service:
		describeService(d, o, in.Endpoints)
	case *corev1.Node:
		describeNode(d, o)
	case *corev1.Namespace:
		d.meta(o.GetMetadata(), false)
		d.labels(o.GetMetadata())
		d.w(0, "Status:\t%s", o.GetStatus().GetPhase())
	case *coordinationv1.Lease:
		d.meta(o.GetMetadata(), true)
		d.labels(o.GetMetadata())
		s := o.GetSpec()
		d.w(0, "Holder Identity:\t%s", s.GetHolderIdentity())
		d.w(0, "Lease Duration Seconds:\t%d", s.GetLeaseDurationSeconds())
		d.w(0, "Acquire Time:\t%s", d.time(s.GetAcquireTime()))
		d.w(0, "Renew Time:\t%s", d.time(s.GetRenewTime()))
		d.w(0, "Lease Transitions:\t%d", s.GetLeaseTransitions())
	case *corev1.ConfigMap:
		d.meta(o.GetMetadata(), true)
		d.labels(o.GetMetadata())
		d.w(0, "")
		d.w(0, "Data")
		d.w(0, "====")
		for _, k := range sortedKeys(o.GetData()) {
			d.w(0, "%s:", k)
			d.w(0, "----")
			d.w(0, "%s", strings.TrimRight(o.GetData()[k], "\n"))
			d.w(0, "")
		}
		d.w(0, "")
		d.w(0, "BinaryData")
		d.w(0, "====")
		for k, v := range o.GetBinaryData() {
			d.w(0, "%s: %d bytes", k, len(v))
		}
		d.w(0, "")
	case *corev1.Secret:
		d.meta(o.GetMetadata(), true)
		d.labels(o.GetMetadata())
		d.w(0, "")
		d.w(0, "Type:\t%s", o.GetType())
		d.w(0, "")
		d.w(0, "Data")
		d.w(0, "====")
		keys := make([]string, 0, len(o.GetData()))
		for k := range o.GetData() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.w(0, "%s:\t%d bytes", k, len(o.GetData()[k]))
		}
	default:
		describeGeneric(d, in.Object, namespaced)
	}
	describeEvents(d, in.Events)
	return d.String()
}

// ---- pods ----

func describePod(d *describer, p *corev1.Pod) {
	md, spec, st := p.GetMetadata(), p.GetSpec(), p.GetStatus()
	d.meta(md, true)
	if spec.Priority != nil {
		d.w(0, "Priority:\t%d", spec.GetPriority())
	}
	if spec.GetServiceAccountName() != "" {
		d.w(0, "Service Account:\t%s", spec.GetServiceAccountName())
	}
	node := orNone(spec.GetNodeName())
	if spec.GetNodeName() != "" && st.GetHostIP() != "" {
		node += "/" + st.GetHostIP()
	}
	d.w(0, "Node:\t%s", node)
	if st.GetStartTime() != nil {
		d.w(0, "Start Time:\t%s", d.time(st.GetStartTime()))
	}
	d.labels(md)
	if md.GetDeletionTimestamp() != nil {
		d.w(0, "Status:\tTerminating (lasts %s)", apiprinters.HumanDuration(d.now.Sub(md.GetDeletionTimestamp().AsTime())))
		if md.DeletionGracePeriodSeconds != nil {
			d.w(0, "Termination Grace Period:\t%ds", md.GetDeletionGracePeriodSeconds())
		}
	} else {
		d.w(0, "Status:\t%s", orUnknown(st.GetPhase()))
	}
	if st.GetReason() != "" {
		d.w(0, "Reason:\t%s", st.GetReason())
	}
	if st.GetMessage() != "" {
		d.w(0, "Message:\t%s", st.GetMessage())
	}
	d.w(0, "IP:\t%s", st.GetPodIP())
	if len(st.GetPodIPs()) == 0 {
		d.w(0, "IPs:\t<none>")
	} else {
		d.w(0, "IPs:")
		for _, ip := range st.GetPodIPs() {
			d.w(1, "IP:\t%s", ip.GetIp())
		}
	}
	d.controlledBy(md)
	if len(spec.GetInitContainers()) > 0 {
		d.w(0, "Init Containers:")
		describeContainers(d, spec.GetInitContainers(), st.GetInitContainerStatuses())
	}
	d.w(0, "Containers:")
	describeContainers(d, spec.GetContainers(), st.GetContainerStatuses())
	if len(st.GetConditions()) > 0 {
		d.w(0, "Conditions:")
		d.w(1, "Type\tStatus")
		for _, c := range st.GetConditions() {
			d.w(1, "%s \t%s ", c.GetType(), c.GetStatus())
		}
	}
	describeVolumes(d, spec.GetVolumes())
	if st.GetQosClass() != "" {
		d.w(0, "QoS Class:\t%s", st.GetQosClass())
	}
	d.w(0, "Node-Selectors:\t%s", nodeSelectorLines(spec.GetNodeSelector()))
	tols := spec.GetTolerations()
	if len(tols) == 0 {
		d.w(0, "Tolerations:\t<none>")
	}
	for i, t := range tols {
		prefix := "Tolerations:"
		if i > 0 {
			prefix = ""
		}
		d.w(0, "%s\t%s", prefix, formatToleration(t))
	}
}

func nodeSelectorLines(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	return FormatLabels(m)
}

func formatToleration(t *corev1.Toleration) string {
	s := t.GetKey()
	if t.GetValue() != "" {
		s += "=" + t.GetValue()
	}
	if t.GetEffect() != "" {
		s += ":" + t.GetEffect()
	}
	if t.GetOperator() == "Exists" && t.GetValue() == "" {
		if s != "" {
			s += " "
		}
		s += "op=Exists"
	}
	if t.TolerationSeconds != nil {
		s += fmt.Sprintf(" for %ds", t.GetTolerationSeconds())
	}
	return s
}

func describeContainers(d *describer, cs []*corev1.Container, statuses []*corev1.ContainerStatus) {
	byName := map[string]*corev1.ContainerStatus{}
	for _, s := range statuses {
		byName[s.GetName()] = s
	}
	for _, c := range cs {
		st, hasStatus := byName[c.GetName()]
		d.w(1, "%s:", c.GetName())
		if hasStatus {
			d.w(2, "Container ID:\t%s", st.GetContainerID())
		}
		d.w(2, "Image:\t%s", c.GetImage())
		if hasStatus {
			d.w(2, "Image ID:\t%s", st.GetImageID())
		}
		ports, hostPorts := []string{}, []string{}
		for _, p := range c.GetPorts() {
			proto := p.GetProtocol()
			if proto == "" {
				proto = "TCP"
			}
			ports = append(ports, fmt.Sprintf("%d/%s", p.GetContainerPort(), proto))
			hostPorts = append(hostPorts, fmt.Sprintf("%d/%s", p.GetHostPort(), proto))
		}
		if len(ports) == 0 {
			d.w(2, "Port:\t<none>")
			d.w(2, "Host Port:\t<none>")
		} else {
			label := "Port"
			if len(ports) > 1 {
				label = "Ports"
			}
			d.w(2, "%s:\t%s", label, strings.Join(ports, ", "))
			d.w(2, "Host %s:\t%s", label, strings.Join(hostPorts, ", "))
		}
		listLines(d, 2, "Command", c.GetCommand())
		listLines(d, 2, "Args", c.GetArgs())
		if hasStatus {
			describeState(d, "State", st.GetState())
			if ls := st.GetLastState(); ls.GetTerminated() != nil || ls.GetWaiting() != nil || ls.GetRunning() != nil {
				describeState(d, "Last State", ls)
			}
			d.w(2, "Ready:\t%s", titleBool(st.GetReady()))
			d.w(2, "Restart Count:\t%d", st.GetRestartCount())
		}
		resourceLines(d, "Limits", c.GetResources().GetLimits())
		resourceLines(d, "Requests", c.GetResources().GetRequests())
		for _, pr := range []struct {
			name string
			p    *corev1.Probe
		}{{"Liveness", c.GetLivenessProbe()}, {"Readiness", c.GetReadinessProbe()}, {"Startup", c.GetStartupProbe()}} {
			if pr.p != nil {
				d.w(2, "%s:\t%s", pr.name, formatProbe(pr.p))
			}
		}
		if len(c.GetEnv()) == 0 && len(c.GetEnvFrom()) == 0 {
			d.w(2, "Environment:\t<none>")
		} else {
			d.w(2, "Environment:")
			for _, e := range c.GetEnv() {
				d.w(3, "%s:\t%s", e.GetName(), envValue(e))
			}
			for _, ef := range c.GetEnvFrom() {
				switch {
				case ef.GetConfigMapRef() != nil:
					d.w(3, "ConfigMap\t%s\tOptional: %t", ef.GetConfigMapRef().GetName(), ef.GetConfigMapRef().GetOptional())
				case ef.GetSecretRef() != nil:
					d.w(3, "Secret\t%s\tOptional: %t", ef.GetSecretRef().GetName(), ef.GetSecretRef().GetOptional())
				}
			}
		}
		if len(c.GetVolumeMounts()) == 0 {
			d.w(2, "Mounts:\t<none>")
		} else {
			d.w(2, "Mounts:")
			for _, m := range c.GetVolumeMounts() {
				mode := "rw"
				if m.GetReadOnly() {
					mode = "ro"
				}
				sub := ""
				if m.GetSubPath() != "" {
					sub = ", path = \"" + m.GetSubPath() + "\""
				}
				d.w(3, "%s from %s (%s%s)", m.GetMountPath(), m.GetName(), mode, sub)
			}
		}
	}
}

func listLines(d *describer, level int, title string, items []string) {
	if len(items) == 0 {
		return
	}
	d.w(level, "%s:", title)
	for _, c := range items {
		d.w(level+1, "%s", c)
	}
}

func resourceLines(d *describer, title string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	d.w(2, "%s:", title)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.w(3, "%s:\t%s", k, m[k])
	}
}

func envValue(e *corev1.EnvVar) string {
	vf := e.GetValueFrom()
	switch {
	case vf == nil:
		return e.GetValue()
	case vf.GetFieldRef() != nil:
		return fmt.Sprintf(" (%s:%s)", orDefault(vf.GetFieldRef().GetApiVersion(), "v1"), vf.GetFieldRef().GetFieldPath())
	case vf.GetResourceFieldRef() != nil:
		return fmt.Sprintf("%s (%s)", vf.GetResourceFieldRef().GetResource(), vf.GetResourceFieldRef().GetContainerName())
	case vf.GetConfigMapKeyRef() != nil:
		r := vf.GetConfigMapKeyRef()
		return fmt.Sprintf("<set to the key '%s' of config map '%s'>\tOptional: %t", r.GetKey(), r.GetName(), r.GetOptional())
	case vf.GetSecretKeyRef() != nil:
		r := vf.GetSecretKeyRef()
		return fmt.Sprintf("<set to the key '%s' in secret '%s'>\tOptional: %t", r.GetKey(), r.GetName(), r.GetOptional())
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func formatProbe(p *corev1.Probe) string {
	attrs := fmt.Sprintf("delay=%ds timeout=%ds period=%ds #success=%d #failure=%d",
		p.GetInitialDelaySeconds(), p.GetTimeoutSeconds(), p.GetPeriodSeconds(), p.GetSuccessThreshold(), p.GetFailureThreshold())
	switch {
	case p.GetExec() != nil:
		return fmt.Sprintf("exec %v %s", p.GetExec().GetCommand(), attrs)
	case p.GetHttpGet() != nil:
		h := p.GetHttpGet()
		scheme := strings.ToLower(orDefault(h.GetScheme(), "HTTP"))
		return fmt.Sprintf("http-get %s://%s:%s%s %s", scheme, h.GetHost(), intOrString(h.GetPort()), h.GetPath(), attrs)
	case p.GetTcpSocket() != nil:
		return fmt.Sprintf("tcp-socket %s:%s %s", p.GetTcpSocket().GetHost(), intOrString(p.GetTcpSocket().GetPort()), attrs)
	case p.GetGrpc() != nil:
		return fmt.Sprintf("grpc <pod>:%d %s %s", p.GetGrpc().GetPort(), p.GetGrpc().GetService(), attrs)
	}
	return "unknown " + attrs
}

func intOrString(v *metav1.IntOrString) string {
	if v.GetType() == 1 {
		return v.GetStrVal()
	}
	return fmt.Sprint(v.GetIntVal())
}

func titleBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func describeState(d *describer, title string, s *corev1.ContainerState) {
	switch {
	case s.GetRunning() != nil:
		d.w(2, "%s:\tRunning", title)
		d.w(3, "Started:\t%s", d.time(s.GetRunning().GetStartedAt()))
	case s.GetWaiting() != nil:
		d.w(2, "%s:\tWaiting", title)
		if r := s.GetWaiting().GetReason(); r != "" {
			d.w(3, "Reason:\t%s", r)
		}
		if m := s.GetWaiting().GetMessage(); m != "" {
			d.w(3, "Message:\t%s", m)
		}
	case s.GetTerminated() != nil:
		t := s.GetTerminated()
		d.w(2, "%s:\tTerminated", title)
		if t.GetReason() != "" {
			d.w(3, "Reason:\t%s", t.GetReason())
		}
		if t.GetMessage() != "" {
			d.w(3, "Message:\t%s", t.GetMessage())
		}
		d.w(3, "Exit Code:\t%d", t.GetExitCode())
		if t.GetSignal() != 0 {
			d.w(3, "Signal:\t%d", t.GetSignal())
		}
		d.w(3, "Started:\t%s", d.time(t.GetStartedAt()))
		d.w(3, "Finished:\t%s", d.time(t.GetFinishedAt()))
	default:
		d.w(2, "%s:\tWaiting", title)
	}
}

func describeVolumes(d *describer, vols []*corev1.Volume) {
	if len(vols) == 0 {
		d.w(0, "Volumes:\t<none>")
		return
	}
	d.w(0, "Volumes:")
	for _, v := range vols {
		d.w(1, "%s:", v.GetName())
		switch {
		case v.GetHostPath() != nil:
			d.w(2, "Type:\tHostPath (bare host directory volume)")
			d.w(2, "Path:\t%s", v.GetHostPath().GetPath())
			d.w(2, "HostPathType:\t%s", v.GetHostPath().GetType())
		case v.GetEmptyDir() != nil:
			d.w(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)")
			d.w(2, "Medium:\t%s", v.GetEmptyDir().GetMedium())
			d.w(2, "SizeLimit:\t%s", orDefault(v.GetEmptyDir().GetSizeLimit(), "<unset>"))
		case v.GetSecret() != nil:
			d.w(2, "Type:\tSecret (a volume populated by a Secret)")
			d.w(2, "SecretName:\t%s", v.GetSecret().GetSecretName())
			d.w(2, "Optional:\t%t", v.GetSecret().GetOptional())
		case v.GetConfigMap() != nil:
			d.w(2, "Type:\tConfigMap (a volume populated by a ConfigMap)")
			d.w(2, "Name:\t%s", v.GetConfigMap().GetName())
			d.w(2, "Optional:\t%t", v.GetConfigMap().GetOptional())
		case v.GetPersistentVolumeClaim() != nil:
			d.w(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)")
			d.w(2, "ClaimName:\t%s", v.GetPersistentVolumeClaim().GetClaimName())
			d.w(2, "ReadOnly:\t%t", v.GetPersistentVolumeClaim().GetReadOnly())
		case v.GetProjected() != nil:
			d.w(2, "Type:\tProjected (a volume that contains injected data from multiple sources)")
		case v.GetDownwardAPI() != nil:
			d.w(2, "Type:\tDownwardAPI (a volume populated by information about the pod)")
		}
	}
}

// ---- workloads ----

func describeDeployment(d *describer, dep *appsv1.Deployment) {
	md, s, st := dep.GetMetadata(), dep.GetSpec(), dep.GetStatus()
	d.meta(md, true)
	d.w(0, "CreationTimestamp:\t%s", d.time(md.GetCreationTimestamp()))
	d.labels(md)
	d.w(0, "Selector:\t%s", apiprinters.FormatLabelSelector(s.GetSelector()))
	d.w(0, "Replicas:\t%d desired | %d updated | %d total | %d available | %d unavailable",
		apiprinters.DesiredReplicas(s), st.GetUpdatedReplicas(), st.GetReplicas(), st.GetAvailableReplicas(), st.GetUnavailableReplicas())
	d.w(0, "StrategyType:\t%s", s.GetStrategy().GetType())
	d.w(0, "MinReadySeconds:\t%d", s.GetMinReadySeconds())
	if ru := s.GetStrategy().GetRollingUpdate(); ru != nil {
		d.w(0, "RollingUpdateStrategy:\t%s max unavailable, %s max surge", intOrString(ru.GetMaxUnavailable()), intOrString(ru.GetMaxSurge()))
	}
	describeTemplate(d, s.GetTemplate())
	describeConditions(d, st.GetConditions())
}

// describeConditions prints Type/Status/Reason of workload conditions.
func describeConditions[C interface {
	GetType() string
	GetStatus() string
	GetReason() string
}](d *describer, conds []C) {
	if len(conds) == 0 {
		return
	}
	d.w(0, "Conditions:")
	d.w(1, "Type\tStatus\tReason")
	d.w(1, "----\t------\t------")
	for _, c := range conds {
		d.w(1, "%s \t%s\t%s", c.GetType(), c.GetStatus(), c.GetReason())
	}
}

func describeWorkload(d *describer, md *metav1.ObjectMeta, selector, replicaLine string, tmpl *corev1.PodTemplateSpec) {
	d.meta(md, true)
	d.w(0, "Selector:\t%s", selector)
	d.labels(md)
	d.controlledBy(md)
	if replicaLine != "" {
		d.w(0, "Replicas:\t%s", replicaLine)
	}
	describeTemplate(d, tmpl)
}

func describeTemplate(d *describer, t *corev1.PodTemplateSpec) {
	d.w(0, "Pod Template:")
	d.mapLines(1, "Labels", t.GetMetadata().GetLabels(), "=", nil)
	if len(t.GetMetadata().GetAnnotations()) > 0 {
		d.mapLines(1, "Annotations", t.GetMetadata().GetAnnotations(), ": ", nil)
	}
	if sa := t.GetSpec().GetServiceAccountName(); sa != "" {
		d.w(1, "Service Account:\t%s", sa)
	}
	if len(t.GetSpec().GetInitContainers()) > 0 {
		d.w(1, "Init Containers:")
		templateContainers(d, t.GetSpec().GetInitContainers())
	}
	d.w(1, "Containers:")
	templateContainers(d, t.GetSpec().GetContainers())
	vols := t.GetSpec().GetVolumes()
	if len(vols) == 0 {
		d.w(1, "Volumes:\t<none>")
	} else {
		d.w(1, "Volumes:")
		for _, v := range vols {
			d.w(2, "%s", v.GetName())
		}
	}
	d.w(1, "Node-Selectors:\t%s", nodeSelectorLines(t.GetSpec().GetNodeSelector()))
}

func templateContainers(d *describer, cs []*corev1.Container) {
	for _, c := range cs {
		d.w(2, "%s:", c.GetName())
		d.w(3, "Image:\t%s", c.GetImage())
		var ports []string
		for _, p := range c.GetPorts() {
			ports = append(ports, fmt.Sprintf("%d/%s", p.GetContainerPort(), orDefault(p.GetProtocol(), "TCP")))
		}
		if len(ports) == 0 {
			d.w(3, "Port:\t<none>")
		} else {
			d.w(3, "Port:\t%s", strings.Join(ports, ", "))
		}
		listLines(d, 3, "Command", c.GetCommand())
		listLines(d, 3, "Args", c.GetArgs())
		if len(c.GetEnv()) == 0 {
			d.w(3, "Environment:\t<none>")
		} else {
			d.w(3, "Environment:")
			for _, e := range c.GetEnv() {
				d.w(4, "%s:\t%s", e.GetName(), envValue(e))
			}
		}
	}
}

func describeJob(d *describer, j *batchv1.Job) {
	md, s, st := j.GetMetadata(), j.GetSpec(), j.GetStatus()
	d.meta(md, true)
	d.w(0, "Selector:\t%s", apiprinters.FormatLabelSelector(s.GetSelector()))
	d.labels(md)
	d.controlledBy(md)
	par := "<unset>"
	if s.Parallelism != nil {
		par = itoa(s.GetParallelism())
	}
	comp := "<unset>"
	if s.Completions != nil {
		comp = itoa(s.GetCompletions())
	}
	d.w(0, "Parallelism:\t%s", par)
	d.w(0, "Completions:\t%s", comp)
	if st.GetStartTime() != nil {
		d.w(0, "Start Time:\t%s", d.time(st.GetStartTime()))
	}
	if st.GetCompletionTime() != nil {
		d.w(0, "Completed At:\t%s", d.time(st.GetCompletionTime()))
		d.w(0, "Duration:\t%s", apiprinters.JobDuration(j, d.now))
	}
	d.w(0, "Pods Statuses:\t%d Active / %d Succeeded / %d Failed", st.GetActive(), st.GetSucceeded(), st.GetFailed())
	describeTemplate(d, s.GetTemplate())
}

// ---- services and nodes ----

func describeService(d *describer, s *corev1.Service, ep *corev1.Endpoints) {
	md, spec := s.GetMetadata(), s.GetSpec()
	d.meta(md, true)
	d.labels(md)
	d.w(0, "Selector:\t%s", FormatLabels(spec.GetSelector()))
	d.w(0, "Type:\t%s", apiprinters.ServiceType(s))
	if spec.GetClusterIP() != "" {
		d.w(0, "IP:\t%s", spec.GetClusterIP())
		ips := spec.GetClusterIPs()
		if len(ips) == 0 {
			ips = []string{spec.GetClusterIP()}
		}
		d.w(0, "IPs:\t%s", strings.Join(ips, ","))
	}
	if len(spec.GetExternalIPs()) > 0 {
		d.w(0, "External IPs:\t%s", strings.Join(spec.GetExternalIPs(), ","))
	}
	if spec.GetExternalName() != "" {
		d.w(0, "External Name:\t%s", spec.GetExternalName())
	}
	if lb := apiprinters.LoadBalancerAddresses(s); lb != "" {
		d.w(0, "LoadBalancer Ingress:\t%s", lb)
	}
	for _, p := range spec.GetPorts() {
		name := orDefault(p.GetName(), "<unset>")
		proto := orDefault(p.GetProtocol(), "TCP")
		d.w(0, "Port:\t%s\t%d/%s", name, p.GetPort(), proto)
		if tp := p.GetTargetPort(); tp != nil {
			d.w(0, "TargetPort:\t%s/%s", intOrString(tp), proto)
		}
		if p.GetNodePort() != 0 {
			d.w(0, "NodePort:\t%s\t%d/%s", name, p.GetNodePort(), proto)
		}
		if ep != nil {
			d.w(0, "Endpoints:\t%s", endpointsForPort(ep, p.GetName()))
		}
	}
	d.w(0, "Session Affinity:\t%s", orDefault(spec.GetSessionAffinity(), "None"))
	if spec.GetExternalTrafficPolicy() != "" {
		d.w(0, "External Traffic Policy:\t%s", spec.GetExternalTrafficPolicy())
	}
}

func endpointsForPort(ep *corev1.Endpoints, portName string) string {
	var list []string
	for _, ss := range ep.GetSubsets() {
		for _, p := range ss.GetPorts() {
			if p.GetName() != portName {
				continue
			}
			for _, a := range ss.GetAddresses() {
				list = append(list, fmt.Sprintf("%s:%d", a.GetIp(), p.GetPort()))
			}
		}
	}
	if len(list) == 0 {
		return "<none>"
	}
	return strings.Join(list, ",")
}

func describeNode(d *describer, n *corev1.Node) {
	md, spec, st := n.GetMetadata(), n.GetSpec(), n.GetStatus()
	d.w(0, "Name:\t%s", md.GetName())
	d.w(0, "Roles:\t%s", apiprinters.NodeRoles(n))
	d.labels(md)
	d.w(0, "CreationTimestamp:\t%s", d.time(md.GetCreationTimestamp()))
	if len(spec.GetTaints()) == 0 {
		d.w(0, "Taints:\t<none>")
	}
	for i, t := range spec.GetTaints() {
		title := "Taints:"
		if i > 0 {
			title = ""
		}
		v := t.GetKey()
		if t.GetValue() != "" {
			v += "=" + t.GetValue()
		}
		d.w(0, "%s\t%s:%s", title, v, t.GetEffect())
	}
	d.w(0, "Unschedulable:\t%t", spec.GetUnschedulable())
	if len(st.GetConditions()) > 0 {
		d.w(0, "Conditions:")
		d.w(1, "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage")
		d.w(1, "----\t------\t-----------------\t------------------\t------\t-------")
		for _, c := range st.GetConditions() {
			d.w(1, "%s \t%s \t%s \t%s \t%s \t%s", c.GetType(), c.GetStatus(), d.time(c.GetLastHeartbeatTime()),
				d.time(c.GetLastTransitionTime()), c.GetReason(), c.GetMessage())
		}
	}
	d.w(0, "Addresses:")
	for _, a := range st.GetAddresses() {
		d.w(1, "%s:\t%s", a.GetType(), a.GetAddress())
	}
	resourceBlock := func(title string, m map[string]string) {
		if len(m) == 0 {
			return
		}
		d.w(0, "%s:", title)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.w(1, "%s:\t%s", k, m[k])
		}
	}
	resourceBlock("Capacity", st.GetCapacity())
	resourceBlock("Allocatable", st.GetAllocatable())
	if info := st.GetNodeInfo(); info != nil {
		d.w(0, "System Info:")
		d.w(1, "Machine ID:\t%s", info.GetMachineID())
		d.w(1, "System UUID:\t%s", info.GetSystemUUID())
		d.w(1, "Boot ID:\t%s", info.GetBootID())
		d.w(1, "Kernel Version:\t%s", info.GetKernelVersion())
		d.w(1, "OS Image:\t%s", info.GetOsImage())
		d.w(1, "Operating System:\t%s", info.GetOperatingSystem())
		d.w(1, "Architecture:\t%s", info.GetArchitecture())
		d.w(1, "Container Runtime Version:\t%s", info.GetContainerRuntimeVersion())
		d.w(1, "Kubelet Version:\t%s", info.GetKubeletVersion())
		d.w(1, "Kube-Proxy Version:\t%s", info.GetKubeProxyVersion())
	}
	d.w(0, "PodCIDR:\t%s", spec.GetPodCIDR())
	d.w(0, "PodCIDRs:\t%s", strings.Join(spec.GetPodCIDRs(), ","))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---- any other kind ----

// describeGeneric prints metadata and then every other top-level field of
// the object as indented "Field Name: value" lines.
func describeGeneric(d *describer, o scheme.Object, namespaced bool) {
	md := o.GetMetadata()
	d.meta(md, namespaced)
	d.labels(md)
	m := codec.ToMap(o)
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		genericValue(d, 0, k, m[k])
	}
}

func genericValue(d *describer, level int, key string, v any) {
	label := smartLabel(key)
	switch t := v.(type) {
	case map[string]any:
		d.w(level, "%s:", label)
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			genericValue(d, level+1, k, t[k])
		}
	case []any:
		d.w(level, "%s:", label)
		for _, e := range t {
			if em, ok := e.(map[string]any); ok {
				keys := make([]string, 0, len(em))
				for k := range em {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					genericValue(d, level+1, k, em[k])
				}
			} else {
				d.w(level+1, "%s", scalar(e))
			}
		}
	default:
		d.w(level, "%s:\t%s", label, scalar(v))
	}
}

func scalar(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	}
	return fmt.Sprint(v)
}

// smartLabel turns a JSON field name into a title: "nodeName" -> "Node Name".
func smartLabel(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if i == 0 {
			b.WriteRune(unicode.ToUpper(r))
			continue
		}
		if unicode.IsUpper(r) && !unicode.IsUpper(rs[i-1]) {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ---- events ----

func describeEvents(d *describer, events []*corev1.Event) {
	if len(events) == 0 {
		d.w(0, "Events:\t<none>")
		return
	}
	sorted := append([]*corev1.Event(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return EventLastSeen(sorted[i]).Before(EventLastSeen(sorted[j])) })
	d.w(0, "Events:")
	d.w(1, "Type\tReason\tAge\tFrom\tMessage")
	d.w(1, "----\t------\t----\t----\t-------")
	for _, e := range sorted {
		first, last, count := apiprinters.EventTimes(e, d.now)
		interval := first
		if count > 1 || e.GetSeries() != nil {
			interval = fmt.Sprintf("%s (x%d over %s)", last, count, first)
		}
		d.w(1, "%s\t%s\t%s\t%s\t%s", e.GetType(), e.GetReason(), interval, apiprinters.EventSource(e), strings.TrimSpace(e.GetMessage()))
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func orNone(s string) string { return orDefault(s, "<none>") }

func orUnknown(s string) string { return orDefault(s, "<unknown>") }
