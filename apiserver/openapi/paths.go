package openapi

import (
	"strings"

	"minik8s/api/scheme"
)

// param is one parameter of an operation (query or path).
type param struct {
	Name        string
	In          string // "query" or "path"
	Type        string // "string", "integer", "boolean"
	Description string
	Required    bool
}

// response is one response of an operation.
type response struct {
	Code        int
	Description string
	Schema      *schema // nil: no body
}

// operation is one HTTP method on one path, as Kubernetes documents it.
type operation struct {
	Method      string // "get", "post", "put", "patch", "delete"
	ID          string // "listCoreV1NamespacedPod"
	Description string
	Action      string // x-kubernetes-action: get, list, post, put, patch, delete, deletecollection, connect
	GVK         groupVersionKind
	Tag         string // "core_v1"
	Params      []param
	// Body is the definition of the request body ("" for none).
	Body         string
	BodyRequired bool
	Consumes     []string
	Produces     []string
	Responses    []response
}

// pathItem is one path: the parameters all its operations share, and the
// operations.
type pathItem struct {
	Params []param
	Ops    []*operation
}

// groupVersionKind is a group, version and kind (x-kubernetes-group-version-kind).
type groupVersionKind struct {
	Group, Version, Kind string
}

func (g groupVersionKind) ext() map[string]any {
	return map[string]any{"group": g.Group, "version": g.Version, "kind": g.Kind}
}

// Media types of requests and responses. The REST front speaks JSON and
// YAML (no protobuf); watches stream JSON.
const (
	mimeJSON      = "application/json"
	mimeYAML      = "application/yaml"
	mimeJSONWatch = "application/json;stream=watch"
	mimeAny       = "*/*"
	mimeText      = "text/plain"
)

var (
	produceObject = []string{mimeJSON, mimeYAML}
	produceList   = []string{mimeJSON, mimeYAML, mimeJSONWatch}
	// consumePatch are the patch forms the REST front applies.
	consumePatch = []string{
		"application/json-patch+json",
		"application/merge-patch+json",
		"application/strategic-merge-patch+json",
		"application/apply-patch+yaml",
	}
)

// The query parameters Kubernetes documents, in our words.
var (
	paramPretty = param{Name: "pretty", In: "query", Type: "string",
		Description: "If 'true', the response is indented."}
	paramName = param{In: "path", Name: "name", Type: "string", Required: true}
	paramNS   = param{Name: "namespace", In: "path", Type: "string", Required: true,
		Description: "object name and auth scope, such as for teams and projects"}

	paramDryRun = param{Name: "dryRun", In: "query", Type: "string",
		Description: "When present, the request is processed through every stage (admission, validation) but nothing is persisted. The only valid value is All."}
	paramFieldManager = param{Name: "fieldManager", In: "query", Type: "string",
		Description: "fieldManager names the actor making the change (at most 128 printable characters)."}
	// paramFieldValidation is what `kubectl --validate=strict` looks for
	// on a kind's PATCH to learn that the server checks fields itself.
	paramFieldValidation = param{Name: "fieldValidation", In: "query", Type: "string",
		Description: "fieldValidation says what the server does with unknown or duplicate fields in the body of a POST, PUT or PATCH: Ignore drops them silently, Warn drops them with a Warning header per field, Strict rejects the request with a BadRequest naming every such field."}
	paramForce = param{Name: "force", In: "query", Type: "boolean",
		Description: "force re-acquires conflicting fields of an apply patch; it must be unset for other patches."}

	paramGracePeriod = param{Name: "gracePeriodSeconds", In: "query", Type: "integer",
		Description: "Seconds the object has before it is deleted; 0 deletes at once. Unset uses the kind's default."}
	paramOrphan = param{Name: "orphanDependents", In: "query", Type: "boolean",
		Description: "Deprecated: use propagationPolicy. true orphans the dependents."}
	paramPropagation = param{Name: "propagationPolicy", In: "query", Type: "string",
		Description: "How dependents are garbage-collected: Orphan leaves them, Background deletes them after the owner, Foreground before it."}

	paramAllowBookmarks = param{Name: "allowWatchBookmarks", In: "query", Type: "boolean",
		Description: "allowWatchBookmarks asks a watch for BOOKMARK events, which carry only a newer resourceVersion."}
	paramContinue = param{Name: "continue", In: "query", Type: "string",
		Description: "continue is the token of the previous page of a paginated list (metadata.continue)."}
	paramFieldSelector = param{Name: "fieldSelector", In: "query", Type: "string",
		Description: "A selector on fields (metadata.name=web,spec.nodeName!=); everything when unset."}
	paramLabelSelector = param{Name: "labelSelector", In: "query", Type: "string",
		Description: "A selector on labels (app=web,tier in (a,b)); everything when unset."}
	paramLimit = param{Name: "limit", In: "query", Type: "integer",
		Description: "limit is the largest number of items of one page; metadata.continue then fetches the next one."}
	paramResourceVersion = param{Name: "resourceVersion", In: "query", Type: "string",
		Description: "resourceVersion bounds how old the data served may be: unset is the latest, 0 any cached state; a watch starts after this version."}
	paramResourceVersionMatch = param{Name: "resourceVersionMatch", In: "query", Type: "string",
		Description: "resourceVersionMatch says how resourceVersion applies to a list: NotOlderThan or Exact."}
	paramSendInitialEvents = param{Name: "sendInitialEvents", In: "query", Type: "boolean",
		Description: "sendInitialEvents starts a watch with an ADDED event for every existing object, then a bookmark."}
	paramTimeoutSeconds = param{Name: "timeoutSeconds", In: "query", Type: "integer",
		Description: "timeoutSeconds limits the duration of a list or watch call."}
	paramWatch = param{Name: "watch", In: "query", Type: "boolean",
		Description: "watch streams the changes (ADDED, MODIFIED, DELETED) to the listed objects instead of listing them; see resourceVersion."}
)

var (
	listParams   = []param{paramAllowBookmarks, paramContinue, paramFieldSelector, paramLabelSelector, paramLimit, paramResourceVersion, paramResourceVersionMatch, paramSendInitialEvents, paramTimeoutSeconds, paramWatch}
	writeParams  = []param{paramDryRun, paramFieldManager, paramFieldValidation}
	patchParams  = []param{paramDryRun, paramFieldManager, paramFieldValidation, paramForce}
	deleteParams = []param{paramDryRun, paramGracePeriod, paramOrphan, paramPropagation}
	// deletecollection takes the delete options and selects like a list.
	deleteCollectionParams = []param{paramContinue, paramDryRun, paramFieldSelector, paramGracePeriod, paramLabelSelector, paramLimit, paramOrphan, paramPropagation, paramResourceVersion, paramResourceVersionMatch, paramSendInitialEvents, paramTimeoutSeconds}
)

// verbs a kind's REST endpoints offer; every kind has all of them except
// those listed in limitedVerbs.
type verbs struct {
	get, list, create, update, patch, delete, deleteCollection bool
}

var allVerbs = verbs{true, true, true, true, true, true, true}

// limitedVerbs are the kinds whose endpoints Kubernetes restricts:
// bindings can only be created; component statuses are computed on read;
// namespaces are not deleted as a collection.
var limitedVerbs = map[string]verbs{
	"bindings":          {create: true},
	"componentstatuses": {get: true, list: true},
	"namespaces":        {get: true, list: true, create: true, update: true, patch: true, delete: true},
}

// scaleResources have the scale subresource (autoscaling/v1 Scale), as in
// Kubernetes.
var scaleResources = map[string]bool{
	"deployments":            true,
	"replicasets":            true,
	"statefulsets":           true,
	"replicationcontrollers": true,
}

// groupVersionPath is "api/v1" or "apis/apps/v1": the key of a
// group-version in /openapi/v3 and the prefix of its paths.
func groupVersionPath(group, version string) string {
	if group == "" {
		return "api/" + version
	}
	return "apis/" + group + "/" + version
}

// opGroup is the group-version part of an operation ID and tag:
// "CoreV1"/"core_v1", "NetworkingV1"/"networking_v1".
func opGroup(group, version string) (id, tag string) {
	g := "core"
	if group != "" {
		g = strings.Split(group, ".")[0]
	}
	return upperFirst(g) + upperFirst(version), g + "_" + version
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// kindPaths adds the paths of one kind to paths.
func kindPaths(paths map[string]*pathItem, k *scheme.Kind, def, listDef string) {
	v, limited := limitedVerbs[k.Resource]
	if !limited {
		v = allVerbs
	}
	gvk := groupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
	idGroup, tag := opGroup(k.Group, k.Version)
	prefix := "/" + groupVersionPath(k.Group, k.Version)
	ns, scope := "", ""
	var scopeParams []param
	if k.Namespaced {
		ns, scope = "/namespaces/{namespace}", "Namespaced"
		scopeParams = []param{paramNS}
	}
	collection := prefix + ns + "/" + k.Resource
	item := collection + "/{name}"
	name := paramName
	name.Description = "name of the " + k.Kind

	op := func(method, action, verb, what string) *operation {
		return &operation{
			Method: method, Action: action, GVK: gvk, Tag: tag,
			ID:          verb + idGroup + what,
			Description: descriptionOf(action, k.Kind),
		}
	}
	object := &schema{Ref: def}
	// Collection: list (and watch), create, deletecollection.
	var cops []*operation
	if v.list {
		o := op("get", "list", "list", scope+k.Kind)
		o.Params = listParams
		o.Consumes = []string{mimeAny}
		o.Produces = produceList
		o.Responses = []response{{Code: 200, Description: "OK", Schema: &schema{Ref: listDef}}, unauthorized}
		cops = append(cops, o)
	}
	if v.create {
		o := op("post", "post", "create", scope+k.Kind)
		o.Params = writeParams
		o.Body, o.BodyRequired = def, true
		o.Consumes = []string{mimeAny}
		o.Produces = produceObject
		o.Responses = []response{{200, "OK", object}, {201, "Created", object}, {202, "Accepted", object}, unauthorized}
		cops = append(cops, o)
	}
	if v.deleteCollection {
		o := op("delete", "deletecollection", "delete", "Collection"+scope+k.Kind)
		o.Params = deleteCollectionParams
		o.Body = defDeleteOptions
		o.Consumes = []string{mimeAny}
		o.Produces = produceObject
		o.Responses = []response{{200, "OK", &schema{Ref: defStatus}}, unauthorized}
		cops = append(cops, o)
	}
	if len(cops) > 0 {
		paths[collection] = &pathItem{Params: append(append([]param(nil), scopeParams...), paramPretty), Ops: cops}
	}
	// All namespaces: a list (and watch) across namespaces.
	if k.Namespaced && v.list {
		o := op("get", "list", "list", k.Kind+"ForAllNamespaces")
		o.Consumes = []string{mimeAny}
		o.Produces = produceList
		o.Responses = []response{{Code: 200, Description: "OK", Schema: &schema{Ref: listDef}}, unauthorized}
		paths[prefix+"/"+k.Resource] = &pathItem{Params: append(append([]param(nil), listParams...), paramPretty), Ops: []*operation{o}}
	}
	// Item: read, replace, patch, delete.
	itemParams := append([]param{name}, scopeParams...)
	itemParams = append(itemParams, paramPretty)
	var iops []*operation
	if v.get {
		o := op("get", "get", "read", scope+k.Kind)
		o.Consumes = []string{mimeAny}
		o.Produces = produceObject
		o.Responses = []response{{200, "OK", object}, unauthorized}
		iops = append(iops, o)
	}
	if v.update {
		iops = append(iops, replaceOp(op("put", "put", "replace", scope+k.Kind), def))
	}
	if v.patch {
		iops = append(iops, patchOp(op("patch", "patch", "patch", scope+k.Kind), def))
	}
	if v.delete {
		o := op("delete", "delete", "delete", scope+k.Kind)
		o.Params = deleteParams
		o.Body = defDeleteOptions
		o.Consumes = []string{mimeAny}
		o.Produces = produceObject
		o.Responses = []response{{200, "OK", object}, {202, "Accepted", object}, unauthorized}
		iops = append(iops, o)
	}
	if len(iops) > 0 {
		paths[item] = &pathItem{Params: itemParams, Ops: iops}
	}
	if k.HasStatus {
		what := scope + k.Kind + "Status"
		get := op("get", "get", "read", what)
		get.Consumes = []string{mimeAny}
		get.Produces = produceObject
		get.Responses = []response{{200, "OK", object}, unauthorized}
		paths[item+"/status"] = &pathItem{Params: itemParams, Ops: []*operation{
			ofSubresource("status", get),
			ofSubresource("status", replaceOp(op("put", "put", "replace", what), def)),
			ofSubresource("status", patchOp(op("patch", "patch", "patch", what), def)),
		}}
	}
	if scaleResources[k.Resource] {
		what := scope + k.Kind + "Scale"
		scaleGVK := groupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}
		scale := &schema{Ref: defScale}
		get := op("get", "get", "read", what)
		get.GVK = scaleGVK
		get.Consumes = []string{mimeAny}
		get.Produces = produceObject
		get.Responses = []response{{200, "OK", scale}, unauthorized}
		put := replaceOp(op("put", "put", "replace", what), defScale)
		put.GVK = scaleGVK
		patch := patchOp(op("patch", "patch", "patch", what), defScale)
		patch.GVK = scaleGVK
		paths[item+"/scale"] = &pathItem{Params: itemParams, Ops: []*operation{
			ofSubresource("scale", get), ofSubresource("scale", put), ofSubresource("scale", patch),
		}}
	}
	if k.Resource == "pods" {
		podSubresources(paths, item, itemParams, idGroup, tag)
	}
}

// ofSubresource words an operation's description for a subresource:
// "read status of the specified Pod".
func ofSubresource(sub string, o *operation) *operation {
	o.Description = strings.Replace(o.Description, "the specified", sub+" of the specified", 1)
	return o
}

var unauthorized = response{Code: 401, Description: "Unauthorized"}

func replaceOp(o *operation, def string) *operation {
	object := &schema{Ref: def}
	o.Params = writeParams
	o.Body, o.BodyRequired = def, true
	o.Consumes = []string{mimeAny}
	o.Produces = produceObject
	o.Responses = []response{{200, "OK", object}, {201, "Created", object}, unauthorized}
	return o
}

func patchOp(o *operation, def string) *operation {
	object := &schema{Ref: def}
	o.Params = patchParams
	o.Body, o.BodyRequired = defPatch, true
	o.Consumes = consumePatch
	o.Produces = produceObject
	o.Responses = []response{{200, "OK", object}, {201, "Created", object}, unauthorized}
	return o
}

// podSubresources adds pods/log, pods/exec and pods/binding, which the REST
// front relays to the kubelet (log, exec) or the registry (binding).
func podSubresources(paths map[string]*pathItem, item string, itemParams []param, idGroup, tag string) {
	str := &schema{Type: "string"}
	logParams := []param{
		{Name: "container", In: "query", Type: "string", Description: "The container to read the log of; may be omitted for a pod with one container."},
		{Name: "follow", In: "query", Type: "boolean", Description: "follow streams the log as it grows."},
		{Name: "limitBytes", In: "query", Type: "integer", Description: "limitBytes stops the log after this many bytes."},
		{Name: "previous", In: "query", Type: "boolean", Description: "previous reads the log of the container's previous run."},
		{Name: "sinceSeconds", In: "query", Type: "integer", Description: "sinceSeconds starts the log this many seconds ago."},
		{Name: "tailLines", In: "query", Type: "integer", Description: "tailLines starts the log this many lines before its end."},
		{Name: "timestamps", In: "query", Type: "boolean", Description: "timestamps prefixes every line with its RFC 3339 time."},
	}
	paths[item+"/log"] = &pathItem{Params: append(append([]param(nil), itemParams...), logParams...), Ops: []*operation{{
		Method: "get", Action: "get", GVK: groupVersionKind{Version: "v1", Kind: "Pod"}, Tag: tag,
		ID: "read" + idGroup + "NamespacedPodLog", Description: "read the log of the specified Pod",
		Consumes: []string{mimeAny}, Produces: []string{mimeText, mimeJSON, mimeYAML},
		Responses: []response{{200, "OK", str}, unauthorized},
	}}}
	execParams := []param{
		{Name: "command", In: "query", Type: "string", Description: "The command to run, one parameter per argument."},
		{Name: "container", In: "query", Type: "string", Description: "The container to run the command in; may be omitted for a pod with one container."},
		{Name: "stderr", In: "query", Type: "boolean", Description: "stderr streams the command's standard error."},
		{Name: "stdin", In: "query", Type: "boolean", Description: "stdin passes the client's input to the command."},
		{Name: "stdout", In: "query", Type: "boolean", Description: "stdout streams the command's standard output."},
		{Name: "tty", In: "query", Type: "boolean", Description: "tty runs the command on a terminal."},
	}
	var execOps []*operation
	for _, m := range []string{"get", "post"} {
		execOps = append(execOps, &operation{
			Method: m, Action: "connect", GVK: groupVersionKind{Version: "v1", Kind: "PodExecOptions"}, Tag: tag,
			ID: "connect" + idGroup + upperFirst(m) + "NamespacedPodExec", Description: "connect " + strings.ToUpper(m) + " requests to exec of Pod",
			Consumes: []string{mimeAny}, Produces: []string{mimeAny},
			Responses: []response{{200, "OK", str}, unauthorized},
		})
	}
	paths[item+"/exec"] = &pathItem{Params: append(append([]param(nil), itemParams[:2]...), execParams...), Ops: execOps}
	binding := &schema{Ref: "io.k8s.api.core.v1.Binding"}
	paths[item+"/binding"] = &pathItem{Params: append(append([]param(nil), itemParams...), writeParams...), Ops: []*operation{{
		Method: "post", Action: "post", GVK: groupVersionKind{Version: "v1", Kind: "Binding"}, Tag: tag,
		ID: "create" + idGroup + "NamespacedPodBinding", Description: "create binding of a Pod",
		Body: "io.k8s.api.core.v1.Binding", BodyRequired: true,
		Consumes: []string{mimeAny}, Produces: produceObject,
		Responses: []response{{200, "OK", binding}, {201, "Created", binding}, {202, "Accepted", binding}, unauthorized},
	}}}
}

// descriptionOf is an operation's summary, worded as Kubernetes words them.
func descriptionOf(action, kind string) string {
	switch action {
	case "list":
		return "list or watch objects of kind " + kind
	case "post":
		return "create a " + kind
	case "deletecollection":
		return "delete collection of " + kind
	case "get":
		return "read the specified " + kind
	case "put":
		return "replace the specified " + kind
	case "patch":
		return "partially update the specified " + kind
	case "delete":
		return "delete a " + kind
	}
	return action + " " + kind
}
