package openapi

// Kubernetes' API conventions that the .proto files cannot say: which
// fields a request must carry (`required`), how strategic merge patch and
// server-side apply merge a list or map (x-kubernetes-patch-merge-key,
// x-kubernetes-patch-strategy, x-kubernetes-list-type,
// x-kubernetes-list-map-keys, x-kubernetes-map-type), and which timestamps
// are MicroTime. The values are Kubernetes' own for these types (its
// `+patchStrategy`, `+listType` and `+required` markers), limited to the
// fields our messages have; kubectl reads them to build patches and to
// validate. Keyed by full proto message name, then field name.

// ext is a set of OpenAPI vendor extensions.
type ext map[string]any

// rule is what Kubernetes adds to one message's schema.
type rule struct {
	required []string
	ext      ext            // on the message's schema
	fields   map[string]ext // on a field's property
}

var conventions = map[string]rule{
	"minik8s.apps.v1.ControllerRevision": {required: []string{"revision"}},
	"minik8s.apps.v1.DaemonSetCondition": {required: []string{"type", "status"}},
	"minik8s.apps.v1.DaemonSetSpec":      {required: []string{"selector", "template"}},
	"minik8s.apps.v1.DaemonSetStatus": {required: []string{"currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"}, fields: map[string]ext{
		"conditions": ext{"x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.apps.v1.DeploymentCondition": {required: []string{"type", "status"}},
	"minik8s.apps.v1.DeploymentSpec": {required: []string{"selector", "template"}, fields: map[string]ext{
		"strategy": ext{"x-kubernetes-patch-strategy": "retainKeys"},
	}},
	"minik8s.apps.v1.DeploymentStatus": {fields: map[string]ext{
		"conditions": ext{"x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.apps.v1.ReplicaSetCondition": {required: []string{"type", "status"}},
	"minik8s.apps.v1.ReplicaSetSpec":      {required: []string{"selector"}},
	"minik8s.apps.v1.ReplicaSetStatus": {required: []string{"replicas"}, fields: map[string]ext{
		"conditions": ext{"x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.apps.v1.StatefulSetCondition": {required: []string{"type", "status"}},
	"minik8s.apps.v1.StatefulSetSpec":      {required: []string{"selector", "template", "serviceName"}},
	"minik8s.apps.v1.StatefulSetStatus": {required: []string{"replicas"}, fields: map[string]ext{
		"conditions": ext{"x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.autoscaling.v2.CrossVersionObjectReference": {required: []string{"kind", "name"}},
	"minik8s.autoscaling.v2.HPAScalingPolicy":            {required: []string{"type", "value", "periodSeconds"}},
	"minik8s.autoscaling.v2.HPAScalingRules": {fields: map[string]ext{
		"policies": ext{"x-kubernetes-list-type": "atomic"},
	}},
	"minik8s.autoscaling.v2.HorizontalPodAutoscalerCondition": {required: []string{"type", "status"}},
	"minik8s.autoscaling.v2.HorizontalPodAutoscalerSpec": {required: []string{"scaleTargetRef", "maxReplicas"}, fields: map[string]ext{
		"metrics": ext{"x-kubernetes-list-type": "atomic"},
	}},
	"minik8s.autoscaling.v2.HorizontalPodAutoscalerStatus": {required: []string{"desiredReplicas"}, fields: map[string]ext{
		"conditions":     ext{"x-kubernetes-list-map-keys": []string{"type"}, "x-kubernetes-list-type": "map", "x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
		"currentMetrics": ext{"x-kubernetes-list-type": "atomic"},
	}},
	"minik8s.autoscaling.v2.MetricIdentifier":     {required: []string{"name"}},
	"minik8s.autoscaling.v2.MetricSpec":           {required: []string{"type"}},
	"minik8s.autoscaling.v2.MetricStatus":         {required: []string{"type"}},
	"minik8s.autoscaling.v2.MetricTarget":         {required: []string{"type"}},
	"minik8s.autoscaling.v2.PodsMetricSource":     {required: []string{"metric", "target"}},
	"minik8s.autoscaling.v2.PodsMetricStatus":     {required: []string{"metric", "current"}},
	"minik8s.autoscaling.v2.ResourceMetricSource": {required: []string{"name", "target"}},
	"minik8s.autoscaling.v2.ResourceMetricStatus": {required: []string{"name", "current"}},
	"minik8s.batch.v1.JobCondition":               {required: []string{"type", "status"}},
	"minik8s.batch.v1.JobSpec":                    {required: []string{"template"}},
	"minik8s.batch.v1.JobStatus": {fields: map[string]ext{
		"conditions": ext{"x-kubernetes-list-type": "atomic", "x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.batch.v1.UncountedTerminatedPods": {fields: map[string]ext{
		"failed":    ext{"x-kubernetes-list-type": "set"},
		"succeeded": ext{"x-kubernetes-list-type": "set"},
	}},
	"minik8s.core.v1.Binding":            {required: []string{"target"}},
	"minik8s.core.v1.ComponentCondition": {required: []string{"type", "status"}},
	"minik8s.core.v1.ComponentStatus": {fields: map[string]ext{
		"conditions": ext{"x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.core.v1.ConfigMapKeySelector": {required: []string{"key"}, ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.Container": {required: []string{"name"}, fields: map[string]ext{
		"env":          ext{"x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
		"ports":        ext{"x-kubernetes-list-map-keys": []string{"containerPort", "protocol"}, "x-kubernetes-list-type": "map", "x-kubernetes-patch-merge-key": "containerPort", "x-kubernetes-patch-strategy": "merge"},
		"volumeMounts": ext{"x-kubernetes-patch-merge-key": "mountPath", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.core.v1.ContainerPort":            {required: []string{"containerPort"}},
	"minik8s.core.v1.ContainerStateTerminated": {required: []string{"exitCode"}},
	"minik8s.core.v1.ContainerStatus":          {required: []string{"name", "ready", "restartCount", "image", "imageID"}},
	"minik8s.core.v1.DaemonEndpoint":           {required: []string{"Port"}},
	"minik8s.core.v1.DownwardAPIVolumeFile":    {required: []string{"path"}},
	"minik8s.core.v1.EndpointAddress":          {required: []string{"ip"}, ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.EndpointPort":             {required: []string{"port"}, ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.EnvVar":                   {required: []string{"name"}},
	"minik8s.core.v1.Event":                    {required: []string{"metadata", "involvedObject"}},
	"minik8s.core.v1.GRPCAction":               {required: []string{"port"}},
	"minik8s.core.v1.HTTPGetAction":            {required: []string{"port"}},
	"minik8s.core.v1.HTTPHeader":               {required: []string{"name", "value"}},
	"minik8s.core.v1.HostIP":                   {required: []string{"ip"}},
	"minik8s.core.v1.HostPathVolumeSource":     {required: []string{"path"}},
	"minik8s.core.v1.KeyToPath":                {required: []string{"key", "path"}},
	"minik8s.core.v1.LimitRangeItem":           {required: []string{"type"}},
	"minik8s.core.v1.LimitRangeSpec":           {required: []string{"limits"}},
	"minik8s.core.v1.LoadBalancerIngress": {fields: map[string]ext{
		"ports": ext{"x-kubernetes-list-type": "atomic"},
	}},
	"minik8s.core.v1.LocalObjectReference": {ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.NamespaceCondition":   {required: []string{"type", "status"}},
	"minik8s.core.v1.NamespaceStatus": {fields: map[string]ext{
		"conditions": ext{"x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.core.v1.NodeAddress":             {required: []string{"type", "address"}},
	"minik8s.core.v1.NodeCondition":           {required: []string{"type", "status"}},
	"minik8s.core.v1.NodeSelector":            {required: []string{"nodeSelectorTerms"}, ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.NodeSelectorRequirement": {required: []string{"key", "operator"}},
	"minik8s.core.v1.NodeSelectorTerm":        {ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.NodeSpec": {fields: map[string]ext{
		"podCIDRs": ext{"x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.core.v1.NodeStatus": {fields: map[string]ext{
		"addresses":  ext{"x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
		"conditions": ext{"x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.core.v1.NodeSystemInfo":                    {required: []string{"machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture"}},
	"minik8s.core.v1.ObjectFieldSelector":               {required: []string{"fieldPath"}, ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.ObjectReference":                   {ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.PersistentVolumeClaimVolumeSource": {required: []string{"claimName"}},
	"minik8s.core.v1.PodAffinityTerm": {required: []string{"topologyKey"}, fields: map[string]ext{
		"matchLabelKeys":    ext{"x-kubernetes-list-type": "atomic"},
		"mismatchLabelKeys": ext{"x-kubernetes-list-type": "atomic"},
	}},
	"minik8s.core.v1.PodCondition":     {required: []string{"type", "status"}},
	"minik8s.core.v1.PodOS":            {required: []string{"name"}},
	"minik8s.core.v1.PodReadinessGate": {required: []string{"conditionType"}},
	"minik8s.core.v1.PodSpec": {required: []string{"containers"}, fields: map[string]ext{
		"containers":                ext{"x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
		"hostAliases":               ext{"x-kubernetes-patch-merge-key": "ip", "x-kubernetes-patch-strategy": "merge"},
		"imagePullSecrets":          ext{"x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
		"initContainers":            ext{"x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
		"nodeSelector":              ext{"x-kubernetes-map-type": "atomic"},
		"topologySpreadConstraints": ext{"x-kubernetes-list-map-keys": []string{"topologyKey", "whenUnsatisfiable"}, "x-kubernetes-list-type": "map", "x-kubernetes-patch-merge-key": "topologyKey", "x-kubernetes-patch-strategy": "merge"},
		"volumes":                   ext{"x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge,retainKeys"},
	}},
	"minik8s.core.v1.PodStatus": {fields: map[string]ext{
		"conditions": ext{"x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
		"hostIPs":    ext{"x-kubernetes-list-type": "atomic", "x-kubernetes-patch-merge-key": "ip", "x-kubernetes-patch-strategy": "merge"},
		"podIPs":     ext{"x-kubernetes-patch-merge-key": "ip", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.core.v1.PortStatus":                     {required: []string{"port", "protocol"}},
	"minik8s.core.v1.PreferredSchedulingTerm":        {required: []string{"weight", "preference"}},
	"minik8s.core.v1.ReplicationControllerCondition": {required: []string{"type", "status"}},
	"minik8s.core.v1.ReplicationControllerSpec": {fields: map[string]ext{
		"selector": ext{"x-kubernetes-map-type": "atomic"},
	}},
	"minik8s.core.v1.ReplicationControllerStatus": {required: []string{"replicas"}, fields: map[string]ext{
		"conditions": ext{"x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.core.v1.ResourceFieldSelector":             {required: []string{"resource"}, ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.ScopeSelector":                     {ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.ScopedResourceSelectorRequirement": {required: []string{"scopeName", "operator"}},
	"minik8s.core.v1.SeccompProfile":                    {required: []string{"type"}},
	"minik8s.core.v1.SecretKeySelector":                 {required: []string{"key"}, ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.ServiceAccount": {fields: map[string]ext{
		"secrets": ext{"x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.core.v1.ServiceAccountTokenProjection": {required: []string{"path"}},
	"minik8s.core.v1.ServicePort":                   {required: []string{"port"}},
	"minik8s.core.v1.ServiceSpec": {fields: map[string]ext{
		"clusterIPs": ext{"x-kubernetes-list-type": "atomic"},
		"ipFamilies": ext{"x-kubernetes-list-type": "atomic"},
		"ports":      ext{"x-kubernetes-list-map-keys": []string{"port", "protocol"}, "x-kubernetes-list-type": "map", "x-kubernetes-patch-merge-key": "port", "x-kubernetes-patch-strategy": "merge"},
		"selector":   ext{"x-kubernetes-map-type": "atomic"},
	}},
	"minik8s.core.v1.ServiceStatus": {fields: map[string]ext{
		"conditions": ext{"x-kubernetes-list-map-keys": []string{"type"}, "x-kubernetes-list-type": "map", "x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.core.v1.SleepAction":     {required: []string{"seconds"}},
	"minik8s.core.v1.Sysctl":          {required: []string{"name", "value"}},
	"minik8s.core.v1.TCPSocketAction": {required: []string{"port"}},
	"minik8s.core.v1.Taint":           {required: []string{"key", "effect"}},
	"minik8s.core.v1.TopologySpreadConstraint": {required: []string{"maxSkew", "topologyKey", "whenUnsatisfiable"}, fields: map[string]ext{
		"matchLabelKeys": ext{"x-kubernetes-list-type": "atomic"},
	}},
	"minik8s.core.v1.TypedLocalObjectReference": {required: []string{"kind", "name"}, ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.core.v1.Volume":                    {required: []string{"name"}},
	"minik8s.core.v1.VolumeMount":               {required: []string{"name", "mountPath"}},
	"minik8s.core.v1.WeightedPodAffinityTerm":   {required: []string{"weight", "podAffinityTerm"}},
	"minik8s.meta.v1.Condition":                 {required: []string{"type", "status", "lastTransitionTime", "reason", "message"}},
	"minik8s.meta.v1.LabelSelector":             {ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.meta.v1.LabelSelectorRequirement": {required: []string{"key", "operator"}, fields: map[string]ext{
		"key": ext{"x-kubernetes-patch-merge-key": "key", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.meta.v1.ObjectMeta": {fields: map[string]ext{
		"finalizers":      ext{"x-kubernetes-patch-strategy": "merge"},
		"ownerReferences": ext{"x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"},
	}},
	"minik8s.meta.v1.OwnerReference":        {required: []string{"apiVersion", "kind", "name", "uid"}, ext: ext{"x-kubernetes-map-type": "atomic"}},
	"minik8s.networking.v1.HTTPIngressPath": {required: []string{"pathType", "backend"}},
	"minik8s.networking.v1.HTTPIngressRuleValue": {required: []string{"paths"}, fields: map[string]ext{
		"paths": ext{"x-kubernetes-list-type": "atomic"},
	}},
	"minik8s.networking.v1.IngressLoadBalancerIngress": {fields: map[string]ext{
		"ports": ext{"x-kubernetes-list-type": "atomic"},
	}},
	"minik8s.networking.v1.IngressLoadBalancerStatus": {fields: map[string]ext{
		"ingress": ext{"x-kubernetes-list-type": "atomic"},
	}},
	"minik8s.networking.v1.IngressPortStatus":     {required: []string{"port", "protocol"}},
	"minik8s.networking.v1.IngressServiceBackend": {required: []string{"name"}},
	"minik8s.networking.v1.IngressSpec": {fields: map[string]ext{
		"rules": ext{"x-kubernetes-list-type": "atomic"},
		"tls":   ext{"x-kubernetes-list-type": "atomic"},
	}},
	"minik8s.networking.v1.IngressTLS": {fields: map[string]ext{
		"hosts": ext{"x-kubernetes-list-type": "atomic"},
	}},
}

// microTimeFields are the Timestamp fields that Kubernetes types as
// MicroTime (microsecond precision) rather than Time.
var microTimeFields = map[string]bool{
	"minik8s.coordination.v1.LeaseSpec.acquireTime": true,
	"minik8s.coordination.v1.LeaseSpec.renewTime":   true,
	"minik8s.core.v1.Event.eventTime":               true,
	"minik8s.core.v1.EventSeries.lastObservedTime":  true,
}
