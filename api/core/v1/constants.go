package corev1

// The values of the core kinds' string fields that carry meaning, with
// Kubernetes' names and spellings. They are untyped string constants
// because the generated fields are plain strings: `p.GetStatus().GetPhase()
// == corev1.PodRunning` needs no conversion.

// Pod phases (PodStatus.phase).
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
	PodUnknown   = "Unknown"
)

// Condition statuses, shared by every kind's conditions.
const (
	ConditionTrue    = "True"
	ConditionFalse   = "False"
	ConditionUnknown = "Unknown"
)

// Pod condition types.
const (
	PodScheduled    = "PodScheduled"
	PodInitialized  = "Initialized"
	ContainersReady = "ContainersReady"
	PodReady        = "Ready"
)

// Node condition types.
const (
	NodeReady              = "Ready"
	NodeMemoryPressure     = "MemoryPressure"
	NodeDiskPressure       = "DiskPressure"
	NodePIDPressure        = "PIDPressure"
	NodeNetworkUnavailable = "NetworkUnavailable"
)

// Namespace phases.
const (
	NamespaceActive      = "Active"
	NamespaceTerminating = "Terminating"
)

// Restart policies (PodSpec.restartPolicy).
const (
	RestartPolicyAlways    = "Always"
	RestartPolicyOnFailure = "OnFailure"
	RestartPolicyNever     = "Never"
)

// Taint effects.
const (
	TaintEffectNoSchedule       = "NoSchedule"
	TaintEffectPreferNoSchedule = "PreferNoSchedule"
	TaintEffectNoExecute        = "NoExecute"
)

// Toleration operators; an empty operator means Equal.
const (
	TolerationOpExists = "Exists"
	TolerationOpEqual  = "Equal"
)

// Node selector operators (NodeSelectorRequirement.operator).
const (
	NodeSelectorOpIn           = "In"
	NodeSelectorOpNotIn        = "NotIn"
	NodeSelectorOpExists       = "Exists"
	NodeSelectorOpDoesNotExist = "DoesNotExist"
	NodeSelectorOpGt           = "Gt"
	NodeSelectorOpLt           = "Lt"
)

// The taints the node lifecycle controller and the kubelet put on nodes.
const (
	TaintNodeNotReady       = "node.kubernetes.io/not-ready"
	TaintNodeUnreachable    = "node.kubernetes.io/unreachable"
	TaintNodeUnschedulable  = "node.kubernetes.io/unschedulable"
	TaintNodeMemoryPressure = "node.kubernetes.io/memory-pressure"
	TaintNodeDiskPressure   = "node.kubernetes.io/disk-pressure"
	TaintNodePIDPressure    = "node.kubernetes.io/pid-pressure"
)

// Well-known labels.
const (
	// LabelHostname is the node's name, set by the kubelet; the default
	// topology key of spreading and anti-affinity.
	LabelHostname = "kubernetes.io/hostname"
	// LabelOS and LabelArch are GOOS and GOARCH of the node.
	LabelOS   = "kubernetes.io/os"
	LabelArch = "kubernetes.io/arch"
	// LabelTopologyZone is the node's failure zone.
	LabelTopologyZone = "topology.kubernetes.io/zone"
	// LabelMetadataName is set on every namespace to its name, so a
	// namespace selector can pick one namespace.
	LabelMetadataName = "kubernetes.io/metadata.name"
	// LabelNodeRolePrefix starts node-role labels (node-role.kubernetes.io/control-plane).
	LabelNodeRolePrefix = "node-role.kubernetes.io/"
)

// Well-known annotations.
const (
	// AnnotationMirrorPod marks a mirror pod, the API's copy of a static pod.
	AnnotationMirrorPod = "kubernetes.io/config.mirror"
	// AnnotationChangeCause records the command that changed an object
	// (rollout history's CHANGE-CAUSE).
	AnnotationChangeCause = "kubernetes.io/change-cause"
)
