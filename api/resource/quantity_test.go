package resource

import "testing"

func TestParseQuantity(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"100m", 100},
		{"1", 1000},
		{"1.5", 1500},
		{"0.1", 100},
		{".5", 500},
		{"+2", 2000},
		{"-1", -1000},
		{"1n", 1}, // rounded up to the next milli
		{"1u", 1},
		{"250000u", 250},
		{"1k", 1000000},
		{"1Ki", 1024000},
		{"128Mi", 128 << 20 * 1000},
		{"1G", 1e12},
		{"1Gi", 1 << 30 * 1000},
		{"1e3", 1000000},
		{"1E3", 1000000},
		{"1e-3", 1},
		{"1.5e+2", 150000},
	} {
		got, err := ParseQuantity(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseQuantity(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestParseQuantityErrors(t *testing.T) {
	for _, in := range []string{"", "m", "1x", "1.2.3", "1Mb", "1e", "1e+", "e3", "1 Gi", "--1", "1ee3", "1Kii",
		"2Ei", "1e50", // milli-value overflows int64
	} {
		if v, err := ParseQuantity(in); err == nil {
			t.Errorf("ParseQuantity(%q) = %d, want an error", in, v)
		}
	}
}
