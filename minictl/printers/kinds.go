package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "minik8s/api/apps/v1"
	autoscalingv2 "minik8s/api/autoscaling/v2"
	batchv1 "minik8s/api/batch/v1"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	networkingv1 "minik8s/api/networking/v1"
	"minik8s/api/scheme"
)

// column is one table column; wide columns appear only with -o wide.
type column struct {
	name string
	wide bool
}

// kindPrinter knows the columns of one kind and how to fill them; row
// returns a cell for every column, wide ones included.
type kindPrinter struct {
	columns []column
	row     func(o scheme.Object, now time.Time) []string
}

func cols(names ...string) []column {
	out := make([]column, len(names))
	for i, n := range names {
		out[i] = column{name: n}
	}
	return out
}

func wideCols(names ...string) []column {
	out := cols(names...)
	for i := range out {
		out[i].wide = true
	}
	return out
}

func join(parts ...[]column) []column {
	var out []column
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// kindPrinters maps a kind name to its table layout. Kinds not listed get
// NAME and AGE.
var kindPrinters = map[string]kindPrinter{
	"Pod": {
		columns: join(cols("NAME", "READY", "STATUS", "RESTARTS", "AGE"), wideCols("IP", "NODE", "NOMINATED NODE", "READINESS GATES")),
		row: func(o scheme.Object, now time.Time) []string {
			p := o.(*corev1.Pod)
			s := SummarizePod(p, now)
			return []string{name(o), s.Ready, s.Status, s.Restarts, age(o, now),
				orNone(p.GetStatus().GetPodIP()), orNone(p.GetSpec().GetNodeName()),
				orNone(p.GetStatus().GetNominatedNodeName()), readinessGates(p)}
		},
	},
	"Deployment": {
		columns: join(cols("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"), wideCols("CONTAINERS", "IMAGES", "SELECTOR")),
		row: func(o scheme.Object, now time.Time) []string {
			d := o.(*appsv1.Deployment)
			st := d.GetStatus()
			c, i := containersAndImages(d.GetSpec().GetTemplate().GetSpec())
			return []string{name(o), fmt.Sprintf("%d/%d", st.GetReadyReplicas(), replicas(d.GetSpec().Replicas, d.GetSpec() != nil)),
				itoa(st.GetUpdatedReplicas()), itoa(st.GetAvailableReplicas()), age(o, now),
				c, i, FormatLabelSelector(d.GetSpec().GetSelector())}
		},
	},
	"ReplicaSet": {
		columns: join(cols("NAME", "DESIRED", "CURRENT", "READY", "AGE"), wideCols("CONTAINERS", "IMAGES", "SELECTOR")),
		row: func(o scheme.Object, now time.Time) []string {
			r := o.(*appsv1.ReplicaSet)
			c, i := containersAndImages(r.GetSpec().GetTemplate().GetSpec())
			return []string{name(o), itoa(replicas(r.GetSpec().Replicas, r.GetSpec() != nil)), itoa(r.GetStatus().GetReplicas()),
				itoa(r.GetStatus().GetReadyReplicas()), age(o, now), c, i, FormatLabelSelector(r.GetSpec().GetSelector())}
		},
	},
	"ReplicationController": {
		columns: join(cols("NAME", "DESIRED", "CURRENT", "READY", "AGE"), wideCols("CONTAINERS", "IMAGES", "SELECTOR")),
		row: func(o scheme.Object, now time.Time) []string {
			r := o.(*corev1.ReplicationController)
			c, i := containersAndImages(r.GetSpec().GetTemplate().GetSpec())
			return []string{name(o), itoa(replicas(r.GetSpec().Replicas, r.GetSpec() != nil)), itoa(r.GetStatus().GetReplicas()),
				itoa(r.GetStatus().GetReadyReplicas()), age(o, now), c, i, FormatLabels(r.GetSpec().GetSelector())}
		},
	},
	"DaemonSet": {
		columns: join(cols("NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"), wideCols("CONTAINERS", "IMAGES", "SELECTOR")),
		row: func(o scheme.Object, now time.Time) []string {
			d := o.(*appsv1.DaemonSet)
			st := d.GetStatus()
			c, i := containersAndImages(d.GetSpec().GetTemplate().GetSpec())
			return []string{name(o), itoa(st.GetDesiredNumberScheduled()), itoa(st.GetCurrentNumberScheduled()), itoa(st.GetNumberReady()),
				itoa(st.GetUpdatedNumberScheduled()), itoa(st.GetNumberAvailable()),
				FormatLabels(d.GetSpec().GetTemplate().GetSpec().GetNodeSelector()), age(o, now),
				c, i, FormatLabelSelector(d.GetSpec().GetSelector())}
		},
	},
	"StatefulSet": {
		columns: join(cols("NAME", "READY", "AGE"), wideCols("CONTAINERS", "IMAGES")),
		row: func(o scheme.Object, now time.Time) []string {
			s := o.(*appsv1.StatefulSet)
			c, i := containersAndImages(s.GetSpec().GetTemplate().GetSpec())
			return []string{name(o), fmt.Sprintf("%d/%d", s.GetStatus().GetReadyReplicas(), replicas(s.GetSpec().Replicas, s.GetSpec() != nil)),
				age(o, now), c, i}
		},
	},
	"ControllerRevision": {
		columns: cols("NAME", "CONTROLLER", "REVISION", "AGE"),
		row: func(o scheme.Object, now time.Time) []string {
			r := o.(*appsv1.ControllerRevision)
			ctrl := "<none>"
			for _, ref := range r.GetMetadata().GetOwnerReferences() {
				if ref.GetController() {
					ctrl = qualifiedKind(ref.GetApiVersion(), ref.GetKind()) + "/" + ref.GetName()
					break
				}
			}
			return []string{name(o), ctrl, strconv.FormatInt(r.GetRevision(), 10), age(o, now)}
		},
	},
	"Job": {
		columns: join(cols("NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"), wideCols("CONTAINERS", "IMAGES", "SELECTOR")),
		row: func(o scheme.Object, now time.Time) []string {
			j := o.(*batchv1.Job)
			c, i := containersAndImages(j.GetSpec().GetTemplate().GetSpec())
			return []string{name(o), jobStatus(j), jobCompletions(j), jobDuration(j, now), age(o, now),
				c, i, FormatLabelSelector(j.GetSpec().GetSelector())}
		},
	},
	"Service": {
		columns: join(cols("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"), wideCols("SELECTOR")),
		row: func(o scheme.Object, now time.Time) []string {
			s := o.(*corev1.Service)
			return []string{name(o), serviceType(s), orNone(s.GetSpec().GetClusterIP()), serviceExternalIP(s),
				servicePorts(s.GetSpec().GetPorts()), age(o, now), FormatLabels(s.GetSpec().GetSelector())}
		},
	},
	"Endpoints": {
		columns: cols("NAME", "ENDPOINTS", "AGE"),
		row: func(o scheme.Object, now time.Time) []string {
			return []string{name(o), formatEndpoints(o.(*corev1.Endpoints)), age(o, now)}
		},
	},
	"Node": {
		columns: join(cols("NAME", "STATUS", "ROLES", "AGE", "VERSION"), wideCols("INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME")),
		row: func(o scheme.Object, now time.Time) []string {
			n := o.(*corev1.Node)
			info := n.GetStatus().GetNodeInfo()
			return []string{name(o), NodeStatus(n), nodeRoles(n), age(o, now), info.GetKubeletVersion(),
				nodeAddress(n, "InternalIP"), nodeAddress(n, "ExternalIP"),
				orUnknown(info.GetOsImage()), orUnknown(info.GetKernelVersion()), orUnknown(info.GetContainerRuntimeVersion())}
		},
	},
	"Namespace": {
		columns: cols("NAME", "STATUS", "AGE"),
		row: func(o scheme.Object, now time.Time) []string {
			return []string{name(o), o.(*corev1.Namespace).GetStatus().GetPhase(), age(o, now)}
		},
	},
	"Event": {
		columns: join(cols("LAST SEEN", "TYPE", "REASON", "OBJECT"), wideCols("SUBOBJECT", "SOURCE"), cols("MESSAGE"), wideCols("FIRST SEEN", "COUNT", "NAME")),
		row: func(o scheme.Object, now time.Time) []string {
			e := o.(*corev1.Event)
			first, last, count := EventTimes(e, now)
			io := e.GetInvolvedObject()
			return []string{last, e.GetType(), e.GetReason(), strings.ToLower(io.GetKind()) + "/" + io.GetName(),
				io.GetFieldPath(), EventSource(e), e.GetMessage(), first, itoa(count), name(o)}
		},
	},
	"ComponentStatus": {
		columns: cols("NAME", "STATUS", "MESSAGE", "ERROR"),
		row: func(o scheme.Object, now time.Time) []string {
			status, msg, errText := "Unknown", "", ""
			for _, c := range o.(*corev1.ComponentStatus).GetConditions() {
				if c.GetType() == "Healthy" {
					status = "Unhealthy"
					if c.GetStatus() == "True" {
						status = "Healthy"
					}
					msg, errText = c.GetMessage(), c.GetError()
					break
				}
			}
			return []string{name(o), status, msg, errText}
		},
	},
	"ConfigMap": {
		columns: cols("NAME", "DATA", "AGE"),
		row: func(o scheme.Object, now time.Time) []string {
			c := o.(*corev1.ConfigMap)
			return []string{name(o), strconv.Itoa(len(c.GetData()) + len(c.GetBinaryData())), age(o, now)}
		},
	},
	"Secret": {
		columns: cols("NAME", "TYPE", "DATA", "AGE"),
		row: func(o scheme.Object, now time.Time) []string {
			s := o.(*corev1.Secret)
			return []string{name(o), s.GetType(), strconv.Itoa(len(s.GetData())), age(o, now)}
		},
	},
	"ServiceAccount": {
		columns: cols("NAME", "SECRETS", "AGE"),
		row: func(o scheme.Object, now time.Time) []string {
			return []string{name(o), strconv.Itoa(len(o.(*corev1.ServiceAccount).GetSecrets())), age(o, now)}
		},
	},
	"ResourceQuota": {
		columns: cols("NAME", "AGE", "REQUEST", "LIMIT"),
		row: func(o scheme.Object, now time.Time) []string {
			req, lim := quotaUsage(o.(*corev1.ResourceQuota))
			return []string{name(o), age(o, now), req, lim}
		},
	},
	"LimitRange": {
		columns: cols("NAME", "CREATED AT"),
		row: func(o scheme.Object, now time.Time) []string {
			ts := o.GetMetadata().GetCreationTimestamp()
			created := "<unknown>"
			if ts != nil {
				created = ts.AsTime().UTC().Format(time.RFC3339)
			}
			return []string{name(o), created}
		},
	},
	"Lease": {
		columns: cols("NAME", "HOLDER", "AGE"),
		row: func(o scheme.Object, now time.Time) []string {
			return []string{name(o), o.(*coordinationv1.Lease).GetSpec().GetHolderIdentity(), age(o, now)}
		},
	},
	"Ingress": {
		columns: cols("NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"),
		row: func(o scheme.Object, now time.Time) []string {
			in := o.(*networkingv1.Ingress)
			class := "<none>"
			if in.GetSpec() != nil && in.GetSpec().IngressClassName != nil {
				class = in.GetSpec().GetIngressClassName()
			}
			ports := "80"
			if len(in.GetSpec().GetTls()) > 0 {
				ports = "80, 443"
			}
			return []string{name(o), class, ingressHosts(in), ingressAddress(in), ports, age(o, now)}
		},
	},
	"HorizontalPodAutoscaler": {
		columns: cols("NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"),
		row: func(o scheme.Object, now time.Time) []string {
			h := o.(*autoscalingv2.HorizontalPodAutoscaler)
			ref := h.GetSpec().GetScaleTargetRef()
			min := "<unset>"
			if h.GetSpec() != nil && h.GetSpec().MinReplicas != nil {
				min = itoa(h.GetSpec().GetMinReplicas())
			}
			return []string{name(o), ref.GetKind() + "/" + ref.GetName(), hpaTargets(h), min,
				itoa(h.GetSpec().GetMaxReplicas()), itoa(h.GetStatus().GetCurrentReplicas()), age(o, now)}
		},
	},
}

var defaultPrinter = kindPrinter{
	columns: cols("NAME", "AGE"),
	row: func(o scheme.Object, now time.Time) []string {
		return []string{name(o), age(o, now)}
	},
}

// Options tune how TableFor lays out a table.
type Options struct {
	Wide          bool      // -o wide: include the wide columns
	WithNamespace bool      // -A: a NAMESPACE column first
	WithKind      bool      // several types requested: NAME cells read kind/name
	ShowLabels    bool      // --show-labels: a LABELS column last
	LabelColumns  []string  // -L key: one column per label key
	Now           time.Time // the reference time for ages
}

// Columns returns the header of k's table under o.
func Columns(k *scheme.Kind, o Options) []string {
	p := printerFor(k)
	var out []string
	if o.WithNamespace {
		out = append(out, "NAMESPACE")
	}
	for _, c := range p.columns {
		if !c.wide || o.Wide {
			out = append(out, c.name)
		}
	}
	for _, l := range o.LabelColumns {
		out = append(out, strings.ToUpper(labelColumnName(l)))
	}
	if o.ShowLabels {
		out = append(out, "LABELS")
	}
	return out
}

// Row returns the cells of one object of kind k under o.
func Row(k *scheme.Kind, obj scheme.Object, o Options) []string {
	p := printerFor(k)
	cells := p.row(obj, o.Now)
	var out []string
	if o.WithNamespace {
		out = append(out, obj.GetMetadata().GetNamespace())
	}
	for i, c := range p.columns {
		if c.wide && !o.Wide {
			continue
		}
		cell := ""
		if i < len(cells) {
			cell = cells[i]
		}
		if c.name == "NAME" && o.WithKind {
			cell = ResourceName(k) + "/" + cell
		}
		out = append(out, cell)
	}
	labels := obj.GetMetadata().GetLabels()
	for _, l := range o.LabelColumns {
		out = append(out, labels[l])
	}
	if o.ShowLabels {
		out = append(out, FormatLabels(labels))
	}
	return out
}

// TableFor builds the table of objs, which are all of kind k.
func TableFor(k *scheme.Kind, objs []scheme.Object, o Options) *Table {
	t := &Table{Columns: Columns(k, o)}
	for _, obj := range objs {
		t.Rows = append(t.Rows, Row(k, obj, o))
	}
	return t
}

func printerFor(k *scheme.Kind) kindPrinter {
	if p, ok := kindPrinters[k.Kind]; ok {
		return p
	}
	return defaultPrinter
}

// labelColumnName is the header of a -L column: the key after its prefix.
func labelColumnName(key string) string {
	if i := strings.LastIndex(key, "/"); i >= 0 {
		return key[i+1:]
	}
	return key
}

// ResourceName is how kubectl names a kind in "pod/x" and "deployment.apps/x":
// the lower-case kind, qualified by its group outside the core group.
func ResourceName(k *scheme.Kind) string {
	return qualifiedKind(k.APIVersion(), k.Kind)
}

func qualifiedKind(apiVersion, kind string) string {
	k := strings.ToLower(kind)
	if i := strings.Index(apiVersion, "/"); i >= 0 {
		return k + "." + apiVersion[:i]
	}
	return k
}

// ---- shared cell helpers ----

func name(o scheme.Object) string { return o.GetMetadata().GetName() }

func age(o scheme.Object, now time.Time) string {
	return Age(o.GetMetadata().GetCreationTimestamp(), now)
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// replicas reads an optional spec.replicas; the API defaults it to 1.
func replicas(p *int32, hasSpec bool) int32 {
	if p != nil {
		return *p
	}
	if !hasSpec {
		return 0
	}
	return 1
}

func containersAndImages(spec *corev1.PodSpec) (string, string) {
	var names, images []string
	for _, c := range spec.GetContainers() {
		names = append(names, c.GetName())
		images = append(images, c.GetImage())
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

// FormatLabels prints a label map as sorted k=v pairs, or "<none>".
func FormatLabels(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// FormatLabelSelector prints a label selector in the selector syntax
// (app=web,tier in (a,b),!legacy), or "<none>" when it selects everything.
func FormatLabelSelector(s *metav1.LabelSelector) string {
	if s == nil {
		return "<none>"
	}
	var parts []string
	if len(s.GetMatchLabels()) > 0 {
		parts = append(parts, FormatLabels(s.GetMatchLabels()))
	}
	for _, r := range s.GetMatchExpressions() {
		vals := append([]string(nil), r.GetValues()...)
		sort.Strings(vals)
		switch r.GetOperator() {
		case "In":
			parts = append(parts, fmt.Sprintf("%s in (%s)", r.GetKey(), strings.Join(vals, ",")))
		case "NotIn":
			parts = append(parts, fmt.Sprintf("%s notin (%s)", r.GetKey(), strings.Join(vals, ",")))
		case "Exists":
			parts = append(parts, r.GetKey())
		case "DoesNotExist":
			parts = append(parts, "!"+r.GetKey())
		default:
			parts = append(parts, fmt.Sprintf("%s %s (%s)", r.GetKey(), r.GetOperator(), strings.Join(vals, ",")))
		}
	}
	if len(parts) == 0 {
		return "<none>"
	}
	return strings.Join(parts, ",")
}

// ---- jobs ----

func jobHasCondition(j *batchv1.Job, typ string) bool {
	for _, c := range j.GetStatus().GetConditions() {
		if c.GetType() == typ && c.GetStatus() == "True" {
			return true
		}
	}
	return false
}

func jobStatus(j *batchv1.Job) string {
	switch {
	case jobHasCondition(j, "Complete"):
		return "Complete"
	case jobHasCondition(j, "Failed"):
		return "Failed"
	case j.GetMetadata().GetDeletionTimestamp() != nil:
		return "Terminating"
	case jobHasCondition(j, "Suspended"):
		return "Suspended"
	case jobHasCondition(j, "FailureTarget"):
		return "FailureTarget"
	case jobHasCondition(j, "SuccessCriteriaMet"):
		return "SuccessCriteriaMet"
	}
	return "Running"
}

func jobCompletions(j *batchv1.Job) string {
	spec, done := j.GetSpec(), j.GetStatus().GetSucceeded()
	switch {
	case spec != nil && spec.Completions != nil:
		return fmt.Sprintf("%d/%d", done, spec.GetCompletions())
	case spec != nil && spec.Parallelism != nil && spec.GetParallelism() > 1:
		return fmt.Sprintf("%d/1 of %d", done, spec.GetParallelism())
	}
	return fmt.Sprintf("%d/1", done)
}

func jobDuration(j *batchv1.Job, now time.Time) string {
	start, end := j.GetStatus().GetStartTime(), j.GetStatus().GetCompletionTime()
	switch {
	case start == nil:
		return ""
	case end == nil:
		return HumanDuration(now.Sub(start.AsTime()))
	}
	return HumanDuration(end.AsTime().Sub(start.AsTime()))
}

// ---- services and endpoints ----

func serviceType(s *corev1.Service) string {
	if t := s.GetSpec().GetType(); t != "" {
		return t
	}
	return "ClusterIP"
}

func servicePorts(ports []*corev1.ServicePort) string {
	if len(ports) == 0 {
		return "<none>"
	}
	parts := make([]string, len(ports))
	for i, p := range ports {
		proto := p.GetProtocol()
		if proto == "" {
			proto = "TCP"
		}
		if p.GetNodePort() > 0 {
			parts[i] = fmt.Sprintf("%d:%d/%s", p.GetPort(), p.GetNodePort(), proto)
		} else {
			parts[i] = fmt.Sprintf("%d/%s", p.GetPort(), proto)
		}
	}
	return strings.Join(parts, ",")
}

func loadBalancerAddresses(s *corev1.Service, wide bool) string {
	var addrs []string
	for _, in := range s.GetStatus().GetLoadBalancer().GetIngress() {
		if in.GetIp() != "" {
			addrs = append(addrs, in.GetIp())
		} else if in.GetHostname() != "" {
			addrs = append(addrs, in.GetHostname())
		}
	}
	r := strings.Join(addrs, ",")
	if !wide && len(r) > 16 {
		r = r[:13] + "..."
	}
	return r
}

func serviceExternalIP(s *corev1.Service) string {
	ext := s.GetSpec().GetExternalIPs()
	switch serviceType(s) {
	case "ClusterIP", "NodePort":
		if len(ext) > 0 {
			return strings.Join(ext, ",")
		}
		return "<none>"
	case "LoadBalancer":
		lb := loadBalancerAddresses(s, false)
		if len(ext) > 0 {
			var all []string
			if lb != "" {
				all = append(all, strings.Split(lb, ",")...)
			}
			return strings.Join(append(all, ext...), ",")
		}
		if lb != "" {
			return lb
		}
		return "<pending>"
	case "ExternalName":
		return s.GetSpec().GetExternalName()
	}
	return "<unknown>"
}

// formatEndpoints lists up to three ip:port pairs and counts the rest.
func formatEndpoints(e *corev1.Endpoints) string {
	const max = 3
	var list []string
	count := 0
	add := func(s string) {
		count++
		if len(list) < max {
			list = append(list, s)
		}
	}
	for _, ss := range e.GetSubsets() {
		if len(ss.GetPorts()) == 0 {
			for _, a := range ss.GetAddresses() {
				add(a.GetIp())
			}
			continue
		}
		for _, p := range ss.GetPorts() {
			for _, a := range ss.GetAddresses() {
				add(net.JoinHostPort(a.GetIp(), strconv.Itoa(int(p.GetPort()))))
			}
		}
	}
	if len(list) == 0 {
		return "<none>"
	}
	r := strings.Join(list, ",")
	if count > max {
		r += fmt.Sprintf(" + %d more...", count-max)
	}
	return r
}

// ---- nodes ----

// NodeStatus is Ready, NotReady or Unknown, plus SchedulingDisabled when cordoned.
func NodeStatus(n *corev1.Node) string {
	var parts []string
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			if c.GetStatus() == "True" {
				parts = append(parts, "Ready")
			} else {
				parts = append(parts, "NotReady")
			}
			break
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "Unknown")
	}
	if n.GetSpec().GetUnschedulable() {
		parts = append(parts, "SchedulingDisabled")
	}
	return strings.Join(parts, ",")
}

func nodeRoles(n *corev1.Node) string {
	roles := map[string]bool{}
	for k, v := range n.GetMetadata().GetLabels() {
		switch {
		case strings.HasPrefix(k, "node-role.kubernetes.io/"):
			if r := strings.TrimPrefix(k, "node-role.kubernetes.io/"); r != "" {
				roles[r] = true
			}
		case k == "kubernetes.io/role" && v != "":
			roles[v] = true
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	out := make([]string, 0, len(roles))
	for r := range roles {
		out = append(out, r)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func nodeAddress(n *corev1.Node, typ string) string {
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == typ {
			return a.GetAddress()
		}
	}
	return "<none>"
}

// ---- events ----

// EventTimes returns an event's FIRST SEEN and LAST SEEN cells and its count;
// LAST SEEN reads "5m (x3 over 10m)" for a repeated event.
func EventTimes(e *corev1.Event, now time.Time) (first, last string, count int32) {
	firstTS := e.GetFirstTimestamp()
	if isZero(firstTS.GetSeconds(), firstTS.GetNanos()) {
		firstTS = e.GetEventTime()
	}
	first = Age(firstTS, now)
	last = first
	if ts := e.GetLastTimestamp(); !isZero(ts.GetSeconds(), ts.GetNanos()) {
		last = Age(ts, now)
	}
	count = e.GetCount()
	if s := e.GetSeries(); s != nil {
		return first, Age(s.GetLastObservedTime(), now), s.GetCount()
	}
	if count > 1 {
		last = fmt.Sprintf("%s (x%d over %s)", last, count, first)
	}
	return first, last, count
}

// EventLastSeen is the time an event last happened, for sorting.
func EventLastSeen(e *corev1.Event) time.Time {
	for _, ts := range []interface {
		GetSeconds() int64
		GetNanos() int32
	}{e.GetSeries().GetLastObservedTime(), e.GetLastTimestamp(), e.GetEventTime(), e.GetFirstTimestamp(), e.GetMetadata().GetCreationTimestamp()} {
		if s, n := ts.GetSeconds(), ts.GetNanos(); !isZero(s, n) {
			return time.Unix(s, int64(n))
		}
	}
	return time.Time{}
}

func isZero(s int64, n int32) bool { return s == 0 && n == 0 }

// EventSource is "component, host" of the reporter of an event.
func EventSource(e *corev1.Event) string {
	comp, host := e.GetSource().GetComponent(), e.GetSource().GetHost()
	if comp == "" {
		comp, host = e.GetReportingComponent(), e.GetReportingInstance()
	}
	if host != "" && host != comp {
		return comp + ", " + host
	}
	return comp
}

// ---- quotas, ingresses, autoscalers ----

func quotaUsage(q *corev1.ResourceQuota) (requests, limits string) {
	hard := q.GetStatus().GetHard()
	if len(hard) == 0 {
		hard = q.GetSpec().GetHard()
	}
	keys := make([]string, 0, len(hard))
	for k := range hard {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var req, lim []string
	for _, k := range keys {
		used := q.GetStatus().GetUsed()[k]
		if used == "" {
			used = "0"
		}
		cell := fmt.Sprintf("%s: %s/%s", k, used, hard[k])
		if strings.HasPrefix(k, "limits.") {
			lim = append(lim, cell)
		} else {
			req = append(req, cell)
		}
	}
	return strings.Join(req, ", "), strings.Join(lim, ", ")
}

func ingressHosts(in *networkingv1.Ingress) string {
	const max = 3
	var hosts []string
	count := 0
	for _, r := range in.GetSpec().GetRules() {
		if r.GetHost() == "" {
			continue
		}
		count++
		if len(hosts) < max {
			hosts = append(hosts, r.GetHost())
		}
	}
	if count == 0 {
		return "*"
	}
	out := strings.Join(hosts, ",")
	if count > max {
		out += fmt.Sprintf(" + %d more...", count-max)
	}
	return out
}

func ingressAddress(in *networkingv1.Ingress) string {
	var addrs []string
	for _, i := range in.GetStatus().GetLoadBalancer().GetIngress() {
		if i.GetIp() != "" {
			addrs = append(addrs, i.GetIp())
		} else if i.GetHostname() != "" {
			addrs = append(addrs, i.GetHostname())
		}
	}
	return strings.Join(addrs, ",")
}

func hpaTargets(h *autoscalingv2.HorizontalPodAutoscaler) string {
	specs := h.GetSpec().GetMetrics()
	if len(specs) == 0 {
		return "<none>"
	}
	current := h.GetStatus().GetCurrentMetrics()
	var list []string
	for i, m := range specs {
		var cur *autoscalingv2.MetricStatus
		if i < len(current) && current[i].GetType() == m.GetType() {
			cur = current[i]
		}
		switch m.GetType() {
		case "Resource":
			t := m.GetResource().GetTarget()
			c := "<unknown>"
			var target string
			if t.AverageUtilization != nil {
				if cur != nil && cur.GetResource().GetCurrent().AverageUtilization != nil {
					c = fmt.Sprintf("%d%%", cur.GetResource().GetCurrent().GetAverageUtilization())
				}
				target = fmt.Sprintf("%d%%", t.GetAverageUtilization())
			} else {
				if v := cur.GetResource().GetCurrent().GetAverageValue(); v != "" {
					c = v
				}
				target = t.GetAverageValue()
			}
			list = append(list, fmt.Sprintf("%s: %s/%s", m.GetResource().GetName(), c, target))
		case "Pods":
			c := "<unknown>"
			if v := cur.GetPods().GetCurrent().GetAverageValue(); v != "" {
				c = v
			}
			list = append(list, fmt.Sprintf("%s/%s", c, m.GetPods().GetTarget().GetAverageValue()))
		default:
			list = append(list, "<unknown>/<unknown>")
		}
	}
	const max = 2
	if len(list) > max {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:max], ", "), len(list)-max)
	}
	return strings.Join(list, ", ")
}
