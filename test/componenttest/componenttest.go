// Package componenttest holds what the tests of daemons built on
// api/component share: reading their health and metrics paths, waiting
// for a condition, and stopping a Run.
package componenttest

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// Get returns the status code and body of GET http://addr+path, failing
// t when the request cannot be made.
func Get(t testing.TB, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Eventually polls cond every 50ms and fails t naming what when cond has
// not held within d.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
	}
}

// Stop cancels a daemon's context and checks that its Run (whose result
// done receives) returns nil within 15s and that nothing serves on addr
// any more (addr "" skips that check).
func Stop(t testing.TB, cancel context.CancelFunc, done <-chan error, addr string) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if addr == "" {
		return
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("health server still serves after Run returned")
	}
}
