package restapi

import (
	"net/http"
	"strings"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/audit"
)

// patchTypes are the content types of PATCH, as Kubernetes names them.
var patchTypes = []string{
	"application/json-patch+json",
	"application/merge-patch+json",
	"application/strategic-merge-patch+json",
	"application/apply-patch+yaml",
}

// patch reads the current object, applies the patch to its JSON and
// updates with the resourceVersion it read; a concurrent writer makes it
// start over (unless the patch itself names a resourceVersion, which then
// must hold). Server-side apply of an object that does not exist creates it.
func (h *Handler) patch(w http.ResponseWriter, r *http.Request, rt route) {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	ct = strings.TrimSpace(ct)
	known := false
	for _, p := range patchTypes {
		known = known || p == ct
	}
	if !known || h.cfg.Patch == nil {
		writeError(w, apierrors.NewUnsupportedMediaType(patchTypes))
		return
	}
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	ctx := r.Context()
	t := rt.target
	apply := ct == "application/apply-patch+yaml"
	if apply && q.Get("fieldManager") == "" {
		writeError(w, apierrors.NewBadRequest("PATCH with application/apply-patch+yaml requires the fieldManager parameter"))
		return
	}
	po := PatchOptions{FieldManager: q.Get("fieldManager"), Force: boolParam(q, "force")}
	if po.FieldManager == "" {
		po.FieldManager = managerFromUserAgent(r.UserAgent())
	}
	bk, err := h.cfg.API.BodyKind(t)
	if err != nil {
		writeError(w, err)
		return
	}
	// The PatchFunc has recorded the write in managedFields (as Apply or
	// Update); the storage must not record it again.
	wo := writeOptions(r)
	wo.FieldManager = ""
	for attempt := 0; ; attempt++ {
		cur, err := h.cfg.API.Get(ctx, t)
		// Recorded as Kubernetes does: the patch is the request object.
		audit.From(ctx).LogRequestPatch(data)
		var curJSON []byte
		switch {
		case apierrors.IsNotFound(err) && apply && t.Subresource == "":
		case err != nil:
			writeError(w, err)
			return
		default:
			if curJSON, err = codec.MarshalJSON(cur); err != nil {
				writeError(w, apierrors.NewInternal(err))
				return
			}
		}
		next, err := h.cfg.Patch(bk, curJSON, ct, data, po)
		if err != nil {
			writeError(w, err)
			return
		}
		obj, err := decodeBody(w, r, bk, next)
		if err != nil {
			writeError(w, err)
			return
		}
		md := scheme.Meta(obj)
		if md.Name == "" {
			md.Name = t.Name
		}
		if md.Name != t.Name {
			writeError(w, apierrors.NewBadRequest("the name of the object ("+md.Name+") does not match the name on the URL ("+t.Name+")"))
			return
		}
		pinned := cur != nil && md.ResourceVersion != "" && md.ResourceVersion != cur.GetMetadata().GetResourceVersion()
		if cur == nil {
			out, err := h.cfg.API.Create(ctx, t, obj, wo)
			if apierrors.IsAlreadyExists(err) && attempt < 5 {
				continue
			}
			h.writeObject(w, r, http.StatusCreated, out, err)
			return
		}
		if !pinned {
			md.ResourceVersion = cur.GetMetadata().GetResourceVersion()
		}
		out, err := h.cfg.API.Update(ctx, t, obj, wo)
		if apierrors.IsConflict(err) && !pinned && attempt < 5 {
			continue
		}
		h.writeObject(w, r, http.StatusOK, out, err)
		return
	}
}

// managerFromUserAgent is Kubernetes' default field manager: the user
// agent up to its first "/" ("kubectl" for kubectl/v1.37.2 ...).
func managerFromUserAgent(ua string) string {
	name, _, _ := strings.Cut(ua, "/")
	if len(name) > 128 {
		name = name[:128]
	}
	return name
}
