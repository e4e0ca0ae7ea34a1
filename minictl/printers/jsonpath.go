package printers

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Path is a parsed field path into an object's JSON form, in the subset of
// kubectl's JSONPath that column and sort flags use: `.spec.nodeName`,
// `{.spec.containers[0].image}`, `spec.containers[*].name`,
// `.metadata.labels.app\.kubernetes\.io/name`, `.metadata.labels['k8s.io/x']`,
// and filters on lists: `.status.conditions[?(@.type=="Ready")].status`
// (==, !=, <, <=, >, >= against a quoted string, number or true/false; or
// `[?(@.field)]` for "has the field").
type Path struct {
	expr string
	segs []segment
}

type segKind int

const (
	segField segKind = iota
	segIndex
	segAll
	segFilter
)

type segment struct {
	kind  segKind
	field string
	index int
	// filter: elements where some value at sub compares with op to value
	// (op "" tests that sub exists).
	sub   *Path
	op    string
	value any
}

// ParsePath parses a field path; surrounding braces and the leading dot are optional.
func ParsePath(expr string) (*Path, error) {
	s := strings.TrimSpace(expr)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	p := &Path{expr: expr}
	bad := func(why string) (*Path, error) {
		return nil, fmt.Errorf("invalid field path %q: %s", expr, why)
	}
	if s == "" || s == "." || s == "@" {
		return p, nil // the whole object
	}
	s = strings.TrimPrefix(s, "@")
	if !strings.HasPrefix(s, ".") && !strings.HasPrefix(s, "[") {
		s = "." + s
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case '.':
			i++
			var b strings.Builder
			for i < len(s) && s[i] != '.' && s[i] != '[' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
				i++
			}
			f := b.String()
			switch f {
			case "":
				return bad("empty field name")
			case "*":
				p.segs = append(p.segs, segment{kind: segAll})
			default:
				p.segs = append(p.segs, segment{kind: segField, field: f})
			}
		case '[':
			if strings.HasPrefix(s[i:], "[?(") {
				end := strings.Index(s[i:], ")]")
				if end < 0 {
					return bad("unclosed [?(")
				}
				seg, err := parseFilter(s[i+3 : i+end])
				if err != nil {
					return bad(err.Error())
				}
				p.segs = append(p.segs, seg)
				i += end + 2
				continue
			}
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return bad("unclosed [")
			}
			inner := strings.TrimSpace(s[i+1 : i+end])
			i += end + 1
			switch {
			case inner == "*":
				p.segs = append(p.segs, segment{kind: segAll})
			case len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0]:
				p.segs = append(p.segs, segment{kind: segField, field: inner[1 : len(inner)-1]})
			default:
				n, err := strconv.Atoi(inner)
				if err != nil {
					return bad("unsupported subscript [" + inner + "]")
				}
				p.segs = append(p.segs, segment{kind: segIndex, index: n})
			}
		default:
			return bad(fmt.Sprintf("unexpected %q", s[i]))
		}
	}
	return p, nil
}

// filterOps are tried longest first so "<=" is not read as "<".
var filterOps = []string{"==", "!=", "<=", ">=", "<", ">"}

// parseFilter parses the inside of [?( ... )]: @.path OP literal, or @.path.
func parseFilter(expr string) (segment, error) {
	expr = strings.TrimSpace(expr)
	if !strings.HasPrefix(expr, "@") {
		return segment{}, fmt.Errorf("filter %q must start with @", expr)
	}
	lhs, op, rhs := expr, "", ""
	for _, o := range filterOps {
		if i := strings.Index(expr, o); i >= 0 {
			lhs, op, rhs = strings.TrimSpace(expr[:i]), o, strings.TrimSpace(expr[i+len(o):])
			break
		}
	}
	sub, err := ParsePath(lhs)
	if err != nil {
		return segment{}, err
	}
	seg := segment{kind: segFilter, sub: sub, op: op}
	if op == "" {
		return seg, nil
	}
	switch {
	case len(rhs) >= 2 && (rhs[0] == '"' || rhs[0] == '\'') && rhs[len(rhs)-1] == rhs[0]:
		seg.value = rhs[1 : len(rhs)-1]
	case rhs == "true" || rhs == "false":
		seg.value = rhs == "true"
	default:
		n, err := strconv.ParseFloat(rhs, 64)
		if err != nil {
			return segment{}, fmt.Errorf("filter value %q is not a quoted string, number or boolean", rhs)
		}
		seg.value = n
	}
	return seg, nil
}

// matches reports whether list element e passes the filter.
func (s segment) matches(e any) bool {
	for _, v := range s.sub.Find(e) {
		if s.op == "" {
			return true
		}
		if compare(v, s.op, s.value) {
			return true
		}
	}
	return false
}

func compare(v any, op string, want any) bool {
	var c int
	switch w := want.(type) {
	case string:
		got, ok := v.(string)
		if !ok {
			got = FormatValue(v)
		}
		c = strings.Compare(got, w)
	case float64:
		var got float64
		switch t := v.(type) {
		case float64:
			got = t
		case int64:
			got = float64(t)
		case int:
			got = float64(t)
		case json.Number:
			f, err := t.Float64()
			if err != nil {
				return false
			}
			got = f
		case string:
			f, err := strconv.ParseFloat(t, 64)
			if err != nil {
				return false
			}
			got = f
		default:
			return false
		}
		switch {
		case got < w:
			c = -1
		case got > w:
			c = 1
		}
	case bool:
		got, ok := v.(bool)
		if !ok || (op != "==" && op != "!=") {
			return false
		}
		return (got == w) == (op == "==")
	}
	switch op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

// String returns the expression the path was parsed from.
func (p *Path) String() string { return p.expr }

// Find returns the values at the path in v, a tree of map[string]any,
// []any and scalars as codec.ToMap returns. Missing fields give no values;
// [*] and .* give one value per element.
func (p *Path) Find(v any) []any {
	cur := []any{v}
	for _, s := range p.segs {
		var next []any
		for _, c := range cur {
			switch s.kind {
			case segField:
				if m, ok := c.(map[string]any); ok {
					if x, ok := m[s.field]; ok {
						next = append(next, x)
					}
				}
			case segIndex:
				if l, ok := c.([]any); ok {
					i := s.index
					if i < 0 {
						i += len(l)
					}
					if i >= 0 && i < len(l) {
						next = append(next, l[i])
					}
				}
			case segFilter:
				if l, ok := c.([]any); ok {
					for _, e := range l {
						if s.matches(e) {
							next = append(next, e)
						}
					}
				}
			case segAll:
				switch t := c.(type) {
				case []any:
					next = append(next, t...)
				case map[string]any:
					keys := make([]string, 0, len(t))
					for k := range t {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						next = append(next, t[k])
					}
				}
			}
		}
		cur = next
	}
	return cur
}

// FormatValue prints one found value as a custom column cell: scalars
// plainly, maps and lists in Go's %v form as kubectl does (map[app:web]).
func FormatValue(v any) string {
	switch t := v.(type) {
	case nil:
		return "<none>"
	case string:
		return t
	case json.Number:
		return t.String()
	}
	return fmt.Sprintf("%v", v)
}

// formatJSONValue prints one found value for -o jsonpath: scalars plainly,
// maps and lists as JSON.
func formatJSONValue(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}
