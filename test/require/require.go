// Package require decides what a test that cannot run here does. On a
// developer's laptop without root or containerd it skips; under `make
// test` (which installs everything and sets MINIK8S_NO_SKIP=1) a missing
// prerequisite is a failure, so CI cannot pass by silently skipping the
// tests that matter.
package require

import (
	"os"
	"testing"
)

// NoSkipEnv is the variable `make test` sets.
const NoSkipEnv = "MINIK8S_NO_SKIP"

// Skip skips t with reason, or fails it when NoSkipEnv is set.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(NoSkipEnv) != "" {
		t.Fatalf("cannot run: %s (%s is set, so every test must run)", reason, NoSkipEnv)
	}
	t.Skip(reason)
}
