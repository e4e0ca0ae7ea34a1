package openapi

// metaDescriptions describe the fields of the meta messages that every kind
// embeds (kubectl explain <kind>.metadata) where meta.proto has no comment
// for them. A comment in the .proto file wins; these fill the gaps.
var metaDescriptions = map[string]string{
	"minik8s.meta.v1.ObjectMeta.name":                       "name is unique within a namespace (or the cluster, for cluster-scoped kinds). It is set on create and cannot be changed.",
	"minik8s.meta.v1.ObjectMeta.generateName":               "generateName is a prefix from which the server makes a unique name when name is empty.",
	"minik8s.meta.v1.ObjectMeta.namespace":                  "namespace the object lives in; empty for cluster-scoped kinds, default when a namespaced object names none.",
	"minik8s.meta.v1.ObjectMeta.uid":                        "uid is the unique identity of this object over the cluster's lifetime, set by the server.",
	"minik8s.meta.v1.ObjectMeta.resourceVersion":            "resourceVersion is the version of the object last read (the etcd revision that wrote it). An update carrying a stale version fails with a Conflict. Opaque to clients.",
	"minik8s.meta.v1.ObjectMeta.generation":                 "generation counts the changes to the desired state (spec), set by the server.",
	"minik8s.meta.v1.ObjectMeta.creationTimestamp":          "creationTimestamp is when the server created the object. Read-only.",
	"minik8s.meta.v1.ObjectMeta.deletionTimestamp":          "deletionTimestamp is when a graceful deletion will complete; once set the object is terminating. Read-only.",
	"minik8s.meta.v1.ObjectMeta.deletionGracePeriodSeconds": "deletionGracePeriodSeconds is the grace period of a pending deletion. Read-only.",
	"minik8s.meta.v1.ObjectMeta.labels":                     "labels are key/value pairs that selectors match (app=web).",
	"minik8s.meta.v1.ObjectMeta.annotations":                "annotations are key/value pairs for tools and controllers; not used for selection.",
	"minik8s.meta.v1.ObjectMeta.ownerReferences":            "ownerReferences name the objects this one depends on; the garbage collector deletes it after its owners (one may be the managing controller).",
	"minik8s.meta.v1.ObjectMeta.finalizers":                 "finalizers must all be removed before a deleted object goes away; each names the controller that cleans up.",
	"minik8s.meta.v1.ObjectMeta.selfLink":                   "Deprecated: selfLink is not set.",

	"minik8s.meta.v1.OwnerReference.apiVersion":         "apiVersion of the owner.",
	"minik8s.meta.v1.OwnerReference.kind":               "kind of the owner.",
	"minik8s.meta.v1.OwnerReference.name":               "name of the owner.",
	"minik8s.meta.v1.OwnerReference.uid":                "uid of the owner.",
	"minik8s.meta.v1.OwnerReference.controller":         "controller marks the owner that manages this object; at most one owner is the controller.",
	"minik8s.meta.v1.OwnerReference.blockOwnerDeletion": "blockOwnerDeletion keeps a foreground deletion of the owner waiting until this object is gone.",

	"minik8s.meta.v1.ListMeta.resourceVersion":    "resourceVersion the list was read at; a watch from it sees every later change.",
	"minik8s.meta.v1.ListMeta.continue":           "continue is set when the list has more items than its limit: pass it to fetch the next page.",
	"minik8s.meta.v1.ListMeta.remainingItemCount": "remainingItemCount estimates the items after this page.",

	"minik8s.meta.v1.LabelSelector.matchLabels":       "matchLabels selects objects with each of these labels, as a matchExpressions entry with operator In and one value would.",
	"minik8s.meta.v1.LabelSelector.matchExpressions":  "matchExpressions are requirements on labels; all must hold.",
	"minik8s.meta.v1.LabelSelectorRequirement.key":    "key is the label the requirement is on.",
	"minik8s.meta.v1.LabelSelectorRequirement.values": "values for In and NotIn (at least one); empty for Exists and DoesNotExist.",

	"minik8s.meta.v1.DeleteOptions.gracePeriodSeconds": "Seconds the object has before it is deleted; 0 deletes at once. Unset uses the kind's default.",
	"minik8s.meta.v1.DeleteOptions.preconditions":      "preconditions the object must meet to be deleted.",
	"minik8s.meta.v1.Preconditions.uid":                "uid the object must have.",
	"minik8s.meta.v1.Preconditions.resourceVersion":    "resourceVersion the object must have.",

	"minik8s.meta.v1.Status.metadata": "Standard list metadata.",
	"minik8s.meta.v1.Status.message":  "message is a human-readable description of the outcome.",
	"minik8s.meta.v1.Status.details":  "details name the object concerned and the causes, by field, of a failure.",
	"minik8s.meta.v1.Status.code":     "code is the HTTP status code of the outcome.",
}
