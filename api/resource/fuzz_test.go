package resource

import "testing"

// FuzzParseQuantity: no string panics (or stalls, with a huge exponent)
// the quantity parser; an accepted quantity is printed by FormatMilli as
// a quantity that parses to the same value.
func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{
		"0", "1", "250m", "1.5", "128Mi", "1Gi", "1e3", "1E-3", "-1", "+2k", "1n", "1u", "9223372036854775807",
		"9223372036854775807m", "8Ei", "1e40", "1e41", "1e-99999999999", "1e+", "1.2.3", ".5", "5.", "", "m", "1Mix", "0x10", "1e+-3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseQuantity(s)
		if err != nil {
			return
		}
		p := FormatMilli(v)
		back, err := ParseQuantity(p)
		if err != nil || back != v {
			t.Fatalf("ParseQuantity(%q) = %d, printed %q, which parses to %d (%v)", s, v, p, back, err)
		}
	})
}
