package network

import (
	"context"
	"testing"
)

// TestFakeAllocates: addresses come from the pod CIDR in order, Setup is
// idempotent per key, Teardown frees the key, and exhaustion is an error.
func TestFakeAllocates(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	if _, err := f.Setup(ctx, "a"); err == nil {
		t.Fatal("setup before Init succeeded")
	}
	if err := f.Init(ctx, "10.250.3.0/30"); err != nil {
		t.Fatal(err)
	}
	a, err := f.Setup(ctx, "a")
	if err != nil || a.IP.String() != "10.250.3.2" {
		t.Fatalf("a: %v %v", a.IP, err)
	}
	if again, _ := f.Setup(ctx, "a"); !again.IP.Equal(a.IP) {
		t.Errorf("second Setup of a: %v", again.IP)
	}
	b, err := f.Setup(ctx, "b")
	if err != nil || b.IP.String() != "10.250.3.3" {
		t.Fatalf("b: %v %v", b.IP, err)
	}
	if _, err := f.Setup(ctx, "c"); err == nil {
		t.Error("a /30 gave a third address")
	}
	if err := f.Teardown(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if nets, _ := f.List(ctx); len(nets) != 1 || nets[0].Key != "b" {
		t.Errorf("after teardown: %+v", nets)
	}
	if err := NewFake().Init(ctx, "nonsense"); err == nil {
		t.Error("Init accepted a bad CIDR")
	}
}
