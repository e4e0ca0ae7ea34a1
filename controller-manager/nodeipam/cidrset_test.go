package nodeipam

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func TestCIDRSet(t *testing.T) {
	s, err := NewCIDRSet(netip.MustParsePrefix("10.244.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	if s.Size() != 256 {
		t.Fatalf("size %d", s.Size())
	}
	if err := s.Occupy(netip.MustParsePrefix("10.244.1.0/24")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 3 {
		p, err := s.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.String())
	}
	if got[0] != "10.244.0.0/24" || got[1] != "10.244.2.0/24" || got[2] != "10.244.3.0/24" {
		t.Fatalf("allocated %v: must skip the occupied 10.244.1.0/24", got)
	}
	s.Release(netip.MustParsePrefix("10.244.0.0/24"))
	if p, _ := s.Allocate(); p.String() != "10.244.4.0/24" {
		t.Fatalf("after a release the next subnet is %s; a released one is not reused at once", p)
	}
	for _, bad := range []string{"10.245.0.0/24", "10.244.0.0/25", "10.244.0.128/24"} {
		if err := s.Occupy(netip.MustParsePrefix(bad)); err == nil {
			t.Errorf("occupying %s succeeded", bad)
		}
	}
	small, _ := NewCIDRSet(netip.MustParsePrefix("10.0.0.0/30"), 31)
	small.Allocate()
	small.Allocate()
	if _, err := small.Allocate(); !errors.Is(err, ErrFull) {
		t.Fatalf("full set: %v", err)
	}
	if _, err := NewCIDRSet(netip.MustParsePrefix("10.0.0.0/16"), 8); err == nil {
		t.Fatal("mask shorter than the cluster prefix accepted")
	}
}

func TestSyncAssignsDistinctCIDRs(t *testing.T) {
	node := func(name, cidr string) *corev1.Node {
		n := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.NodeSpec{}}
		if cidr != "" {
			n.Spec.PodCIDR, n.Spec.PodCIDRs = cidr, []string{cidr}
		}
		return n
	}
	nodes := []*corev1.Node{node("a", "10.244.0.0/24"), node("b", ""), node("c", "")}
	api := fake.NewAPI(nodes...)
	inf := fake.Informer(t, nodes...)
	c, err := New(Config{Nodes: api, NodeInformer: inf, ClusterCIDR: "10.244.0.0/16", MaskSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range inf.Lister().List(nil) {
		c.occupyLocked(n)
	}
	for _, name := range []string{"b", "c", "a"} {
		if err := c.sync(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]string{}
	for _, n := range api.Objects() {
		cidr := n.Spec.GetPodCIDR()
		if cidr == "" || len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != cidr {
			t.Fatalf("node %s: podCIDR %q podCIDRs %v", n.Metadata.Name, cidr, n.Spec.PodCIDRs)
		}
		if other, dup := seen[cidr]; dup {
			t.Fatalf("nodes %s and %s share %s", other, n.Metadata.Name, cidr)
		}
		seen[cidr] = n.Metadata.Name
	}
	// Deleting a node releases its CIDR for later nodes.
	c.release(nodes[0])
	if c.set.Free() != 256-2 {
		t.Fatalf("free %d after releasing one of three", c.set.Free())
	}
}
