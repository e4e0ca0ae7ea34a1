package restapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	"minik8s/api/printers"
	"minik8s/api/scheme"
)

// wantsTable reports whether the client asked for a meta.k8s.io Table
// (kubectl get asks with Accept: application/json;as=Table;v=v1;g=meta.k8s.io).
func wantsTable(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if strings.Contains(part, "as=Table") && strings.Contains(part, "g=meta.k8s.io") {
			return true
		}
	}
	return false
}

// tableJSON renders objs as a Table (api/printers, the columns minictl
// prints too); each row carries the object as the request's includeObject
// asks: None, Object, or Metadata (the default, a PartialObjectMetadata,
// which kubectl needs for names, namespaces and labels).
func (h *Handler) tableJSON(r *http.Request, k *scheme.Kind, objs []scheme.Object, rv, cont string) ([]byte, error) {
	t := printers.NewTable(k, objs, time.Now())
	t.Metadata = printers.ListMeta{ResourceVersion: rv, Continue: cont}
	q := r.URL.Query()
	if boolParam(q, "noHeaders") {
		t.ColumnDefinitions = nil
	}
	include := q.Get("includeObject")
	for i, o := range objs {
		switch include {
		case "None":
		case "Object":
			data, err := codec.MarshalJSON(o)
			if err != nil {
				return nil, err
			}
			t.Rows[i].Object = data
		default:
			md, err := codec.MarshalJSON(o.GetMetadata())
			if err != nil {
				return nil, err
			}
			t.Rows[i].Object = partialMetadata(md)
		}
	}
	return json.Marshal(t)
}

// partialMetadata is a meta.k8s.io/v1 PartialObjectMetadata of an object.
func partialMetadata(metadata []byte) []byte {
	b := []byte(`{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":`)
	b = append(b, metadata...)
	return append(b, '}')
}

func (h *Handler) writeTable(w http.ResponseWriter, r *http.Request, k *scheme.Kind, objs []scheme.Object, rv, cont string) {
	data, err := h.tableJSON(r, k, objs, rv, cont)
	if err != nil {
		writeError(w, apierrors.NewInternal(err))
		return
	}
	writeJSON(w, http.StatusOK, data)
}
