package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	_ "minik8s/api/all"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// TestTranslateWrite: a write transaction cut after it was sent to etcd -
// the connection lost, a leader change, the deadline - is an ambiguous
// write naming the object, not ServiceUnavailable; the caller's own
// cancellation and etcd's definite refusals keep their meaning.
func TestTranslateWrite(t *testing.T) {
	k, _ := scheme.ByResource("deployments")
	for _, tc := range []struct {
		name      string
		err       error
		ambiguous bool
		reason    string
	}{
		{"connection lost", rpctypes.ErrTimeoutDueToConnectionLost, true, apierrors.ReasonTimeout},
		{"leader changed", rpctypes.ErrLeaderChanged, true, apierrors.ReasonTimeout},
		{"etcd unreachable mid-call", status.Error(codes.Unavailable, "error reading from server: EOF"), true, apierrors.ReasonTimeout},
		{"deadline", fmt.Errorf("txn: %w", context.DeadlineExceeded), true, apierrors.ReasonTimeout},
		{"grpc deadline", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), true, apierrors.ReasonTimeout},
		{"cancelled by the caller", context.Canceled, false, ""},
		{"too large", rpctypes.ErrRequestTooLarge, false, apierrors.ReasonTooLarge},
		{"etcd out of space", rpctypes.ErrNoSpace, false, apierrors.ReasonInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := translateWrite(tc.err, "update", k, "web")
			if got := apierrors.IsUnknownOutcome(err); got != tc.ambiguous {
				t.Fatalf("%v: unknown outcome %v, want %v", err, got, tc.ambiguous)
			}
			if apierrors.ReasonOf(err) != tc.reason {
				t.Fatalf("%v: reason %q, want %q", err, apierrors.ReasonOf(err), tc.reason)
			}
			if tc.err == rpctypes.ErrNoSpace {
				var se *apierrors.StatusError
				if !errors.As(err, &se) || se.Status.Code != 500 || !strings.HasPrefix(se.Error(), "Internal error occurred: etcd is out of space (NOSPACE alarm") ||
					!strings.HasSuffix(se.Error(), "etcdserver: mvcc: database space exceeded") || strings.Contains(se.Error(), "\n") {
					t.Fatalf("status %v", err)
				}
			}
			if tc.ambiguous {
				var se *apierrors.StatusError
				if !errors.As(err, &se) || se.Status.Code != 504 || se.Status.Details.Name != "web" ||
					se.Error() != `Timeout: the outcome of the write is unknown: update deployments.apps "web" was sent but did not complete (etcd: `+tc.err.Error()+`); it may or may not have been applied - read the object to find out` {
					t.Fatalf("status %v", err)
				}
			}
		})
	}
}

// TestFailedWrite: a retry's definite refusal after an attempt that may
// have been applied is an ambiguous write (the earlier attempt may be
// stored); without such an attempt, or when the retry's own error is
// ambiguous or the caller's cancellation, the error keeps its meaning.
func TestFailedWrite(t *testing.T) {
	k, _ := scheme.ByResource("configmaps")
	for _, tc := range []struct {
		name      string
		err       error
		unsure    error
		ambiguous bool
		reason    string
	}{
		{"refused, nothing sent before", rpctypes.ErrNoSpace, nil, false, apierrors.ReasonInternal},
		{"refused after a timeout", rpctypes.ErrNoSpace, rpctypes.ErrTimeout, true, apierrors.ReasonTimeout},
		{"too large after a lost connection", rpctypes.ErrRequestTooLarge, rpctypes.ErrTimeoutDueToConnectionLost, true, apierrors.ReasonTimeout},
		{"timeout after a timeout", rpctypes.ErrTimeout, rpctypes.ErrTimeout, true, apierrors.ReasonTimeout},
		{"cancelled after a timeout", context.Canceled, rpctypes.ErrTimeout, false, ""},
		{"no leader anywhere", rpctypes.ErrNoLeader, nil, false, apierrors.ReasonUnavailable},
		{"no leader after a timeout", rpctypes.ErrNoLeader, rpctypes.ErrTimeout, true, apierrors.ReasonTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := failedWrite(tc.err, tc.unsure, "create", k, "c")
			if got := apierrors.IsUnknownOutcome(err); got != tc.ambiguous {
				t.Fatalf("%v: unknown outcome %v, want %v", err, got, tc.ambiguous)
			}
			if apierrors.ReasonOf(err) != tc.reason {
				t.Fatalf("%v: reason %q, want %q", err, apierrors.ReasonOf(err), tc.reason)
			}
			definite := tc.err == rpctypes.ErrNoSpace || tc.err == rpctypes.ErrRequestTooLarge
			if tc.ambiguous && definite && !strings.Contains(err.Error(), tc.unsure.Error()) {
				t.Fatalf("%v does not name the earlier attempt's %v", err, tc.unsure)
			}
		})
	}
}
