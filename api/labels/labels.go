// Package labels parses and evaluates Kubernetes label selectors:
// "app=web,tier!=db,env in (prod,staging),!canary,release".
//
// A selector is a conjunction of requirements; the comma means AND. The
// syntax is the one kubectl's -l flag and the API's labelSelector accept:
//
//	key=value  key==value  key!=value
//	key in (v1,v2)  key notin (v1,v2)
//	key  (exists)   !key (does not exist)
//
// Keys are qualified names ("app", "example.com/tier"); values are at most
// 63 characters of [A-Za-z0-9-_.], beginning and ending alphanumeric, or empty.
package labels

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Operator is the relation a Requirement checks.
type Operator string

// The operators a label selector understands. "==" parses as Equals.
const (
	Equals       Operator = "="
	NotEquals    Operator = "!="
	In           Operator = "in"
	NotIn        Operator = "notin"
	Exists       Operator = "exists"
	DoesNotExist Operator = "!"
)

// Set is a plain map of labels; it is also the input to Matches.
type Set map[string]string

// String renders the set as an equality selector, sorted by key: "a=1,b=2".
func (s Set) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + s[k]
	}
	return strings.Join(parts, ",")
}

// Requirement is one term of a selector: Key Op Values.
// Values holds exactly one value for Equals/NotEquals, at least one for
// In/NotIn and none for Exists/DoesNotExist; it is kept sorted.
type Requirement struct {
	Key    string
	Op     Operator
	Values []string
}

// NewRequirement validates key, operator and values and returns the
// requirement, with values sorted and de-duplicated.
func NewRequirement(key string, op Operator, values []string) (Requirement, error) {
	if err := ValidateKey(key); err != nil {
		return Requirement{}, err
	}
	switch op {
	case Equals, NotEquals:
		if len(values) != 1 {
			return Requirement{}, fmt.Errorf("label key %q: operator %q needs exactly one value", key, op)
		}
	case In, NotIn:
		if len(values) == 0 {
			return Requirement{}, fmt.Errorf("label key %q: operator %q needs a non-empty set of values", key, op)
		}
	case Exists, DoesNotExist:
		if len(values) != 0 {
			return Requirement{}, fmt.Errorf("label key %q: operator %q takes no values", key, op)
		}
	default:
		return Requirement{}, fmt.Errorf("label key %q: unknown operator %q", key, op)
	}
	vals := slices.Clone(values)
	for _, v := range vals {
		if err := ValidateValue(v); err != nil {
			return Requirement{}, fmt.Errorf("label key %q: %w", key, err)
		}
	}
	sort.Strings(vals)
	return Requirement{Key: key, Op: op, Values: slices.Compact(vals)}, nil
}

// Matches reports whether the labels satisfy the requirement. As in
// Kubernetes, Equals and In need the key to be present, while NotEquals and
// NotIn match an absent key.
func (r Requirement) Matches(ls map[string]string) bool {
	v, ok := ls[r.Key]
	switch r.Op {
	case Equals, In:
		return ok && slices.Contains(r.Values, v)
	case NotEquals, NotIn:
		return !ok || !slices.Contains(r.Values, v)
	case Exists:
		return ok
	case DoesNotExist:
		return !ok
	}
	return false
}

// String renders the requirement in selector syntax.
func (r Requirement) String() string {
	switch r.Op {
	case Equals, NotEquals:
		return r.Key + string(r.Op) + r.Values[0]
	case In, NotIn:
		return r.Key + " " + string(r.Op) + " (" + strings.Join(r.Values, ",") + ")"
	case Exists:
		return r.Key
	case DoesNotExist:
		return "!" + r.Key
	}
	return ""
}

// Selector decides whether a set of labels is selected.
// Implementations are immutable and safe for concurrent use.
type Selector interface {
	// Matches reports whether labels satisfy every requirement.
	Matches(labels map[string]string) bool
	// String renders the selector in canonical form (requirements sorted by
	// key); Parse(s.String()) gives an equal selector. Nothing() renders as
	// an unparsable marker.
	String() string
	// Empty reports whether the selector selects everything.
	Empty() bool
	// Requirements returns a copy of the terms, sorted by key.
	Requirements() []Requirement
}

type requirements []Requirement

func (rs requirements) Matches(ls map[string]string) bool {
	for _, r := range rs {
		if !r.Matches(ls) {
			return false
		}
	}
	return true
}

func (rs requirements) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func (rs requirements) Empty() bool { return len(rs) == 0 }

func (rs requirements) Requirements() []Requirement { return slices.Clone(rs) }

type nothing struct{}

func (nothing) Matches(map[string]string) bool { return false }
func (nothing) String() string                 { return "<none>" }
func (nothing) Empty() bool                    { return false }
func (nothing) Requirements() []Requirement    { return nil }

// Everything returns the selector that matches every label set; its String is "".
func Everything() Selector { return requirements(nil) }

// Nothing returns the selector that matches no label set.
func Nothing() Selector { return nothing{} }

// NewSelector builds a selector from requirements (sorted by key, stable).
func NewSelector(reqs ...Requirement) Selector {
	rs := slices.Clone(reqs)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Key < rs[j].Key })
	return requirements(rs)
}

// SelectorFromSet returns the selector "k1=v1,k2=v2" matching labels that
// contain every pair of set. It panics on invalid keys or values; use
// ValidatedSelectorFromSet for untrusted input.
func SelectorFromSet(set map[string]string) Selector {
	s, err := ValidatedSelectorFromSet(set)
	if err != nil {
		panic(err)
	}
	return s
}

// ValidatedSelectorFromSet is SelectorFromSet returning an error instead of panicking.
func ValidatedSelectorFromSet(set map[string]string) (Selector, error) {
	reqs := make([]Requirement, 0, len(set))
	for k, v := range set {
		r, err := NewRequirement(k, Equals, []string{v})
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
	}
	return NewSelector(reqs...), nil
}

var (
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	subdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// ValidateKey checks a label key: an optional DNS-subdomain prefix (at most
// 253 characters) and "/", then a name of at most 63 characters.
func ValidateKey(key string) error {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	switch {
	case key == "":
		return fmt.Errorf("label key must not be empty")
	case hasPrefix && (prefix == "" || len(prefix) > 253 || !subdomainRE.MatchString(prefix)):
		return fmt.Errorf("invalid label key %q: prefix must be a DNS subdomain", key)
	case name == "" || len(name) > 63 || !nameRE.MatchString(name):
		return fmt.Errorf("invalid label key %q: name part must be at most 63 characters of [A-Za-z0-9-_.], beginning and ending alphanumeric", key)
	}
	return nil
}

// ValidateValue checks a label value: empty, or at most 63 characters of
// [A-Za-z0-9-_.] beginning and ending alphanumeric.
func ValidateValue(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > 63 || !nameRE.MatchString(v) {
		return fmt.Errorf("invalid label value %q: must be at most 63 characters of [A-Za-z0-9-_.], beginning and ending alphanumeric", v)
	}
	return nil
}
