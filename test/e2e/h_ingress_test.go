package e2e

// The ingress controller add-on (deploy/addons/ingress.yaml,
// docs/ingress.md): two Deployments of kubia behind Services, one Ingress
// with two hosts and a path, reached through the NodePort 30080 of a node
// with a Host header from the node's network namespace, from the host and
// from a pod; a 404 for an unknown host; TLS by SNI on 30443 with a
// Secret's certificate; a path change under a loop of requests; a backend pod
// deleted mid-traffic.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	ingressHTTPNodePort  = "30080"
	ingressHTTPSNodePort = "30443"
)

// ensureAddon applies deploy/addons/FILE unless its Deployment (in
// kube-system) is already installed (make up INGRESS=1 or DASHBOARD=1),
// and waits until it is ready.
func (c *cluster) ensureAddon(t *testing.T, file, deployment string) {
	t.Helper()
	if _, err := c.minictl("-n", "kube-system", "get", "deployment", deployment); err != nil {
		manifest := filepath.Join(filepath.Dir(filepath.Dir(c.harness)), "deploy", "addons", file)
		c.mc(t, "apply", "-f", manifest)
	}
	eventually(t, 120*time.Second, deployment+" ready", func() string {
		ready, err := c.jsonpath("kube-system", "deployment", deployment, ".status.readyReplicas")
		if err != nil || ready == "" || ready == "0" {
			return fmt.Sprintf("readyReplicas %q %v", ready, err)
		}
		return ""
	})
}

// curlNode runs curl in node's network namespace and returns its stdout.
func (c *cluster) curlNode(node string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return c.run(ctx, "ip", append([]string{"netns", "exec", node, "curl", "-sS", "-m", "5"}, args...)...)
}

func TestIngress(t *testing.T) {
	c := need(t)
	c.ensureAddon(t, "ingress.yaml", "ingress-controller")
	ns := c.namespace(t, "mk8s-e2e-ingress")
	caPEM, crtPEM, keyPEM := ingressTestCerts(t, "a.ingress.test")
	var manifest strings.Builder
	for _, name := range []string{"ing-a", "ing-b"} {
		fmt.Fprintf(&manifest, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 2
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: kubia
        image: luksa/kubia
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector: {app: %[1]s}
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
`, name)
	}
	fmt.Fprintf(&manifest, `apiVersion: v1
kind: Secret
metadata:
  name: a-tls
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
`, base64.StdEncoding.EncodeToString(crtPEM), base64.StdEncoding.EncodeToString(keyPEM))
	manifest.WriteString(`---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["sleep", "36000"]
`)
	c.apply(t, ns, manifest.String())
	c.apply(t, ns, ingressManifest(false))
	c.runningPods(t, ns, "app=ing-a", 2, 120*time.Second)
	c.runningPods(t, ns, "app=ing-b", 2, 120*time.Second)
	node, nodeIP := c.nodes[0], c.nodeIPs[0]
	base := "http://" + net.JoinHostPort(nodeIP, ingressHTTPNodePort)

	t.Run("hosts and a path from a node", func(t *testing.T) {
		for _, tc := range []struct{ host, path, want string }{
			{"a.ingress.test", "/", "You've hit ing-a-"},
			{"b.ingress.test", "/", "You've hit ing-b-"},
			{"b.ingress.test", "/a/x", "You've hit ing-a-"},
		} {
			eventually(t, 60*time.Second, tc.host+tc.path, func() string {
				out, err := c.curlNode(node, "-H", "Host: "+tc.host, base+tc.path)
				if err != nil || !strings.Contains(out, tc.want) {
					return fmt.Sprintf("%q %v, want %q", out, err, tc.want)
				}
				return ""
			})
		}
		out, err := c.curlNode(node, "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: unknown.ingress.test", base+"/")
		if err != nil || strings.TrimSpace(out) != "404" {
			t.Errorf("unknown host: %q %v, want 404", out, err)
		}
	})

	t.Run("port 80 of the controller's node (hostPort)", func(t *testing.T) {
		ctrl := c.runningPods(t, "kube-system", "k8s-app=ingress-controller", 1, 60*time.Second)
		url := "http://" + c.nodeIP(ctrl[0].node) + "/"
		eventually(t, 30*time.Second, "hostPort 80 on "+ctrl[0].node, func() string {
			out, err := c.curlNode(node, "-H", "Host: a.ingress.test", url)
			if err != nil || !strings.Contains(out, "You've hit ing-a-") {
				return fmt.Sprintf("curl %s: %q %v", url, out, err)
			}
			return ""
		})
	})

	t.Run("from the host", func(t *testing.T) {
		// Every node's NodePort reaches the controller.
		for i, ip := range c.nodeIPs {
			code, body, err := ingressGet(http.DefaultClient, "http://"+net.JoinHostPort(ip, ingressHTTPNodePort)+"/", "b.ingress.test")
			if err != nil || code != 200 || !strings.Contains(body, "ing-b-") {
				t.Errorf("node %s: %d %q %v", c.nodes[i], code, body, err)
			}
		}
	})

	t.Run("from a pod", func(t *testing.T) {
		c.runningPods(t, ns, "", 5, 120*time.Second) // 4 kubia pods and the client
		for _, ip := range c.nodeIPs {
			// busybox's wget under timeout (its own -T crashes it, see b_network_test.go).
			out, err := c.exec(ns, "client", "timeout", "5", "wget", "-qO-", "--header", "Host: a.ingress.test",
				"http://"+net.JoinHostPort(ip, ingressHTTPNodePort)+"/")
			if err != nil || !strings.Contains(out, "You've hit ing-a-") {
				t.Errorf("from pod client to %s: %q %v", ip, out, err)
			}
		}
	})

	t.Run("tls by SNI", func(t *testing.T) {
		dir := t.TempDir()
		ca := filepath.Join(dir, "ca.crt")
		if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		// --cacert with verification on: only the Secret's certificate for
		// a.ingress.test passes.
		out, err := c.curlNode(node, "--cacert", ca, "--resolve", "a.ingress.test:"+ingressHTTPSNodePort+":"+nodeIP,
			"https://a.ingress.test:"+ingressHTTPSNodePort+"/")
		if err != nil || !strings.Contains(out, "You've hit ing-a-") {
			t.Errorf("https a.ingress.test: %q %v", out, err)
		}
		// b.ingress.test has no TLS section: the fallback certificate, which
		// the CA does not sign.
		if out, err := c.curlNode(node, "--cacert", ca, "--resolve", "b.ingress.test:"+ingressHTTPSNodePort+":"+nodeIP,
			"https://b.ingress.test:"+ingressHTTPSNodePort+"/"); err == nil {
			t.Errorf("https b.ingress.test verified against the test CA: %q", out)
		}
	})

	t.Run("status", func(t *testing.T) {
		eventually(t, 30*time.Second, "status.loadBalancer", func() string {
			ip, err := c.jsonpath(ns, "ingress", "web", ".status.loadBalancer.ingress[0].ip")
			if err != nil || net.ParseIP(ip) == nil {
				return fmt.Sprintf("%q %v", ip, err)
			}
			return ""
		})
	})

	// A loop of requests from the host runs through a path change and a
	// backend pod's deletion: none may fail.
	client := &http.Client{Timeout: 5 * time.Second}
	var ok, failed atomic.Int64
	var last atomic.Value
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				code, body, err := ingressGet(client, base+"/", "a.ingress.test")
				if err != nil || code != 200 || !strings.Contains(body, "ing-a-") {
					failed.Add(1)
					last.Store(fmt.Sprintf("%d %q %v", code, body, err))
					continue
				}
				ok.Add(1)
			}
		})
	}
	defer func() { stop(); wg.Wait() }()

	t.Run("path change within 1s", func(t *testing.T) {
		begin := time.Now()
		c.apply(t, ns, ingressManifest(true))
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, body, _ := ingressGet(client, base+"/v2/", "a.ingress.test")
			if strings.Contains(body, "ing-b-") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a.ingress.test/v2 still answers %q", body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// minictl apply itself is part of the time: measure from its start.
		if took := time.Since(begin); took > time.Second+500*time.Millisecond {
			t.Errorf("the new path took %v to answer (apply included), want about 1s", took)
		}
	})

	t.Run("backend pod deleted mid-traffic", func(t *testing.T) {
		pods := c.runningPods(t, ns, "app=ing-a", 2, 60*time.Second)
		time.Sleep(500 * time.Millisecond)
		c.mc(t, "-n", ns, "delete", "pod", pods[0].name)
		c.runningPods(t, ns, "app=ing-a", 2, 120*time.Second)
		time.Sleep(2 * time.Second)
	})
	stop()
	wg.Wait()
	t.Logf("%d requests during the changes, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 || ok.Load() == 0 {
		t.Errorf("%d of %d requests failed (last: %v)", failed.Load(), ok.Load()+failed.Load(), last.Load())
	}
}

// ingressManifest is the Ingress "web": a.ingress.test to ing-a (with TLS),
// b.ingress.test to ing-b with /a to ing-a; withV2 adds a.ingress.test/v2
// to ing-b. No ingressClassName: minik8s is the default class.
func ingressManifest(withV2 bool) string {
	v2 := ""
	if withV2 {
		v2 = `
      - path: /v2
        pathType: Prefix
        backend:
          service: {name: ing-b, port: {number: 80}}`
	}
	return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  tls:
  - hosts: [a.ingress.test]
    secretName: a-tls
  rules:
  - host: a.ingress.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: ing-a, port: {number: 80}}` + v2 + `
  - host: b.ingress.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: ing-b, port: {name: http}}
      - path: /a
        pathType: Prefix
        backend:
          service: {name: ing-a, port: {number: 80}}
`
}

func ingressGet(c *http.Client, url, host string) (int, string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// ingressTestCerts makes a CA and a server certificate for host signed by
// it, PEM-encoded.
func ingressTestCerts(t *testing.T, host string) (caPEM, crtPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e ingress CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}
