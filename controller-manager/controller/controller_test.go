package controller

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func TestExpectations(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := NewExpectations(func() time.Time { return now })
	if !e.Satisfied("a") {
		t.Fatal("nothing expected is satisfied")
	}
	e.ExpectCreations("a", 2)
	e.CreationObserved("a")
	if e.Satisfied("a") {
		t.Fatal("one of two creations seen")
	}
	e.CreationObserved("a")
	e.CreationObserved("a") // extra observations do not go negative into trouble
	if !e.Satisfied("a") {
		t.Fatal("both creations seen")
	}
	e.ExpectDeletions("a", []string{"ns/p1", "ns/p2"})
	e.DeletionObserved("a", "ns/p1")
	e.DeletionObserved("a", "ns/p1") // the same pod seen terminating, then deleted
	e.DeletionObserved("a", "ns/other")
	if c, d := e.Pending("a"); c != 0 || d != 1 || e.Satisfied("a") {
		t.Fatalf("pending %d/%d", c, d)
	}
	now = now.Add(ExpectationsTimeout + time.Second)
	if !e.Satisfied("a") {
		t.Fatal("expired expectations must not block forever")
	}
	e.Delete("a")
	if c, d := e.Pending("a"); c != 0 || d != 0 {
		t.Fatal("deleted expectations still pending")
	}
}

func TestScaledValue(t *testing.T) {
	for _, tt := range []struct {
		v       *metav1.IntOrString
		total   int
		up      bool
		want    int
		wantErr bool
	}{
		{IntOrPercent("3"), 10, true, 3, false},
		{IntOrPercent("25%"), 10, true, 3, false},
		{IntOrPercent("25%"), 10, false, 2, false},
		{IntOrPercent("100%"), 7, false, 7, false},
		{nil, 10, true, 4, false},
		{&metav1.IntOrString{Type: 1, StrVal: "x%"}, 10, true, 0, true},
	} {
		got, err := ScaledValue(tt.v, tt.total, tt.up, 4)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%v of %d (up %v): %d %v, want %d", tt.v, tt.total, tt.up, got, err, tt.want)
		}
	}
}

func TestComputeHash(t *testing.T) {
	a := &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "x"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "v1"}}}}
	b := proto.Clone(a).(*corev1.PodTemplateSpec)
	if ComputeHash(a, nil) != ComputeHash(b, nil) {
		t.Fatal("equal templates hash differently")
	}
	for range 20 { // map order must not matter
		if ComputeHash(a, nil) != ComputeHash(proto.Clone(a).(*corev1.PodTemplateSpec), nil) {
			t.Fatal("hash is not deterministic")
		}
	}
	b.Spec.Containers[0].Image = "v2"
	if ComputeHash(a, nil) == ComputeHash(b, nil) {
		t.Fatal("different templates hash the same")
	}
	one := int32(1)
	if ComputeHash(a, nil) == ComputeHash(a, &one) {
		t.Fatal("the collision count must change the hash")
	}
	for _, r := range ComputeHash(a, nil) {
		if !containsRune(alphanums, r) {
			t.Fatalf("hash uses %q outside the safe alphabet", r)
		}
	}
}

func containsRune(s string, r rune) bool {
	for _, x := range s {
		if x == r {
			return true
		}
	}
	return false
}

func TestSlowStartBatch(t *testing.T) {
	var calls atomic.Int32
	n, err := SlowStartBatch(10, 1, func(int) error { calls.Add(1); return nil })
	if n != 10 || err != nil || calls.Load() != 10 {
		t.Fatalf("all succeed: %d %v calls %d", n, err, calls.Load())
	}
	calls.Store(0)
	boom := errors.New("boom")
	n, err = SlowStartBatch(100, 1, func(int) error { calls.Add(1); return boom })
	if n != 0 || !errors.Is(err, boom) || calls.Load() != 1 {
		t.Fatalf("first fails: %d %v calls %d (want one call only)", n, err, calls.Load())
	}
	calls.Store(0)
	// Batches 1, 2, 4: the 5th call fails, the batch of 4 completes, then stop.
	n, err = SlowStartBatch(100, 1, func(i int) error {
		calls.Add(1)
		if i == 4 {
			return boom
		}
		return nil
	})
	if n != 6 || err == nil || calls.Load() != 7 {
		t.Fatalf("fail in batch 3: %d successes %d calls", n, calls.Load())
	}
}
