// Package fields parses and evaluates Kubernetes field selectors:
// "metadata.name=web,spec.nodeName!=,status.phase=Running".
//
// A selector is a conjunction (comma = AND) of terms "path=value",
// "path==value" or "path!=value". The path is a dotted JSON field path; the
// caller supplies values for paths, so the package knows nothing about
// kinds (ObjectGetter adapts an API object). A missing field compares as the
// empty string, so "spec.nodeName=" selects unscheduled pods. A backslash
// escapes ',', '=', '!' and '\' inside values.
package fields

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Operator is the comparison of one term.
type Operator string

// The operators a field selector understands; "==" parses as Equals.
const (
	Equals    Operator = "="
	NotEquals Operator = "!="
)

// Requirement is one term: Field Op Value.
type Requirement struct {
	Field string
	Op    Operator
	Value string
}

// Matches reports whether the value found at Field satisfies the term; a
// missing field counts as "".
func (r Requirement) Matches(get func(path string) (string, bool)) bool {
	v, _ := get(r.Field)
	if r.Op == NotEquals {
		return v != r.Value
	}
	return v == r.Value
}

// String renders the term with its value escaped.
func (r Requirement) String() string { return r.Field + string(r.Op) + Escape(r.Value) }

// Selector decides whether an object, seen through a getter, is selected.
// Implementations are immutable and safe for concurrent use.
type Selector interface {
	// Matches reports whether every term holds for the values get returns.
	Matches(get func(path string) (string, bool)) bool
	// String renders the selector canonically (terms sorted by field);
	// Parse(s.String()) gives an equal selector.
	String() string
	// Empty reports whether the selector selects everything.
	Empty() bool
	// Requirements returns a copy of the terms, sorted by field.
	Requirements() []Requirement
	// RequiresExactMatch returns the value a field must equal when the
	// selector has an Equals term for it, so callers (watch caches, the
	// kubelet's spec.nodeName filter) can index instead of scanning.
	RequiresExactMatch(field string) (value string, found bool)
}

type terms []Requirement

func (ts terms) Matches(get func(string) (string, bool)) bool {
	for _, t := range ts {
		if !t.Matches(get) {
			return false
		}
	}
	return true
}

func (ts terms) String() string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.String()
	}
	return strings.Join(parts, ",")
}

func (ts terms) Empty() bool                 { return len(ts) == 0 }
func (ts terms) Requirements() []Requirement { return slices.Clone(ts) }

func (ts terms) RequiresExactMatch(field string) (string, bool) {
	for _, t := range ts {
		if t.Field == field && t.Op == Equals {
			return t.Value, true
		}
	}
	return "", false
}

// Everything returns the selector that selects every object; its String is "".
func Everything() Selector { return terms(nil) }

// NewSelector builds a selector from terms, sorted by field (stable).
func NewSelector(reqs ...Requirement) Selector {
	ts := slices.Clone(reqs)
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Field < ts[j].Field })
	return terms(ts)
}

// OneTermEqualSelector returns the selector "field=value".
func OneTermEqualSelector(field, value string) Selector {
	return terms{{Field: field, Op: Equals, Value: value}}
}

// And returns a selector that requires every term of every selector.
func And(sels ...Selector) Selector {
	var all []Requirement
	for _, s := range sels {
		all = append(all, s.Requirements()...)
	}
	return NewSelector(all...)
}

// Escape backslash-escapes the characters that are special in a value.
func Escape(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `=`, `\=`, `!`, `\!`)
	return r.Replace(v)
}

// Parse parses a field selector; "" gives Everything(). Errors name the bad term.
func Parse(s string) (Selector, error) {
	if strings.TrimSpace(s) == "" {
		return Everything(), nil
	}
	raw, err := splitTerms(s)
	if err != nil {
		return nil, fmt.Errorf("invalid field selector %q: %w", s, err)
	}
	reqs := make([]Requirement, 0, len(raw))
	for _, t := range raw {
		r, err := parseTerm(t)
		if err != nil {
			return nil, fmt.Errorf("invalid field selector %q: %w", s, err)
		}
		reqs = append(reqs, r)
	}
	return NewSelector(reqs...), nil
}

// MustParse is Parse for selectors known to be valid; it panics on error.
func MustParse(s string) Selector {
	sel, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return sel
}

// splitTerms splits on unescaped commas, keeping escapes for parseTerm.
func splitTerms(s string) ([]string, error) {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
			if i == len(s) {
				return nil, fmt.Errorf("trailing backslash")
			}
		case ',':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:]), nil
}

func parseTerm(t string) (Requirement, error) {
	for i := 0; i < len(t); i++ {
		var op Operator
		n := 0
		switch {
		case t[i] == '\\':
			i++
			continue
		case strings.HasPrefix(t[i:], "!="):
			op, n = NotEquals, 2
		case strings.HasPrefix(t[i:], "=="):
			op, n = Equals, 2
		case t[i] == '=':
			op, n = Equals, 1
		default:
			continue
		}
		field := strings.TrimSpace(t[:i])
		if field == "" {
			return Requirement{}, fmt.Errorf("term %q has no field path before %q", t, op)
		}
		if strings.ContainsAny(field, `\ !`) || strings.HasPrefix(field, ".") || strings.HasSuffix(field, ".") || strings.Contains(field, "..") {
			return Requirement{}, fmt.Errorf("term %q: %q is not a dotted field path", t, field)
		}
		val, err := unescape(strings.TrimSpace(t[i+n:]))
		if err != nil {
			return Requirement{}, fmt.Errorf("term %q: %w", t, err)
		}
		return Requirement{Field: field, Op: op, Value: val}, nil
	}
	return Requirement{}, fmt.Errorf("term %q needs an operator: '=', '==' or '!='", t)
}

func unescape(v string) (string, error) {
	if !strings.ContainsAny(v, `\=!`) {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\\':
			i++
			if i == len(v) {
				return "", fmt.Errorf("trailing backslash in value %q", v)
			}
			if !strings.ContainsRune(`\,=!`, rune(v[i])) {
				return "", fmt.Errorf("invalid escape %q in value %q", v[i-1:i+1], v)
			}
			b.WriteByte(v[i])
		case '=', '!':
			return "", fmt.Errorf("unescaped %q in value %q", c, v)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
