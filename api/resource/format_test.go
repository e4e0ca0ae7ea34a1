package resource

import "testing"

func TestFormatMilli(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {250, "250m"}, {1000, "1"}, {2500, "2500m"}, {1024000, "1Ki"},
		{128 << 20 * 1000, "128Mi"}, {3 << 30 * 1000, "3Gi"}, {1e12, "1000000000"}, {-2000, "-2"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if got := FormatMilli(c.in); got != c.want {
				t.Errorf("FormatMilli(%d) = %q, want %q", c.in, got, c.want)
			}
			if back, err := ParseQuantity(FormatMilli(c.in)); err != nil || back != c.in {
				t.Errorf("round trip of %d: %d %v", c.in, back, err)
			}
		})
	}
}
