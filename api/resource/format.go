package resource

import "strconv"

// FormatMilli writes a value in thousandths (ParseQuantity's unit) as a
// quantity: "250m" below whole units, a binary suffix ("128Mi") for whole
// multiples of 1Ki, else the plain number ("2"). Kubernetes keeps the
// format a quantity was written in; a sum has no such format, and this
// is the shortest exact spelling of the common cases (cpu, memory).
func FormatMilli(v int64) string {
	if v%1000 != 0 {
		return strconv.FormatInt(v, 10) + "m"
	}
	n := v / 1000
	if n == 0 {
		return "0"
	}
	suffix := ""
	for _, s := range []string{"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"} {
		if n%1024 != 0 {
			break
		}
		n /= 1024
		suffix = s
	}
	return strconv.FormatInt(n, 10) + suffix
}
