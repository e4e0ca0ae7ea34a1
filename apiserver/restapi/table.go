package restapi

import (
	"encoding/json"
	"net/http"
	"strconv"
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
//
// The rows are written straight into one buffer (cells, then the object's
// JSON from api/codec) rather than through encoding/json, whose
// reflection over every cell and re-validation of every embedded object
// dominated `kubectl get` of many objects. The document is the one
// json.Marshal of printers.Table gives, save HTML escaping (as in every
// other answer of this server).
//
// The document is appended to b (a pooled buffer, or empty).
func (h *Handler) tableJSON(b []byte, r *http.Request, k *scheme.Kind, objs []scheme.Object, rv, cont string) ([]byte, error) {
	t := printers.NewTable(k, objs, time.Now())
	t.Metadata = printers.ListMeta{ResourceVersion: rv, Continue: cont}
	q := r.URL.Query()
	if boolParam(q, "noHeaders") {
		t.ColumnDefinitions = nil
	}
	include := q.Get("includeObject")
	if cap(b) == 0 {
		b = make([]byte, 0, 512+len(objs)*(256+len(t.ColumnDefinitions)*16))
	}
	b = append(b, `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":`...)
	b, err := appendMarshal(b, t.Metadata)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"columnDefinitions":`...)
	if b, err = appendMarshal(b, t.ColumnDefinitions); err != nil {
		return nil, err
	}
	b = append(b, `,"rows":[`...)
	rowsStart := len(b)
	for i, row := range t.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		if i == 1 {
			b = growFor(b, rowsStart, 1, len(t.Rows))
		}
		b = append(b, `{"cells":[`...)
		for j, c := range row.Cells {
			if j > 0 {
				b = append(b, ',')
			}
			switch v := c.(type) {
			case string:
				b = codec.AppendString(b, v)
			case int64:
				b = strconv.AppendInt(b, v, 10)
			default:
				if b, err = appendMarshal(b, v); err != nil {
					return nil, err
				}
			}
		}
		b = append(b, ']')
		if len(row.Conditions) > 0 {
			b = append(b, `,"conditions":`...)
			if b, err = appendMarshal(b, row.Conditions); err != nil {
				return nil, err
			}
		}
		switch include {
		case "None":
		case "Object":
			b = append(b, `,"object":`...)
			if b, err = codec.AppendJSON(b, objs[i]); err != nil {
				return nil, err
			}
		default:
			// A meta.k8s.io/v1 PartialObjectMetadata of the object.
			b = append(b, `,"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":`...)
			if b, err = codec.AppendJSON(b, objs[i].GetMetadata()); err != nil {
				return nil, err
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

// appendMarshal appends v's encoding/json encoding, for the small parts
// of a Table.
func appendMarshal(b []byte, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}

func (h *Handler) writeTable(w http.ResponseWriter, r *http.Request, k *scheme.Kind, objs []scheme.Object, rv, cont string) {
	data, err := h.tableJSON(listBuffer(0), r, k, objs, rv, cont)
	if err != nil {
		writeError(w, apierrors.NewInternal(err))
		return
	}
	writePooledJSON(w, r, http.StatusOK, data)
}
