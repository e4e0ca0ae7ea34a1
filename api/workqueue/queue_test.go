package workqueue

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// eventually polls cond for up to 2s of real time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDeduplicationAndRequeueOnDone(t *testing.T) {
	q := New[string]()
	defer q.ShutDown()
	q.Add("a")
	q.Add("a")
	q.Add("b")
	if q.Len() != 2 {
		t.Fatalf("Len = %d, want 2", q.Len())
	}
	item, _ := q.Get()
	if item != "a" {
		t.Fatalf("Get = %q, want a (FIFO)", item)
	}
	q.Add("a") // while processing: not queued yet
	q.Add("a")
	if q.Len() != 1 {
		t.Fatalf("Len while a is processing = %d, want 1", q.Len())
	}
	q.Done("a")
	if q.Len() != 2 {
		t.Fatalf("Len after Done = %d, want 2", q.Len())
	}
	b, _ := q.Get()
	a, _ := q.Get()
	if b != "b" || a != "a" {
		t.Fatalf("got %q %q, want b a", b, a)
	}
	q.Done("a")
	q.Done("b")
	if q.Len() != 0 {
		t.Fatalf("Len = %d, want 0", q.Len())
	}
}

func TestNeverProcessedConcurrently(t *testing.T) {
	q := New[int]()
	var (
		mu        sync.Mutex
		inFlight  = map[int]bool{}
		processed atomic.Int64
		wg        sync.WaitGroup
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				item, shutdown := q.Get()
				if shutdown {
					return
				}
				mu.Lock()
				if inFlight[item] {
					t.Errorf("item %d handed to two workers", item)
				}
				inFlight[item] = true
				mu.Unlock()
				time.Sleep(10 * time.Microsecond)
				mu.Lock()
				inFlight[item] = false
				mu.Unlock()
				processed.Add(1)
				q.Done(item)
			}
		}()
	}
	var adders sync.WaitGroup
	for a := 0; a < 4; a++ {
		adders.Add(1)
		go func() {
			defer adders.Done()
			for i := 0; i < 2000; i++ {
				q.Add(i % 10)
			}
		}()
	}
	adders.Wait()
	if err := q.ShutDownWithDrain(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if processed.Load() == 0 {
		t.Fatal("nothing processed")
	}
}

func TestAddAfterWithFakeClock(t *testing.T) {
	clk := NewFakeClock(t0)
	q := NewWithConfig(Config[string]{Clock: clk})
	defer q.ShutDown()

	q.AddAfter("later", time.Second)
	q.AddAfter("sooner", 100*time.Millisecond)
	q.AddAfter("later", 2*time.Second) // the earlier due time wins
	q.AddAfter("now", 0)
	if q.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (only the undelayed item)", q.Len())
	}
	eventually(t, "delay loop parked on the clock", func() bool { return clk.Waiters() > 0 })
	clk.Step(99 * time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if q.Len() != 1 {
		t.Fatalf("Len = %d before any delay passed", q.Len())
	}
	clk.Step(time.Millisecond)
	eventually(t, "sooner queued", func() bool { return q.Len() == 2 })
	clk.Step(900 * time.Millisecond)
	eventually(t, "later queued", func() bool { return q.Len() == 3 })
	var got []string
	for i := 0; i < 3; i++ {
		item, _ := q.Get()
		got = append(got, item)
		q.Done(item)
	}
	if fmt.Sprint(got) != "[now sooner later]" {
		t.Errorf("order = %v", got)
	}
}

func TestAddRateLimitedAndForget(t *testing.T) {
	clk := NewFakeClock(t0)
	q := NewWithConfig(Config[string]{Clock: clk, RateLimiter: NewItemExponentialRateLimiter[string](time.Second, time.Minute)})
	defer q.ShutDown()
	q.AddRateLimited("x") // waits 1s
	q.AddRateLimited("x") // waits 2s; the 1s one stays
	if n := q.NumRequeues("x"); n != 2 {
		t.Fatalf("NumRequeues = %d, want 2", n)
	}
	eventually(t, "delay loop parked", func() bool { return clk.Waiters() > 0 })
	clk.Step(time.Second)
	eventually(t, "x queued after 1s", func() bool { return q.Len() == 1 })
	q.Forget("x")
	if n := q.NumRequeues("x"); n != 0 {
		t.Fatalf("NumRequeues after Forget = %d", n)
	}
}

func TestShutDown(t *testing.T) {
	q := New[string]()
	q.Add("a")
	q.AddAfter("delayed", time.Hour)
	got := make(chan bool)
	go func() {
		// a is handed out even after ShutDown; then shutdown is reported.
		item, shutdown := q.Get()
		if item != "a" || shutdown {
			t.Errorf("Get = %q %v, want a false", item, shutdown)
		}
		q.Done(item)
		_, shutdown = q.Get()
		got <- shutdown
	}()
	time.Sleep(10 * time.Millisecond)
	q.ShutDown()
	q.ShutDown()
	if !<-got {
		t.Fatal("blocked Get did not report shutdown")
	}
	q.Add("b")
	if q.Len() != 0 || !q.ShuttingDown() {
		t.Fatal("Add after ShutDown was accepted")
	}
}

func TestShutDownWithDrain(t *testing.T) {
	q := New[string]()
	q.Add("a")
	item, _ := q.Get()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := q.ShutDownWithDrain(ctx); err == nil {
		t.Fatal("drain returned while an item was still processing")
	}
	done := make(chan error)
	go func() { done <- q.ShutDownWithDrain(context.Background()) }()
	time.Sleep(10 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("drain returned before Done")
	default:
	}
	q.Done(item)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
