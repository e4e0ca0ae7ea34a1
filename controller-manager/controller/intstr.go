package controller

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	metav1 "minik8s/api/meta/v1"
)

// ScaledValue resolves an int-or-percent against total: a number is
// itself, "25%" is 25% of total rounded up or down. A nil value is def.
func ScaledValue(v *metav1.IntOrString, total int, roundUp bool, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	if v.GetType() == 0 {
		return int(v.GetIntVal()), nil
	}
	s := v.GetStrVal()
	if !strings.HasSuffix(s, "%") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("invalid value %q: must be an integer or a percentage", s)
		}
		return n, nil
	}
	p, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil {
		return 0, fmt.Errorf("invalid percentage %q", s)
	}
	f := float64(p) * float64(total) / 100
	if roundUp {
		return int(math.Ceil(f)), nil
	}
	return int(math.Floor(f)), nil
}

// IntOrPercent builds an IntOrString from "3" or "25%".
func IntOrPercent(s string) *metav1.IntOrString {
	if n, err := strconv.Atoi(s); err == nil {
		return &metav1.IntOrString{IntVal: int32(n)}
	}
	return &metav1.IntOrString{Type: 1, StrVal: s}
}
