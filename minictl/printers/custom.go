package printers

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// CustomColumn is one column of -o custom-columns=HEADER:PATH,...
type CustomColumn struct {
	Header string
	Path   *Path
}

// ParseCustomColumns parses "POD:metadata.name,NODE:.spec.nodeName".
func ParseCustomColumns(spec string) ([]CustomColumn, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("custom-columns format specified but no custom columns given")
	}
	var out []CustomColumn
	for _, part := range strings.Split(spec, ",") {
		header, expr, ok := strings.Cut(part, ":")
		if !ok || header == "" || expr == "" {
			return nil, fmt.Errorf("unexpected custom-columns spec: %s, expected <header>:<json-path-expr>", part)
		}
		p, err := ParsePath(expr)
		if err != nil {
			return nil, err
		}
		out = append(out, CustomColumn{Header: header, Path: p})
	}
	return out, nil
}

// CustomColumnsTable builds the table of objs (each as codec.ToMap gives
// it) under the given columns. Several values join with commas; a missing
// field prints <none>.
func CustomColumnsTable(columns []CustomColumn, objs []map[string]any) *Table {
	t := &Table{}
	for _, c := range columns {
		t.Columns = append(t.Columns, c.Header)
	}
	for _, o := range objs {
		row := make([]string, len(columns))
		for i, c := range columns {
			vals := c.Path.Find(o)
			if len(vals) == 0 {
				row[i] = "<none>"
				continue
			}
			cells := make([]string, len(vals))
			for j, v := range vals {
				cells[j] = FormatValue(v)
			}
			row[i] = strings.Join(cells, ",")
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// SortOrder returns the indexes of objs ordered by the value at p: numbers
// numerically, everything else as text, objects lacking the field first.
// It fails, as kubectl does, when no object has the field.
func SortOrder(objs []map[string]any, p *Path) ([]int, error) {
	type key struct {
		present bool
		num     float64
		isNum   bool
		text    string
	}
	keys := make([]key, len(objs))
	found := false
	for i, o := range objs {
		vals := p.Find(o)
		if len(vals) == 0 || vals[0] == nil {
			continue
		}
		found = true
		k := key{present: true}
		switch v := vals[0].(type) {
		case json.Number:
			if f, err := v.Float64(); err == nil {
				k.num, k.isNum = f, true
			}
			k.text = v.String()
		default:
			k.text = FormatValue(v)
		}
		keys[i] = k
	}
	idx := make([]int, len(objs))
	for i := range idx {
		idx[i] = i
	}
	if !found && len(objs) > 0 {
		return nil, fmt.Errorf("couldn't find any field with path %q in the list of objects", braced(p.String()))
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := keys[idx[a]], keys[idx[b]]
		if ka.present != kb.present {
			return !ka.present
		}
		if ka.isNum && kb.isNum {
			return ka.num < kb.num
		}
		return ka.text < kb.text
	})
	return idx, nil
}

// braced writes a path the way kubectl echoes it in messages: {.a.b}.
func braced(expr string) string {
	s := strings.TrimSpace(expr)
	if strings.HasPrefix(s, "{") {
		return s
	}
	if !strings.HasPrefix(s, ".") {
		s = "." + s
	}
	return "{" + s + "}"
}
