package app_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"minik8s/scheduler/app"
	"minik8s/test/apiservertest"
	"minik8s/test/componenttest"
)

// TestRunWiring runs the scheduler against a real apiserver with leader
// election: it serves the component base's health paths and metrics,
// leads, and Run returns nil when its context ends.
func TestRunWiring(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	o := app.NewOptions()
	o.Server, o.Kubeconfig = s.Addr, s.Kubeconfig
	o.BindAddress, o.Port = "127.0.0.1", freePort(t) // 0 disables the server
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 2*time.Second, time.Second, 100*time.Millisecond
	if err := o.Complete(nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, o, app.Hooks{Ready: func(addr string) { ready <- addr }}) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	if code, body := componenttest.Get(t, addr, "/readyz?verbose"); code != 200 || !strings.Contains(body, "[+]leaderElection ok") || !strings.Contains(body, "[+]sched-handler-sync ok") {
		t.Errorf("/readyz = %d %q", code, body)
	}
	componenttest.Eventually(t, 10*time.Second, "leading", func() bool {
		_, body := componenttest.Get(t, addr, "/metrics")
		return strings.Contains(body, `leader_election_master_status{profile="default-scheduler"} 1`)
	})
	componenttest.Stop(t, cancel, done, addr)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
