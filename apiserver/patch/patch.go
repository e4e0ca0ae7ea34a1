// Package patch applies the request bodies of the Kubernetes PATCH verb to
// stored objects and keeps metadata.managedFields: JSON patch (RFC 6902),
// JSON merge patch (RFC 7386), strategic merge patch and server-side apply.
//
// It is pure: objects come in and go out as Kubernetes JSON (api/codec), and
// reading or writing storage, admission and validation are the caller's job.
// Strategic merge patch and server-side apply need each kind's list merge
// keys and strategies; both take them from the k8s.io/api Go type of the same
// group, version and kind, which is the schema our messages copy. A kind that
// k8s.io/api lacks falls back to merge-patch semantics (every list replaced
// whole), as Kubernetes does for custom resources.
package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// The PATCH media types, as Kubernetes names them (Content-Type of the request).
const (
	JSONPatchType           = "application/json-patch+json"
	MergePatchType          = "application/merge-patch+json"
	StrategicMergePatchType = "application/strategic-merge-patch+json"
	ApplyPatchType          = "application/apply-patch+yaml"
)

// AcceptedTypes lists the PATCH media types in the order Kubernetes lists
// them in its 415 answer.
var AcceptedTypes = []string{JSONPatchType, MergePatchType, StrategicMergePatchType, ApplyPatchType}

// maxJSONPatchOperations is Kubernetes' limit on the operations of one JSON
// patch; more is answered 413.
const maxJSONPatchOperations = 10000

// Apply applies a JSON, merge or strategic merge patch to current (the
// stored object as Kubernetes JSON) and returns the patched object as
// Kubernetes JSON that codec.UnmarshalJSON accepts for k. patchType is the
// request's Content-Type (parameters such as "; charset=utf-8" are ignored).
//
// Errors are minik8s/api/errors values answered as Kubernetes answers them:
// a malformed patch is BadRequest; a JSON patch operation that cannot be
// applied (a failed "test", a missing path) is Invalid (422); a result that
// does not decode as k (unknown field, wrong type) is BadRequest naming the
// field; an unknown patchType is UnsupportedMediaType (415). Apply does not
// handle ApplyPatchType: server-side apply needs a field manager, see
// ServerSideApply.
func Apply(k *scheme.Kind, current []byte, patchType string, patch []byte) ([]byte, error) {
	var (
		out []byte
		err error
	)
	switch mediaType(patchType) {
	case JSONPatchType:
		out, err = jsonPatch(current, patch)
	case MergePatchType:
		out, err = mergePatch(current, patch)
	case StrategicMergePatchType:
		out, err = strategicMergePatch(k, current, patch)
	case ApplyPatchType:
		return nil, apierrors.NewBadRequest("server-side apply needs a field manager: use ServerSideApply")
	default:
		return nil, apierrors.NewUnsupportedMediaType(AcceptedTypes)
	}
	if err != nil {
		return nil, err
	}
	return normalize(k, out)
}

// mediaType strips parameters and case from a Content-Type value.
func mediaType(contentType string) string {
	if i := strings.IndexByte(contentType, ';'); i >= 0 {
		contentType = contentType[:i]
	}
	return strings.ToLower(strings.TrimSpace(contentType))
}

func jsonPatch(current, patch []byte) ([]byte, error) {
	ops, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if len(ops) > maxJSONPatchOperations {
		return nil, apierrors.NewTooLarge(fmt.Sprintf("The allowed maximum operations in a JSON patch is %d, got %d",
			maxJSONPatchOperations, len(ops)))
	}
	out, err := ops.Apply(current)
	if err != nil {
		// Kubernetes answers an operation that does not apply (including a
		// failed "test") with a bare 422 carrying the library's message.
		return nil, unprocessable(err.Error())
	}
	return out, nil
}

func mergePatch(current, patch []byte) ([]byte, error) {
	if err := checkJSONObject(patch); err != nil {
		return nil, err
	}
	out, err := jsonpatch.MergePatch(current, patch)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return out, nil
}

// checkJSONObject rejects a merge or strategic patch that is not a JSON
// object, with the decoder's own words.
func checkJSONObject(patch []byte) error {
	var m map[string]any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(patch, &m); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if m == nil {
		return apierrors.NewBadRequest("the patch is not a JSON object")
	}
	return nil
}

func strategicMergePatch(k *scheme.Kind, current, patch []byte) ([]byte, error) {
	schemaObj, ok := k8sObject(k)
	if !ok {
		// No Go type to read merge keys from: every list is atomic, which is
		// what a merge patch does.
		return mergePatch(current, patch)
	}
	var patchMap map[string]any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(patch, &patchMap); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if patchMap == nil {
		return nil, apierrors.NewBadRequest("the patch is not a JSON object")
	}
	var currentMap map[string]any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(current, &currentMap); err != nil {
		return nil, apierrors.NewInternal(fmt.Errorf("decode current object: %w", err))
	}
	out, err := strategicpatch.StrategicMergeMapPatch(currentMap, patchMap, schemaObj)
	if err != nil {
		return nil, smpError(err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	return b, nil
}

// smpError maps strategic merge patch failures as Kubernetes does: a patch
// of the wrong shape is BadRequest; a list of lists or $retainKeys that
// contradict the patch is 422. Anything else the library reports is also
// the patch's fault (Kubernetes answers 500 there), so it is BadRequest too.
func smpError(err error) error {
	for _, e := range []error{mergepatch.ErrNoListOfLists, mergepatch.ErrPatchContentNotMatchRetainKeys} {
		if err == e || strings.Contains(err.Error(), e.Error()) {
			return unprocessable(err.Error())
		}
	}
	return apierrors.NewBadRequest(err.Error())
}

// unprocessable is Kubernetes' generic 422 answer: reason Invalid with the
// message as it stands.
func unprocessable(msg string) error {
	se := apierrors.NewInvalid("", "", nil)
	se.Status.Message = msg
	return se
}

// k8sObject returns an empty k8s.io/api object of k's group, version and
// kind, or false when k8s.io/api has none.
func k8sObject(k *scheme.Kind) (runtime.Object, bool) {
	gvk := schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
	if !clientgoscheme.Scheme.Recognizes(gvk) {
		return nil, false
	}
	obj, err := clientgoscheme.Scheme.New(gvk)
	if err != nil {
		return nil, false
	}
	return obj, true
}

// normalize decodes a patched object as k, so that a patch cannot store
// what the codec rejects, and re-encodes it in the codec's canonical form.
func normalize(k *scheme.Kind, data []byte) ([]byte, error) {
	obj := k.New()
	if err := codec.UnmarshalJSON(data, obj); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the patched object is not a valid %s: %v", k.Kind, err))
	}
	if av, kind := obj.GetApiVersion(), obj.GetKind(); (av != "" && av != k.APIVersion()) || (kind != "" && kind != k.Kind) {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("a patch may not change apiVersion and kind: got %s %s, want %s %s",
			av, kind, k.APIVersion(), k.Kind))
	}
	scheme.SetTypeMeta(obj, k)
	out, err := codec.MarshalJSON(obj)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	return bytes.Clone(out), nil
}
