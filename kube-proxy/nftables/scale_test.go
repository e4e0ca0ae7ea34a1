package nftables

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/kube-proxy/proxy"
)

// scaleState is n ClusterIP services with two endpoints each, as
// hack/bench-proxy builds them, and their Endpoints (to change later).
func scaleState(n int) (*proxy.State, []*corev1.Endpoints) {
	s := proxy.NewState(hostname, nil)
	all := make([]*corev1.Endpoints, n)
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		s.UpdateService(nil, svc("bench", name, "ClusterIP", fmt.Sprintf("10.96.%d.%d", i/250, i%250+1), port("", 80, "TCP", 0)))
		all[i] = eps("bench", name, at(fmt.Sprintf("10.244.%d.%d", i/250, i%250+1), fmt.Sprintf("10.245.%d.%d", i/250, i%250+1)), epPort("", 8080, "TCP"))
		s.UpdateEndpoints(nil, all[i])
	}
	s.Apply()
	return s, all
}

// countingWriter counts a transaction's operations, by kind.
type countingWriter struct{ ops map[string]int }

func (w *countingWriter) inc(k string)                 { w.ops[k]++ }
func (w *countingWriter) AddTable()                    { w.inc("add table") }
func (w *countingWriter) AddMap(MapDef)                { w.inc("add map") }
func (w *countingWriter) FlushMap(string)              { w.inc("flush map") }
func (w *countingWriter) AddSet(string, time.Duration) { w.inc("add set") }
func (w *countingWriter) AddChain(string, *BaseChain)  { w.inc("add chain") }
func (w *countingWriter) FlushChain(string)            { w.inc("flush chain") }
func (w *countingWriter) AddRule(string, string)       { w.inc("add rule") }
func (w *countingWriter) AddElement(string, Element)   { w.inc("add element") }
func (w *countingWriter) DeleteElement(string, Element) {
	w.inc("delete element")
}
func (w *countingWriter) DeleteChain(string) { w.inc("delete chain") }
func (w *countingWriter) DeleteSet(string)   { w.inc("delete set") }

// endpointChange renders and diffs one endpoint change (both endpoints
// replaced) of service i after a full sync of s, returning what the
// transaction holds.
func endpointChange(s *proxy.State, all []*corev1.Endpoints, i, rv int) map[string]int {
	r := NewRenderer(testConfig)
	applied := &Applied{}
	rs := r.Render(s.Services(), s.Endpoints(), nil)
	Diff(&countingWriter{map[string]int{}}, testConfig, rs, applied, true, nil)
	applied.Remember(rs, true)

	old := all[i]
	all[i] = withEndpoints(old, strconv.Itoa(rv), fmt.Sprintf("10.246.0.%d", rv), fmt.Sprintf("10.247.0.%d", rv))
	s.UpdateEndpoints(old, all[i])
	ch := s.Apply()
	rs = r.Render(s.Services(), s.Endpoints(), ch.Ports)
	w := &countingWriter{map[string]int{}}
	Diff(w, testConfig, rs, applied, false, nil)
	return w.ops
}

// TestEndpointChangeDoesNotGrow: an endpoint change writes the same
// transaction whatever the number of services - replacing both endpoints
// of a service is two elements of its endpoint map and two of the hairpin
// set, each deleted and added again; no chain, no rule (which would make
// the kernel check every chain again), nothing of any other service.
func TestEndpointChangeDoesNotGrow(t *testing.T) {
	var first map[string]int
	for _, n := range []int{100, 1000, 10000} {
		s, all := scaleState(n)
		got := endpointChange(s, all, n/2, 2)
		want := map[string]int{"add element": 4, "delete element": 4}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%d services: endpoint change wrote %v, want %v", n, got, want)
		}
		if first == nil {
			first = got
		} else if fmt.Sprint(got) != fmt.Sprint(first) {
			t.Errorf("%d services: %v, at 100 services %v", n, got, first)
		}
	}
}

// BenchmarkSync renders and diffs a full sync and an endpoint change at
// 1,000 and 10,000 services (the userspace half of a sync; the kernel's
// half is hack/bench-proxy's).
func BenchmarkSync(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		s, all := scaleState(n)
		b.Run(fmt.Sprintf("full/services=%d", n), func(b *testing.B) {
			for b.Loop() {
				rs := NewRenderer(testConfig).Render(s.Services(), s.Endpoints(), nil)
				Diff(TxWriter{newFake().NewTransaction()}, testConfig, rs, &Applied{}, true, nil)
			}
		})
		b.Run(fmt.Sprintf("change/services=%d", n), func(b *testing.B) {
			r := NewRenderer(testConfig)
			applied := &Applied{}
			rs := r.Render(s.Services(), s.Endpoints(), nil)
			applied.Remember(rs, true)
			rv, ops := 2, 0
			for b.Loop() {
				i := (rv * 7919) % n
				old := all[i]
				all[i] = withEndpoints(old, strconv.Itoa(rv), fmt.Sprintf("10.246.%d.%d", rv/250%250, rv%250+1), fmt.Sprintf("10.247.%d.%d", rv/250%250, rv%250+1))
				rv++
				s.UpdateEndpoints(old, all[i])
				ch := s.Apply()
				rs := r.Render(s.Services(), s.Endpoints(), ch.Ports)
				tx := newFake().NewTransaction()
				ops = Diff(TxWriter{tx}, testConfig, rs, applied, false, nil).Operations
				applied.Remember(rs, false)
			}
			b.ReportMetric(float64(ops), "ops/change")
		})
	}
}

// TestFullSyncFlushesOnlyKnownChains: a full sync flushes the fixed
// chains and the per-service chains the table may hold; when the table is
// known to be empty (listed, nothing applied) the per-service chains are
// only declared and written.
func TestFullSyncFlushesOnlyKnownChains(t *testing.T) {
	s, _ := scaleState(10)
	rs := NewRenderer(testConfig).Render(s.Services(), s.Endpoints(), nil)
	fixed := len(fixedChains(testConfig))
	synced := &Applied{}
	synced.Remember(rs, true)
	for _, tc := range []struct {
		name     string
		applied  *Applied
		existing *Existing
		want     int
	}{
		{"listed, empty", &Applied{}, &Existing{}, fixed},
		{"listed, one chain there", &Applied{}, &Existing{Chains: []string{ServiceChain(proxy.ServicePortName{Namespace: "bench", Name: "svc-3", Protocol: "TCP"})}}, fixed + 1},
		{"nothing known", &Applied{}, nil, fixed + 10},
		{"periodic resync", synced, nil, fixed + 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &countingWriter{map[string]int{}}
			Diff(w, testConfig, rs, tc.applied, true, tc.existing)
			if got := w.ops["flush chain"]; got != tc.want {
				t.Errorf("flushed %d chains, want %d", got, tc.want)
			}
			if got := w.ops["add rule"]; got != rs.Rules+FixedRules(testConfig) {
				t.Errorf("wrote %d rules, want %d", got, rs.Rules+FixedRules(testConfig))
			}
		})
	}
}

// flushWriter records the maps a transaction flushes.
type flushWriter struct {
	countingWriter
	flushed []string
}

func (w *flushWriter) FlushMap(name string) { w.flushed = append(w.flushed, name) }

// TestFullSyncEmptiesStaleEndpointMaps: a full sync of fewer services
// than the table held (a periodic resync after deletions, or a restart)
// empties the endpoint maps it no longer uses, listed or remembered, so
// no later sync adds an element whose key an old one still holds.
func TestFullSyncEmptiesStaleEndpointMaps(t *testing.T) {
	big, _ := scaleState(3 * EndpointListsPerMap)
	small, _ := scaleState(10)
	applied := &Applied{}
	applied.Remember(NewRenderer(testConfig).Render(big.Services(), big.Endpoints(), nil), true)
	rs := NewRenderer(testConfig).Render(small.Services(), small.Endpoints(), nil)
	want := []string{"endpoints-tcp-1", "endpoints-tcp-2"}
	for _, tc := range []struct {
		name     string
		applied  *Applied
		existing *Existing
	}{
		{"periodic resync", applied, nil},
		{"restart", &Applied{}, &Existing{Maps: []string{"endpoints-tcp-0", "endpoints-tcp-1", "endpoints-tcp-2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &flushWriter{countingWriter: countingWriter{map[string]int{}}}
			Diff(w, testConfig, rs, tc.applied, true, tc.existing)
			var got []string
			for _, m := range w.flushed {
				if IsEndpointMap(m) {
					got = append(got, m)
				}
			}
			// The stale maps, then the one in use (declared and flushed).
			if want := append(want, "endpoints-tcp-0"); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("flushed endpoint maps %v, want %v", got, want)
			}
		})
	}
}
