package endpoints

import (
	"context"
	"errors"
	"testing"
	"time"

	_ "minik8s/api/all"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
)

// blockingConfigMaps is a storage whose Get waits for release or for the
// request's context to end, as a get from a stopped etcd does.
type blockingConfigMaps struct{ release chan struct{} }

func (blockingConfigMaps) Kind() *scheme.Kind { k, _ := scheme.ByResource("configmaps"); return k }

func (b blockingConfigMaps) Get(ctx context.Context, ns, name string) (scheme.Object, error) {
	select {
	case <-b.release:
		return b.Kind().New(), nil
	case <-ctx.Done():
		return nil, apierrors.NewTimeout("etcd request timed out: " + ctx.Err().Error())
	}
}

type userIs struct{ u *auth.User }

func (f userIs) Authenticate(context.Context) (*auth.User, bool, error) { return f.u, true, nil }

func TestRequestTimeoutAndInflightLimits(t *testing.T) {
	jane := &auth.User{Name: "jane", Groups: []string{auth.GroupAuthenticated}}
	admin := &auth.User{Name: "admin", Groups: []string{auth.GroupMasters, auth.GroupAuthenticated}}
	st := blockingConfigMaps{release: make(chan struct{})}
	newAPI := func(u *auth.User, l Limits) *API {
		a := New(userIs{u}, auth.AlwaysAllow{}, nil)
		a.Register("configmaps", st)
		a.SetLimits(l)
		return a
	}
	target := Target{Resource: "configmaps", Namespace: "default", Name: "x"}

	t.Run("a storage that does not answer times out", func(t *testing.T) {
		a := newAPI(jane, Limits{RequestTimeout: 50 * time.Millisecond})
		t0 := time.Now()
		_, err := a.Get(context.Background(), target)
		if apierrors.ReasonOf(err) != apierrors.ReasonTimeout || time.Since(t0) > 5*time.Second {
			t.Fatalf("get: %v after %v, want Timeout", err, time.Since(t0))
		}
	})

	t.Run("one seat: the second request is refused with 429, an admin is not", func(t *testing.T) {
		limits := Limits{MaxReadOnly: 1}
		a := newAPI(jane, limits)
		first := make(chan error, 1)
		go func() { _, err := a.Get(context.Background(), target); first <- err }()
		// Wait until the first holds the seat.
		deadline := time.Now().Add(5 * time.Second)
		for len(a.limits.readOnly) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the first request never took its seat")
			}
			time.Sleep(time.Millisecond)
		}
		_, err := a.Get(context.Background(), target)
		var se *apierrors.StatusError
		if !errors.As(err, &se) || se.Status.GetCode() != 429 || se.Status.GetDetails().GetRetryAfterSeconds() != 1 {
			t.Fatalf("second get: %v, want 429 with Retry-After 1", err)
		}
		// The administrator gets through a full server (same seats).
		adminAPI := newAPI(admin, limits)
		adminAPI.limits = a.limits
		done := make(chan error, 1)
		go func() { _, err := adminAPI.Get(context.Background(), target); done <- err }()
		close(st.release)
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("admin get: %v", err)
		}
		if len(a.limits.readOnly) != 0 {
			t.Fatalf("%d seats still taken", len(a.limits.readOnly))
		}
	})
}
