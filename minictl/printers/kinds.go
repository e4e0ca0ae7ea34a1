package printers

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "minik8s/api/core/v1"
	apiprinters "minik8s/api/printers"
	"minik8s/api/scheme"
)

// The columns and cells of every kind come from minik8s/api/printers, the
// printers the apiserver serves as Tables; this file only lays them out
// the way kubectl does for a terminal.

// Options tune how TableFor lays out a table.
type Options struct {
	Wide          bool      // -o wide: include the wide (priority > 0) columns
	WithNamespace bool      // -A: a NAMESPACE column first
	WithKind      bool      // several types requested: NAME cells read kind/name
	ShowLabels    bool      // --show-labels: a LABELS column last
	LabelColumns  []string  // -L key: one column per label key
	Now           time.Time // the reference time for ages
}

// Columns returns the header of k's table under o.
func Columns(k *scheme.Kind, o Options) []string {
	return header(apiprinters.Columns(k), o)
}

func header(cols []apiprinters.Column, o Options) []string {
	var out []string
	if o.WithNamespace {
		out = append(out, "NAMESPACE")
	}
	for _, c := range cols {
		if c.Priority == 0 || o.Wide {
			out = append(out, strings.ToUpper(c.Name))
		}
	}
	for _, l := range o.LabelColumns {
		out = append(out, strings.ToUpper(labelColumnName(l)))
	}
	if o.ShowLabels {
		out = append(out, "LABELS")
	}
	return out
}

// Row returns the cells of one object of kind k under o.
func Row(k *scheme.Kind, obj scheme.Object, o Options) []string {
	return row(k, apiprinters.Columns(k), obj, o)
}

func row(k *scheme.Kind, cols []apiprinters.Column, obj scheme.Object, o Options) []string {
	cells := apiprinters.Cells(k, obj, o.Now)
	var out []string
	if o.WithNamespace {
		out = append(out, obj.GetMetadata().GetNamespace())
	}
	for i, c := range cols {
		if c.Priority != 0 && !o.Wide {
			continue
		}
		cell := ""
		if i < len(cells) {
			cell = FormatCell(cells[i])
		}
		if c.Format == "name" && o.WithKind {
			cell = ResourceName(k) + "/" + cell
		}
		out = append(out, cell)
	}
	labels := obj.GetMetadata().GetLabels()
	for _, l := range o.LabelColumns {
		out = append(out, labels[l])
	}
	if o.ShowLabels {
		out = append(out, FormatLabels(labels))
	}
	return out
}

// TableFor builds the table of objs, which are all of kind k.
func TableFor(k *scheme.Kind, objs []scheme.Object, o Options) *Table {
	cols := apiprinters.Columns(k)
	t := &Table{Columns: header(cols, o)}
	for _, obj := range objs {
		t.Rows = append(t.Rows, row(k, cols, obj, o))
	}
	return t
}

// FormatCell prints one cell of a Table row: strings as they are, numbers
// in decimal.
func FormatCell(c any) string {
	switch v := c.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case nil:
		return ""
	}
	return fmt.Sprint(c)
}

// labelColumnName is the header of a -L column: the key after its prefix.
func labelColumnName(key string) string {
	if i := strings.LastIndex(key, "/"); i >= 0 {
		return key[i+1:]
	}
	return key
}

// ResourceName is how kubectl names a kind in "pod/x" and "deployment.apps/x":
// the lower-case kind, qualified by its group outside the core group.
func ResourceName(k *scheme.Kind) string {
	return apiprinters.QualifiedKind(k.APIVersion(), k.Kind)
}

// FormatLabels prints a label map as sorted k=v pairs, or "<none>".
func FormatLabels(m map[string]string) string { return apiprinters.FormatLabels(m) }

// ---- events ----

// EventLastSeen is the time an event last happened, for sorting.
func EventLastSeen(e *corev1.Event) time.Time {
	for _, ts := range []interface {
		GetSeconds() int64
		GetNanos() int32
	}{e.GetSeries().GetLastObservedTime(), e.GetLastTimestamp(), e.GetEventTime(), e.GetFirstTimestamp(), e.GetMetadata().GetCreationTimestamp()} {
		if s, n := ts.GetSeconds(), ts.GetNanos(); !isZero(s, n) {
			return time.Unix(s, int64(n))
		}
	}
	return time.Time{}
}

func isZero(s int64, n int32) bool { return s == 0 && n == 0 }
