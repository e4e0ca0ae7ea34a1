package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/pki"
)

// TestNodesJoinedWithBootstrapToken (make up's default): every
// worker's kubelet joined with only the bootstrap kubeconfig. Its client
// certificate was issued for an approved CSR of the
// kube-apiserver-client-kubelet signer (requested by
// system:bootstrap:TOKEN-ID, or by the node itself once rotated) and is
// system:node:NAME in system:nodes; the kubeconfig it wrote holds no
// token; its serving certificate was issued by kubelet-serving, verifies
// with the cluster CA for the node's IP, and the apiserver reaches the
// kubelet with it (logs and exec through the node work).
func TestNodesJoinedWithBootstrapToken(t *testing.T) {
	c := need(t)
	if !c.tlsBootstrap {
		t.Skip("the cluster's nodes did not join with a bootstrap token (make up KUBELET_TLS_BOOTSTRAP=0)")
	}
	// It reads each node's kubelet.conf in the harness's state directory;
	// m_machines_test.go checks the machines' kubelets joined by token.
	c.needNoMachines(t)
	raw, err := os.ReadFile(filepath.Join(c.state, "bootstrap-token"))
	if err != nil {
		t.Fatal(err)
	}
	tokenID, tokenSecret, _ := strings.Cut(strings.TrimSpace(string(raw)), ".")
	ca, err := pki.CertPool(filepath.Join(c.pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	csrs, err := client.For[*certificatesv1.CertificateSigningRequest](c.api).List(ctx, "", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// issuedBy: which approved CSR (signer, requestor) issued a certificate.
	type issue struct{ name, signer, username string }
	issuedBy := map[string]issue{}
	for _, r := range csrs.Items {
		approved := false
		for _, cond := range r.GetStatus().GetConditions() {
			approved = approved || (cond.GetType() == certificatesv1.Approved && cond.GetStatus() == "True")
		}
		if b, _ := pem.Decode(r.GetStatus().GetCertificate()); approved && b != nil {
			issuedBy[string(b.Bytes)] = issue{r.GetMetadata().GetName(), r.GetSpec().GetSignerName(), r.GetSpec().GetUsername()}
		}
	}

	ns := c.namespace(t, "tls-bootstrap")
	var workers []int
	for i, node := range c.nodes {
		if c.staticPods() && node == c.master {
			continue // keeps its pre-made kubeconfig: it runs the apiserver
		}
		workers = append(workers, i)
		c.apply(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: on-%s
  labels: {app: on-node}
spec:
  nodeName: %s
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "echo hello from %s; sleep 3600"]
`, node, node, node))
	}
	if len(workers) == 0 {
		t.Fatal("no worker joined by token")
	}
	c.runningPods(t, ns, "app=on-node", len(workers), 3*time.Minute)

	for _, i := range workers {
		node := c.nodes[i]
		dir := filepath.Join(c.state, fmt.Sprintf("node%d", i+1))
		t.Run(node, func(t *testing.T) {
			// The client certificate in use and the kubeconfig it wrote.
			kc, err := os.ReadFile(filepath.Join(dir, "kubelet.conf"))
			if err != nil {
				t.Fatal(err)
			}
			current := filepath.Join(dir, "kubelet", "pki", "kubelet-client-current.pem")
			if strings.Contains(string(kc), tokenSecret) || strings.Contains(string(kc), "token:") || !strings.Contains(string(kc), current) {
				t.Errorf("%s/kubelet.conf holds a token or does not name %s:\n%s", dir, current, kc)
			}
			pair, err := tls.LoadX509KeyPair(current, current)
			if err != nil {
				t.Fatal(err)
			}
			leaf, _ := x509.ParseCertificate(pair.Certificate[0])
			if leaf.Subject.CommonName != "system:node:"+node || strings.Join(leaf.Subject.Organization, ",") != "system:nodes" {
				t.Errorf("client certificate subject %v, want CN=system:node:%s O=system:nodes", leaf.Subject, node)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("client certificate does not verify with the cluster CA: %v", err)
			}
			by, ok := issuedBy[string(leaf.Raw)]
			switch {
			case !ok:
				t.Errorf("client certificate %s was not issued by an approved CSR", current)
			case by.signer != certificatesv1.KubeAPIServerClientKubeletSignerName:
				t.Errorf("client certificate issued by CSR %s of signer %s", by.name, by.signer)
			case by.username != "system:bootstrap:"+tokenID && by.username != "system:node:"+node:
				t.Errorf("client certificate's CSR %s was requested by %q, want system:bootstrap:%s (or the node, once rotated)", by.name, by.username, tokenID)
			}
			// The first request came with the token, for this node.
			found := false
			for _, r := range csrs.Items {
				b, _ := pem.Decode(r.GetSpec().GetRequest())
				if b == nil || r.GetSpec().GetUsername() != "system:bootstrap:"+tokenID {
					continue
				}
				if req, err := x509.ParseCertificateRequest(b.Bytes); err == nil && req.Subject.CommonName == "system:node:"+node {
					found = true
				}
			}
			if !found {
				t.Errorf("no CSR for system:node:%s requested by system:bootstrap:%s", node, tokenID)
			}

			// The serving certificate, verified as the apiserver does.
			n, err := client.For[*corev1.Node](c.api).Get(ctx, "", node)
			if err != nil {
				t.Fatal(err)
			}
			port := n.GetStatus().GetDaemonEndpoints().GetKubeletEndpoint().GetPort()
			ip := c.nodeIPs[i]
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))),
				&tls.Config{RootCAs: ca, ServerName: ip})
			if err != nil {
				t.Fatalf("TLS to the kubelet of %s verified with the cluster CA: %v", node, err)
			}
			serving := conn.ConnectionState().PeerCertificates[0]
			conn.Close()
			if by, ok := issuedBy[string(serving.Raw)]; !ok || by.signer != certificatesv1.KubeletServingSignerName || by.username != "system:node:"+node {
				t.Errorf("serving certificate not from an approved kubelet-serving CSR of system:node:%s: %+v (found %v)", node, by, ok)
			}

			// The apiserver reaches the kubelet over it.
			pod := "on-" + node
			eventually(t, 30*time.Second, "logs through "+node, func() string {
				out, err := c.minictl("-n", ns, "logs", pod)
				if err != nil || !strings.Contains(out, "hello from "+node) {
					return fmt.Sprintf("%q %v", out, err)
				}
				return ""
			})
			if out, err := c.exec(ns, pod, "sh", "-c", "echo $((6*7))"); err != nil || strings.TrimSpace(out) != "42" {
				t.Errorf("exec through %s: %q %v", node, out, err)
			}
		})
	}
}
