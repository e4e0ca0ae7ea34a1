package client

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	apierrors "minik8s/api/errors"
)

func TestRetryTooMany(t *testing.T) {
	for _, tc := range []struct {
		name      string
		refusals  int
		after     int32
		wantCalls int
		wantErr   bool
	}{
		{"refused twice with Retry-After, then served", 2, 1, 3, false},
		{"429 without Retry-After is returned at once", 1, 0, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				calls++
				if calls <= tc.refusals {
					return apierrors.ToGRPC(apierrors.NewTooManyRequests("too many requests", tc.after))
				}
				return nil
			}
			t0 := time.Now()
			err := retryTooMany(context.Background(), "/m", nil, nil, nil, invoker)
			if calls != tc.wantCalls || (err != nil) != tc.wantErr {
				t.Fatalf("calls %d err %v, want %d calls, error %v", calls, err, tc.wantCalls, tc.wantErr)
			}
			if want := time.Duration(tc.refusals*int(tc.after)) * time.Second; tc.after > 0 && time.Since(t0) < want {
				t.Fatalf("retried after %v, want at least %v", time.Since(t0), want)
			}
		})
	}
}
