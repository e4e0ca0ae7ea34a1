package iptables

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	"minik8s/kube-proxy/conntrack"
	"minik8s/kube-proxy/ipt"
	"minik8s/kube-proxy/ipt/ipttest"
	"minik8s/kube-proxy/proxy"
)

func newTestProxier(f *ipttest.Fake, ct conntrack.Interface) *Proxier {
	return NewProxier(ProxierConfig{Render: testConfig, Hostname: hostname, SyncPeriod: time.Hour}, f, ct, nil, nil)
}

func feed(p *Proxier, objs ...any) {
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			p.State().UpdateService(nil, o)
		case *corev1.Endpoints:
			p.State().UpdateEndpoints(nil, o)
		}
	}
}

func mustSync(t *testing.T, p *Proxier) SyncResult {
	t.Helper()
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	return p.LastResult()
}

// traceFake traces a pod's packet through the fake's tables.
func traceFake(t *testing.T, f *ipttest.Fake, dst string, port int) map[string]float64 {
	t.Helper()
	outs, err := ipttest.Trace(f.Tables(), ipttest.Packet{Protocol: "tcp", Src: podA, Dst: netip.MustParseAddr(dst), DstPort: port,
		LocalAddrs: []netip.Addr{nodeIP}})
	if err != nil {
		t.Fatal(err)
	}
	return probabilities(outs)
}

// withEndpoints returns a copy of e with new addresses and resourceVersion.
func withEndpoints(e *corev1.Endpoints, rv string, ips ...string) *corev1.Endpoints {
	c := proto.Clone(e).(*corev1.Endpoints)
	c.Metadata.ResourceVersion = rv
	c.Subsets[0].Addresses = nil
	for _, ip := range ips {
		c.Subsets[0].Addresses = append(c.Subsets[0].Addresses, &corev1.EndpointAddress{Ip: ip})
	}
	return c
}

// TestProxierSyncs: the first sync is full; an endpoint change rewrites
// only its service's chains; a deleted service's chains go.
func TestProxierSyncs(t *testing.T) {
	f := ipttest.NewFake()
	p := newTestProxier(f, nil)
	objs := scenarios["several-services"]
	feed(p, objs...)
	res := mustSync(t, p)
	if !res.Full || res.NATRules == 0 {
		t.Fatalf("first sync: %+v", res)
	}
	if got := traceFake(t, f, "10.96.0.30", 5432); got["10.244.2.9:5432"] != 1 {
		t.Fatalf("db: %v", got)
	}
	before := len(f.Restores)

	// Nothing changed: nothing is restored.
	mustSync(t, p)
	if len(f.Restores) != before {
		t.Fatalf("an idle sync ran iptables-restore: %q", f.Restores[before:])
	}

	// One endpoint of web replaced.
	web := objs[1].(*corev1.Endpoints)
	feed(p, withEndpoints(web, "2", "10.244.1.2", "10.244.2.3", "10.244.9.9"))
	res = mustSync(t, p)
	if res.Full || res.Changed != 1 || res.FilterWritten != 0 || res.Deleted != 1 {
		t.Fatalf("endpoint change: %+v", res)
	}
	partial := f.Restores[len(f.Restores)-1]
	golden(t, "partial-endpoint-change", partial)
	if strings.Contains(partial, ":"+ChainServices+" ") || strings.Contains(partial, "default/db") {
		t.Fatalf("an endpoint change rewrote unrelated chains:\n%s", partial)
	}
	got := traceFake(t, f, "10.96.0.20", 80)
	if got["10.244.9.9:8080"] < 0.3 || got["10.244.3.4:8080"] != 0 {
		t.Fatalf("after endpoint change: %v", got)
	}

	// Endpoints gone: REJECT in filter, the service chains deleted.
	feed(p, withEndpoints(web, "3"))
	p.State().UpdateEndpoints(withEndpoints(web, "3"), nil)
	res = mustSync(t, p)
	if res.Deleted != 4 || res.FilterWritten != 1 {
		t.Fatalf("endpoints removed: %+v", res)
	}
	if got := traceFake(t, f, "10.96.0.20", 80); got["REJECT"] != 1 {
		t.Fatalf("without endpoints: %v", got)
	}

	// Service deleted: its REJECT goes too.
	p.State().UpdateService(objs[0].(*corev1.Service), nil)
	mustSync(t, p)
	if got := traceFake(t, f, "10.96.0.20", 80); got["ACCEPT"] != 1 {
		t.Fatalf("deleted service: %v", got)
	}
	for _, c := range f.Tables()["nat"].ChainNames() {
		if strings.Contains(c, ServiceChain(proxy.ServicePortName{Namespace: "default", Name: "web", Protocol: "TCP"})[len(PrefixService):]) {
			t.Errorf("chain %s of the deleted service is left", c)
		}
	}
}

// TestProxierRestartIsIdempotent: a second proxier (a restart) over the
// same tables leaves them exactly as they were - no duplicate jumps.
func TestProxierRestartIsIdempotent(t *testing.T) {
	f := ipttest.NewFake()
	p := newTestProxier(f, nil)
	feed(p, scenarios["nodeport"]...)
	mustSync(t, p)
	first := f.Dump()
	q := newTestProxier(f, nil)
	feed(q, scenarios["nodeport"]...)
	mustSync(t, q)
	if again := f.Dump(); again != first {
		t.Fatalf("restart changed the tables:\n%s", lineDiff(first, again))
	}
	if n := strings.Count(first, "kubernetes service portals"); n != 4 {
		t.Fatalf("%d service portal jumps, want 4 (filter FORWARD, OUTPUT; nat PREROUTING, OUTPUT)", n)
	}
}

// TestFullSyncRemovesStaleChains: chains of services that disappeared
// while kube-proxy was down are removed; others' chains stay.
func TestFullSyncRemovesStaleChains(t *testing.T) {
	f := ipttest.NewFake()
	f.AddForeign(ipt.TableNAT, "KUBE-SVC-STALESTALESTALE1")
	f.AddForeign(ipt.TableNAT, "KUBE-SEP-STALESTALESTALE2", []string{"-j", "DNAT", "--to-destination", "10.1.1.1:80"})
	f.AddForeign(ipt.TableNAT, "DOCKER", []string{"-j", "RETURN"})
	p := newTestProxier(f, nil)
	feed(p, scenarios["affinity"]...)
	res := mustSync(t, p)
	if res.Deleted != 2 {
		t.Fatalf("deleted %d stale chains, want 2", res.Deleted)
	}
	nat := f.Tables()["nat"]
	if _, ok := nat.Chains["DOCKER"]; !ok {
		t.Fatal("a foreign chain was removed")
	}
	if _, ok := nat.Chains["KUBE-SVC-STALESTALESTALE1"]; ok {
		t.Fatal("a stale chain survived")
	}
}

// TestRestoreFailureForcesFullSync: after a failed restore the proxier
// no longer trusts what it thinks is applied.
func TestRestoreFailureForcesFullSync(t *testing.T) {
	f := ipttest.NewFake()
	p := newTestProxier(f, nil)
	feed(p, scenarios["several-services"]...)
	mustSync(t, p)
	feed(p, withEndpoints(scenarios["several-services"][1].(*corev1.Endpoints), "5", "10.244.7.7"))
	f.FailRestore = errors.New("boom")
	if err := p.Sync(); err == nil {
		t.Fatal("sync with a failing restore succeeded")
	}
	f.FailRestore = nil
	res := mustSync(t, p)
	if !res.Full {
		t.Fatalf("sync after a failure was not full: %+v", res)
	}
	if got := traceFake(t, f, "10.96.0.20", 80); got["10.244.7.7:8080"] != 1 {
		t.Fatalf("the failed change was lost: %v", got)
	}
}

// TestCleanupLeavesOthersAlone: --cleanup removes every rule and chain of
// kube-proxy and nothing else.
func TestCleanupLeavesOthersAlone(t *testing.T) {
	f := ipttest.NewFake()
	f.AddForeign(ipt.TableFilter, "INPUT", []string{"-p", "tcp", "--dport", "22", "-j", "ACCEPT"})
	f.AddForeign(ipt.TableNAT, "MY-CHAIN", []string{"-j", "RETURN"})
	f.AddForeign(ipt.TableNAT, "POSTROUTING", []string{"-s", "10.0.0.0/8", "-j", "MY-CHAIN"})
	before := f.Dump()
	p := newTestProxier(f, nil)
	for _, objs := range scenarios {
		feed(p, objs...)
	}
	mustSync(t, p)
	if f.Dump() == before {
		t.Fatal("sync wrote nothing")
	}
	if err := Cleanup(f); err != nil {
		t.Fatal(err)
	}
	if after := f.Dump(); after != before {
		t.Fatalf("cleanup did not restore the tables:\n%s", lineDiff(before, after))
	}
}

// TestStaleUDPConntrack: removing a UDP endpoint clears its conntrack
// entries; a UDP service getting its first endpoint clears the entries
// made while it had none.
func TestStaleUDPConntrack(t *testing.T) {
	f := ipttest.NewFake()
	ct := &conntrack.Fake{}
	p := newTestProxier(f, ct)
	dns := svc("kube-system", "dns", "ClusterIP", "10.96.0.10", port("dns", 53, "UDP", 0))
	feed(p, dns)
	mustSync(t, p)
	ep := eps("kube-system", "dns", at("10.244.1.7", "10.244.2.7"), epPort("dns", 53, "UDP"))
	feed(p, ep)
	mustSync(t, p)
	want := []conntrack.Filter{{OrigDst: netip.MustParseAddr("10.96.0.10")}}
	if fmt.Sprint(ct.Cleared) != fmt.Sprint(want) {
		t.Fatalf("first endpoints: cleared %+v, want %+v", ct.Cleared, want)
	}
	ct.Cleared = nil
	feed(p, withEndpoints(ep, "2", "10.244.1.7"))
	mustSync(t, p)
	want = []conntrack.Filter{{OrigDst: netip.MustParseAddr("10.96.0.10"), ReplySrc: netip.MustParseAddr("10.244.2.7")}}
	if fmt.Sprint(ct.Cleared) != fmt.Sprint(want) {
		t.Fatalf("endpoint removed: cleared %+v, want %+v", ct.Cleared, want)
	}
}

// TestIncrementalRenderMatchesFull: after any sequence of changes the
// cached rendering equals a rendering from scratch.
func TestIncrementalRenderMatchesFull(t *testing.T) {
	s := proxy.NewState(hostname, nil)
	r := NewRenderer(testConfig)
	step := func(objs ...any) {
		for _, o := range objs {
			switch o := o.(type) {
			case *corev1.Service:
				s.UpdateService(nil, o)
			case *corev1.Endpoints:
				s.UpdateEndpoints(nil, o)
			}
		}
		ch := s.Apply()
		inc := r.Render(s.Services(), s.Endpoints(), ch.Ports)
		full := NewRenderer(testConfig).Render(s.Services(), s.Endpoints(), nil)
		for _, pair := range [][2]*Table{{inc.NAT, full.NAT}, {inc.Filter, full.Filter}} {
			a := string(Diff(pair[0], nil, nil, true, nil).Data)
			b := string(Diff(pair[1], nil, nil, true, nil).Data)
			if a != b {
				t.Fatalf("incremental differs from full:\n%s", lineDiff(b, a))
			}
		}
	}
	step(scenarios["several-services"]...)
	step(scenarios["nodeport"]...)
	step(withEndpoints(scenarios["nodeport"][1].(*corev1.Endpoints), "7"))
	np := proto.Clone(scenarios["nodeport"][0].(*corev1.Service)).(*corev1.Service)
	np.Metadata.ResourceVersion = "8"
	np.Spec.Type, np.Spec.Ports[0].NodePort, np.Spec.ExternalIPs = "ClusterIP", 0, nil
	step(np)
	step(scenarios["local-policy"]...)
	s.UpdateService(scenarios["local-policy"][0].(*corev1.Service), nil)
	step()
}
