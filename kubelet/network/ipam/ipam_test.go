package ipam

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestAllocateRelease(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, "10.244.3.0/24")
	if err != nil {
		t.Fatal(err)
	}
	if gw := Gateway(s.Subnet()); gw.String() != "10.244.3.1" {
		t.Fatalf("gateway %s", gw)
	}
	a, err := s.Allocate("pod-a")
	if err != nil || a.String() != "10.244.3.2" {
		t.Fatalf("first: %v %v", a, err)
	}
	again, _ := s.Allocate("pod-a")
	if !again.Equal(a) {
		t.Fatalf("allocate is not idempotent: %v vs %v", again, a)
	}
	b, _ := s.Allocate("pod-b")
	if b.String() != "10.244.3.3" {
		t.Fatalf("second: %v", b)
	}
	if err := s.Release("pod-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Release("pod-a"); err != nil {
		t.Fatalf("double release: %v", err)
	}
	// The next allocation moves on rather than reusing a just-freed address.
	c, _ := s.Allocate("pod-c")
	if c.String() != "10.244.3.4" {
		t.Fatalf("third: %v", c)
	}
	// A new store on the same directory (a restarted kubelet) sees the same.
	s2, _ := New(dir, "10.244.3.0/24")
	got, _ := s2.List()
	if len(got) != 2 || !got["pod-b"].Equal(b) || !got["pod-c"].Equal(c) {
		t.Fatalf("after restart: %v", got)
	}
	d, _ := s2.Allocate("pod-d")
	if d.String() != "10.244.3.5" {
		t.Fatalf("after restart next: %v", d)
	}
}

func TestExhaustionAndWrap(t *testing.T) {
	s, err := New(t.TempDir(), "192.0.2.0/29") // .2 - .6 assignable
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for i := 0; i < 5; i++ {
		ip, err := s.Allocate(fmt.Sprint("k", i))
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, ip.String())
	}
	if fmt.Sprint(ips) != "[192.0.2.2 192.0.2.3 192.0.2.4 192.0.2.5 192.0.2.6]" {
		t.Fatalf("ips %v", ips)
	}
	if _, err := s.Allocate("k5"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("want exhausted, got %v", err)
	}
	_ = s.Release("k1")
	ip, err := s.Allocate("k6")
	if err != nil || ip.String() != "192.0.2.3" {
		t.Fatalf("wrap: %v %v", ip, err)
	}
}

func TestConcurrentUnique(t *testing.T) {
	s, _ := New(t.TempDir(), "10.0.0.0/24")
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ip, err := s.Allocate(fmt.Sprint("pod", i))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[ip.String()] {
				t.Errorf("duplicate %s", ip)
			}
			seen[ip.String()] = true
		}(i)
	}
	wg.Wait()
}

func TestInvalid(t *testing.T) {
	for _, c := range []string{"x", "10.0.0.0/31", "fd00::/64"} {
		if _, err := New(t.TempDir(), c); err == nil {
			t.Errorf("New(%q) accepted", c)
		}
	}
	s, _ := New(t.TempDir(), "10.0.0.0/24")
	if _, err := s.Allocate("a/b"); err == nil {
		t.Error("key with / accepted")
	}
}
