package printers

import (
	"fmt"
	"strconv"
	"strings"
)

// Template is a parsed -o jsonpath=... template: literal text and {path}
// expressions, with {range PATH}...{end} loops and {"quoted"} literals.
type Template struct {
	nodes []tnode
}

type tnode struct {
	text  string // literal text when path and body are nil
	path  *Path
	body  []tnode // set for a range loop over path
	isLit bool
}

// ParseTemplate parses a jsonpath template such as
// `{range .items[*]}{.metadata.name}{"\n"}{end}`.
func ParseTemplate(src string) (*Template, error) {
	nodes, rest, err := parseNodes(src, false)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, fmt.Errorf("unexpected {end} in template %q", src)
	}
	return &Template{nodes: nodes}, nil
}

// parseNodes reads nodes until the end of s or, inside a range, an {end}.
func parseNodes(s string, inRange bool) ([]tnode, string, error) {
	var out []tnode
	for s != "" {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			out = append(out, tnode{text: s, isLit: true})
			return out, "", nil
		}
		if open > 0 {
			out = append(out, tnode{text: s[:open], isLit: true})
		}
		end := closingBrace(s, open)
		if end < 0 {
			return nil, "", fmt.Errorf("unclosed action in template: %q", s[open:])
		}
		expr := strings.TrimSpace(s[open+1 : end])
		s = s[end+1:]
		switch {
		case expr == "end":
			if !inRange {
				return out, "{end}", nil
			}
			return out, s, nil
		case strings.HasPrefix(expr, "range "):
			p, err := ParsePath(strings.TrimSpace(strings.TrimPrefix(expr, "range ")))
			if err != nil {
				return nil, "", err
			}
			body, rest, err := parseNodes(s, true)
			if err != nil {
				return nil, "", err
			}
			if body == nil {
				body = []tnode{}
			}
			out = append(out, tnode{path: p, body: body})
			s = rest
		case len(expr) >= 2 && (expr[0] == '"' || expr[0] == '\''):
			lit := expr
			if lit[0] == '\'' {
				lit = `"` + strings.ReplaceAll(lit[1:len(lit)-1], `"`, `\"`) + `"`
			}
			text, err := strconv.Unquote(lit)
			if err != nil {
				return nil, "", fmt.Errorf("invalid string literal %s in template", expr)
			}
			out = append(out, tnode{text: text, isLit: true})
		default:
			p, err := ParsePath(expr)
			if err != nil {
				return nil, "", err
			}
			out = append(out, tnode{path: p})
		}
	}
	if inRange {
		return nil, "", fmt.Errorf("missing {end} in template")
	}
	return out, "", nil
}

// closingBrace finds the } matching the { at open, skipping quoted text.
func closingBrace(s string, open int) int {
	var quote byte
	for i := open + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && c == '}':
			return i
		}
	}
	return -1
}

// Execute renders the template against obj (a codec.ToMap-style tree).
// A path that finds nothing is an error, as in kubectl.
func (t *Template) Execute(obj any) (string, error) {
	var b strings.Builder
	if err := execNodes(&b, t.nodes, obj); err != nil {
		return "", err
	}
	return b.String(), nil
}

func execNodes(b *strings.Builder, nodes []tnode, obj any) error {
	for _, n := range nodes {
		switch {
		case n.isLit:
			b.WriteString(n.text)
		case n.body != nil:
			for _, v := range n.path.Find(obj) {
				if err := execNodes(b, n.body, v); err != nil {
					return err
				}
			}
		default:
			vals := n.path.Find(obj)
			if len(vals) == 0 && len(n.path.segs) > 0 {
				return fmt.Errorf("error executing jsonpath %q: %s is not found", braced(n.path.String()), lastField(n.path))
			}
			for i, v := range vals {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(formatJSONValue(v))
			}
		}
	}
	return nil
}

func lastField(p *Path) string {
	for i := len(p.segs) - 1; i >= 0; i-- {
		if p.segs[i].kind == segField {
			return p.segs[i].field
		}
	}
	return p.String()
}
