package integration

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/pki"
	"minik8s/apiserver/app"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// startAPIServer runs an apiserver with its own service ranges.
func startAPIServer(t *testing.T, etcd *etcdtest.Cluster, cidr, nodePorts string) *client.Client {
	t.Helper()
	pkiDir := t.TempDir()
	apiservertest.Kubeconfig(t, pkiDir, "127.0.0.1:0")
	apiCert, apiKey := pki.Paths(filepath.Join(pkiDir, "pki"), "apiserver")
	o := app.Options{
		EtcdServers: etcd.Endpoints(), BindAddress: "127.0.0.1",
		ServiceClusterIPRange: cidr, ServiceNodePortRange: nodePorts,
		ComponentHealth: app.DefaultComponentHealth,
		TLSCertFile:     apiCert, TLSPrivateKeyFile: apiKey, ClientCAFile: filepath.Join(pkiDir, "pki", "ca.crt"),
		// No service-account controller creates the "default" accounts.
		DisableAdmissionPlugins: "ServiceAccount",
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, o, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("apiserver: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("apiserver did not start")
	}
	t.Cleanup(func() { cancel(); <-done })
	c, err := client.New([]string{addr}, withAdmin(t, addr, pkiDir)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func service(name, typ, clusterIP string, ports ...*corev1.ServicePort) *corev1.Service {
	if len(ports) == 0 {
		ports = []*corev1.ServicePort{{Port: 80}}
	}
	return &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:     &corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP, Ports: ports, Selector: map[string]string{"app": name}},
	}
}

// allocated reports whether etcd holds an allocation key.
func allocated(t *testing.T, etcd *etcdtest.Cluster, key string) bool {
	t.Helper()
	cli, err := etcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctxT(t), key)
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.Kvs) == 1
}

func expectInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want Invalid containing %q", err, want)
	}
}

// TestServiceClusterIPsTwoAPIServers: services created at the same time
// through two apiservers on one etcd all get distinct cluster IPs from the
// range, each recorded in etcd.
func TestServiceClusterIPsTwoAPIServers(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	a := apiservertest.Start(t, etcd, apiservertest.Options{})
	b := apiservertest.Start(t, etcd, apiservertest.Options{PKI: a.PKI})
	ctx := ctxT(t)
	svcs := []*client.Resource[*corev1.Service]{client.For[*corev1.Service](a.Client(t)), client.For[*corev1.Service](b.Client(t))}
	const n = 120
	var (
		mu  sync.Mutex
		ips = map[string]string{}
		wg  sync.WaitGroup
	)
	cidr := netip.MustParsePrefix("10.96.0.0/16")
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := svcs[i%2].Create(ctx, service(fmt.Sprintf("s%d", i), "", ""))
			if err != nil {
				t.Error(err)
				return
			}
			ip := out.Spec.ClusterIP
			if a, err := netip.ParseAddr(ip); err != nil || !cidr.Contains(a) || len(out.Spec.ClusterIPs) != 1 || out.Spec.ClusterIPs[0] != ip {
				t.Errorf("%s: clusterIP %q clusterIPs %v", out.Metadata.Name, ip, out.Spec.ClusterIPs)
			}
			mu.Lock()
			defer mu.Unlock()
			if other, dup := ips[ip]; dup {
				t.Errorf("%s and %s both got %s", other, out.Metadata.Name, ip)
			}
			ips[ip] = out.Metadata.Name
		}()
	}
	wg.Wait()
	if len(ips) != n {
		t.Fatalf("%d distinct IPs for %d services", len(ips), n)
	}
	for ip := range ips {
		if !allocated(t, etcd, "/registry/ranges/serviceips/"+ip) {
			t.Errorf("no allocation key for %s", ip)
		}
	}
}

// TestServiceRequestedClusterIP: a requested IP is reserved; taken or
// out-of-range requests are refused; delete releases.
func TestServiceRequestedClusterIP(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	svcs := client.For[*corev1.Service](s.Client(t))
	ctx := ctxT(t)
	dns, err := svcs.Create(ctx, service("kube-dns", "", "10.96.0.10"))
	if err != nil {
		t.Fatal(err)
	}
	if dns.Spec.ClusterIP != "10.96.0.10" || len(dns.Spec.ClusterIPs) != 1 {
		t.Fatalf("got %q %v", dns.Spec.ClusterIP, dns.Spec.ClusterIPs)
	}
	_, err = svcs.Create(ctx, service("other", "", "10.96.0.10"))
	expectInvalid(t, err, "provided IP is already allocated")
	_, err = svcs.Create(ctx, service("outside", "", "10.97.0.1"))
	expectInvalid(t, err, "The range of valid IPs is 10.96.0.0/16")
	_, err = svcs.Create(ctx, service("network", "", "10.96.0.0"))
	expectInvalid(t, err, "not in the valid range")

	// Updates keep the IP, also when the client leaves it out.
	upd := proto.Clone(dns).(*corev1.Service)
	upd.Spec.ClusterIP, upd.Spec.ClusterIPs = "", nil
	upd.Metadata.Labels = map[string]string{"k8s-app": "kube-dns"}
	got, err := svcs.Update(ctx, upd)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.ClusterIP != "10.96.0.10" {
		t.Fatalf("update changed the cluster IP to %q", got.Spec.ClusterIP)
	}
	upd = proto.Clone(got).(*corev1.Service)
	upd.Spec.ClusterIP, upd.Spec.ClusterIPs = "10.96.0.11", nil
	_, err = svcs.Update(ctx, upd)
	expectInvalid(t, err, "field is immutable")
	if allocated(t, s.Etcd, "/registry/ranges/serviceips/10.96.0.11") {
		t.Fatal("a refused update left 10.96.0.11 allocated")
	}

	if _, err := svcs.Delete(ctx, "default", "kube-dns", nil); err != nil {
		t.Fatal(err)
	}
	if allocated(t, s.Etcd, "/registry/ranges/serviceips/10.96.0.10") {
		t.Fatal("delete did not release 10.96.0.10")
	}
	if _, err := svcs.Create(ctx, service("other", "", "10.96.0.10")); err != nil {
		t.Fatalf("released IP not reusable: %v", err)
	}
}

// TestServiceHeadlessAndExternalName: neither gets a cluster IP.
func TestServiceHeadlessAndExternalName(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	svcs := client.For[*corev1.Service](s.Client(t))
	ctx := ctxT(t)
	h, err := svcs.Create(ctx, service("headless", "", "None"))
	if err != nil {
		t.Fatal(err)
	}
	if h.Spec.ClusterIP != "None" || len(h.Spec.ClusterIPs) != 1 || h.Spec.ClusterIPs[0] != "None" {
		t.Fatalf("headless: %q %v", h.Spec.ClusterIP, h.Spec.ClusterIPs)
	}
	ext := &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "ext", Namespace: "default"},
		Spec: &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "db.example.com"}}
	e, err := svcs.Create(ctx, ext)
	if err != nil {
		t.Fatal(err)
	}
	if e.Spec.ClusterIP != "" || len(e.Spec.ClusterIPs) != 0 {
		t.Fatalf("ExternalName got %q %v", e.Spec.ClusterIP, e.Spec.ClusterIPs)
	}
	// ExternalName -> ClusterIP allocates; and back releases.
	e.Spec.Type, e.Spec.ExternalName, e.Spec.Ports = "ClusterIP", "", []*corev1.ServicePort{{Port: 5432}}
	c, err := svcs.Update(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.ClusterIP == "" || !allocated(t, s.Etcd, "/registry/ranges/serviceips/"+c.Spec.ClusterIP) {
		t.Fatalf("ExternalName -> ClusterIP: %q", c.Spec.ClusterIP)
	}
	ip := c.Spec.ClusterIP
	c.Spec.Type, c.Spec.ExternalName, c.Spec.ClusterIP, c.Spec.ClusterIPs = "ExternalName", "db.example.com", "", nil
	c.Spec.InternalTrafficPolicy, c.Spec.IpFamilyPolicy, c.Spec.IpFamilies = nil, nil, nil
	if _, err := svcs.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	if allocated(t, s.Etcd, "/registry/ranges/serviceips/"+ip) {
		t.Fatalf("ClusterIP -> ExternalName kept %s", ip)
	}
}

// TestServiceNodePorts: node ports come from 30000-32767, requested ones
// are reserved, and type changes allocate and release them.
func TestServiceNodePorts(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	svcs := client.For[*corev1.Service](s.Client(t))
	ctx := ctxT(t)
	np, err := svcs.Create(ctx, service("web", "NodePort", "",
		&corev1.ServicePort{Name: "http", Port: 80}, &corev1.ServicePort{Name: "dns", Port: 53, Protocol: "UDP"}))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int32]bool{}
	for _, p := range np.Spec.Ports {
		if p.NodePort < 30000 || p.NodePort > 32767 || seen[p.NodePort] {
			t.Fatalf("node port %d", p.NodePort)
		}
		seen[p.NodePort] = true
		if !allocated(t, s.Etcd, fmt.Sprintf("/registry/ranges/servicenodeports/%d", p.NodePort)) {
			t.Fatalf("node port %d not recorded", p.NodePort)
		}
	}
	// One port number for TCP and UDP of the same service is fine.
	both, err := svcs.Create(ctx, service("both", "NodePort", "",
		&corev1.ServicePort{Name: "tcp", Port: 53, NodePort: 30053}, &corev1.ServicePort{Name: "udp", Port: 53, Protocol: "UDP", NodePort: 30053}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = svcs.Create(ctx, service("taken", "NodePort", "", &corev1.ServicePort{Port: 80, NodePort: 30053}))
	expectInvalid(t, err, "provided port is already allocated")
	_, err = svcs.Create(ctx, service("low", "NodePort", "", &corev1.ServicePort{Port: 80, NodePort: 29999}))
	expectInvalid(t, err, "The range of valid ports is 30000-32767")
	if _, err := svcs.Delete(ctx, "default", both.Metadata.Name, nil); err != nil {
		t.Fatal(err)
	}
	if allocated(t, s.Etcd, "/registry/ranges/servicenodeports/30053") {
		t.Fatal("delete kept node port 30053")
	}

	// An update leaving the node ports out keeps them.
	upd := proto.Clone(np).(*corev1.Service)
	for _, p := range upd.Spec.Ports {
		p.NodePort = 0
	}
	got, err := svcs.Update(ctx, upd)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got.Spec.Ports {
		if p.NodePort != np.Spec.Ports[i].NodePort {
			t.Fatalf("update moved port %s from %d to %d", p.Name, np.Spec.Ports[i].NodePort, p.NodePort)
		}
	}
	// NodePort -> ClusterIP releases them; ClusterIP -> NodePort allocates.
	got.Spec.Type, got.Spec.ExternalTrafficPolicy = "ClusterIP", ""
	cip, err := svcs.Update(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range cip.Spec.Ports {
		if p.NodePort != 0 {
			t.Fatalf("ClusterIP service kept node port %d", p.NodePort)
		}
		if allocated(t, s.Etcd, fmt.Sprintf("/registry/ranges/servicenodeports/%d", np.Spec.Ports[i].NodePort)) {
			t.Fatalf("node port %d not released", np.Spec.Ports[i].NodePort)
		}
	}
	if cip.Spec.ClusterIP != np.Spec.ClusterIP {
		t.Fatalf("type change moved the cluster IP %s -> %s", np.Spec.ClusterIP, cip.Spec.ClusterIP)
	}
	cip.Spec.Type = "NodePort"
	cip.Spec.Ports[0].NodePort = 30080
	back, err := svcs.Update(ctx, cip)
	if err != nil {
		t.Fatal(err)
	}
	if back.Spec.Ports[0].NodePort != 30080 || back.Spec.Ports[1].NodePort < 30000 {
		t.Fatalf("ClusterIP -> NodePort: %v", back.Spec.Ports)
	}
}

// TestServiceRangeFull: a small range runs out, and a delete makes room.
func TestServiceRangeFull(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	svcs := client.For[*corev1.Service](startAPIServer(t, etcd, "10.100.0.0/29", "31000-31001"))
	ctx := ctxT(t)
	// A /29 has 6 addresses; default/kubernetes holds the first.
	for i := 1; i < 6; i++ {
		if _, err := svcs.Create(ctx, service(fmt.Sprintf("s%d", i), "", "")); err != nil {
			t.Fatalf("service %d: %v", i, err)
		}
	}
	_, err := svcs.Create(ctx, service("s6", "", ""))
	if err == nil || !strings.Contains(err.Error(), "range 10.100.0.0/29 is full") {
		t.Fatalf("7th service in a /29: %v", err)
	}
	if _, err := svcs.Delete(ctx, "default", "s3", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Create(ctx, service("s6", "", "")); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
	// Node ports: two fit, the third does not, and its IP is not kept.
	if _, err := svcs.Delete(ctx, "default", "s4", nil); err != nil {
		t.Fatal(err)
	}
	_, err = svcs.Create(ctx, service("np", "NodePort", "",
		&corev1.ServicePort{Name: "a", Port: 1}, &corev1.ServicePort{Name: "b", Port: 2}, &corev1.ServicePort{Name: "c", Port: 3}))
	if err == nil || !strings.Contains(err.Error(), "range 31000-31001 is full") {
		t.Fatalf("three node ports from two: %v", err)
	}
	if _, err := svcs.Create(ctx, service("s4", "", "")); err != nil {
		t.Fatalf("the failed create kept its cluster IP: %v", err)
	}
}

// TestKubernetesService: every apiserver keeps Service default/kubernetes
// on the first address of the range and lists itself in its Endpoints
// while it runs; one that stops cleanly leaves them.
func TestKubernetesService(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	a := apiservertest.Start(t, etcd, apiservertest.Options{})
	b := apiservertest.Start(t, etcd, apiservertest.Options{PKI: a.PKI})
	c := a.Client(t)
	ctx := ctxT(t)
	svc := waitService(t, c, "kubernetes")
	if svc.Spec.ClusterIP != "10.96.0.1" || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].Name != "https" {
		t.Fatalf("service default/kubernetes: %v", svc.Spec)
	}
	endpoints := func() []string {
		ep, err := client.For[*corev1.Endpoints](c).Get(ctx, "default", "kubernetes")
		if err != nil {
			return []string{err.Error()}
		}
		var out []string
		for _, ss := range ep.Subsets {
			for _, ad := range ss.Addresses {
				for _, p := range ss.Ports {
					out = append(out, fmt.Sprintf("%s:%d", ad.Ip, p.Port))
				}
			}
		}
		slices.Sort(out)
		return out
	}
	want := []string{a.Addr, b.Addr}
	slices.Sort(want)
	waitUntil(t, 10*time.Second, func() string {
		if got := endpoints(); !slices.Equal(got, want) {
			return fmt.Sprintf("endpoints %v, want %v", got, want)
		}
		return ""
	})
	b.Stop()
	waitUntil(t, 10*time.Second, func() string {
		if got := endpoints(); !slices.Equal(got, []string{a.Addr}) {
			return fmt.Sprintf("endpoints after one apiserver stopped: %v, want [%s]", got, a.Addr)
		}
		return ""
	})
}

func waitService(t *testing.T, c *client.Client, name string) *corev1.Service {
	t.Helper()
	var svc *corev1.Service
	waitUntil(t, 10*time.Second, func() string {
		var err error
		svc, err = client.For[*corev1.Service](c).Get(ctxT(t), "default", name)
		if err != nil {
			return err.Error()
		}
		return ""
	})
	return svc
}

// waitUntil polls cond (which says what is still wrong, "" when done).
func waitUntil(t *testing.T, d time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// withAdmin are client options for the apiserver at addr with the PKI in
// dir (apiservertest's layout), as the admin.
func withAdmin(t *testing.T, addr, dir string) []client.Option {
	t.Helper()
	cfg, err := client.ConfigFromFlags("", apiservertest.Kubeconfig(t, dir, addr))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := cfg.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return []client.Option{client.WithTLS(tc)}
}
