package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
)

// TestKubeletRequiresClientCertificate: every kubelet serves HTTPS and,
// without the apiserver's client certificate, answers 401 on every handler
// except /healthz; logs and exec through the apiserver still work (the
// kubectl and minictl tests).
func TestKubeletRequiresClientCertificate(t *testing.T) {
	c := need(t)
	cfg, err := client.ConfigFromFlags(c.servers, c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := cfg.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	// The admin's certificate is of the cluster CA but the kubelets trust
	// it too (same CA); a caller with no certificate at all is refused.
	anonymous := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: admin.RootCAs}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes, err := client.For[*corev1.Node](c.api).List(ctx, "", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) == 0 {
		t.Fatal("no nodes")
	}
	for _, n := range nodes.Items {
		// Where the apiserver reaches the kubelet: the Node's InternalIP
		// and its daemon endpoint's port.
		var ip string
		for _, a := range n.GetStatus().GetAddresses() {
			if a.GetType() == "InternalIP" && ip == "" {
				ip = a.GetAddress()
			}
		}
		port := n.GetStatus().GetDaemonEndpoints().GetKubeletEndpoint().GetPort()
		base := fmt.Sprintf("https://%s", net.JoinHostPort(ip, strconv.Itoa(int(port))))
		t.Run(n.Metadata.Name, func(t *testing.T) {
			if ip == "" || port == 0 {
				t.Fatalf("node publishes no kubelet endpoint (InternalIP %q, port %d)", ip, port)
			}
			for _, ep := range []struct{ method, path string }{
				{"GET", "/pods"},
				{"GET", "/stats/summary"},
				{"GET", "/metrics"},
				{"GET", "/containerLogs/kube-system/x/y"},
				{"POST", "/run/kube-system/x/y?command=id"},
				{"POST", "/exec/kube-system/x/y?command=id"},
				{"POST", "/portForward/kube-system/x"},
			} {
				req, err := http.NewRequest(ep.method, base+ep.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := anonymous.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", ep.method, ep.path, err)
				}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s %s without a client certificate: %d %s", ep.method, ep.path, resp.StatusCode, body)
				}
			}
			resp, err := anonymous.Get(base + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/healthz: %d", resp.StatusCode)
			}
		})
	}
}
