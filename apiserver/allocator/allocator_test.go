package allocator

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	_ "minik8s/apiserver/registry/all" // the Service strategy's defaults
	"minik8s/test/etcdtest"
)

func etcdClient(t *testing.T) *clientv3.Client {
	t.Helper()
	c := etcdtest.Start(t, 1)
	cli, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestIPRangeAddressing(t *testing.T) {
	for _, tc := range []struct {
		cidr        string
		size        int
		first, last string
	}{
		{"10.96.0.0/16", 65534, "10.96.0.1", "10.96.255.254"},
		{"10.96.0.0/29", 6, "10.96.0.1", "10.96.0.6"},
		{"10.96.0.5/30", 2, "10.96.0.5", "10.96.0.6"},
		{"fd00::/120", 255, "fd00::1", "fd00::ff"},
		{"fd00::/64", maxIPRange, "fd00::1", "fd00::10:0"},
	} {
		t.Run(tc.cidr, func(t *testing.T) {
			r, err := NewIPRange(nil, tc.cidr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Size() != tc.size {
				t.Errorf("size %d, want %d", r.Size(), tc.size)
			}
			if got := r.Addr(0).String(); got != tc.first {
				t.Errorf("first %s, want %s", got, tc.first)
			}
			if got := r.Addr(r.Size() - 1).String(); got != tc.last {
				t.Errorf("last %s, want %s", got, tc.last)
			}
			for _, i := range []int{0, 1, 255, 256, r.Size() - 1} {
				if i >= r.Size() {
					continue
				}
				if j, ok := r.Index(r.Addr(i)); !ok || j != i {
					t.Errorf("Index(Addr(%d)) = %d, %v", i, j, ok)
				}
			}
			for _, out := range []string{r.CIDR().Addr().String(), "192.168.0.1", "::1"} {
				if _, ok := r.Index(netip.MustParseAddr(out)); ok {
					t.Errorf("%s is allocatable", out)
				}
			}
		})
	}
	if _, err := NewIPRange(nil, "10.0.0.1/32"); err == nil {
		t.Error("a /32 range was accepted")
	}
}

func TestParsePortRange(t *testing.T) {
	for in, want := range map[string][2]int{"30000-32767": {30000, 2768}, "80": {80, 1}, " 1 - 2 ": {1, 2}} {
		b, s, err := ParsePortRange(in)
		if err != nil || b != want[0] || s != want[1] {
			t.Errorf("ParsePortRange(%q) = %d, %d, %v", in, b, s, err)
		}
	}
	for _, bad := range []string{"", "a-b", "5-4", "0-10", "1-70000"} {
		if _, _, err := ParsePortRange(bad); err == nil {
			t.Errorf("ParsePortRange(%q) accepted", bad)
		}
	}
}

// TestRangeConcurrentAllocators: two allocators on one etcd (two
// apiservers) racing for a small range hand out every value exactly once
// and then report the range full.
func TestRangeConcurrentAllocators(t *testing.T) {
	cli := etcdClient(t)
	ctx := ctxT(t)
	a, _ := NewIPRange(cli, "10.96.0.0/26") // 62 addresses
	b, _ := NewIPRange(cli, "10.96.0.0/26")
	var mu sync.Mutex
	got := map[netip.Addr]int{}
	var full int
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		r := a
		if w%2 == 1 {
			r = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ip, err := r.AllocateNextIP(ctx, Owner{Kind: "Service", Name: fmt.Sprint(w)})
				mu.Lock()
				if errors.Is(err, ErrFull) {
					full++
					mu.Unlock()
					return
				}
				if err != nil {
					mu.Unlock()
					t.Error(err)
					return
				}
				got[ip]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != 62 {
		t.Fatalf("allocated %d distinct addresses, want 62", len(got))
	}
	for ip, n := range got {
		if n != 1 {
			t.Errorf("%s handed out %d times", ip, n)
		}
	}
	if full != 8 {
		t.Errorf("%d workers saw the range full, want 8", full)
	}
	// A released address is the only one free, so the next allocation gets it.
	ip := netip.MustParseAddr("10.96.0.33")
	if err := a.ReleaseIP(ctx, ip); err != nil {
		t.Fatal(err)
	}
	if again, err := b.AllocateNextIP(ctx, Owner{}); err != nil || again != ip {
		t.Fatalf("after release got %v, %v; want %s", again, err, ip)
	}
}

// TestDynamicAllocationAvoidsLowBand: automatic allocations leave the
// first addresses (kept for hand-picked ones like the DNS service's) alone
// until the rest of the range is used.
func TestDynamicAllocationAvoidsLowBand(t *testing.T) {
	cli := etcdClient(t)
	ctx := ctxT(t)
	r, _ := NewIPRange(cli, "10.96.0.0/24") // 254 addresses, band of 16
	if r.dynamicFrom != 16 {
		t.Fatalf("band %d, want 16", r.dynamicFrom)
	}
	for i := 0; i < 254-16; i++ {
		ip, err := r.AllocateNextIP(ctx, Owner{})
		if err != nil {
			t.Fatal(err)
		}
		if idx, _ := r.Index(ip); idx < 16 {
			t.Fatalf("allocation %d took %s from the static band", i, ip)
		}
	}
	ip, err := r.AllocateNextIP(ctx, Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if idx, _ := r.Index(ip); idx >= 16 {
		t.Fatalf("range full above the band, yet got %s", ip)
	}
	if err := r.AllocateIP(ctx, ip, Owner{}); !errors.Is(err, ErrAllocated) {
		t.Fatalf("allocating a taken address: %v", err)
	}
	if err := r.AllocateIP(ctx, netip.MustParseAddr("10.97.0.1"), Owner{}); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("allocating outside the range: %v", err)
	}
}

func svc(name, typ, clusterIP string, ports ...*corev1.ServicePort) *corev1.Service {
	if len(ports) == 0 {
		ports = []*corev1.ServicePort{{Port: 80}}
	}
	return &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:     &corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP, Ports: ports},
	}
}

// TestRepair: a key without a Service is freed on the second pass that
// sees it unused; a Service without a key gets its key back.
func TestRepair(t *testing.T) {
	cli := etcdClient(t)
	ctx := ctxT(t)
	s, err := NewServices(cli, "10.96.0.0/24", "30000-30099", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Leaked: allocated, the Service never written.
	leaked, err := s.IPs.AllocateNextIP(ctx, Owner{Name: "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	leakedPort, err := s.Ports.AllocateNextPort(ctx, Owner{Name: "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	// Unrecorded: a stored Service whose values have no keys.
	stored := svc("web", "NodePort", "10.96.0.10", &corev1.ServicePort{Port: 80, NodePort: 30010})
	var list []*corev1.Service
	rep := &Repairer{Services: s, List: func(context.Context) ([]*corev1.Service, error) { return list, nil }}
	list = []*corev1.Service{stored}

	res, err := rep.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Restored != 2 || res.Freed != 0 || res.Suspected != 2 {
		t.Fatalf("first pass %+v, want 2 restored, 2 suspected", res)
	}
	if err := s.IPs.AllocateIP(ctx, netip.MustParseAddr("10.96.0.10"), Owner{}); !errors.Is(err, ErrAllocated) {
		t.Fatalf("restored IP not recorded: %v", err)
	}
	res, err = rep.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Freed != 2 {
		t.Fatalf("second pass %+v, want 2 freed", res)
	}
	if err := s.IPs.AllocateIP(ctx, leaked, Owner{}); err != nil {
		t.Fatalf("leaked IP %s not freed: %v", leaked, err)
	}
	if err := s.Ports.AllocatePort(ctx, leakedPort, Owner{}); err != nil {
		t.Fatalf("leaked port %d not freed: %v", leakedPort, err)
	}
	// Those two are now unused again but changed since they were
	// suspected (re-allocated): a pass only suspects them anew.
	res, err = rep.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Freed != 0 || res.Suspected != 2 {
		t.Fatalf("third pass %+v, want 0 freed, 2 suspected", res)
	}
}

// TestServicesCreateRollsBack: a failed store write releases what was
// allocated for it.
func TestServicesCreateRollsBack(t *testing.T) {
	cli := etcdClient(t)
	ctx := ctxT(t)
	s, err := NewServices(cli, "10.96.0.0/28", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	in := svc("web", "NodePort", "10.96.0.3")
	if _, err := s.Create(ctx, "default", in, func(context.Context) (scheme.Object, error) { return nil, errors.New("boom") }); err == nil {
		t.Fatal("create succeeded")
	}
	if in.Spec.Ports[0].NodePort == 0 {
		t.Fatal("no node port was allocated")
	}
	used, _ := s.IPs.Used(ctx)
	ports, _ := s.Ports.Used(ctx)
	if len(used)+len(ports) != 0 {
		t.Fatalf("left allocated after a failed write: ips %v ports %v", used, ports)
	}
}
