package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"minik8s/controller-manager/app"
	"minik8s/test/apiservertest"
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
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/livez?verbose"); code != 200 || !strings.Contains(body, "[+]leaderElection ok") {
		t.Errorf("/livez = %d %q", code, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, body := get("/metrics"); strings.Contains(body, "\nleader_election_master_status 1") {
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
}
