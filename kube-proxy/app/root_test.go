package app_test

// Root integration tests: a real apiserver (on a real etcd), kube-proxy
// running in-process with its sync loop on a thread inside a node network
// namespace this test creates, pods as namespaces running small HTTP and
// UDP servers. Only namespaces made here are touched. Run them serialized
// with the other root tests:
//
//	flock /tmp/minik8s-root-tests.lock go test ./kube-proxy/app/

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kube-proxy/app"
	"minik8s/kube-proxy/iptables"
	"minik8s/kube-proxy/nettest"
	"minik8s/test/apiservertest"
	"minik8s/test/require"
)

const nodeName = "node-a"

type env struct {
	t       *testing.T
	topo    *nettest.Topology
	api     *apiservertest.Server
	svcs    *client.Resource[*corev1.Service]
	eps     *client.Resource[*corev1.Endpoints]
	ctx     context.Context
	clean   map[string]string // node iptables before kube-proxy, by table
	node    *http.Client      // a client on the node
	outside *http.Client      // a client on the external host
}

func setup(t *testing.T) *env {
	if reason := nettest.Skip(); reason != "" {
		require.Skip(t, reason)
	}
	topo, err := nettest.NewTopology(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Error(err)
		}
	})
	for i, p := range topo.Pods {
		stop, err := p.ServeHTTP(8080, fmt.Sprintf("pod-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		stopUDP, err := p.ServeUDPEcho(5353, fmt.Sprintf("pod-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stopUDP)
	}
	// Rules of someone else, which kube-proxy must leave alone.
	for _, args := range [][]string{
		{"-t", "nat", "-N", "MY-CHAIN"},
		{"-t", "nat", "-A", "POSTROUTING", "-s", "10.99.0.0/16", "-j", "MY-CHAIN"},
		{"-t", "filter", "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "ACCEPT"},
	} {
		if _, err := topo.Node.Exec("iptables", args...); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, topo: topo, clean: map[string]string{},
		node: topo.Node.HTTPClient(3 * time.Second), outside: topo.Ext.HTTPClient(3 * time.Second)}
	for _, table := range []string{"nat", "filter"} {
		if e.clean[table], err = topo.Node.IPTablesSave(table); err != nil {
			t.Fatal(err)
		}
	}
	e.api = apiservertest.StartWithEtcd(t)
	c := e.api.Client(t)
	e.svcs, e.eps = client.For[*corev1.Service](c), client.For[*corev1.Endpoints](c)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	e.ctx = ctx
	return e
}

// proxy is a running kube-proxy.
type proxy struct {
	server *app.ProxyServer
	stop   func()
}

// startProxy runs kube-proxy in the node namespace and waits for its
// first sync.
func (e *env) startProxy(t *testing.T, mode string) *proxy {
	t.Helper()
	o := app.NewOptions()
	o.Server = e.api.Addr
	o.Kubeconfig = e.api.Kubeconfig
	o.HostnameOverride = nodeName
	o.ProxyMode = mode
	o.HealthzBindAddress, o.MetricsBindAddress = "127.0.0.1:0", "127.0.0.1:0"
	s, err := app.NewProxyServer(*o, app.Deps{Dialer: e.topo.Node})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	e.topo.Node.Go(func() { done <- s.Run(ctx) })
	var once sync.Once
	p := &proxy{server: s, stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				e.t.Errorf("kube-proxy: %v", err)
			}
		})
	}}
	e.t.Cleanup(p.stop)
	deadline := time.Now().Add(20 * time.Second)
	for s.Proxier().LastSync().IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("kube-proxy did not sync within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// createService creates the test's services and endpoints: web (NodePort,
// TCP 80 -> 8080 on every pod), echo (UDP 53 -> 5353) and empty (no
// endpoints).
func (e *env) createServices() (web, echo, empty *corev1.Service) {
	e.t.Helper()
	mk := func(name, typ, proto string, port, target int32) *corev1.Service {
		s, err := e.svcs.Create(e.ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: &corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": name},
				Ports: []*corev1.ServicePort{{Name: "p", Port: port, Protocol: proto, TargetPort: &metav1.IntOrString{IntVal: target}}}}})
		if err != nil {
			e.t.Fatal(err)
		}
		return s
	}
	web = mk("web", "NodePort", "TCP", 80, 8080)
	echo = mk("echo", "ClusterIP", "UDP", 53, 5353)
	empty = mk("empty", "ClusterIP", "TCP", 80, 8080)
	e.setEndpoints("web", "TCP", 8080, e.topo.Pods...)
	e.setEndpoints("echo", "UDP", 5353, e.topo.Pods...)
	return web, echo, empty
}

// setEndpoints writes the endpoints of a service as the endpoints
// controller would.
func (e *env) setEndpoints(name, proto string, port int32, pods ...*nettest.Pod) {
	e.t.Helper()
	ep := &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if len(pods) > 0 {
		ss := &corev1.EndpointSubset{Ports: []*corev1.EndpointPort{{Name: "p", Port: port, Protocol: proto}}}
		for _, p := range pods {
			ss.Addresses = append(ss.Addresses, &corev1.EndpointAddress{Ip: p.IP, NodeName: new(nodeName)})
		}
		ep.Subsets = []*corev1.EndpointSubset{ss}
	}
	cur, err := e.eps.Get(e.ctx, "default", name)
	if err == nil {
		ep.Metadata.ResourceVersion = cur.Metadata.ResourceVersion
		if _, err := e.eps.Update(e.ctx, ep); err != nil {
			e.t.Fatal(err)
		}
		return
	}
	if _, err := e.eps.Create(e.ctx, ep); err != nil {
		e.t.Fatal(err)
	}
}

// waitServing polls url from c until it answers.
func waitServing(t *testing.T, c *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := nettest.Get(c, url)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not answering: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// spread makes n requests and counts the answers.
func spread(t *testing.T, c *http.Client, url string, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		body, err := nettest.Get(c, url)
		if err != nil {
			t.Fatalf("request %d to %s: %v", i, url, err)
		}
		counts[body]++
	}
	return counts
}

func (e *env) expectCleanTables() {
	e.t.Helper()
	for table, want := range e.clean {
		got, err := e.topo.Node.IPTablesSave(table)
		if err != nil {
			e.t.Fatal(err)
		}
		if got != want {
			e.t.Errorf("%s table after cleanup:\n%s\nwant:\n%s", table, got, want)
		}
	}
}

func (e *env) udpThrough(addr string) string {
	e.t.Helper()
	var last error
	for i := 0; i < 20; i++ {
		reply, err := e.topo.Node.UDPExchange(addr, "ping", time.Second)
		if err == nil {
			return reply
		}
		last = err
	}
	e.t.Fatalf("no UDP reply through %s: %v", addr, last)
	return ""
}

// TestIPTablesMode: the iptables proxier in a real kernel.
func TestIPTablesMode(t *testing.T) {
	e := setup(t)
	web, echo, empty := e.createServices()
	p := e.startProxy(t, app.ModeIPTables)
	url := fmt.Sprintf("http://%s:80/", web.Spec.ClusterIP)
	waitServing(t, e.node, url)

	t.Run("300 requests reach all three pods evenly, nothing else", func(t *testing.T) {
		counts := spread(t, e.node, url, 300)
		for i := range e.topo.Pods {
			if n := counts[fmt.Sprintf("pod-%d", i)]; n < 60 || n > 140 {
				t.Errorf("pod-%d got %d of 300 (expected about 100): %v", i, n, counts)
			}
		}
		if len(counts) != 3 {
			t.Errorf("answers from %d sources: %v", len(counts), counts)
		}
		t.Logf("distribution: %v", counts)
	})

	t.Run("UDP through the service IP", func(t *testing.T) {
		reply := e.udpThrough(echo.Spec.ClusterIP + ":53")
		if !strings.HasPrefix(reply, "pod-") || !strings.HasSuffix(reply, ":ping") {
			t.Fatalf("reply %q", reply)
		}
	})

	t.Run("NodePort from another namespace", func(t *testing.T) {
		np := fmt.Sprintf("http://%s:%d/", nettest.NodeIP, web.Spec.Ports[0].NodePort)
		counts := spread(t, e.outside, np, 30)
		if len(counts) < 2 {
			t.Fatalf("node port answers only from %v", counts)
		}
		for body := range counts {
			if !strings.HasPrefix(body, "pod-") {
				t.Fatalf("answer %q", body)
			}
		}
	})

	t.Run("a service without endpoints refuses at once", func(t *testing.T) {
		start := time.Now()
		_, err := nettest.Get(e.node, fmt.Sprintf("http://%s:80/", empty.Spec.ClusterIP))
		if !nettest.IsRefused(err) {
			t.Fatalf("got %v, want connection refused", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("refusal took %s", d)
		}
	})

	t.Run("a removed endpoint gets no traffic within a second", func(t *testing.T) {
		before := p.server.Proxier().LastSync()
		t0 := time.Now()
		e.setEndpoints("web", "TCP", 8080, e.topo.Pods[:2]...)
		for p.server.Proxier().LastSync() == before {
			if time.Since(t0) > time.Second {
				t.Fatal("no sync within a second of the endpoint change")
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Logf("endpoint change to rules applied: %s", time.Since(t0).Round(time.Millisecond))
		time.Sleep(time.Until(t0.Add(time.Second)))
		counts := spread(t, e.node, url, 100)
		if counts["pod-2"] != 0 || len(counts) != 2 {
			t.Fatalf("after removing pod-2: %v", counts)
		}
		if r := p.server.Proxier().(*iptables.Proxier).LastResult(); r.Full || r.FilterWritten != 0 {
			t.Errorf("the endpoint change was applied by %+v, want a partial nat-only sync", r)
		}
	})

	t.Run("healthz and metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + p.server.HealthzAddr() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			LastUpdated time.Time `json:"lastUpdated"`
			Healthy     bool      `json:"healthy"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !st.Healthy || time.Since(st.LastUpdated) > time.Minute {
			t.Fatalf("healthz %d %+v %v", resp.StatusCode, st, err)
		}
		resp, err = http.Get("http://" + p.server.MetricsAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range []string{"kubeproxy_sync_proxy_rules_duration_seconds_bucket", "kubeproxy_sync_proxy_rules_iptables_total{table=\"nat\"}", "kubeproxy_network_programming_duration_seconds"} {
			if !strings.Contains(string(body), m) {
				t.Errorf("metrics lack %s", m)
			}
		}
	})

	t.Run("a restart changes nothing", func(t *testing.T) {
		snap := func() string {
			nat, err1 := e.topo.Node.IPTablesSave("nat")
			filter, err2 := e.topo.Node.IPTablesSave("filter")
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			return nat + filter
		}
		before := snap()
		p.stop()
		p = e.startProxy(t, app.ModeIPTables)
		if after := snap(); after != before {
			t.Fatalf("tables changed across a restart:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		waitServing(t, e.node, url)
	})

	t.Run("cleanup removes everything of kube-proxy and nothing else", func(t *testing.T) {
		p.stop()
		if err := e.topo.Node.Do(func() error { return app.Cleanup(nil) }); err != nil {
			t.Fatal(err)
		}
		e.expectCleanTables()
	})
}

// TestUserspaceMode: the userspace proxier, exact round robin.
func TestUserspaceMode(t *testing.T) {
	e := setup(t)
	web, echo, _ := e.createServices()
	p := e.startProxy(t, app.ModeUserspace)
	url := fmt.Sprintf("http://%s:80/", web.Spec.ClusterIP)
	waitServing(t, e.node, url)

	t.Run("exact round robin", func(t *testing.T) {
		// Finish the cycle waitServing started, then count whole cycles.
		counts := spread(t, e.node, url, 300)
		for i := range e.topo.Pods {
			if n := counts[fmt.Sprintf("pod-%d", i)]; n != 100 {
				t.Errorf("pod-%d got %d of 300, want exactly 100: %v", i, n, counts)
			}
		}
	})

	t.Run("UDP through the service IP", func(t *testing.T) {
		seen := map[string]bool{}
		for i := 0; i < 6; i++ {
			seen[strings.SplitN(e.udpThrough(echo.Spec.ClusterIP+":53"), ":", 2)[0]] = true
		}
		if len(seen) != 3 {
			t.Fatalf("UDP clients reached %v, want all three pods", seen)
		}
	})

	t.Run("NodePort from another namespace", func(t *testing.T) {
		np := fmt.Sprintf("http://%s:%d/", nettest.NodeIP, web.Spec.Ports[0].NodePort)
		if counts := spread(t, e.outside, np, 6); len(counts) != 3 {
			t.Fatalf("node port: %v", counts)
		}
	})

	t.Run("a refusing backend is skipped", func(t *testing.T) {
		dead := &nettest.Pod{NS: e.topo.Pods[0].NS, IP: "10.244.0.99"} // nobody has this address
		before := p.server.Proxier().LastSync()
		e.setEndpoints("web", "TCP", 8080, append(append([]*nettest.Pod{}, e.topo.Pods...), dead)...)
		deadline := time.Now().Add(5 * time.Second)
		for p.server.Proxier().LastSync() == before {
			if time.Now().After(deadline) {
				t.Fatal("no sync after the endpoint change")
			}
			time.Sleep(5 * time.Millisecond)
		}
		counts := spread(t, e.node, url, 40)
		if counts["pod-0"]+counts["pod-1"]+counts["pod-2"] != 40 {
			t.Fatalf("with a dead endpoint: %v", counts)
		}
	})

	t.Run("cleanup", func(t *testing.T) {
		p.stop()
		if err := e.topo.Node.Do(func() error { return app.Cleanup(nil) }); err != nil {
			t.Fatal(err)
		}
		e.expectCleanTables()
	})
}
