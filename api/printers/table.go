package printers

import (
	"encoding/json"
	"time"

	"minik8s/api/scheme"
)

// Table is a meta.k8s.io/v1 Table: what the apiserver answers to
// "Accept: application/json;as=Table;v=v1;g=meta.k8s.io". Its JSON is
// Kubernetes' field for field, so kubectl prints it as it prints a real
// cluster's tables.
type Table struct {
	Kind              string   `json:"kind"`       // "Table"
	APIVersion        string   `json:"apiVersion"` // "meta.k8s.io/v1"
	Metadata          ListMeta `json:"metadata"`
	ColumnDefinitions []Column `json:"columnDefinitions"`
	Rows              []Row    `json:"rows"`
}

// ListMeta is the list metadata of a Table, set by the caller from the list
// (or object) it printed.
type ListMeta struct {
	ResourceVersion    string `json:"resourceVersion,omitempty"`
	Continue           string `json:"continue,omitempty"`
	RemainingItemCount *int64 `json:"remainingItemCount,omitempty"`
}

// Row is one object's row: a cell per column of the table, in order.
type Row struct {
	// Cells hold strings and int64s, as Kubernetes' do.
	Cells      []any          `json:"cells"`
	Conditions []RowCondition `json:"conditions,omitempty"`
	// Object is the object itself, its metadata only, or nothing, as the
	// request's includeObject asks; the caller fills it.
	Object json.RawMessage `json:"object,omitempty"`
}

// RowCondition says something about a row as a whole; Kubernetes marks
// finished pods with the condition Completed.
type RowCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// NewTable builds the Table of objs, which are all of kind k, with ages
// measured at now. Rows come in the order of objs and carry no object;
// the caller sets Row.Object and Metadata. Rows is empty, not nil, for no
// objects, so it marshals as [].
func NewTable(k *scheme.Kind, objs []scheme.Object, now time.Time) *Table {
	p := printerFor(k)
	t := &Table{
		Kind:              "Table",
		APIVersion:        "meta.k8s.io/v1",
		ColumnDefinitions: append([]Column(nil), p.columns...),
		Rows:              make([]Row, 0, len(objs)),
	}
	for _, o := range objs {
		r := Row{Cells: p.cells(o, now)}
		if p.conditions != nil {
			r.Conditions = p.conditions(o)
		}
		t.Rows = append(t.Rows, r)
	}
	return t
}
