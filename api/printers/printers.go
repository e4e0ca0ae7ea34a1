// Package printers is the one set of table printers for every kind: the
// columns kubectl shows (those of Kubernetes' server-side printers, wide
// ones at priority 1) and each object's cells under them. The apiserver
// serves them as a meta.k8s.io/v1 Table; minictl renders the same columns
// and cells as text. Everything here is a pure function of the objects and
// the time passed in.
package printers

import (
	"time"

	"minik8s/api/scheme"
)

// Column is one column of a kind's table, as meta.k8s.io/v1
// TableColumnDefinition: kubectl upper-cases Name for the header and shows
// columns of Priority above 0 only with -o wide.
type Column struct {
	Name string `json:"name"`
	// Type is an OpenAPI type: "string", "integer" or "date".
	Type string `json:"type"`
	// Format is "name" on the column holding the object's name.
	Format      string `json:"format"`
	Description string `json:"description"`
	Priority    int32  `json:"priority"`
}

// printer is one kind's columns, the function filling them, and
// optionally the conditions of a row.
type printer struct {
	columns    []Column
	cells      func(o scheme.Object, now time.Time) []any
	conditions func(o scheme.Object) []RowCondition
}

// Columns returns the columns of k's table, wide ones included. The slice
// is the caller's.
func Columns(k *scheme.Kind) []Column {
	return append([]Column(nil), printerFor(k).columns...)
}

// Cells returns obj's cells, one per column of Columns(k) and in that
// order: strings, or int64 where Kubernetes puts a number. Ages are
// measured at now.
func Cells(k *scheme.Kind, obj scheme.Object, now time.Time) []any {
	return printerFor(k).cells(obj, now)
}

// printerFor finds k's printer; kinds without one get Kubernetes' default
// table of name and creation time.
func printerFor(k *scheme.Kind) printer {
	if p, ok := kindPrinters[groupKind(k.Group, k.Kind)]; ok {
		return p
	}
	return defaultPrinter
}

func groupKind(group, kind string) string { return kind + "." + group }
