package fields

import (
	"fmt"
	"slices"

	"minik8s/api/scheme"
)

// selectable are the fields each resource can be selected by besides
// metadata.name and metadata.namespace, as Kubernetes' field label
// conversions allow them; anything else is refused rather than matched
// against a field a client misspelled.
var selectable = map[string][]string{
	"pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
		"spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
	"events": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
		"involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
		"reason", "reportingComponent", "source", "type"},
	"nodes":                  {"spec.unschedulable"},
	"namespaces":             {"status.phase"},
	"secrets":                {"type"},
	"services":               {"spec.clusterIP", "spec.type"},
	"replicasets":            {"status.replicas"},
	"replicationcontrollers": {"status.replicas"},
	"jobs":                   {"status.successful"},
	// A signer watches only its own requests.
	"certificatesigningrequests": {"spec.signerName"},
}

// renamed are the selector fields that are not their object's own path:
// Kubernetes selects events by "source", which reads source.component.
var renamed = map[string]map[string]string{
	"events": {"source": "source.component"},
}

// ResourceGetter is ObjectGetter for an object of resource, which reads a
// field Kubernetes selects by another name (an event's "source") at its
// real path.
func ResourceGetter(resource string, obj scheme.Object) func(path string) (string, bool) {
	get := ObjectGetter(obj)
	r := renamed[resource]
	if r == nil {
		return get
	}
	return func(path string) (string, bool) {
		if real, ok := r[path]; ok {
			path = real
		}
		return get(path)
	}
}

// Supported returns an error naming the first field of sel that resource
// cannot be selected by, in Kubernetes' words.
func Supported(resource string, sel Selector) error {
	for _, r := range sel.Requirements() {
		if r.Field == "metadata.name" || r.Field == "metadata.namespace" || slices.Contains(selectable[resource], r.Field) {
			continue
		}
		return fmt.Errorf("field label not supported: %s", r.Field)
	}
	return nil
}
