package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestIngressOverhead measures, in the cluster, a keep-alive GET straight
// to a pod against the same GET through the ingress controller (a node's
// NodePort 30080, and the hostPort 80 of the node the controller runs on),
// in interleaved rounds so the shared machine's load falls on all alike.
// It records the figures (docs/benchmarks.md) and checks only that every
// request succeeded: on loopback-fast networks a second HTTP hop costs
// more than the 10%, and the figure says by how much.
func TestIngressOverhead(t *testing.T) {
	c := need(t)
	c.ensureAddon(t, "ingress.yaml", "ingress-controller")
	ns := c.namespace(t, "mk8s-e2e-ingress-bench")
	c.apply(t, ns, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: bench
spec:
  replicas: 1
  selector:
    matchLabels: {app: bench}
  template:
    metadata:
      labels: {app: bench}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: kubia
        image: luksa/kubia
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: bench
spec:
  selector: {app: bench}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: bench
spec:
  rules:
  - host: bench.ingress.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: bench, port: {number: 80}}
`)
	be := c.runningPods(t, ns, "app=bench", 1, 120*time.Second)[0]
	ctrl := c.runningPods(t, "kube-system", "k8s-app=ingress-controller", 1, 120*time.Second)[0]
	ctrlIP := ""
	for i, n := range c.nodes {
		if n == ctrl.node {
			ctrlIP = c.nodeIPs[i]
		}
	}
	const host = "bench.ingress.test"
	paths := []struct{ name, url, host string }{
		{"direct to the pod", "http://" + net.JoinHostPort(be.ip, "8080") + "/", ""},
		{"ingress, NodePort 30080 of " + c.nodes[0], "http://" + net.JoinHostPort(c.nodeIPs[0], ingressHTTPNodePort) + "/", host},
	}
	if ctrlIP != "" {
		paths = append(paths, struct{ name, url, host string }{"ingress, hostPort 80 of " + ctrl.node, "http://" + net.JoinHostPort(ctrlIP, "80") + "/", host})
	}
	clients := make([]*http.Client, len(paths))
	for i := range clients {
		clients[i] = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	}
	for i, p := range paths {
		eventually(t, 60*time.Second, p.name+" answers", func() string {
			code, body, err := ingressGet(clients[i], p.url, p.host)
			if err != nil || code != 200 || !strings.Contains(body, "You've hit bench-") {
				return fmt.Sprintf("%d %v %.100q", code, err, body)
			}
			return ""
		})
	}

	const rounds, perRound = 10, 200
	lat := make([][]time.Duration, len(paths))
	busy := make([]time.Duration, len(paths))
	for range rounds {
		for i, p := range paths {
			req, _ := http.NewRequest("GET", p.url, nil)
			if p.host != "" {
				req.Host = p.host
			}
			began := time.Now()
			for range perRound {
				start := time.Now()
				resp, err := clients[i].Do(req)
				if err != nil {
					t.Fatalf("%s: %v", p.name, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("%s: %s", p.name, resp.Status)
				}
				lat[i] = append(lat[i], time.Since(start))
			}
			busy[i] += time.Since(began)
		}
	}
	var out strings.Builder
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&out, "keep-alive GET of kubia, %d x %d interleaved, load average %s", rounds, perRound, load)
	fmt.Fprintf(&out, "| path | p50 | p99 | requests/s | p50 vs direct |\n|---|---|---|---|---|\n")
	var base time.Duration
	for i, p := range paths {
		l := lat[i]
		slices.Sort(l)
		p50, p99 := l[len(l)/2], l[len(l)*99/100]
		if i == 0 {
			base = p50
		}
		fmt.Fprintf(&out, "| %s | %d µs | %d µs | %.0f | %+.0f%% |\n", p.name, p50.Microseconds(), p99.Microseconds(),
			float64(len(l))/busy[i].Seconds(), 100*(float64(p50)/float64(base)-1))
	}
	t.Log("\n" + out.String())
	if err := os.WriteFile(filepath.Join(c.artifactDir(t), "overhead.md"), []byte(out.String()), 0o644); err != nil {
		t.Error(err)
	}
}
