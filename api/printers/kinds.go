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
	certificatesv1 "minik8s/api/certificates/v1"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	networkingv1 "minik8s/api/networking/v1"
	policyv1 "minik8s/api/policy/v1"
	"minik8s/api/quota"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/api/scheme"
)

// Column types, as OpenAPI names them.
const (
	typeString  = "string"
	typeInteger = "integer"
	typeDate    = "date"
)

func col(name, typ, description string) Column {
	return Column{Name: name, Type: typ, Description: description}
}

// wide marks a column as shown only with -o wide.
func wide(c Column) Column {
	c.Priority = 1
	return c
}

var (
	nameColumn       = Column{Name: "Name", Type: typeString, Format: "name", Description: "The object's name, unique among objects of its kind in its namespace (or in the cluster)."}
	ageColumn        = col("Age", typeString, "Time since the object was created.")
	containersColumn = wide(col("Containers", typeString, "Names of the containers in the pod template."))
	imagesColumn     = wide(col("Images", typeString, "Images of the containers in the pod template."))
)

// selectorColumn is the wide label selector column of a workload.
func selectorColumn() Column {
	return wide(col("Selector", typeString, "Label query over the pods the workload owns."))
}

// kindPrinters holds every kind that has its own table, keyed by
// groupKind. Columns and cell types follow Kubernetes' printers.
var kindPrinters = map[string]printer{
	groupKind("", "Pod"): {
		columns: []Column{
			nameColumn,
			col("Ready", typeString, "Ready containers over all containers of the pod."),
			col("Status", typeString, "The pod's state as its containers report it."),
			col("Restarts", typeString, "Container restarts, and how long ago the last one was."),
			ageColumn,
			wide(col("IP", typeString, "The pod's IP address.")),
			wide(col("Node", typeString, "The node the pod is bound to.")),
			wide(col("Nominated Node", typeString, "The node a preempting pod is expected to run on.")),
			wide(col("Readiness Gates", typeString, "Readiness gates that are met over all readiness gates.")),
		},
		cells: func(o scheme.Object, now time.Time) []any {
			p, _ := o.(*corev1.Pod)
			s := SummarizePod(p, now)
			return []any{name(o), s.Ready, s.Status, s.Restarts, age(o, now),
				podIP(p), orNone(p.GetSpec().GetNodeName()), orNone(p.GetStatus().GetNominatedNodeName()), readinessGates(p)}
		},
		conditions: func(o scheme.Object) []RowCondition {
			p, _ := o.(*corev1.Pod)
			return podRowConditions(p)
		},
	},
	groupKind("apps", "Deployment"): {
		columns: []Column{
			nameColumn,
			col("Ready", typeString, "Ready pods over desired pods."),
			col("Up-to-date", typeString, "Pods running the latest pod template."),
			col("Available", typeString, "Pods available to serve."),
			ageColumn, containersColumn, imagesColumn, selectorColumn(),
		},
		cells: func(o scheme.Object, now time.Time) []any {
			d, _ := o.(*appsv1.Deployment)
			st := d.GetStatus()
			c, i := containersAndImages(d.GetSpec().GetTemplate().GetSpec())
			return []any{name(o), fmt.Sprintf("%d/%d", st.GetReadyReplicas(), DesiredReplicas(d.GetSpec())),
				int64(st.GetUpdatedReplicas()), int64(st.GetAvailableReplicas()), age(o, now),
				c, i, FormatLabelSelector(d.GetSpec().GetSelector())}
		},
	},
	groupKind("apps", "ReplicaSet"): {
		columns: replicaColumns(),
		cells: func(o scheme.Object, now time.Time) []any {
			r, _ := o.(*appsv1.ReplicaSet)
			c, i := containersAndImages(r.GetSpec().GetTemplate().GetSpec())
			return []any{name(o), int64(DesiredReplicas(r.GetSpec())), int64(r.GetStatus().GetReplicas()),
				int64(r.GetStatus().GetReadyReplicas()), age(o, now), c, i, FormatLabelSelector(r.GetSpec().GetSelector())}
		},
	},
	groupKind("", "ReplicationController"): {
		columns: replicaColumns(),
		cells: func(o scheme.Object, now time.Time) []any {
			r, _ := o.(*corev1.ReplicationController)
			c, i := containersAndImages(r.GetSpec().GetTemplate().GetSpec())
			return []any{name(o), int64(DesiredReplicas(r.GetSpec())), int64(r.GetStatus().GetReplicas()),
				int64(r.GetStatus().GetReadyReplicas()), age(o, now), c, i, FormatLabels(r.GetSpec().GetSelector())}
		},
	},
	groupKind("apps", "DaemonSet"): {
		columns: []Column{
			nameColumn,
			col("Desired", typeInteger, "Nodes that should run the daemon pod."),
			col("Current", typeInteger, "Nodes running at least one daemon pod."),
			col("Ready", typeInteger, "Nodes whose daemon pod is ready."),
			col("Up-to-date", typeInteger, "Nodes running the latest pod template."),
			col("Available", typeInteger, "Nodes whose daemon pod is available."),
			col("Node Selector", typeString, "Labels a node needs to run the daemon pod."),
			ageColumn, containersColumn, imagesColumn, selectorColumn(),
		},
		cells: func(o scheme.Object, now time.Time) []any {
			d, _ := o.(*appsv1.DaemonSet)
			st := d.GetStatus()
			c, i := containersAndImages(d.GetSpec().GetTemplate().GetSpec())
			return []any{name(o), int64(st.GetDesiredNumberScheduled()), int64(st.GetCurrentNumberScheduled()), int64(st.GetNumberReady()),
				int64(st.GetUpdatedNumberScheduled()), int64(st.GetNumberAvailable()),
				FormatLabels(d.GetSpec().GetTemplate().GetSpec().GetNodeSelector()), age(o, now),
				c, i, FormatLabelSelector(d.GetSpec().GetSelector())}
		},
	},
	groupKind("apps", "StatefulSet"): {
		columns: []Column{
			nameColumn,
			col("Ready", typeString, "Ready pods over desired pods."),
			ageColumn, containersColumn, imagesColumn,
		},
		cells: func(o scheme.Object, now time.Time) []any {
			s, _ := o.(*appsv1.StatefulSet)
			c, i := containersAndImages(s.GetSpec().GetTemplate().GetSpec())
			return []any{name(o), fmt.Sprintf("%d/%d", s.GetStatus().GetReadyReplicas(), DesiredReplicas(s.GetSpec())),
				age(o, now), c, i}
		},
	},
	groupKind("apps", "ControllerRevision"): {
		columns: []Column{
			nameColumn,
			col("Controller", typeString, "The object that owns the revision."),
			col("Revision", typeString, "The revision's number."),
			ageColumn,
		},
		cells: func(o scheme.Object, now time.Time) []any {
			r, _ := o.(*appsv1.ControllerRevision)
			ctrl := "<none>"
			for _, ref := range r.GetMetadata().GetOwnerReferences() {
				if ref.GetController() {
					ctrl = QualifiedKind(ref.GetApiVersion(), ref.GetKind()) + "/" + ref.GetName()
					break
				}
			}
			return []any{name(o), ctrl, r.GetRevision(), age(o, now)}
		},
	},
	groupKind("batch", "Job"): {
		columns: []Column{
			nameColumn,
			col("Status", typeString, "The job's state from its conditions."),
			col("Completions", typeString, "Succeeded pods over the completions wanted."),
			col("Duration", typeString, "How long the job ran or has been running."),
			ageColumn, containersColumn, imagesColumn, selectorColumn(),
		},
		cells: func(o scheme.Object, now time.Time) []any {
			j, _ := o.(*batchv1.Job)
			c, i := containersAndImages(j.GetSpec().GetTemplate().GetSpec())
			return []any{name(o), jobStatus(j), jobCompletions(j), JobDuration(j, now), age(o, now),
				c, i, FormatLabelSelector(j.GetSpec().GetSelector())}
		},
	},
	groupKind("", "Service"): {
		columns: []Column{
			nameColumn,
			col("Type", typeString, "How the service is exposed."),
			col("Cluster-IP", typeString, "The service's virtual IP inside the cluster."),
			col("External-IP", typeString, "Addresses the service is reachable at from outside the cluster."),
			col("Port(s)", typeString, "The ports the service exposes."),
			ageColumn,
			wide(col("Selector", typeString, "Labels of the pods the service routes to.")),
		},
		cells: func(o scheme.Object, now time.Time) []any {
			s, _ := o.(*corev1.Service)
			return []any{name(o), ServiceType(s), clusterIP(s), serviceExternalIP(s),
				servicePorts(s.GetSpec().GetPorts()), age(o, now), FormatLabels(s.GetSpec().GetSelector())}
		},
	},
	groupKind("", "Endpoints"): {
		columns: []Column{
			nameColumn,
			col("Endpoints", typeString, "Ready addresses and ports behind the service."),
			ageColumn,
		},
		cells: func(o scheme.Object, now time.Time) []any {
			e, _ := o.(*corev1.Endpoints)
			return []any{name(o), formatEndpoints(e), age(o, now)}
		},
	},
	groupKind("", "Node"): {
		columns: []Column{
			nameColumn,
			col("Status", typeString, "Whether the node is ready and schedulable."),
			col("Roles", typeString, "The node's roles from its labels."),
			ageColumn,
			col("Version", typeString, "The kubelet's version."),
			wide(col("Internal-IP", typeString, "The node's internal address.")),
			wide(col("External-IP", typeString, "The node's external address.")),
			wide(col("OS-Image", typeString, "The node's operating system.")),
			wide(col("Kernel-Version", typeString, "The node's kernel, and its architecture.")),
			wide(col("Container-Runtime", typeString, "The node's container runtime and version.")),
		},
		cells: func(o scheme.Object, now time.Time) []any {
			n, _ := o.(*corev1.Node)
			info := n.GetStatus().GetNodeInfo()
			kernel := orUnknown(info.GetKernelVersion())
			if a := info.GetArchitecture(); a != "" {
				kernel += " (" + a + ")"
			}
			return []any{name(o), NodeStatus(n), NodeRoles(n), age(o, now), info.GetKubeletVersion(),
				nodeAddress(n, "InternalIP"), nodeAddress(n, "ExternalIP"),
				orUnknown(info.GetOsImage()), kernel, orUnknown(info.GetContainerRuntimeVersion())}
		},
	},
	groupKind("", "Namespace"): {
		columns: []Column{nameColumn, col("Status", typeString, "The namespace's phase."), ageColumn},
		cells: func(o scheme.Object, now time.Time) []any {
			ns, _ := o.(*corev1.Namespace)
			return []any{name(o), ns.GetStatus().GetPhase(), age(o, now)}
		},
	},
	// Events lead with when they last happened; their name is a wide
	// column, as in Kubernetes.
	groupKind("", "Event"): {
		columns: []Column{
			col("Last Seen", typeString, "Time since the event last happened."),
			col("Type", typeString, "Normal or Warning."),
			col("Reason", typeString, "Why the event happened, in one word."),
			col("Object", typeString, "The object the event is about."),
			wide(col("Subobject", typeString, "The part of the object the event is about.")),
			wide(col("Source", typeString, "The component (and host) that reported the event.")),
			col("Message", typeString, "What happened."),
			wide(col("First Seen", typeString, "Time since the event first happened.")),
			wide(col("Count", typeString, "How many times the event happened.")),
			wide(nameColumn),
		},
		cells: func(o scheme.Object, now time.Time) []any {
			e, _ := o.(*corev1.Event)
			first, last, count := EventTimes(e, now)
			io := e.GetInvolvedObject()
			target := strings.ToLower(io.GetKind())
			if io.GetName() != "" {
				target += "/" + io.GetName()
			}
			return []any{last, e.GetType(), e.GetReason(), target,
				io.GetFieldPath(), EventSource(e), strings.TrimSpace(e.GetMessage()), first, int64(count), name(o)}
		},
	},
	groupKind("", "ComponentStatus"): {
		columns: []Column{
			nameColumn,
			col("Status", typeString, "Healthy, Unhealthy or Unknown."),
			col("Message", typeString, "What the health check said."),
			col("Error", typeString, "Why the health check failed."),
		},
		cells: func(o scheme.Object, now time.Time) []any {
			cs, _ := o.(*corev1.ComponentStatus)
			status, msg, errText := "Unknown", "", ""
			for _, c := range cs.GetConditions() {
				if c.GetType() == "Healthy" {
					status = "Unhealthy"
					if c.GetStatus() == corev1.ConditionTrue {
						status = "Healthy"
					}
					msg, errText = c.GetMessage(), c.GetError()
					break
				}
			}
			return []any{name(o), status, msg, errText}
		},
	},
	groupKind("", "ConfigMap"): {
		columns: []Column{nameColumn, col("Data", typeString, "Number of keys in data and binaryData."), ageColumn},
		cells: func(o scheme.Object, now time.Time) []any {
			c, _ := o.(*corev1.ConfigMap)
			return []any{name(o), int64(len(c.GetData()) + len(c.GetBinaryData())), age(o, now)}
		},
	},
	groupKind("", "Secret"): {
		columns: []Column{
			nameColumn,
			col("Type", typeString, "The kind of secret."),
			col("Data", typeString, "Number of keys in data."),
			ageColumn,
		},
		cells: func(o scheme.Object, now time.Time) []any {
			s, _ := o.(*corev1.Secret)
			return []any{name(o), s.GetType(), int64(len(s.GetData())), age(o, now)}
		},
	},
	groupKind("", "ServiceAccount"): {
		columns: []Column{nameColumn, ageColumn},
		cells: func(o scheme.Object, now time.Time) []any {
			return []any{name(o), age(o, now)}
		},
	},
	groupKind("", "ResourceQuota"): {
		// Kubernetes' order: the age before the (long) usage cells.
		columns: []Column{
			nameColumn,
			ageColumn,
			col("Request", typeString, "Request represents a minimum amount of cpu/memory that a container may consume."),
			col("Limit", typeString, "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
		},
		cells: func(o scheme.Object, now time.Time) []any {
			q, _ := o.(*corev1.ResourceQuota)
			req, lim := quotaUsage(q)
			return []any{name(o), age(o, now), req, lim}
		},
	},
	groupKind("certificates.k8s.io", "CertificateSigningRequest"): {
		columns: []Column{
			nameColumn, ageColumn,
			col("SignerName", typeString, "The signer the request is for."),
			col("Requestor", typeString, "The user who created the request."),
			col("RequestedDuration", typeString, "The certificate lifetime the request asks for."),
			col("Condition", typeString, "Pending, Approved or Denied, then Failed and Issued."),
		},
		cells: func(o scheme.Object, now time.Time) []any {
			c, _ := o.(*certificatesv1.CertificateSigningRequest)
			d := "<none>"
			if s := c.GetSpec(); s != nil && s.ExpirationSeconds != nil {
				d = HumanDuration(time.Duration(c.GetSpec().GetExpirationSeconds()) * time.Second)
			}
			return []any{name(o), age(o, now), c.GetSpec().GetSignerName(), c.GetSpec().GetUsername(), d, CSRCondition(c)}
		},
	},
	groupKind("coordination.k8s.io", "Lease"): {
		columns: []Column{nameColumn, col("Holder", typeString, "Who holds the lease."), ageColumn},
		cells: func(o scheme.Object, now time.Time) []any {
			l, _ := o.(*coordinationv1.Lease)
			return []any{name(o), l.GetSpec().GetHolderIdentity(), age(o, now)}
		},
	},
	groupKind("rbac.authorization.k8s.io", "RoleBinding"):        bindingPrinter,
	groupKind("rbac.authorization.k8s.io", "ClusterRoleBinding"): bindingPrinter,
	groupKind("networking.k8s.io", "Ingress"): {
		columns: []Column{
			nameColumn,
			col("Class", typeString, "The ingress class that implements the ingress."),
			col("Hosts", typeString, "Hosts the rules match."),
			col("Address", typeString, "Where the load balancer receives traffic."),
			col("Ports", typeString, "Ports the ingress listens on."),
			ageColumn,
		},
		cells: func(o scheme.Object, now time.Time) []any {
			in, _ := o.(*networkingv1.Ingress)
			class := "<none>"
			if in.GetSpec() != nil && in.GetSpec().IngressClassName != nil {
				class = in.GetSpec().GetIngressClassName()
			}
			ports := "80"
			if len(in.GetSpec().GetTls()) > 0 {
				ports = "80, 443"
			}
			return []any{name(o), class, ingressHosts(in), ingressAddress(in), ports, age(o, now)}
		},
	},
	groupKind("networking.k8s.io", "IngressClass"): {
		columns: []Column{
			nameColumn,
			col("Controller", typeString, "The controller that implements the class."),
			col("Parameters", typeString, "The resource holding the class's parameters."),
			ageColumn,
		},
		cells: func(o scheme.Object, now time.Time) []any {
			c, _ := o.(*networkingv1.IngressClass)
			params := "<none>"
			if p := c.GetSpec().GetParameters(); p != nil {
				params = p.GetKind() + "/" + p.GetName()
			}
			return []any{name(o), c.GetSpec().GetController(), params, age(o, now)}
		},
	},
	groupKind("autoscaling", "HorizontalPodAutoscaler"): {
		columns: []Column{
			nameColumn,
			col("Reference", typeString, "The workload being scaled."),
			col("Targets", typeString, "Current over target value of each metric."),
			col("MinPods", typeString, "The fewest replicas the autoscaler sets."),
			col("MaxPods", typeString, "The most replicas the autoscaler sets."),
			col("Replicas", typeString, "Replicas the workload has now."),
			ageColumn,
		},
		cells: func(o scheme.Object, now time.Time) []any {
			h, _ := o.(*autoscalingv2.HorizontalPodAutoscaler)
			ref := h.GetSpec().GetScaleTargetRef()
			min := "<unset>"
			if h.GetSpec() != nil && h.GetSpec().MinReplicas != nil {
				min = strconv.Itoa(int(h.GetSpec().GetMinReplicas()))
			}
			return []any{name(o), ref.GetKind() + "/" + ref.GetName(), hpaTargets(h), min,
				int64(h.GetSpec().GetMaxReplicas()), int64(h.GetStatus().GetCurrentReplicas()), age(o, now)}
		},
	},
	groupKind("policy", "PodDisruptionBudget"): {
		columns: []Column{
			nameColumn,
			col("Min Available", typeString, "The minimum number or percentage of selected pods that must stay available."),
			col("Max Unavailable", typeString, "The maximum number or percentage of selected pods that may be unavailable."),
			col("Allowed Disruptions", typeInteger, "How many pods may be evicted now."),
			ageColumn,
		},
		cells: func(o scheme.Object, now time.Time) []any {
			b, _ := o.(*policyv1.PodDisruptionBudget)
			return []any{name(o), intOrPercent(b.GetSpec().GetMinAvailable()), intOrPercent(b.GetSpec().GetMaxUnavailable()),
				int64(b.GetStatus().GetDisruptionsAllowed()), age(o, now)}
		},
	},
}

// intOrPercent prints a budget's bound as kubectl does: the number or
// percentage, N/A when unset.
func intOrPercent(v *metav1.IntOrString) string {
	switch {
	case v == nil:
		return "N/A"
	case v.GetType() == 1:
		return v.GetStrVal()
	}
	return strconv.Itoa(int(v.GetIntVal()))
}

// bindingPrinter is the table of RoleBindings and ClusterRoleBindings:
// the role as KIND/NAME, and the subjects by kind with -o wide. Roles and
// ClusterRoles use the default table (name, creation time), as in
// Kubernetes.
var bindingPrinter = printer{
	columns: []Column{
		nameColumn,
		col("Role", typeString, "The role the binding grants, as Kind/name."),
		ageColumn,
		wide(col("Users", typeString, "Users the role is granted to.")),
		wide(col("Groups", typeString, "Groups the role is granted to.")),
		wide(col("ServiceAccounts", typeString, "Service accounts the role is granted to, as namespace/name.")),
	},
	cells: func(o scheme.Object, now time.Time) []any {
		var ref *rbacv1.RoleRef
		var subjects []*rbacv1.Subject
		switch b := o.(type) {
		case *rbacv1.RoleBinding:
			ref, subjects = b.GetRoleRef(), b.GetSubjects()
		case *rbacv1.ClusterRoleBinding:
			ref, subjects = b.GetRoleRef(), b.GetSubjects()
		}
		var users, groups, sas []string
		for _, s := range subjects {
			switch s.GetKind() {
			case rbacv1.UserKind:
				users = append(users, s.GetName())
			case rbacv1.GroupKind:
				groups = append(groups, s.GetName())
			case rbacv1.ServiceAccountKind:
				sas = append(sas, s.GetNamespace()+"/"+s.GetName())
			}
		}
		return []any{name(o), ref.GetKind() + "/" + ref.GetName(), age(o, now),
			strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
	},
}

// defaultPrinter is Kubernetes' table for kinds without a printer of their
// own: the name and the creation time.
var defaultPrinter = printer{
	columns: []Column{nameColumn, col("Created At", typeDate, "When the object was created.")},
	cells: func(o scheme.Object, now time.Time) []any {
		return []any{name(o), CreatedAt(o.GetMetadata().GetCreationTimestamp())}
	},
}

// replicaColumns are the columns of ReplicaSets and ReplicationControllers.
func replicaColumns() []Column {
	return []Column{
		nameColumn,
		col("Desired", typeInteger, "Replicas wanted."),
		col("Current", typeInteger, "Replicas that exist."),
		col("Ready", typeInteger, "Replicas that are ready."),
		ageColumn, containersColumn, imagesColumn, selectorColumn(),
	}
}

// ---- cell helpers ----

func name(o scheme.Object) string { return o.GetMetadata().GetName() }

func age(o scheme.Object, now time.Time) string {
	return Age(o.GetMetadata().GetCreationTimestamp(), now)
}

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

// DesiredReplicas reads the optional spec.replicas of a Deployment,
// ReplicaSet, StatefulSet or ReplicationController spec, which the API
// defaults to 1; a nil spec (or another type) wants none.
func DesiredReplicas(spec any) int32 {
	var p *int32
	switch s := spec.(type) {
	case *appsv1.DeploymentSpec:
		if s == nil {
			return 0
		}
		p = s.Replicas
	case *appsv1.ReplicaSetSpec:
		if s == nil {
			return 0
		}
		p = s.Replicas
	case *appsv1.StatefulSetSpec:
		if s == nil {
			return 0
		}
		p = s.Replicas
	case *corev1.ReplicationControllerSpec:
		if s == nil {
			return 0
		}
		p = s.Replicas
	default:
		return 0
	}
	if p == nil {
		return 1
	}
	return *p
}

func containersAndImages(spec *corev1.PodSpec) (string, string) {
	var names, images []string
	for _, c := range spec.GetContainers() {
		names = append(names, c.GetName())
		images = append(images, c.GetImage())
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

// QualifiedKind is how Kubernetes names a kind in "pod/x" and
// "daemonset.apps/x": the lower-case kind, qualified by the group of
// apiVersion outside the core group.
func QualifiedKind(apiVersion, kind string) string {
	k := strings.ToLower(kind)
	if i := strings.Index(apiVersion, "/"); i >= 0 {
		return k + "." + apiVersion[:i]
	}
	return k
}

// ---- jobs ----

func jobCondition(j *batchv1.Job, typ string) bool {
	for _, c := range j.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c.GetStatus() == corev1.ConditionTrue
		}
	}
	return false
}

func jobStatus(j *batchv1.Job) string {
	switch {
	case jobCondition(j, "Complete"):
		return "Complete"
	case jobCondition(j, "Failed"):
		return "Failed"
	case j.GetMetadata().GetDeletionTimestamp() != nil:
		return "Terminating"
	case jobCondition(j, "Suspended"):
		return "Suspended"
	case jobCondition(j, "FailureTarget"):
		return "FailureTarget"
	case jobCondition(j, "SuccessCriteriaMet"):
		return "SuccessCriteriaMet"
	}
	return "Running"
}

func jobCompletions(j *batchv1.Job) string {
	spec, done := j.GetSpec(), j.GetStatus().GetSucceeded()
	switch {
	case spec != nil && spec.Completions != nil:
		return fmt.Sprintf("%d/%d", done, spec.GetCompletions())
	case spec.GetParallelism() > 1:
		return fmt.Sprintf("%d/1 of %d", done, spec.GetParallelism())
	}
	return fmt.Sprintf("%d/1", done)
}

// JobDuration is how long a job ran (start to completion) or, while it
// runs, has been running; "" before it starts.
func JobDuration(j *batchv1.Job, now time.Time) string {
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

func clusterIP(s *corev1.Service) string {
	if ips := s.GetSpec().GetClusterIPs(); len(ips) > 0 && ips[0] != "" {
		return ips[0]
	}
	return orNone(s.GetSpec().GetClusterIP())
}

func servicePorts(ports []*corev1.ServicePort) string {
	if len(ports) == 0 {
		return "<none>"
	}
	parts := make([]string, len(ports))
	for i, p := range ports {
		proto := firstNonEmpty(p.GetProtocol(), "TCP")
		if p.GetNodePort() > 0 {
			parts[i] = fmt.Sprintf("%d:%d/%s", p.GetPort(), p.GetNodePort(), proto)
		} else {
			parts[i] = fmt.Sprintf("%d/%s", p.GetPort(), proto)
		}
	}
	return strings.Join(parts, ",")
}

// serviceExternalIP is the EXTERNAL-IP cell. Kubernetes' server prints it
// unabridged (its tables are always built wide), so neither do we clip it.
func serviceExternalIP(s *corev1.Service) string {
	ext := s.GetSpec().GetExternalIPs()
	switch ServiceType(s) {
	case "ClusterIP", "NodePort":
		if len(ext) > 0 {
			return strings.Join(ext, ",")
		}
		return "<none>"
	case "LoadBalancer":
		lb := LoadBalancerAddresses(s)
		if len(ext) > 0 {
			var all []string
			if lb != "" {
				all = strings.Split(lb, ",")
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

// formatEndpoints lists up to three ip:port pairs (bare IPs for subsets
// without ports) and counts the rest.
func formatEndpoints(e *corev1.Endpoints) string {
	if len(e.GetSubsets()) == 0 {
		return "<none>"
	}
	return listWithMore(endpointAddresses(e), 3, ",")
}

func endpointAddresses(e *corev1.Endpoints) []string {
	var out []string
	for _, ss := range e.GetSubsets() {
		if len(ss.GetPorts()) == 0 {
			for _, a := range ss.GetAddresses() {
				out = append(out, a.GetIp())
			}
			continue
		}
		for _, p := range ss.GetPorts() {
			for _, a := range ss.GetAddresses() {
				out = append(out, net.JoinHostPort(a.GetIp(), strconv.Itoa(int(p.GetPort()))))
			}
		}
	}
	return out
}

// listWithMore joins the first max items with sep and says how many more
// there are.
func listWithMore(items []string, max int, sep string) string {
	if len(items) <= max {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s + %d more...", strings.Join(items[:max], sep), len(items)-max)
}

// ---- nodes ----

func nodeAddress(n *corev1.Node, typ string) string {
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == typ {
			return a.GetAddress()
		}
	}
	return "<none>"
}

// ---- events ----

// EventTimes returns an event's FIRST SEEN and LAST SEEN cells (ages at
// now) and how many times it happened; an event of the newer API without
// a series counts once.
func EventTimes(e *corev1.Event, now time.Time) (first, last string, count int32) {
	firstTS := e.GetFirstTimestamp()
	if isUnset(firstTS) {
		firstTS = e.GetEventTime()
	}
	first = Age(firstTS, now)
	last = first
	if ts := e.GetLastTimestamp(); !isUnset(ts) {
		last = Age(ts, now)
	}
	if s := e.GetSeries(); s != nil {
		return first, Age(s.GetLastObservedTime(), now), s.GetCount()
	}
	if count = e.GetCount(); count == 0 {
		count = 1
	}
	return first, last, count
}

// ---- quotas, ingresses, autoscalers ----

// quotaUsage lists "resource: used/hard" of each enforced limit
// (status.hard, as Kubernetes: empty until the resource-quota controller
// has computed the quota), sorted, split into limits.* and the rest.
func quotaUsage(q *corev1.ResourceQuota) (requests, limits string) {
	hard := q.GetStatus().GetHard()
	keys := make([]string, 0, len(hard))
	for k := range hard {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var req, lim []string
	for _, k := range keys {
		cell := fmt.Sprintf("%s: %s/%s", k, quota.Canonical(firstNonEmpty(q.GetStatus().GetUsed()[k], "0")), quota.Canonical(hard[k]))
		if strings.HasPrefix(k, "limits.") {
			lim = append(lim, cell)
		} else {
			req = append(req, cell)
		}
	}
	return strings.Join(req, ", "), strings.Join(lim, ", ")
}

// ingressHosts lists up to three rule hosts, "*" when no rule names one.
// Like Kubernetes, "+ N more" counts the rules past the third.
func ingressHosts(in *networkingv1.Ingress) string {
	const max = 3
	rules := in.GetSpec().GetRules()
	var hosts []string
	more := false
	for _, r := range rules {
		if len(hosts) == max {
			more = true
			break
		}
		if r.GetHost() != "" {
			hosts = append(hosts, r.GetHost())
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	out := strings.Join(hosts, ",")
	if more {
		out += fmt.Sprintf(" + %d more...", len(rules)-max)
	}
	return out
}

func ingressAddress(in *networkingv1.Ingress) string {
	var addrs []string
	for _, i := range in.GetStatus().GetLoadBalancer().GetIngress() {
		addrs = append(addrs, firstNonEmpty(i.GetIp(), i.GetHostname()))
	}
	return sortedUnique(addrs)
}

// hpaTargets is "current/target" of each metric, two at most.
func hpaTargets(h *autoscalingv2.HorizontalPodAutoscaler) string {
	specs := h.GetSpec().GetMetrics()
	if len(specs) == 0 {
		return "<none>"
	}
	current := h.GetStatus().GetCurrentMetrics()
	list := make([]string, 0, len(specs))
	for i, m := range specs {
		var cur *autoscalingv2.MetricStatus
		if i < len(current) {
			cur = current[i]
		}
		switch m.GetType() {
		case "Resource":
			res, t := m.GetResource(), m.GetResource().GetTarget()
			c := "<unknown>"
			if t.GetAverageValue() != "" {
				if v := cur.GetResource().GetCurrent().GetAverageValue(); v != "" {
					c = v
				}
				list = append(list, fmt.Sprintf("%s: %s/%s", res.GetName(), c, t.GetAverageValue()))
				continue
			}
			if u := cur.GetResource().GetCurrent(); u != nil && u.AverageUtilization != nil {
				c = fmt.Sprintf("%d%%", u.GetAverageUtilization())
			}
			target := "<auto>"
			if t != nil && t.AverageUtilization != nil {
				target = fmt.Sprintf("%d%%", t.GetAverageUtilization())
			}
			list = append(list, fmt.Sprintf("%s: %s/%s", res.GetName(), c, target))
		case "Pods":
			c := "<unknown>"
			if v := cur.GetPods().GetCurrent().GetAverageValue(); v != "" {
				c = v
			}
			list = append(list, fmt.Sprintf("%s/%s", c, m.GetPods().GetTarget().GetAverageValue()))
		default:
			list = append(list, "<unknown type>")
		}
	}
	return listWithMore(list, 2, ", ")
}
