// Package apiservertest runs a real apiserver in the test process against
// a real etcd (from etcdtest), on a free loopback port.
package apiservertest

import (
	"context"
	"testing"
	"time"

	"minik8s/api/client"
	"minik8s/apiserver/app"
	"minik8s/test/etcdtest"
)

// Server is a running apiserver.
type Server struct {
	Addr   string
	Etcd   *etcdtest.Cluster
	cancel context.CancelFunc
	done   chan error
}

// Options adjust the apiserver; zero values are the defaults.
type Options struct {
	WatchHistory int
	// Port to serve on; 0 picks a free one.
	Port int
	// HTTPPort serves /healthz, /readyz, /livez and /metrics; 0 disables them.
	HTTPPort int
	// Authentication are the token and service-account flags.
	Authentication app.AuthenticationOptions
}

// Start runs an apiserver over etcd and stops it with t.Cleanup.
func Start(t testing.TB, etcd *etcdtest.Cluster, opts Options) *Server {
	t.Helper()
	o := app.Options{
		EtcdServers:           etcd.Endpoints(),
		BindAddress:           "127.0.0.1",
		SecurePort:            opts.Port,
		HTTPPort:              opts.HTTPPort,
		ServiceClusterIPRange: "10.96.0.0/16",
		WatchHistory:          opts.WatchHistory,
		ComponentHealth:       app.DefaultComponentHealth,
		Authentication:        opts.Authentication,
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	s := &Server{Etcd: etcd, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- app.Run(ctx, o, ready) }()
	select {
	case s.Addr = <-ready:
	case err := <-s.done:
		cancel()
		t.Fatalf("apiserver did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("apiserver did not start within 30s")
	}
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the apiserver and waits for it.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}

// Client returns a client of this apiserver, closed at test end.
func (s *Server) Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New([]string{s.Addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// StartWithEtcd starts a single-member etcd and an apiserver on it.
func StartWithEtcd(t testing.TB) *Server {
	t.Helper()
	return Start(t, etcdtest.Start(t, 1), Options{})
}
