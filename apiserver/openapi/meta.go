package openapi

// The definitions that are no message of ours: the JSON shapes api/codec
// gives Timestamp, IntOrString, Struct and quantity strings, and the meta
// types of the REST front (patches, watch events, the scale subresource).

// wellKnown builds the definitions of the messages that api/codec does not
// encode as objects.
var wellKnown = map[string]func() *schema{
	defTime: func() *schema {
		return &schema{Type: "string", Format: "date-time",
			Description: "Time is a timestamp in RFC 3339 form (2006-01-02T15:04:05Z), with second precision."}
	},
	defIntOrString: func() *schema {
		return &schema{Type: "string", Format: "int-or-string",
			OneOfV3:     []*schema{{Type: "integer"}, {Type: "string"}},
			Description: "IntOrString holds either a bare JSON number or a string (a port 8080 or \"http\"; maxSurge 1 or \"25%\")."}
	},
	defRawExtension: func() *schema {
		return &schema{Type: "object",
			Description: "RawExtension is an arbitrary JSON object embedded in another object."}
	},
}

// extraDefinitions are the hand-written definitions every document may
// refer to.
func extraDefinitions() map[string]*schema {
	return map[string]*schema{
		defMicroTime: {Type: "string", Format: "date-time",
			Description: "MicroTime is a timestamp in RFC 3339 form with microsecond precision (2006-01-02T15:04:05.000000Z)."},
		defQuantity: {Type: "string", OneOfV3: []*schema{{Type: "string"}, {Type: "number"}},
			Description: "Quantity is an amount of a resource: a decimal number with an optional suffix, binary (Ki, Mi, Gi, Ti, Pi, Ei), decimal SI (m, k, M, G, T, P, E) or an exponent (1e3). In JSON it is a string; a bare number is accepted on input.\n\nExamples: cpu 100m (a tenth of a core), memory 128Mi."},
		defPatch: {Type: "object",
			Description: "Patch is the body of a PATCH request; its form is given by the Content-Type: a JSON patch, a JSON merge patch or a strategic merge patch."},
		defWatchEvent: {Type: "object",
			Description: "WatchEvent is one event of a watch stream.",
			Required:    []string{"type", "object"},
			Properties: map[string]*schema{
				"type": {Type: "string",
					Description: "type is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."},
				"object": {Ref: defRawExtension,
					Description: "object is the object after the change (the last state before deletion for DELETED); for ERROR a Status; for BOOKMARK an object of the watched kind carrying only metadata.resourceVersion."},
			}},
		defAPIResourceList: {Type: "object",
			Description: "APIResourceList lists the resources of one group-version (discovery).",
			Required:    []string{"groupVersion", "resources"},
			Properties: map[string]*schema{
				"apiVersion":   {Type: "string", Description: topLevelFields["apiVersion"]},
				"kind":         {Type: "string", Description: topLevelFields["kind"]},
				"groupVersion": {Type: "string", Description: "groupVersion is the group-version listed (v1, apps/v1)."},
				"resources": {Type: "array", Items: &schema{Ref: defAPIResource},
					Description: "resources are the resources of the group-version and their subresources (pods, pods/status)."},
			},
			Extensions: ext{gvkExtension: []map[string]any{groupVersionKind{Version: "v1", Kind: "APIResourceList"}.ext()}}},
		defAPIResource: {Type: "object",
			Description: "APIResource describes one served resource.",
			Required:    []string{"name", "singularName", "namespaced", "kind", "verbs"},
			Properties: map[string]*schema{
				"name":         {Type: "string", Description: "name is the plural resource name (pods), or resource/subresource (pods/status)."},
				"singularName": {Type: "string", Description: "singularName is the singular resource name (pod)."},
				"namespaced":   {Type: "boolean", Description: "namespaced says whether objects of the resource live in a namespace."},
				"group":        {Type: "string", Description: "group of the resource, when it differs from the listed group-version's."},
				"version":      {Type: "string", Description: "version of the resource, when it differs from the listed group-version's."},
				"kind":         {Type: "string", Description: "kind of the resource's objects (Pod)."},
				"verbs":        {Type: "array", Items: &schema{Type: "string"}, Description: "verbs the resource supports: get, list, watch, create, update, patch, delete, deletecollection."},
				"shortNames":   {Type: "array", Items: &schema{Type: "string"}, Description: "shortNames kubectl accepts for the resource (po)."},
				"categories":   {Type: "array", Items: &schema{Type: "string"}, Description: "categories the resource belongs to (all)."},
			}},
		defScale: {Type: "object",
			Description: "Scale is the scale subresource of a workload: its desired and observed replica counts.",
			Properties: map[string]*schema{
				"apiVersion": {Type: "string", Description: topLevelFields["apiVersion"]},
				"kind":       {Type: "string", Description: topLevelFields["kind"]},
				"metadata":   {Ref: defObjectMeta, Description: "Metadata of the scaled object."},
				"spec":       {Ref: defScaleSpec, Description: "Desired number of replicas."},
				"status":     {Ref: defScaleStatus, Description: "Observed number of replicas. Read-only."},
			}},
		defScaleSpec: {Type: "object",
			Description: "ScaleSpec is the desired scale of a workload.",
			Properties: map[string]*schema{
				"replicas": {Type: "integer", Format: "int32", Description: "replicas is the desired number of instances."},
			}},
		defScaleStatus: {Type: "object",
			Description: "ScaleStatus is the observed scale of a workload.",
			Required:    []string{"replicas"},
			Properties: map[string]*schema{
				"replicas": {Type: "integer", Format: "int32", Description: "replicas is the observed number of instances."},
				"selector": {Type: "string", Description: "selector is the label selector of the workload's pods, in the string form of a label query (app=web,tier in (a,b))."},
			}},
	}
}

// deleteOptionsExtras are fields of Kubernetes' DeleteOptions that the
// REST front accepts in a DELETE body but the gRPC message does not carry:
// kubectl sends apiVersion and kind, and dryRun travels in the query too.
func deleteOptionsExtras() map[string]*schema {
	return map[string]*schema{
		"apiVersion": {Type: "string", Description: topLevelFields["apiVersion"]},
		"kind":       {Type: "string", Description: topLevelFields["kind"]},
		"dryRun": {Type: "array", Items: &schema{Type: "string"},
			Description: "dryRun [\"All\"] runs every stage of the delete without persisting it."},
		"orphanDependents": {Type: "boolean",
			Description: "Deprecated: use propagationPolicy. true orphans the dependents (propagationPolicy Orphan)."},
	}
}
