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
// `.metadata.labels.app\.kubernetes\.io/name`, `.metadata.labels['k8s.io/x']`.
type Path struct {
	expr string
	segs []segment
}

type segKind int

const (
	segField segKind = iota
	segIndex
	segAll
)

type segment struct {
	kind  segKind
	field string
	index int
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
