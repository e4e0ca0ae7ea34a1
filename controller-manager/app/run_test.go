package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"minik8s/controller-manager/app"
	"minik8s/test/apiservertest"
	"minik8s/test/componenttest"
)

// TestRunWiring runs the controller-manager against a real apiserver with
// leader election: it serves the component base's health paths and
// metrics, leads, and Run returns nil when its context ends.
func TestRunWiring(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	o := app.DefaultOptions()
	o.Server, o.Kubeconfig = s.Addr, s.Kubeconfig
	o.Port = 0 // a free port
	o.Controllers = "replicaset,deployment"
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 2*time.Second, time.Second, 100*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan app.Ready, 1)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, o, ready) }()
	var addr string
	select {
	case r := <-ready:
		addr = r.HealthAddr
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	if code, body := componenttest.Get(t, addr, "/livez?verbose"); code != 200 || !strings.Contains(body, "[+]leaderElection ok") {
		t.Errorf("/livez = %d %q", code, body)
	}
	componenttest.Eventually(t, 10*time.Second, "leading", func() bool {
		_, body := componenttest.Get(t, addr, "/metrics")
		return strings.Contains(body, "\nleader_election_master_status 1")
	})
	componenttest.Stop(t, cancel, done, addr)
}
