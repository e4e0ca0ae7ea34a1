package client

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"

	apierrors "minik8s/api/errors"
)

// maxTooManyRetries is how often a call the apiserver refused with 429 and
// a Retry-After is tried again (client-go's default).
const maxTooManyRetries = 10

// retryTooMany retries calls refused with 429 Too Many Requests that carry
// a Retry-After (an apiserver at its --max-requests-inflight), after the
// time it names: the request was refused before any work, so even a create
// is safe to repeat. A 429 without Retry-After (an eviction a disruption
// budget forbids) is the caller's to handle.
func retryTooMany(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	for attempt := 0; ; attempt++ {
		err := invoker(ctx, method, req, reply, cc, opts...)
		wait := retryAfter(err)
		if wait == 0 || attempt >= maxTooManyRetries {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
	}
}

// retryAfter is the wait a 429 asks for; 0 when err is no such refusal.
func retryAfter(err error) time.Duration {
	var se *apierrors.StatusError
	if err == nil || !errors.As(apierrors.FromGRPC(err), &se) || se.Status.GetCode() != 429 {
		return 0
	}
	return time.Duration(se.Status.GetDetails().GetRetryAfterSeconds()) * time.Second
}
