package labels

import (
	"fmt"
	"strings"

	metav1 "minik8s/api/meta/v1"
)

type tokenKind int

const (
	tokEnd tokenKind = iota
	tokIdent
	tokEq    // = or ==
	tokNotEq // !=
	tokBang  // !
	tokOpen  // (
	tokClose // )
	tokComma // ,
)

type token struct {
	kind tokenKind
	text string
	pos  int // byte offset in the input, for error messages
}

// lex splits a selector into tokens. Identifiers are runs of anything but
// whitespace and the special characters =!(),
func lex(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '=':
			n := 1
			if i+1 < len(s) && s[i+1] == '=' {
				n = 2
			}
			out = append(out, token{tokEq, s[i : i+n], i})
			i += n
		case c == '!':
			if i+1 < len(s) && s[i+1] == '=' {
				out = append(out, token{tokNotEq, "!=", i})
				i += 2
			} else {
				out = append(out, token{tokBang, "!", i})
				i++
			}
		case c == '(':
			out = append(out, token{tokOpen, "(", i})
			i++
		case c == ')':
			out = append(out, token{tokClose, ")", i})
			i++
		case c == ',':
			out = append(out, token{tokComma, ",", i})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r=!(),", rune(s[j])) {
				j++
			}
			out = append(out, token{tokIdent, s[i:j], i})
			i = j
		}
	}
	return append(out, token{tokEnd, "", len(s)})
}

type parser struct {
	in   string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) errorf(t token, format string, args ...any) error {
	what := fmt.Sprintf("%q", t.text)
	if t.kind == tokEnd {
		what = "end of selector"
	}
	return fmt.Errorf("unable to parse label selector %q: at position %d (%s): %s", p.in, t.pos, what, fmt.Sprintf(format, args...))
}

// Parse parses a label selector. An empty (or all-blank) string gives
// Everything(). Errors name the offending token and its position.
func Parse(s string) (Selector, error) {
	p := &parser{in: s, toks: lex(s)}
	var reqs []Requirement
	if p.peek().kind == tokEnd {
		return Everything(), nil
	}
	for {
		r, err := p.requirement()
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
		switch t := p.next(); t.kind {
		case tokEnd:
			return NewSelector(reqs...), nil
		case tokComma:
		default:
			return nil, p.errorf(t, "expected ',' or end of selector after %q", r.String())
		}
	}
}

// MustParse is Parse for selectors known to be valid; it panics on error.
func MustParse(s string) Selector {
	sel, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return sel
}

func (p *parser) requirement() (Requirement, error) {
	t := p.next()
	if t.kind == tokBang {
		k := p.next()
		if k.kind != tokIdent {
			return Requirement{}, p.errorf(k, "expected a label key after '!'")
		}
		return p.build(k, DoesNotExist, nil)
	}
	if t.kind != tokIdent {
		return Requirement{}, p.errorf(t, "expected a label key")
	}
	op := p.peek()
	switch {
	case op.kind == tokEnd || op.kind == tokComma:
		return p.build(t, Exists, nil)
	case op.kind == tokEq || op.kind == tokNotEq:
		p.next()
		o := Equals
		if op.kind == tokNotEq {
			o = NotEquals
		}
		v := p.peek()
		if v.kind == tokIdent {
			p.next()
			return p.build(t, o, []string{v.text})
		}
		if v.kind == tokEnd || v.kind == tokComma {
			return p.build(t, o, []string{""}) // "a=" selects an empty value
		}
		return Requirement{}, p.errorf(v, "expected a value after %q", op.text)
	case op.kind == tokIdent && (op.text == "in" || op.text == "notin"):
		p.next()
		vals, err := p.values()
		if err != nil {
			return Requirement{}, err
		}
		return p.build(t, Operator(op.text), vals)
	default:
		return Requirement{}, p.errorf(op, "expected one of '=', '==', '!=', 'in', 'notin' after key %q", t.text)
	}
}

// values parses "(v1, v2, ...)"; an empty element stands for the empty
// value, and "()" is the set of the empty value alone, as Kubernetes reads
// it (so "k in (,)", printed "k in ()", parses back).
func (p *parser) values() ([]string, error) {
	if t := p.next(); t.kind != tokOpen {
		return nil, p.errorf(t, "expected '(' to open the set of values")
	}
	if t := p.peek(); t.kind == tokClose {
		p.next()
		return []string{""}, nil
	}
	var vals []string
	for {
		v := ""
		if t := p.peek(); t.kind == tokIdent {
			v = p.next().text
		}
		vals = append(vals, v)
		switch t := p.next(); t.kind {
		case tokClose:
			return vals, nil
		case tokComma:
		default:
			return nil, p.errorf(t, "expected ',' or ')' in the set of values")
		}
	}
}

func (p *parser) build(key token, op Operator, vals []string) (Requirement, error) {
	r, err := NewRequirement(key.text, op, vals)
	if err != nil {
		return Requirement{}, fmt.Errorf("unable to parse label selector %q: at position %d: %w", p.in, key.pos, err)
	}
	return r, nil
}

// FromLabelSelector converts an API LabelSelector (matchLabels AND
// matchExpressions) into a Selector. As in Kubernetes, a nil selector
// selects nothing and an empty one selects everything.
func FromLabelSelector(ls *metav1.LabelSelector) (Selector, error) {
	if ls == nil {
		return Nothing(), nil
	}
	var reqs []Requirement
	for k, v := range ls.GetMatchLabels() {
		r, err := NewRequirement(k, Equals, []string{v})
		if err != nil {
			return nil, fmt.Errorf("matchLabels: %w", err)
		}
		reqs = append(reqs, r)
	}
	for i, e := range ls.GetMatchExpressions() {
		var op Operator
		switch e.GetOperator() {
		case "In":
			op = In
		case "NotIn":
			op = NotIn
		case "Exists":
			op = Exists
		case "DoesNotExist":
			op = DoesNotExist
		default:
			return nil, fmt.Errorf("matchExpressions[%d]: operator %q is not one of In, NotIn, Exists, DoesNotExist", i, e.GetOperator())
		}
		r, err := NewRequirement(e.GetKey(), op, e.GetValues())
		if err != nil {
			return nil, fmt.Errorf("matchExpressions[%d]: %w", i, err)
		}
		reqs = append(reqs, r)
	}
	return NewSelector(reqs...), nil
}
