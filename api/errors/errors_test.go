package errors

import (
	"errors"
	"fmt"
	"testing"
)

// TestAmbiguousWrite: the ambiguous-write error is a Kubernetes Timeout
// (504) that says the outcome is unknown, survives the gRPC edge, and is
// told apart from a server's plain Timeout and from refusals.
func TestAmbiguousWrite(t *testing.T) {
	err := NewAmbiguousWrite("create", "deployments.apps", "web", errors.New("error reading from server: EOF"))
	want := `Timeout: the outcome of the write is unknown: create deployments.apps "web" was sent but did not complete (error reading from server: EOF); it may or may not have been applied - read the object to find out`
	if err.Error() != want || err.Status.Code != 504 || err.Status.Reason != ReasonTimeout || err.Status.Details.Name != "web" {
		t.Fatalf("got %v", err.Status)
	}
	back := FromGRPC(ToGRPC(err))
	for _, e := range []error{err, back, fmt.Errorf("apply: %w", back)} {
		if !IsAmbiguous(e) || !IsUnknownOutcome(e) {
			t.Fatalf("%v: ambiguous %v, unknown outcome %v", e, IsAmbiguous(e), IsUnknownOutcome(e))
		}
	}
	timeout := NewTimeout("request did not complete within requested timeout - context deadline exceeded")
	if !IsAmbiguous(timeout) || IsUnknownOutcome(timeout) {
		t.Fatal("a server's Timeout: ambiguous, but not made by NewAmbiguousWrite")
	}
	for _, e := range []error{NewUnavailable("etcd down"), NewConflict("pods", "p", "stale"), NewAlreadyExists("pods", "p"), errors.New("plain"), nil} {
		if IsAmbiguous(e) || IsUnknownOutcome(e) {
			t.Fatalf("%v is not ambiguous", e)
		}
	}
}
