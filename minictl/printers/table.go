// Package printers turns API objects into what minictl prints: the
// kubectl-style table of each kind laid out for a terminal (its columns and
// cells come from minik8s/api/printers, shared with the apiserver's
// Tables), custom columns, JSONPath-ish field lookups and templates,
// sorting, and describe. Everything here is a pure function of its inputs
// (the current time is passed in), so it is tested with golden files.
package printers

import (
	"io"
	"strings"
	"unicode/utf8"
)

// Table is a printable table: a header and rows of cells.
type Table struct {
	Columns []string
	Rows    [][]string
}

// Cell layout as kubectl's tab writer does it: every cell but the last in a
// row is padded to its column's width, which is the widest cell plus three
// spaces, and at least six.
const (
	cellPadding  = 3
	cellMinWidth = 6
)

// TableWriter prints tables with aligned columns. It remembers the column
// widths it has used, so rows printed later (under `get --watch`) stay
// aligned with the header printed first and columns only ever widen.
type TableWriter struct {
	out    io.Writer
	widths []int
}

// NewTableWriter returns a TableWriter printing to out.
func NewTableWriter(out io.Writer) *TableWriter { return &TableWriter{out: out} }

// Write prints the header (unless noHeaders) and rows of t.
func (w *TableWriter) Write(t *Table, noHeaders bool) error {
	rows := t.Rows
	if !noHeaders {
		rows = append([][]string{t.Columns}, rows...)
	}
	return w.WriteRows(rows)
}

// WriteRows prints rows, widening the remembered column widths as needed.
func (w *TableWriter) WriteRows(rows [][]string) error {
	for _, r := range rows {
		for i := 0; i < len(r)-1; i++ {
			width := utf8.RuneCountInString(r[i]) + cellPadding
			if width < cellMinWidth {
				width = cellMinWidth
			}
			for len(w.widths) <= i {
				w.widths = append(w.widths, 0)
			}
			if width > w.widths[i] {
				w.widths[i] = width
			}
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", w.widths[i]-utf8.RuneCountInString(c)))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w.out, b.String())
	return err
}

// Render returns t as text, as a fresh TableWriter would print it.
func Render(t *Table, noHeaders bool) string {
	var b strings.Builder
	_ = NewTableWriter(&b).Write(t, noHeaders)
	return b.String()
}
