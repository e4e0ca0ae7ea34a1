package client

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "minik8s/api/errors"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Duration: 10 * time.Millisecond, Factor: 2, Cap: 50 * time.Millisecond}
	want := []time.Duration{10, 20, 40, 50, 50}
	for n, w := range want {
		if got := b.Delay(n); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	j := Backoff{Duration: 100 * time.Millisecond, Factor: 1, Jitter: 0.5}
	for i := 0; i < 100; i++ {
		if d := j.Delay(3); d < 100*time.Millisecond || d > 150*time.Millisecond {
			t.Fatalf("jittered delay %v outside [100ms,150ms]", d)
		}
	}
}

func TestRetryOnConflict(t *testing.T) {
	conflict := apierrors.NewConflict("pods", "x", "the object has been modified")
	other := errors.New("boom")
	fast := Backoff{Steps: 5, Duration: time.Microsecond, Factor: 2}
	tests := []struct {
		name      string
		results   []error
		wantCalls int
		wantErr   error
	}{
		{"succeeds at once", []error{nil}, 1, nil},
		{"succeeds after conflicts", []error{conflict, conflict, nil}, 3, nil},
		{"stops on other error", []error{conflict, other, nil}, 2, other},
		{"gives up after Steps", []error{conflict, conflict, conflict, conflict, conflict, nil}, 5, conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := RetryOnConflict(context.Background(), fast, func() error {
				calls++
				return tt.results[calls-1]
			})
			if calls != tt.wantCalls || !errors.Is(err, tt.wantErr) {
				t.Errorf("calls = %d, err = %v; want %d, %v", calls, err, tt.wantCalls, tt.wantErr)
			}
		})
	}
}

func TestRetryOnConflictHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := RetryOnConflict(ctx, Backoff{}, func() error {
		calls++
		cancel()
		return apierrors.NewConflict("pods", "x", "modified")
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("err = %v after %d calls, want context.Canceled after 1", err, calls)
	}
}
