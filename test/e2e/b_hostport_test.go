package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHostPort: a pod's container port with a hostPort answers on its
// node's address, from another node and from the node itself, and the
// mapping goes away with the pod.
func TestHostPort(t *testing.T) {
	c := need(t)
	if len(c.nodes) < 2 {
		t.Skip("needs two nodes")
	}
	ns := c.namespace(t, "mk8s-e2e-hostport")
	node, other := c.nodes[0], c.nodes[1]
	if c.staticPods() && node == c.master && len(c.nodes) > 2 {
		node = c.nodes[2]
	}
	const hostPort = "18081"
	c.apply(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hp
  labels: {app: hp}
spec:
  nodeName: %s
  containers:
  - name: kubia
    image: luksa/kubia
    ports:
    - {containerPort: 8080, hostPort: %s}
`, node, hostPort))
	c.runningPods(t, ns, "app=hp", 1, 120*time.Second)
	url := "http://" + c.nodeIP(node) + ":" + hostPort + "/"
	for _, from := range []string{other, node} {
		eventually(t, 30*time.Second, "hostPort from "+from, func() string {
			out, err := c.curlNode(from, url)
			if err != nil || !strings.Contains(out, "You've hit hp") {
				return fmt.Sprintf("curl %s: %q %v", url, out, err)
			}
			return ""
		})
	}
	c.mc(t, "-n", ns, "delete", "pod", "hp")
	eventually(t, 60*time.Second, "hostPort gone with the pod", func() string {
		if out, err := c.curlNode(other, url); err == nil {
			return "still answering: " + out
		}
		return ""
	})
}
