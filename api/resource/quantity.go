// Package resource parses Kubernetes resource quantities ("250m", "128Mi",
// "1e3") into integer milli-units, the one form every component compares.
package resource

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
)

// ErrQuantityFormat is returned for a string that is not a quantity.
var ErrQuantityFormat = errors.New("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")

// ErrQuantityTooLarge is returned for a quantity whose milli-value does not fit an int64.
var ErrQuantityTooLarge = errors.New("quantity is too large")

// suffixes maps a quantity suffix to its multiplier as a fraction num/den.
var suffixes = map[string][2]*big.Int{
	"n":  {big.NewInt(1), big.NewInt(1e9)},
	"u":  {big.NewInt(1), big.NewInt(1e6)},
	"m":  {big.NewInt(1), big.NewInt(1e3)},
	"":   {big.NewInt(1), big.NewInt(1)},
	"k":  {big.NewInt(1e3), big.NewInt(1)},
	"M":  {big.NewInt(1e6), big.NewInt(1)},
	"G":  {big.NewInt(1e9), big.NewInt(1)},
	"T":  {big.NewInt(1e12), big.NewInt(1)},
	"P":  {big.NewInt(1e15), big.NewInt(1)},
	"E":  {big.NewInt(1e18), big.NewInt(1)},
	"Ki": {big.NewInt(1 << 10), big.NewInt(1)},
	"Mi": {big.NewInt(1 << 20), big.NewInt(1)},
	"Gi": {big.NewInt(1 << 30), big.NewInt(1)},
	"Ti": {big.NewInt(1 << 40), big.NewInt(1)},
	"Pi": {big.NewInt(1 << 50), big.NewInt(1)},
	"Ei": {big.NewInt(1 << 60), big.NewInt(1)},
}

// ParseQuantity parses a Kubernetes resource quantity ("100m", "1", "1.5",
// "128Mi", "1G", "1e3") and returns its value in thousandths, rounded up
// as Kubernetes' MilliValue does: "250m" is 250, "1" is 1000, "1Ki" is
// 1024000.
func ParseQuantity(s string) (int64, error) {
	num, suffix := splitQuantity(s)
	if num == "" {
		return 0, ErrQuantityFormat
	}
	value, ok := new(big.Rat).SetString(num)
	if !ok || strings.Count(num, ".") > 1 {
		return 0, ErrQuantityFormat
	}
	if mult, ok := suffixes[suffix]; ok {
		value.Mul(value, new(big.Rat).SetFrac(mult[0], mult[1]))
	} else {
		exp, err := decimalExponent(suffix)
		if err != nil {
			return 0, err
		}
		pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil)
		if exp >= 0 {
			value.Mul(value, new(big.Rat).SetInt(pow))
		} else {
			value.Quo(value, new(big.Rat).SetInt(pow))
		}
	}
	value.Mul(value, big.NewRat(1000, 1))
	milli := ceil(value)
	if !milli.IsInt64() {
		return 0, ErrQuantityTooLarge
	}
	return milli.Int64(), nil
}

// splitQuantity cuts "+1.5Gi" into "+1.5" and "Gi".
func splitQuantity(s string) (num, suffix string) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		if s[i] != '.' {
			digits++
		}
		i++
	}
	if digits == 0 {
		return "", ""
	}
	return s[:i], s[i:]
}

// decimalExponent parses an "e3" / "E-2" suffix.
func decimalExponent(suffix string) (int, error) {
	if len(suffix) < 2 || (suffix[0] != 'e' && suffix[0] != 'E') {
		return 0, ErrQuantityFormat
	}
	rest := suffix[1:]
	if rest[0] == '+' || rest[0] == '-' {
		if len(rest) == 1 {
			return 0, ErrQuantityFormat
		}
	}
	for _, c := range strings.TrimLeft(rest, "+-") {
		if c < '0' || c > '9' {
			return 0, ErrQuantityFormat
		}
	}
	exp, err := strconv.Atoi(rest)
	switch {
	case err != nil || exp > 40:
		return 0, ErrQuantityTooLarge
	case exp < -40:
		return -40, nil // rounds up to 1m or 0 all the same
	}
	return exp, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// ceil rounds a rational up to an integer.
func ceil(r *big.Rat) *big.Int {
	q, m := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1)) // DivMod floors toward -inf, so +1 is the ceiling
	}
	return q
}
