package endpoints

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "minik8s/api/errors"
	"minik8s/apiserver/auth"
)

// Limits bound the requests that are not long-running (everything but
// watches and the streams of exec, attach, port-forward and proxy), as
// kube-apiserver's --request-timeout, --max-requests-inflight and
// --max-mutating-requests-inflight do. Zero values mean no limit.
type Limits struct {
	// RequestTimeout ends a request's storage work: a storage that does
	// not answer in time (etcd stopped or cut off) gives 504 Timeout
	// instead of a request that hangs as long as etcd does.
	RequestTimeout time.Duration
	// MaxReadOnly and MaxMutating are the requests served at once; one
	// more is refused with 429 and Retry-After, which clients back off on.
	MaxReadOnly int
	MaxMutating int
}

type limiter struct {
	timeout            time.Duration
	readOnly, mutating chan struct{}
}

// SetLimits applies l to every request from now on.
func (a *API) SetLimits(l Limits) {
	lim := &limiter{timeout: l.RequestTimeout}
	if l.MaxReadOnly > 0 {
		lim.readOnly = make(chan struct{}, l.MaxReadOnly)
	}
	if l.MaxMutating > 0 {
		lim.mutating = make(chan struct{}, l.MaxMutating)
	}
	a.limits = lim
}

// retryAfterSeconds is what a refused client is told to wait (Kubernetes'
// value).
const retryAfterSeconds = 1

// begin takes a seat for an authenticated request and bounds its context
// with the request timeout; done gives the seat back. system:masters is
// never refused a seat (as in Kubernetes: the administrator must be able
// to act on an overloaded server).
func (a *API) begin(ctx context.Context, user *auth.User, mutating bool) (context.Context, func(), error) {
	lim := a.limits
	if lim == nil {
		return ctx, func() {}, nil
	}
	release := func() {}
	seats := lim.readOnly
	if mutating {
		seats = lim.mutating
	}
	if seats != nil && !slices.Contains(user.Groups, auth.GroupMasters) {
		select {
		case seats <- struct{}{}:
			release = func() { <-seats }
		default:
			kind := "read-only"
			if mutating {
				kind = "mutating"
			}
			return ctx, nil, apierrors.NewTooManyRequests(fmt.Sprintf("too many requests, please try again later (%d %s requests in flight)", cap(seats), kind), retryAfterSeconds)
		}
	}
	if lim.timeout <= 0 {
		return ctx, release, nil
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < lim.timeout {
		return ctx, release, nil // the client asked for less
	}
	ctx, cancel := context.WithTimeout(ctx, lim.timeout)
	return ctx, func() { cancel(); release() }, nil
}
