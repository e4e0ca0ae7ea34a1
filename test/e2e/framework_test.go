// Package e2e drives a running local cluster (hack/local-up-cluster.sh,
// `make up`) the way a user does: through bin/minictl, bin/etcdctl and the
// API client, never by reaching into a component. `make e2e` brings the
// cluster up, points the tests at it with MK8S_E2E_CLUSTER (the harness's
// _output/local/cluster.env) and MINIK8S_NO_SKIP=1, and tears it down.
//
// Without MK8S_E2E_CLUSTER the tests skip (so `go test ./...` alone passes
// on a laptop); with MINIK8S_NO_SKIP=1 a missing cluster fails them.
//
// Tests run one after another in file order (no t.Parallel): the later
// ones stop and restart control-plane processes and kubelets through the
// harness's stop-component/start-component, and always restart them in
// t.Cleanup so a failure never leaves the cluster crippled for the next.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"minik8s/api/client"
	"minik8s/test/clusterenv"
	"minik8s/test/require"
)

// EnvCluster names the harness's cluster.env file.
const EnvCluster = "MK8S_E2E_CLUSTER"

// cluster is what the harness wrote about the cluster it runs.
type cluster struct {
	servers string // apiservers, comma-separated
	etcd    string // etcd client URLs, comma-separated
	// kubeconfig is the admin kubeconfig (https, CA, client certificate);
	// every minictl and kubectl run uses it.
	kubeconfig string
	// etcdTLS are etcdctl's --cacert/--cert/--key flags (the apiserver's
	// etcd client certificate); empty when etcd is plain.
	etcdTLS []string
	nodes   []string // node names (mk8s-node1, ...), also their netns names
	nodeIPs []string
	extNS   string // the "external host" namespace and its address
	extIP   string
	harness string // hack/local-up-cluster.sh
	bin     string // bin/ of the checkout
	// controlPlane is the harness's CONTROL_PLANE: "processes" (daemons
	// the harness starts and stops) or "static-pods" (static pods of the
	// master node, kube-proxy as a DaemonSet).
	controlPlane string
	master       string // the master node in static-pods mode
	// proxyMode is the harness's KUBE_PROXY_MODE: every kube-proxy's
	// --proxy-mode (iptables when the harness did not say).
	proxyMode string
	// tlsBootstrap is the harness's KUBELET_TLS_BOOTSTRAP=1: the nodes
	// joined with a bootstrap token; state and pki are the harness's
	// _output/local and its pki directory.
	tlsBootstrap bool
	state, pki   string
	// mode is the harness's MODE: "processes" (the default) or "machines"
	// (systemd-nspawn machines running the packages' units; machines lists
	// them, the control-plane machine first).
	mode     string
	machines []string
	api      *client.Client
}

// StaticPods is the control-plane mode whose daemons are pods.
const StaticPods = "static-pods"

func (c *cluster) staticPods() bool { return c.controlPlane == StaticPods }

// Machines is the harness mode whose nodes are systemd-nspawn machines.
const Machines = "machines"

func (c *cluster) onMachines() bool { return c.mode == Machines }

// needProcesses skips a test that stops and starts control-plane daemons
// through the harness, which only the default mode can do. A skip, not a
// failure, even under MINIK8S_NO_SKIP: the mode was chosen on purpose.
func (c *cluster) needProcesses(t *testing.T) {
	t.Helper()
	c.needNoMachines(t)
	if c.staticPods() {
		t.Skipf("CONTROL_PLANE=%s: the control plane is one set of static pods on %s, not harness processes to stop and start (run with the default CONTROL_PLANE)", StaticPods, c.master)
	}
}

var (
	loadOnce sync.Once
	loaded   *cluster
	loadErr  error
)

// needNoMachines skips a test that reaches into the process mode's
// harness (its processes, its per-node state directories) on a cluster of
// machines, whose daemons are systemd units (test them in m_machines_test.go).
func (c *cluster) needNoMachines(t *testing.T) {
	t.Helper()
	if c.onMachines() {
		t.Skipf("MODE=%s: the daemons are systemd units inside the machines %v, not harness processes or state directories (run with the default MODE)", Machines, c.machines)
	}
}

// need returns the running cluster, or skips (fails under
// MINIK8S_NO_SKIP) when there is none.
func need(t *testing.T) *cluster {
	t.Helper()
	path := os.Getenv(EnvCluster)
	if path == "" {
		require.Skip(t, EnvCluster+" is not set: run the e2e tests with `make e2e` (or `make up` and "+EnvCluster+"=_output/local/cluster.env)")
	}
	loadOnce.Do(func() { loaded, loadErr = load(path) })
	if loadErr != nil {
		t.Fatalf("no cluster: %v", loadErr)
	}
	return loaded
}

func load(path string) (*cluster, error) {
	kv, err := clusterenv.Read(path)
	if err != nil {
		return nil, err
	}
	c := &cluster{
		servers: kv["MINIK8S_SERVER"], etcd: kv["MK8S_ETCD_ENDPOINTS"],
		extNS: kv["MK8S_EXT_NS"], extIP: kv["MK8S_EXT_IP"],
		harness: kv["MK8S_HARNESS"], bin: kv["MK8S_BIN"],
		controlPlane: kv["CONTROL_PLANE"], master: kv["MK8S_MASTER"],
		proxyMode:    kv["KUBE_PROXY_MODE"],
		tlsBootstrap: kv["KUBELET_TLS_BOOTSTRAP"] == "1",
		mode:         kv["MK8S_MODE"],
		state:        kv["MK8S_STATE"], pki: kv["MK8S_PKI"],
	}
	if m := kv["MK8S_MACHINES"]; m != "" {
		c.machines = strings.Split(m, ",")
	}
	if c.proxyMode == "" {
		c.proxyMode = "iptables"
	}
	if c.controlPlane == "" {
		c.controlPlane = "processes" // written before the modes existed
	}
	if c.staticPods() && c.master == "" {
		return nil, fmt.Errorf("%s: CONTROL_PLANE=%s without MK8S_MASTER", path, StaticPods)
	}
	c.kubeconfig = kv["MK8S_KUBECONFIG"]
	if c.kubeconfig == "" {
		c.kubeconfig = filepath.Join(filepath.Dir(path), "kubeconfig")
	}
	if ca := kv["MK8S_ETCD_CACERT"]; ca != "" {
		c.etcdTLS = []string{"--cacert", ca, "--cert", kv["MK8S_ETCD_CERT"], "--key", kv["MK8S_ETCD_KEY"]}
	}
	n, err := strconv.Atoi(kv["MK8S_NODES"])
	if err != nil || c.servers == "" || c.bin == "" {
		return nil, fmt.Errorf("%s is incomplete: %v", path, kv)
	}
	c.nodeIPs = strings.Split(kv["MK8S_NODE_IPS"], ",")
	if names := kv["MK8S_NODE_NAMES"]; names != "" {
		c.nodes = strings.Split(names, ",")
	} else {
		for i := 1; i <= n; i++ {
			c.nodes = append(c.nodes, fmt.Sprintf("mk8s-node%d", i))
		}
	}
	cfg, err := client.ConfigFromFlags(c.servers, c.kubeconfig)
	if err != nil {
		return nil, err
	}
	c.api, err = client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// minictl runs bin/minictl against the cluster and returns its stdout;
// the error carries stderr.
func (c *cluster) minictl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.run(ctx, c.bin+"/minictl", append(c.serverArgs(c.servers), args...)...)
}

// serverArgs are minictl's flags for the apiservers in servers (a
// comma-separated list) as the admin.
func (c *cluster) serverArgs(servers string) []string {
	return []string{"--kubeconfig", c.kubeconfig, "--server", servers}
}

// etcdctl returns etcdctl's arguments for the cluster's etcd: endpoints,
// then the client certificate, then args.
func (c *cluster) etcdctl(args ...string) []string {
	return append(append([]string{"--endpoints", c.etcd}, c.etcdTLS...), args...)
}

func (c *cluster) run(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	// A private HOME and no KUBECONFIG: no kubeconfig of the user interferes.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+os.TempDir())
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\nstdout: %s\nstderr: %s", bin, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// mc is minictl that fails the test on error.
func (c *cluster) mc(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.minictl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// apply pipes a manifest into `minictl apply -f -`.
func (c *cluster) apply(t *testing.T, ns, manifest string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "manifest-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(manifest); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c.mc(t, "-n", ns, "apply", "-f", f.Name())
}

// namespace creates a namespace for one test and deletes it afterwards
// (the namespace controller removes what is in it).
func (c *cluster) namespace(t *testing.T, name string) string {
	t.Helper()
	c.apply(t, "default", fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name))
	t.Cleanup(func() {
		if _, err := c.minictl("delete", "namespace", name, "--wait=false"); err != nil {
			t.Logf("delete namespace %s: %v", name, err)
		}
	})
	eventually(t, 30*time.Second, "default service account in "+name, func() string {
		if _, err := c.minictl("-n", name, "get", "serviceaccount", "default"); err != nil {
			return err.Error()
		}
		return ""
	})
	return name
}

// stop stops one harness process by its recorded PID and makes sure it is
// started again when the test ends, whatever happens.
func (c *cluster) stop(t *testing.T, component string) {
	t.Helper()
	c.needNoMachines(t)
	t.Cleanup(func() { c.start(t, component) })
	c.harnessCmd(t, "stop-component", component)
}

func (c *cluster) start(t *testing.T, component string) {
	t.Helper()
	c.harnessCmd(t, "start-component", component)
}

func (c *cluster) harnessCmd(t *testing.T, verb, component string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.run(ctx, c.harness, verb, component)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", strings.TrimSpace(out))
}

// eventually polls check until it returns "" (ok) or timeout passes; the
// failure shows the last problem check reported.
func eventually(t *testing.T, timeout time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		problem := check()
		if problem == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %s", what, timeout, problem)
		}
		time.Sleep(time.Second)
	}
}

// pod is the part of a pod the tests look at, read with one minictl call.
type pod struct {
	name, node, ip, phase string
	deleting              bool
}

// pods lists the pods of ns matching selector.
func (c *cluster) pods(t *testing.T, ns, selector string) []pod {
	t.Helper()
	args := []string{"-n", ns, "get", "pods", "--no-headers", "-o",
		"custom-columns=NAME:metadata.name,NODE:spec.nodeName,IP:status.podIP,PHASE:status.phase,DEL:metadata.deletionTimestamp"}
	if selector != "" {
		args = append(args, "-l", selector)
	}
	out, err := c.minictl(args...)
	if err != nil {
		t.Logf("list pods: %v", err)
		return nil
	}
	var ps []pod
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		none := func(s string) string {
			if s == "<none>" {
				return ""
			}
			return s
		}
		ps = append(ps, pod{name: f[0], node: none(f[1]), ip: none(f[2]), phase: none(f[3]), deleting: none(f[4]) != ""})
	}
	return ps
}

// runningPods waits until exactly n pods of selector run (none being
// deleted) and returns them.
func (c *cluster) runningPods(t *testing.T, ns, selector string, n int, timeout time.Duration) []pod {
	t.Helper()
	var got []pod
	eventually(t, timeout, fmt.Sprintf("%d running pods %s in %s", n, selector, ns), func() string {
		got = nil
		all := c.pods(t, ns, selector)
		for _, p := range all {
			if p.deleting {
				continue
			}
			if p.phase != "Running" || p.ip == "" {
				return fmt.Sprintf("%+v", all)
			}
			got = append(got, p)
		}
		if len(got) != n {
			return fmt.Sprintf("%d of %d: %+v", len(got), n, all)
		}
		return ""
	})
	return got
}

// exec runs a command in a pod through `minictl exec`.
func (c *cluster) exec(ns, podName string, cmd ...string) (string, error) {
	return c.minictl(append([]string{"-n", ns, "exec", podName, "--"}, cmd...)...)
}

// jsonpath reads one field with -o jsonpath.
func (c *cluster) jsonpath(ns, kind, name, path string) (string, error) {
	out, err := c.minictl("-n", ns, "get", kind, name, "-o", "jsonpath={"+path+"}")
	return strings.TrimSpace(out), err
}
