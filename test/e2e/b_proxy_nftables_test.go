package e2e

// kube-proxy's nftables mode, against a cluster brought up with
// KUBE_PROXY_MODE=nftables (make e2e-nftables). In any other mode the test
// skips - a skip even under MINIK8S_NO_SKIP: the mode was chosen on
// purpose.

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestNFTablesProxyMode: every node's kube-proxy programs the service in
// its own nftables table (ip kube-proxy) and none in iptables; pods on
// every node reach the service through it; a service without endpoints
// is refused at once.
func TestNFTablesProxyMode(t *testing.T) {
	c := need(t)
	if c.proxyMode != "nftables" {
		t.Skipf("kube-proxy runs in %s mode (bring the cluster up with KUBE_PROXY_MODE=nftables: make e2e-nftables)", c.proxyMode)
	}
	f := c.netFixture(t)
	inNode := func(node string, args ...string) (string, error) {
		out, err := exec.Command("ip", append([]string{"netns", "exec", node}, args...)...).CombinedOutput()
		return string(out), err
	}
	key := f.clusterIP + " . tcp . 80 : goto service-"
	for _, node := range c.nodes {
		t.Run("rules on "+node, func(t *testing.T) {
			eventually(t, 30*time.Second, "the service in "+node+"'s service-ips map", func() string {
				out, err := inNode(node, "nft", "list", "map", "ip", "kube-proxy", "service-ips")
				if err != nil {
					return fmt.Sprintf("nft list map: %v: %s", err, out)
				}
				if !strings.Contains(out, key) {
					return "no element " + key + " in:\n" + out
				}
				return ""
			})
			out, err := inNode(node, "iptables-save", "-t", "nat")
			if err != nil {
				t.Fatalf("iptables-save: %v: %s", err, out)
			}
			if strings.Contains(out, "KUBE-SERVICES") || strings.Contains(out, "KUBE-SVC-") {
				t.Fatalf("the iptables mode's chains are in %s's nat table:\n%s", node, out)
			}
		})
	}
	for _, cl := range f.clients {
		t.Run("service from "+cl.node, func(t *testing.T) {
			eventually(t, 60*time.Second, "an answer via "+f.clusterIP, func() string {
				out, err := c.exec(f.ns, cl.name, "sh", "-c", fmt.Sprintf("timeout 3 wget -qO- http://%s:80/", f.clusterIP))
				if !hitRe.MatchString(out) {
					return fmt.Sprintf("no answer: %q %v", out, err)
				}
				return ""
			})
		})
	}
	t.Run("no endpoints: refused", func(t *testing.T) {
		ns := c.namespace(t, "mk8s-e2e-nft-empty")
		c.apply(t, ns, `apiVersion: v1
kind: Service
metadata:
  name: nobody
spec:
  selector:
    app: nobody-has-this-label
  ports:
  - port: 80
`)
		ip, err := c.jsonpath(ns, "service", "nobody", ".spec.clusterIP")
		if err != nil || ip == "" {
			t.Fatalf("cluster IP of nobody: %q %v", ip, err)
		}
		cl := f.clients[0]
		eventually(t, 30*time.Second, "connection refused by "+ip, func() string {
			start := time.Now()
			out, _ := c.exec(f.ns, cl.name, "sh", "-c", fmt.Sprintf("timeout 5 wget -qO- http://%s:80/ 2>&1", ip))
			if !strings.Contains(out, "refused") {
				return fmt.Sprintf("wget said %q", out)
			}
			if d := time.Since(start); d > 4*time.Second {
				return fmt.Sprintf("refusal took %s", d)
			}
			return ""
		})
	})
}
