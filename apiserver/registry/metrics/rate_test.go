package metrics

import (
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration, cum, kubelet uint64) Sample {
		return Sample{Time: t0.Add(d), CoreNanos: cum, KubeletNanoCPU: kubelet}
	}
	var r Rater
	for _, step := range []struct {
		name       string
		s          Sample
		wantNano   uint64
		wantWindow time.Duration
	}{
		{"first sample: the kubelet's rate", at(0, 1e9, 7), 7, MinWindow},
		{"too close: still the kubelet's", at(500*time.Millisecond, 1.2e9, 8), 8, MinWindow},
		{"10s later: growth over the window", at(10*time.Second, 6e9, 9), 5e8, 10 * time.Second},
		{"counter reset: the kubelet's", at(20*time.Second, 1e6, 3), 3, MinWindow},
		{"after the reset: from the new counter", at(30*time.Second, 2.001e9, 4), 2e8, 10 * time.Second},
		{"a gap longer than MaxWindow: the kubelet's", at(30*time.Second+MaxWindow+time.Second, 9e9, 6), 6, MinWindow},
	} {
		n, w := r.Rate("k", step.s)
		if n != step.wantNano || w != step.wantWindow {
			t.Errorf("%s: got %d over %v, want %d over %v", step.name, n, w, step.wantNano, step.wantWindow)
		}
	}
	r.Forget(time.Now())
	if len(r.series) != 1 {
		t.Errorf("Forget dropped a series just sampled")
	}
	if n, _ := r.Rate("other", at(0, 0, 11)); n != 11 {
		t.Errorf("series are separate: got %d", n)
	}
	r.Forget(time.Now().Add(forgetAfter + time.Second))
	if len(r.series) != 0 {
		t.Errorf("Forget kept %d series", len(r.series))
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		nano, mem   uint64
		cpu, memory string
	}{
		{250e6, 64 << 20, "250000000n", "65536Ki"},
		{0, 1000, "0n", "1000"},
	} {
		u := usage(tc.nano, tc.mem)
		if u["cpu"] != tc.cpu || u["memory"] != tc.memory {
			t.Errorf("usage(%d, %d) = %v", tc.nano, tc.mem, u)
		}
	}
}
