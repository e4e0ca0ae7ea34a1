package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"minik8s/scheduler/app"
	"minik8s/test/apiservertest"
)

// TestRunWiring runs the scheduler against a real apiserver with leader
// election: it serves the component base's health paths and metrics, and
// Run returns nil when its context ends.
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
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz?verbose"); code != 200 || !strings.Contains(body, "[+]leaderElection ok") || !strings.Contains(body, "[+]sched-handler-sync ok") {
		t.Errorf("/readyz = %d %q", code, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, body := get("/metrics"); strings.Contains(body, `leader_election_master_status{profile="default-scheduler"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never leading")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("health server still serves after Run returned")
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
