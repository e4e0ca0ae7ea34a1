package restapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
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

type tableRow struct {
	Cells  []any           `json:"cells"`
	Object json.RawMessage `json:"object,omitempty"`
}

type tableJSON struct {
	Kind       string     `json:"kind"`
	APIVersion string     `json:"apiVersion"`
	Metadata   listMeta   `json:"metadata"`
	Columns    any        `json:"columnDefinitions"`
	Rows       []tableRow `json:"rows"`
}

// tableJSON renders objs as a Table; each row carries the object as the
// request's includeObject asks: None, Metadata (the default: a
// PartialObjectMetadata, which kubectl needs for names, labels and
// sorting) or Object.
func (h *Handler) tableJSON(r *http.Request, k *scheme.Kind, objs []scheme.Object, rv, cont string) ([]byte, error) {
	t, err := h.cfg.Tables(k, objs, time.Now())
	if err != nil {
		return nil, err
	}
	include := r.URL.Query().Get("includeObject")
	out := tableJSON{Kind: "Table", APIVersion: "meta.k8s.io/v1", Metadata: listMeta{ResourceVersion: rv, Continue: cont},
		Columns: t.Columns, Rows: make([]tableRow, len(objs))}
	for i, o := range objs {
		row := tableRow{Cells: t.Cells[i]}
		switch include {
		case "None":
		case "Object":
			data, err := codec.MarshalJSON(o)
			if err != nil {
				return nil, err
			}
			row.Object = data
		default:
			md, err := codec.MarshalJSON(o.GetMetadata())
			if err != nil {
				return nil, err
			}
			row.Object = partialMetadata(k, md)
		}
		out.Rows[i] = row
	}
	return json.Marshal(out)
}

// partialMetadata is a meta.k8s.io/v1 PartialObjectMetadata of an object.
func partialMetadata(k *scheme.Kind, metadata []byte) []byte {
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
