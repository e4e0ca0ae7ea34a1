package iptables

import (
	"fmt"
	"net/netip"
	"strconv"
	"testing"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kube-proxy/ipt"
)

// nopIPTables accepts everything and keeps nothing: the benchmarks
// measure the proxier's own work (render, diff), not iptables.
type nopIPTables struct{}

func (nopIPTables) EnsureChain(ipt.Table, string) error           { return nil }
func (nopIPTables) EnsureRule(ipt.Table, string, ...string) error { return nil }
func (nopIPTables) DeleteRule(ipt.Table, string, ...string) error { return nil }
func (nopIPTables) Restore(ipt.Table, []byte) error               { return nil }
func (nopIPTables) Save(ipt.Table) ([]byte, error)                { return nil, nil }

func benchObjects(n int) ([]*corev1.Service, []*corev1.Endpoints) {
	svcs := make([]*corev1.Service, n)
	eps := make([]*corev1.Endpoints, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%05d", i)
		ip := netip.AddrFrom4([4]byte{10, 96, byte(1 + i/250), byte(1 + i%250)})
		svcs[i] = &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "bench", Name: name, ResourceVersion: "1"},
			Spec: &corev1.ServiceSpec{Type: "ClusterIP", ClusterIP: ip.String(), Ports: []*corev1.ServicePort{{Name: "http", Port: 80, Protocol: "TCP"}}}}
		eps[i] = benchEndpoints(name, i, 0)
	}
	return svcs, eps
}

func benchEndpoints(name string, i, gen int) *corev1.Endpoints {
	return &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "bench", Name: name, ResourceVersion: strconv.Itoa(gen + 1)},
		Subsets: []*corev1.EndpointSubset{{
			Addresses: []*corev1.EndpointAddress{{Ip: netip.AddrFrom4([4]byte{10, 244, byte(i / 200), byte(1 + i%200)}).String()},
				{Ip: netip.AddrFrom4([4]byte{10, 245, byte(gen % 250), byte(1 + i%250)}).String()}},
			Ports: []*corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}},
		}}}
}

func benchProxier(b *testing.B, n int) (*Proxier, []*corev1.Endpoints) {
	p := NewProxier(ProxierConfig{Render: testConfig, SyncPeriod: 1 << 62}, nopIPTables{}, nil, nil, nil)
	svcs, eps := benchObjects(n)
	for i := range svcs {
		p.State().UpdateService(nil, svcs[i])
		p.State().UpdateEndpoints(nil, eps[i])
	}
	if err := p.Sync(); err != nil {
		b.Fatal(err)
	}
	return p, eps
}

// BenchmarkFullRender: rendering 10,000 services from scratch.
func BenchmarkFullRender(b *testing.B) {
	p, _ := benchProxier(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs := NewRenderer(testConfig).Render(p.state.Services(), p.state.Endpoints(), nil)
		_ = Diff(rs.NAT, nil, nil, true, nil)
	}
}

// BenchmarkPartialSync: one endpoint change among 10,000 services, the
// proxier's part of a partial sync.
func BenchmarkPartialSync(b *testing.B) {
	p, eps := benchProxier(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := (i * 7919) % len(eps)
		next := benchEndpoints(eps[k].Metadata.Name, k, i+1)
		p.State().UpdateEndpoints(eps[k], next)
		eps[k] = next
		if err := p.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}
