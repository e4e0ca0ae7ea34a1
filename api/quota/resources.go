// Package quota measures what objects cost against a ResourceQuota: the
// one evaluator both the apiserver's ResourceQuota admission plugin (which
// charges a quota's status.used on every create) and the controller
// manager's resource-quota controller (which recomputes status.used from
// the objects in a namespace) use, so that the two never disagree about
// what a pod or a service costs.
//
// Resource lists are the API's own form, map[string]string from a
// resource name ("requests.cpu", "pods", "count/deployments.apps") to a
// quantity ("500m", "1Gi", "10"). Arithmetic parses the quantities into
// thousandths (api/resource) and writes results back in Kubernetes'
// canonical form.
package quota

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"minik8s/api/resource"
)

// value is a parsed quantity: its thousandths, and whether it was written
// with a binary suffix (Ki, Mi, ...), which the sum keeps, as Kubernetes'
// quantities keep the format of their first operand.
type value struct {
	milli  int64
	binary bool
}

func parse(q string) value {
	m, _ := resource.ParseQuantity(q) // validation refused malformed quantities on write
	return value{milli: m, binary: strings.Contains(q, "i")}
}

// String writes v canonically: "500m", "2", "1k", "128Mi".
func (v value) String() string {
	m := v.milli
	if m%1000 != 0 {
		return strconv.FormatInt(m, 10) + "m"
	}
	n := m / 1000
	if n == 0 {
		return "0"
	}
	if v.binary {
		for _, s := range []struct {
			suffix string
			shift  uint
		}{{"Ei", 60}, {"Pi", 50}, {"Ti", 40}, {"Gi", 30}, {"Mi", 20}, {"Ki", 10}} {
			if abs(n) >= 1<<s.shift && n%(1<<s.shift) == 0 {
				return strconv.FormatInt(n>>s.shift, 10) + s.suffix
			}
		}
		return strconv.FormatInt(n, 10)
	}
	for _, s := range []struct {
		suffix string
		mult   int64
	}{{"E", 1e18}, {"P", 1e15}, {"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
		if abs(n) >= s.mult && n%s.mult == 0 {
			return strconv.FormatInt(n/s.mult, 10) + s.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// Canonical rewrites a quantity the way Kubernetes prints it ("1000m" is
// "1", "1024Mi" is "1Gi").
func Canonical(q string) string { return parse(q).String() }

// Add returns a + b: every name of either, summed.
func Add(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	maps.Copy(out, a)
	for k, v := range b {
		if cur, ok := out[k]; ok {
			x := parse(cur)
			x.milli += parse(v).milli
			out[k] = x.String()
		} else {
			out[k] = v
		}
	}
	return out
}

// SubtractNonNegative returns a - b for the names of a, never below zero:
// the growth an update asks for.
func SubtractNonNegative(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a))
	for k, v := range a {
		x := parse(v)
		if o, ok := b[k]; ok {
			x.milli -= parse(o).milli
		}
		if x.milli < 0 {
			x.milli = 0
		}
		out[k] = x.String()
	}
	return out
}

// Max returns, for every name of either, the larger value.
func Max(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	maps.Copy(out, a)
	for k, v := range b {
		if cur, ok := out[k]; !ok || parse(v).milli > parse(cur).milli {
			out[k] = v
		}
	}
	return out
}

// Mask keeps only the given names of list.
func Mask(list map[string]string, names []string) map[string]string {
	out := make(map[string]string, len(names))
	for _, n := range names {
		if v, ok := list[n]; ok {
			out[n] = v
		}
	}
	return out
}

// RemoveZeros drops the names whose value is zero.
func RemoveZeros(list map[string]string) map[string]string {
	out := make(map[string]string, len(list))
	for k, v := range list {
		if parse(v).milli != 0 {
			out[k] = v
		}
	}
	return out
}

// Negative lists the names whose value is below zero, sorted.
func Negative(list map[string]string) []string {
	var out []string
	for k, v := range list {
		if parse(v).milli < 0 {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Equals reports whether a and b name the same resources with equal
// values ("1" equals "1000m").
func Equals(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		o, ok := b[k]
		if !ok || parse(v).milli != parse(o).milli {
			return false
		}
	}
	return true
}

// LessThanOrEqual reports whether every value of a is at most the value
// b has for the same name (names b lacks are not limited), and lists the
// names that exceed, sorted.
func LessThanOrEqual(a, b map[string]string) (bool, []string) {
	var exceeded []string
	for k, v := range a {
		if limit, ok := b[k]; ok && parse(v).milli > parse(limit).milli {
			exceeded = append(exceeded, k)
		}
	}
	slices.Sort(exceeded)
	return len(exceeded) == 0, exceeded
}

// Names lists the names of list, sorted.
func Names(list map[string]string) []string { return slices.Sorted(maps.Keys(list)) }

// Intersection lists the names in both a and b, in a's order.
func Intersection(a, b []string) []string {
	var out []string
	for _, n := range a {
		if slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	return out
}

// Format writes list as Kubernetes' quota errors do: "a=1,b=2Gi", sorted
// by name.
func Format(list map[string]string) string {
	parts := make([]string, 0, len(list))
	for _, k := range Names(list) {
		parts = append(parts, k+"="+Canonical(list[k]))
	}
	return strings.Join(parts, ",")
}
