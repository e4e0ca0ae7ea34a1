package integration

// Root integration tests of the kubelet: a real apiserver on etcd, one
// private containerd per node, nodes modelled as network namespaces, and the
// project's images in a local registry. Every test skips when not root.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	"minik8s/api/component"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	kubeletclient "minik8s/api/kubelet"
	metav1 "minik8s/api/meta/v1"
	"minik8s/deploy/images"
	kubeletapp "minik8s/kubelet/app"
	"minik8s/kubelet/cgroups"
	"minik8s/kubelet/server"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
	"minik8s/test/nodetest"
)

// klNode is one node under test: a network namespace with its own
// containerd and a kubelet.
type klNode struct {
	Name      string // node name, with the test PID
	Netns     string // namespace name
	NetnsPath string
	IP        string
	PodCIDR   string
	Ctrd      *nodetest.Containerd
	RootDir   string
	Opts      kubeletapp.Options
	Addr      string // kubelet server host:port
	kubelet   *kubeletapp.Kubelet
	stop      func()
	proc      *exec.Cmd
	procDone  chan struct{}
}

// klNewNode prepares a node: namespace (with a link to the outside world
// only if the caller adds one), containerd, root dir; the kubelet starts
// with start or startProc.
func klNewNode(t *testing.T, suffix, podCIDR, ip, server, kubeconfig, registry string) *klNode {
	t.Helper()
	nodetest.RequireRoot(t)
	n := &klNode{Name: nodetest.Name("node", suffix), PodCIDR: podCIDR, IP: ip}
	cg := "/" + nodetest.Name("mk8s", suffix)
	prefix := nodetest.Name("mk8s-pod", suffix)
	t.Cleanup(func() {
		// Runs last (cleanups are LIFO): after the kubelet stopped and
		// containerd purged the pods, their namespaces and cgroups go.
		matches, _ := filepath.Glob("/var/run/netns/" + prefix + "-*")
		for _, m := range matches {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
			_ = os.Remove(m)
		}
		if err := cgroups.Remove(cg); err != nil {
			t.Logf("remove cgroup %s: %v", cg, err)
		}
	})
	n.Ctrd = nodetest.StartContainerd(t)
	n.Netns, n.NetnsPath = nodetest.Netns(t, suffix)
	n.RootDir = t.TempDir()
	n.Opts = kubeletapp.Options{
		ClientOptions: component.ClientOptions{Server: server, Kubeconfig: kubeconfig}, HostnameOverride: n.Name, NodeIP: ip, PodCIDR: podCIDR, ClusterCIDR: "10.244.0.0/16",
		ClusterDNS: "10.96.0.10", ClusterDomain: "cluster.local", Containerd: n.Ctrd.Address,
		ContainerdNamespace: nodetest.Name("k8s"), RootDir: n.RootDir, FileCheckFrequency: time.Second,
		RegistryMirrors: []string{"docker.io=http://" + registry}, PauseImage: images.PauseRepo + ":3.9",
		Port: 0, Address: "127.0.0.1", MaxPods: 110, CgroupRoot: cg, NodeNetns: n.NetnsPath,
		NetnsDir: "/var/run/netns", NetnsPrefix: prefix, Bridge: "mk8sbr0",
		StatusInterval: 2 * time.Second, BackoffBase: time.Second, BackoffMax: 8 * time.Second,
		Relist: 500 * time.Millisecond,
	}
	return n
}

// start runs the kubelet in-process until the test ends or n.stop.
func (n *klNode) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *kubeletapp.Kubelet, 1)
	done := make(chan error, 1)
	go func() { done <- kubeletapp.Run(ctx, n.Opts, ready) }()
	select {
	case k := <-ready:
		n.kubelet, n.Addr = k, k.ServerAddr
	case err := <-done:
		cancel()
		t.Fatalf("kubelet %s did not start: %v", n.Name, err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("kubelet %s did not start within 30s", n.Name)
	}
	stopped := false
	n.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
	}
	t.Cleanup(n.stop)
}

// startProc runs the kubelet binary as a process (for kill -9 tests).
func (n *klNode) startProc(t *testing.T, bin string) {
	t.Helper()
	if n.Opts.Port == 0 {
		n.Opts.Port = klFreePort(t)
	}
	o := n.Opts
	args := []string{"--server", o.Server, "--kubeconfig", o.Kubeconfig, "--hostname-override", o.HostnameOverride, "--node-ip", o.NodeIP,
		"--pod-cidr", o.PodCIDR, "--cluster-cidr", o.ClusterCIDR, "--cluster-dns", o.ClusterDNS, "--containerd", o.Containerd,
		"--containerd-namespace", o.ContainerdNamespace, "--root-dir", o.RootDir, "--pod-infra-container-image", o.PauseImage,
		"--port", strconv.Itoa(o.Port), "--address", o.Address, "--cgroup-root", o.CgroupRoot, "--node-netns", o.NodeNetns,
		"--netns-prefix", o.NetnsPrefix, "--bridge", o.Bridge, "--node-status-update-frequency", o.StatusInterval.String(),
		"--restart-backoff", o.BackoffBase.String(), "--restart-backoff-max", o.BackoffMax.String(), "--relist-period", o.Relist.String()}
	for _, m := range o.RegistryMirrors {
		args = append(args, "--registry-mirror", m)
	}
	logf, err := os.OpenFile(filepath.Join(n.RootDir, "kubelet.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	n.proc, n.procDone = cmd, make(chan struct{})
	done := n.procDone
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { n.kill9() })
	n.Addr = net.JoinHostPort(o.Address, strconv.Itoa(o.Port))
	// Started from flags, the kubelet serves HTTPS only, with the
	// self-signed pair it makes in --cert-dir (ROOT-DIR/pki), as
	// Kubernetes' kubelet does: trust exactly that certificate.
	klWait(t, 20*time.Second, "kubelet process serves", func() string {
		pem, err := os.ReadFile(filepath.Join(o.RootDir, "pki", "kubelet.crt"))
		if err != nil {
			return fmt.Sprintf("no serving certificate yet: %v; log:\n%s", err, n.procLog())
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: o.HostnameOverride}}}
		resp, err := hc.Get("https://" + n.Addr + "/healthz")
		if err != nil {
			return fmt.Sprintf("healthz: %v; log:\n%s", err, n.procLog())
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Sprintf("healthz %d; log:\n%s", resp.StatusCode, n.procLog())
		}
		return ""
	})
}

func (n *klNode) procLog() string {
	b, _ := os.ReadFile(filepath.Join(n.RootDir, "kubelet.log"))
	return string(b)
}

// kill9 kills the kubelet process by its PID, as a crash would.
func (n *klNode) kill9() {
	if n.proc == nil {
		return
	}
	_ = n.proc.Process.Signal(syscall.SIGKILL)
	<-n.procDone
	n.proc = nil
}

func klFreePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func klWait(t *testing.T, within time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		if last = cond(); last == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s: %s", within, what, last)
}

func klHTTP(t *testing.T, method, u string) (int, string) {
	req, _ := http.NewRequest(method, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// klRun runs a command in a pod's container through the kubelet server.
func klRun(n *klNode, pod, container string, cmd ...string) (int, string, error) {
	q := url.Values{"command": cmd}
	resp, err := http.Post(fmt.Sprintf("http://%s/run/default/%s/%s?%s", n.Addr, pod, container, q.Encode()), "", nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, string(b), fmt.Errorf("run: %s: %s", resp.Status, b)
	}
	code, _ := strconv.Atoi(resp.Header.Get("X-Exit-Code"))
	return code, string(b), nil
}

func klPod(name, node, image string, command ...string) *corev1.Pod {
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: &corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: proto.Int64(2),
			Containers: []*corev1.Container{{Name: "main", Image: image, Command: command}}},
	}
}

func klGetPod(t *testing.T, c *client.Client, name string) *corev1.Pod {
	p, err := client.For[*corev1.Pod](c).Get(context.Background(), "default", name)
	if err != nil {
		return nil
	}
	return p
}

func klWaitRunning(t *testing.T, c *client.Client, name string, ready bool) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	klWait(t, 60*time.Second, "pod "+name+" running", func() string {
		p = klGetPod(t, c, name)
		if p == nil {
			return "no pod"
		}
		st := p.GetStatus()
		if st.GetPhase() != "Running" || st.GetPodIP() == "" {
			return fmt.Sprintf("phase %s ip %q: %v", st.GetPhase(), st.GetPodIP(), st.GetContainerStatuses())
		}
		if ready && !klReady(p) {
			return "not ready"
		}
		return ""
	})
	return p
}

func klReady(p *corev1.Pod) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}

func klEvents(t *testing.T, c *client.Client, pod string) map[string][]string {
	list, err := client.For[*corev1.Event](c).List(context.Background(), "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range list.Items {
		if e.GetInvolvedObject().GetName() == pod {
			out[e.GetReason()] = append(out[e.GetReason()], e.GetSource().GetComponent()+"/"+e.GetSource().GetHost()+": "+e.GetMessage())
		}
	}
	return out
}

// klEnv is an apiserver, a registry and n nodes.
type klEnv struct {
	api      *apiservertest.Server
	c        *client.Client
	registry string
}

func klStart(t *testing.T) *klEnv {
	t.Helper()
	nodetest.RequireRoot(t)
	reg := nodetest.Registry(t)
	s := apiservertest.StartWithEtcd(t)
	return &klEnv{api: s, c: s.Client(t), registry: reg}
}

// TestKubeletPodLifecycle: registration and heartbeat, a pod going Pending
// -> Running with an IP from the pod CIDR and its veth on the bridge, the
// sample app answering another pod, logs/exec/stats through the kubelet
// server, events, and a graceful delete (preStop, SIGTERM, SIGKILL after
// the grace period) that leaves nothing behind.
func TestKubeletPodLifecycle(t *testing.T) {
	env := klStart(t)
	// The apiserver reaches a kubelet at its Node's InternalIP; this
	// kubelet serves on loopback (its node namespace has no link to the
	// root one), so loopback is the address it publishes.
	n := klNewNode(t, "life", "10.244.1.0/24", "127.0.0.1", env.api.Addr, env.api.Kubeconfig, env.registry)
	n.start(t)
	ctx := ctxT(t)
	c := env.c
	pods := client.For[*corev1.Pod](c)

	// The node registers, becomes Ready and heartbeats.
	klWait(t, 20*time.Second, "node ready", func() string {
		node, err := client.For[*corev1.Node](c).Get(ctx, "", n.Name)
		if err != nil {
			return err.Error()
		}
		for _, cd := range node.GetStatus().GetConditions() {
			if cd.GetType() == "Ready" && cd.GetStatus() == "True" {
				if node.Metadata.Labels["kubernetes.io/hostname"] != n.Name || node.Status.Capacity["pods"] != "110" ||
					fmt.Sprint(node.GetStatus().GetDaemonEndpoints().GetKubeletEndpoint().GetPort()) != n.Addr[strings.LastIndex(n.Addr, ":")+1:] ||
					node.Status.NodeInfo.GetContainerRuntimeVersion() == "" || node.Spec.PodCIDR != "10.244.1.0/24" {
					return fmt.Sprintf("node incomplete: %v", node)
				}
				return ""
			}
		}
		return "not ready"
	})
	// The agent writes the status before it renews the lease, so a Ready
	// node may be seen a moment before its first Lease exists.
	klWait(t, 20*time.Second, "node lease", func() string {
		lease, err := client.For[*coordinationv1.Lease](c).Get(ctx, "kube-node-lease", n.Name)
		if err != nil {
			return err.Error()
		}
		if lease.GetSpec().GetHolderIdentity() != n.Name {
			return fmt.Sprintf("lease holder %q", lease.GetSpec().GetHolderIdentity())
		}
		return ""
	})

	// Pending -> Running, with the phases seen by a watch. The watch starts
	// from a list's resourceVersion: a watch from "now" may be registered
	// by the server only after the pod has moved on.
	before, err := pods.List(ctx, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := pods.Watch(ctx, "default", client.ListOptions{ResourceVersion: before.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	kubia := klPod("kubia", n.Name, "luksa/kubia")
	kubia.Spec.Containers[0].Ports = []*corev1.ContainerPort{{ContainerPort: 8080, Name: "http"}}
	kubia.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 1,
		HttpGet: &corev1.HTTPGetAction{Path: "/healthz", Port: &metav1.IntOrString{Type: 1, StrVal: "http"}}}
	kubia.Spec.Containers[0].Env = []*corev1.EnvVar{{Name: "MY_POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}
	if _, err := pods.Create(ctx, kubia); err != nil {
		t.Fatal(err)
	}
	p := klWaitRunning(t, c, "kubia", true)
	ip := net.ParseIP(p.Status.PodIP)
	_, cidr, _ := net.ParseCIDR("10.244.1.0/24")
	if !cidr.Contains(ip) || p.Status.HostIP != "127.0.0.1" || p.Status.StartTime == nil {
		t.Fatalf("pod ip %s host ip %s", p.Status.PodIP, p.Status.HostIP)
	}
	cs := p.Status.ContainerStatuses[0]
	if !strings.HasPrefix(cs.ContainerID, "containerd://") || !strings.HasPrefix(cs.ImageID, "sha256:") || !cs.Ready || cs.RestartCount != 0 {
		t.Fatalf("container status %v", cs)
	}
	phases := map[string]bool{}
	waitReasons := map[string]bool{}
	// Read until the watch has delivered Running (the Get above may have
	// seen it before the event reached this end of the stream).
	func() {
		deadline := time.After(30 * time.Second)
		for !phases["Running"] {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				if ev.Object != nil && ev.Object.GetMetadata().GetName() == "kubia" {
					phases[ev.Object.GetStatus().GetPhase()] = true
					for _, s := range ev.Object.GetStatus().GetContainerStatuses() {
						if s.GetState().GetWaiting() != nil {
							waitReasons[s.State.Waiting.Reason] = true
						}
					}
				}
			case <-deadline:
				return
			}
		}
	}()
	if !phases["Pending"] || !phases["Running"] || !waitReasons["ContainerCreating"] {
		t.Errorf("watch saw phases %v, waiting reasons %v", phases, waitReasons)
	}
	// The pod's eth0 peer is on the node bridge.
	if out := nodetest.IP(t, n.Netns, "-o", "link", "show", "master", "mk8sbr0"); !strings.Contains(out, "veth") {
		t.Fatalf("no veth on the bridge: %s", out)
	}

	// Another pod on the node reaches the app by IP.
	if _, err := pods.Create(ctx, klPod("client", n.Name, "busybox", "sleep", "3600")); err != nil {
		t.Fatal(err)
	}
	klWaitRunning(t, c, "client", true)
	if code, out, err := klRun(n, "client", "main", "echo", "hello"); err != nil || code != 0 || out != "hello\n" {
		t.Fatalf("echo: %d %q %v", code, out, err)
	}
	code, out, err := klRun(n, "client", "main", "wget", "-qO-", "http://"+p.Status.PodIP+":8080/")
	if err != nil || code != 0 || !strings.Contains(out, "You've hit kubia") {
		t.Fatalf("client -> kubia: %d %q %v", code, out, err)
	}
	// Pod DNS config and hostname.
	_, out, _ = klRun(n, "client", "main", "cat", "/etc/resolv.conf")
	if !strings.Contains(out, "nameserver 10.96.0.10") || !strings.Contains(out, "search default.svc.cluster.local svc.cluster.local cluster.local") {
		t.Errorf("resolv.conf: %s", out)
	}
	if _, out, _ = klRun(n, "client", "main", "hostname"); strings.TrimSpace(out) != "client" {
		t.Errorf("hostname %q", out)
	}
	// Exec stream with stdin.
	var stdout bytes.Buffer
	code, err = kubeletclient.Exec(ctx, "http://"+n.Addr, "default", "client", "main", []string{"sh", "-c", "read x; echo got:$x; echo oops >&2; exit 4"},
		kubeletclient.ExecOptions{Stdin: strings.NewReader("hello\n"), Stdout: &stdout, Stderr: &stdout})
	if err != nil || code != 4 || !strings.Contains(stdout.String(), "got:hello") || !strings.Contains(stdout.String(), "oops") {
		t.Fatalf("exec stream: %d %v %q", code, err, stdout.String())
	}
	// The end of the input is an EOF for the command (cat waits for it).
	stdout.Reset()
	code, err = kubeletclient.Exec(ctx, "http://"+n.Addr, "default", "client", "main", []string{"cat"},
		kubeletclient.ExecOptions{Stdin: strings.NewReader("line 1\nline 2\n"), Stdout: &stdout, Stderr: &stdout})
	if err != nil || code != 0 || stdout.String() != "line 1\nline 2\n" {
		t.Fatalf("exec cat: %d %v %q", code, err, stdout.String())
	}
	// The same through the apiserver's node proxy, as a user runs them.
	klMinictlThroughAPIServer(t, env.api.Addr, env.api.Kubeconfig, n)

	// Logs and stats.
	if code, body := klHTTP(t, "GET", "http://"+n.Addr+"/containerLogs/default/kubia/main"); code != 200 || !strings.Contains(body, "kubia server starting") {
		t.Fatalf("logs: %d %s", code, body)
	}
	if code, body := klHTTP(t, "GET", "http://"+n.Addr+"/containerLogs/default/kubia/main?tailLines=1"); code != 200 || strings.Count(strings.TrimSpace(body), "\n") != 0 {
		t.Fatalf("tail 1: %d %q", code, body)
	}
	var sum server.Summary
	_, body := klHTTP(t, "GET", "http://"+n.Addr+"/stats/summary")
	if err := json.Unmarshal([]byte(body), &sum); err != nil {
		t.Fatalf("summary: %v %s", err, body)
	}
	found := false
	for _, ps := range sum.Pods {
		if ps.PodRef.Name == "kubia" && ps.Memory.WorkingSetBytes > 0 && ps.CPU.UsageCoreNanoSeconds > 0 && len(ps.Containers) == 1 {
			found = true
		}
	}
	if !found || sum.Node.Memory.UsageBytes == 0 {
		t.Fatalf("summary: %s", body)
	}
	if code, body := klHTTP(t, "GET", "http://"+n.Addr+"/metrics"); code != 200 || !strings.Contains(body, "kubelet_running_pods") {
		t.Fatalf("metrics: %d", code)
	}
	ev := klEvents(t, c, "kubia")
	for _, r := range []string{"Pulling", "Pulled", "Created", "Started"} {
		if len(ev[r]) == 0 || !strings.Contains(ev[r][0], "kubelet/"+n.Name) {
			t.Errorf("event %s: %v", r, ev[r])
		}
	}

	// Graceful delete: preStop runs, SIGTERM is ignored by the trap, and
	// SIGKILL comes after the 3s grace period. The hostPath shows the order.
	hostDir := t.TempDir()
	g := klPod("graceful", n.Name, "busybox", "sh", "-c", `trap 'echo TERM >> /data/log' TERM; echo started >> /data/log; while true; do sleep 0.2; done`)
	g.Spec.TerminationGracePeriodSeconds = proto.Int64(3)
	g.Spec.Volumes = []*corev1.Volume{{Name: "data", HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}}
	g.Spec.Containers[0].VolumeMounts = []*corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	g.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo prestop >> /data/log"}}}}
	if _, err := pods.Create(ctx, g); err != nil {
		t.Fatal(err)
	}
	gp := klWaitRunning(t, c, "graceful", true)
	klWait(t, 10*time.Second, "graceful started", func() string {
		b, _ := os.ReadFile(filepath.Join(hostDir, "log"))
		if !strings.Contains(string(b), "started") {
			return string(b)
		}
		return ""
	})
	uid := gp.Metadata.Uid
	start := time.Now()
	if _, err := pods.Delete(ctx, "default", "graceful", nil); err != nil {
		t.Fatal(err)
	}
	klWait(t, 20*time.Second, "graceful gone", func() string {
		if _, err := pods.Get(ctx, "default", "graceful"); !apierrors.IsNotFound(err) {
			return fmt.Sprint(err)
		}
		return ""
	})
	took := time.Since(start)
	b, _ := os.ReadFile(filepath.Join(hostDir, "log"))
	if string(b) != "started\nprestop\nTERM\n" || took < 3*time.Second {
		t.Fatalf("graceful delete took %v, log %q", took, b)
	}
	if ev := klEvents(t, c, "graceful"); len(ev["Killing"]) == 0 {
		t.Errorf("no Killing event: %v", ev)
	}
	// Nothing of the pod is left: containers, sandbox, namespace, veth, IP.
	cts, _ := n.kubelet.Runtime.ListContainers(ctx)
	sbs, _ := n.kubelet.Runtime.ListSandboxes(ctx)
	for _, ct := range cts {
		if ct.PodUID == uid {
			t.Errorf("container left: %+v", ct)
		}
	}
	for _, sb := range sbs {
		if sb.PodUID == uid {
			t.Errorf("sandbox left: %+v", sb)
		}
	}
	nets, _ := n.kubelet.Network.List(ctx)
	for _, pn := range nets {
		if strings.HasPrefix(pn.Key, uid) || pn.Key == "" {
			t.Errorf("network left: %+v", pn)
		}
	}
	if len(nets) != 2 {
		t.Errorf("networks %v, want kubia's and client's", nets)
	}
	if out := nodetest.IP(t, n.Netns, "-o", "link", "show", "master", "mk8sbr0"); strings.Count(out, "veth") != 2 {
		t.Errorf("bridge ports after delete: %s", out)
	}
	if _, err := os.Stat(filepath.Join(n.RootDir, "pods", uid)); !os.IsNotExist(err) {
		t.Errorf("pod dir left: %v", err)
	}
}

// TestKubeletRestartsAndProbes: CrashLoopBackOff with a growing back-off,
// a liveness failure restarting a container, a readiness failure making a
// pod not Ready without restarts, an OnFailure pod succeeding.
func TestKubeletRestartsAndProbes(t *testing.T) {
	env := klStart(t)
	n := klNewNode(t, "probe", "10.244.2.0/24", "192.0.2.11", env.api.Addr, env.api.Kubeconfig, env.registry)
	n.start(t)
	ctx := ctxT(t)
	c := env.c
	pods := client.For[*corev1.Pod](c)

	crash := klPod("crash", n.Name, "busybox", "sh", "-c", "echo crashing; exit 1")
	live := klPod("live", n.Name, "busybox", "sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600")
	live.Spec.Containers[0].LivenessProbe = &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 2,
		Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}}
	notReady := klPod("notready", n.Name, "busybox", "sleep", "3600")
	notReady.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 1,
		TcpSocket: &corev1.TCPSocketAction{Port: &metav1.IntOrString{IntVal: 9999}}}
	once := klPod("once", n.Name, "busybox", "sh", "-c", "echo done")
	once.Spec.RestartPolicy = "OnFailure"
	for _, p := range []*corev1.Pod{crash, live, notReady, once} {
		if _, err := pods.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	// CrashLoopBackOff with growing gaps between restarts (1s, 2s, 4s back-off).
	restartAt := map[int32]time.Time{}
	sawBackOff := false
	klWait(t, 40*time.Second, "crash loop", func() string {
		p := klGetPod(t, c, "crash")
		if p == nil || len(p.GetStatus().GetContainerStatuses()) == 0 {
			return "no status"
		}
		cs := p.Status.ContainerStatuses[0]
		if _, ok := restartAt[cs.RestartCount]; !ok {
			restartAt[cs.RestartCount] = time.Now()
		}
		if cs.GetState().GetWaiting().GetReason() == "CrashLoopBackOff" {
			sawBackOff = true
		}
		if cs.RestartCount >= 3 && sawBackOff && cs.LastState.GetTerminated().GetExitCode() == 1 && p.Status.Phase == "Running" {
			return ""
		}
		return fmt.Sprintf("restarts %d backoff %v phase %s", cs.RestartCount, sawBackOff, p.Status.Phase)
	})
	if g1, g2 := restartAt[2].Sub(restartAt[1]), restartAt[3].Sub(restartAt[2]); g2 <= g1 {
		t.Errorf("back-off did not grow: %v then %v", g1, g2)
	}
	if ev := klEvents(t, c, "crash"); len(ev["BackOff"]) == 0 {
		t.Errorf("no BackOff event: %v", ev)
	}

	// Liveness: restarted with Unhealthy and Killing events.
	klWait(t, 30*time.Second, "liveness restart", func() string {
		p := klGetPod(t, c, "live")
		if p == nil || len(p.GetStatus().GetContainerStatuses()) == 0 {
			return "no status"
		}
		if rc := p.Status.ContainerStatuses[0].RestartCount; rc < 1 {
			return fmt.Sprint("restarts ", rc)
		}
		return ""
	})
	ev := klEvents(t, c, "live")
	if len(ev["Unhealthy"]) == 0 || len(ev["Killing"]) == 0 || !strings.Contains(strings.Join(ev["Killing"], ""), "failed liveness probe") {
		t.Errorf("liveness events: %v", ev)
	}

	// Readiness: Running but not Ready, never restarted.
	p := klWaitRunning(t, c, "notready", false)
	time.Sleep(3 * time.Second)
	p = klGetPod(t, c, "notready")
	if klReady(p) || p.Status.ContainerStatuses[0].Ready || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("notready pod: %v", p.Status)
	}

	// OnFailure with exit 0: Succeeded.
	klWait(t, 20*time.Second, "once succeeded", func() string {
		p := klGetPod(t, c, "once")
		if p.GetStatus().GetPhase() != "Succeeded" {
			return p.GetStatus().GetPhase()
		}
		if t := p.Status.ContainerStatuses[0].GetState().GetTerminated(); t.GetReason() != "Completed" || t.GetExitCode() != 0 {
			return fmt.Sprint(t)
		}
		return ""
	})
}

// TestKubeletRestartAdoption: kill -9 the kubelet while 5 pods run, delete
// two pods while it is down, start it again: nothing restarts, IPs stay,
// the deleted pods are cleaned up and status keeps flowing.
func TestKubeletRestartAdoption(t *testing.T) {
	env := klStart(t)
	bin := klBuildKubelet(t)
	n := klNewNode(t, "adopt", "10.244.3.0/24", "192.0.2.12", env.api.Addr, env.api.Kubeconfig, env.registry)
	n.startProc(t, bin)
	ctx := ctxT(t)
	c := env.c
	pods := client.For[*corev1.Pod](c)
	type seen struct{ ip, id, uid string }
	before := map[string]seen{}
	for i := 0; i < 5; i++ {
		if _, err := pods.Create(ctx, klPod(fmt.Sprintf("p%d", i), n.Name, "busybox", "sleep", "3600")); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		p := klWaitRunning(t, c, fmt.Sprintf("p%d", i), true)
		before[p.Metadata.Name] = seen{p.Status.PodIP, p.Status.ContainerStatuses[0].ContainerID, p.Metadata.Uid}
	}
	n.kill9()
	// While it is down: a graceful delete (waits for the kubelet) and a
	// force delete (the pod is gone from the API at once).
	if _, err := pods.Delete(ctx, "default", "p3", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Delete(ctx, "default", "p4", &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	if p := klGetPod(t, c, "p3"); p == nil || p.Metadata.DeletionTimestamp == nil {
		t.Fatalf("p3 should wait for the kubelet: %v", p)
	}
	n.startProc(t, bin)
	klWait(t, 30*time.Second, "deleted pods cleaned up", func() string {
		if p := klGetPod(t, c, "p3"); p != nil {
			return "p3 still in the API"
		}
		cl, err := containerdContainers(n)
		if err != nil {
			return err.Error()
		}
		for _, uid := range []string{before["p3"].uid, before["p4"].uid} {
			if strings.Contains(cl, uid) {
				return "containers of deleted pods left"
			}
		}
		return ""
	})
	// Status keeps flowing: a new pod runs, and the survivors are unchanged.
	if _, err := pods.Create(ctx, klPod("after", n.Name, "busybox", "sleep", "3600")); err != nil {
		t.Fatal(err)
	}
	klWaitRunning(t, c, "after", true)
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("p%d", i)
		p := klWaitRunning(t, c, name, true)
		cs := p.Status.ContainerStatuses[0]
		if p.Status.PodIP != before[name].ip || cs.ContainerID != before[name].id || cs.RestartCount != 0 {
			t.Errorf("%s changed: ip %s->%s container %s->%s restarts %d", name, before[name].ip, p.Status.PodIP, before[name].id, cs.ContainerID, cs.RestartCount)
		}
	}
	// The IPs of the deleted pods were released (4 pods hold 4 IPs).
	entries, _ := os.ReadDir(filepath.Join(n.RootDir, "network", "ipam", "10.244.3.0_24"))
	ips := 0
	for _, e := range entries {
		if net.ParseIP(e.Name()) != nil {
			ips++
		}
	}
	if ips != 4 {
		t.Errorf("IPAM holds %d addresses, want 4", ips)
	}
}

// containerdContainers lists the container labels of a node's containerd
// through ctr, a second client independent of the kubelet.
func containerdContainers(n *klNode) (string, error) {
	out, err := exec.Command("ctr", "--address", n.Ctrd.Address, "--namespace", n.Opts.ContainerdNamespace, "containers", "list").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ctr: %v: %s", err, out)
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		id := strings.Fields(line)[0]
		info, _ := exec.Command("ctr", "--address", n.Ctrd.Address, "--namespace", n.Opts.ContainerdNamespace, "containers", "info", id).CombinedOutput()
		b.Write(info)
	}
	return b.String(), nil
}

func klBuildKubelet(t *testing.T) string {
	t.Helper()
	root, err := images.ModuleRoot("")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "kubelet")
	cmd := exec.Command("go", "build", "-o", bin, "./kubelet")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build kubelet: %v: %s", err, out)
	}
	return bin
}

// TestKubeletStaticPods: a static pod runs with no apiserver; when one
// starts, its mirror pod appears with the pod's status, and a deleted
// mirror comes back while the container keeps running.
func TestKubeletStaticPods(t *testing.T) {
	nodetest.RequireRoot(t)
	reg := nodetest.Registry(t)
	port := klFreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	pkiDir := t.TempDir()
	n := klNewNode(t, "static", "10.244.4.0/24", "192.0.2.13", addr, apiservertest.Kubeconfig(t, pkiDir, addr), reg)
	manifests := t.TempDir()
	n.Opts.PodManifestPath = manifests
	if err := os.WriteFile(filepath.Join(manifests, "web.yaml"), []byte(`apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    tier: static
spec:
  containers:
  - name: kubia
    image: luksa/kubia
`), 0o644); err != nil {
		t.Fatal(err)
	}
	n.start(t)
	ctx := ctxT(t)
	var firstID string
	klWait(t, 60*time.Second, "static pod running without an apiserver", func() string {
		cs, err := n.kubelet.Runtime.ListContainers(ctx)
		if err != nil {
			return err.Error()
		}
		for _, ct := range cs {
			if ct.Name == "kubia" && ct.State == "Running" {
				firstID = ct.ID
				return ""
			}
		}
		return fmt.Sprint(cs)
	})

	// Now an apiserver comes up on the address the kubelet was given.
	s := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{Port: port, PKI: pkiDir})
	c := s.Client(t)
	mirrorName := "web-" + n.Name
	var mirror *corev1.Pod
	klWait(t, 40*time.Second, "mirror pod", func() string {
		mirror = klGetPod(t, c, mirrorName)
		if mirror == nil {
			return "no mirror pod"
		}
		if mirror.Metadata.Annotations["kubernetes.io/config.mirror"] == "" || mirror.Status.GetPhase() != "Running" ||
			len(mirror.Status.GetContainerStatuses()) == 0 || mirror.Status.ContainerStatuses[0].ContainerID != "containerd://"+firstID {
			return fmt.Sprintf("mirror %v", mirror.Status)
		}
		return ""
	})
	// Deleting the mirror does not stop the static pod; the mirror comes back.
	if _, err := client.For[*corev1.Pod](c).Delete(ctx, "default", mirrorName, nil); err != nil {
		t.Fatal(err)
	}
	klWait(t, 40*time.Second, "mirror pod recreated", func() string {
		p := klGetPod(t, c, mirrorName)
		if p == nil || p.Metadata.Uid == mirror.Metadata.Uid || p.Metadata.DeletionTimestamp != nil {
			return "not recreated yet"
		}
		if len(p.GetStatus().GetContainerStatuses()) == 0 || p.Status.ContainerStatuses[0].ContainerID != "containerd://"+firstID {
			return fmt.Sprintf("status %v", p.GetStatus())
		}
		return ""
	})
}

// TestKubeletTwoNodes: two nodes (namespaces joined by a link, each with
// its own containerd and kubelet), a pod on each; the client pod reaches
// the other by pod IP across nodes, and the server sees the client's pod
// IP (no NAT).
func TestKubeletTwoNodes(t *testing.T) {
	env := klStart(t)
	a := klNewNode(t, "na", "10.244.5.0/24", "192.0.2.21", env.api.Addr, env.api.Kubeconfig, env.registry)
	b := klNewNode(t, "nb", "10.244.6.0/24", "192.0.2.22", env.api.Addr, env.api.Kubeconfig, env.registry)
	nodetest.Link(t, a.Netns, "eth-b", "192.0.2.21/24", b.Netns, "eth-a", "192.0.2.22/24")
	a.start(t)
	b.start(t)
	c := env.c
	ctx := ctxT(t)
	pods := client.For[*corev1.Pod](c)
	if _, err := pods.Create(ctx, klPod("server", a.Name, "luksa/kubia")); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Create(ctx, klPod("caller", b.Name, "busybox", "sleep", "3600")); err != nil {
		t.Fatal(err)
	}
	srv := klWaitRunning(t, c, "server", true)
	caller := klWaitRunning(t, c, "caller", true)
	if !strings.HasPrefix(srv.Status.PodIP, "10.244.5.") || !strings.HasPrefix(caller.Status.PodIP, "10.244.6.") {
		t.Fatalf("ips %s %s", srv.Status.PodIP, caller.Status.PodIP)
	}
	klWait(t, 30*time.Second, "cross-node request", func() string {
		code, o, err := klRun(b, "caller", "main", "wget", "-qO-", "http://"+srv.Status.PodIP+":8080/")
		if err != nil || code != 0 || !strings.Contains(o, "You've hit server") {
			return fmt.Sprintf("%d %q %v; routes on b: %s", code, o, err, nodetest.IP(t, b.Netns, "route"))
		}
		return ""
	})
	_, logs := klHTTP(t, "GET", "http://"+a.Addr+"/containerLogs/default/server/main")
	if !strings.Contains(logs, "remote="+caller.Status.PodIP+":") {
		t.Fatalf("server saw another source than %s:\n%s", caller.Status.PodIP, logs)
	}
}

// TestKubeletPodSpecFeatures: env from ConfigMap, Secret and the downward
// API, configMap and emptyDir volumes, the service account mount,
// securityContext (runAsUser, readOnlyRootFilesystem), init containers in
// order, and a memory limit whose breach is reported as OOMKilled.
func TestKubeletPodSpecFeatures(t *testing.T) {
	env := klStart(t)
	n := klNewNode(t, "spec", "10.244.7.0/24", "192.0.2.14", env.api.Addr, env.api.Kubeconfig, env.registry)
	n.start(t)
	ctx := ctxT(t)
	c := env.c
	if _, err := client.For[*corev1.ConfigMap](c).Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cfg", Namespace: "default"},
		Data: map[string]string{"greeting": "hello", "app.conf": "level=3\n"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*corev1.Secret](c).Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "creds", Namespace: "default"},
		Data: map[string][]byte{"password": []byte("s3cret")}}); err != nil {
		t.Fatal(err)
	}
	p := klPod("spec", n.Name, "busybox", "sh", "-c", "cat /work/order; sleep 3600")
	main := p.Spec.Containers[0]
	main.Env = []*corev1.EnvVar{
		{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "cfg", Key: "greeting"}}},
		{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "creds", Key: "password"}}},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
	}
	main.VolumeMounts = []*corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}, {Name: "work", MountPath: "/work"}}
	main.SecurityContext = &corev1.SecurityContext{RunAsUser: proto.Int64(65534), ReadOnlyRootFilesystem: proto.Bool(true)}
	p.Spec.Volumes = []*corev1.Volume{
		{Name: "config", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cfg"}},
		{Name: "work", EmptyDir: &corev1.EmptyDirVolumeSource{}},
	}
	p.Spec.InitContainers = []*corev1.Container{
		{Name: "first", Image: "busybox", Command: []string{"sh", "-c", "echo first >> /work/order"}, VolumeMounts: []*corev1.VolumeMount{{Name: "work", MountPath: "/work"}}},
		{Name: "second", Image: "busybox", Command: []string{"sh", "-c", "echo second >> /work/order"}, VolumeMounts: []*corev1.VolumeMount{{Name: "work", MountPath: "/work"}}},
	}
	oom := klPod("oom", n.Name, "busybox", "sh", "-c", `x=$(head -c 100000000 /dev/zero | tr '\0' a); echo survived`)
	oom.Spec.RestartPolicy = "Never"
	oom.Spec.Containers[0].Resources = &corev1.ResourceRequirements{Limits: map[string]string{"memory": "16Mi", "cpu": "500m"}}
	for _, pod := range []*corev1.Pod{p, oom} {
		if _, err := client.For[*corev1.Pod](c).Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	got := klWaitRunning(t, c, "spec", true)
	for _, ics := range got.Status.InitContainerStatuses {
		if ics.State.GetTerminated().GetExitCode() != 0 || ics.State.Terminated.GetReason() != "Completed" {
			t.Errorf("init container %s: %v", ics.Name, ics.State)
		}
	}
	check := func(want string, cmd ...string) {
		t.Helper()
		code, out, err := klRun(n, "spec", "main", cmd...)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("%v: %d %q %v, want %q", cmd, code, out, err, want)
		}
	}
	check("hello s3cret spec "+n.Name, "sh", "-c", "echo $GREETING $PASSWORD $POD_NAME $NODE")
	check("level=3", "cat", "/etc/app/app.conf")
	check("first\nsecond\n", "cat", "/work/order")
	check("65534", "id", "-u")
	check("Read-only file system", "sh", "-c", "touch /x 2>&1")
	check("default", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	klWait(t, 30*time.Second, "OOMKilled", func() string {
		p := klGetPod(t, c, "oom")
		cs := p.GetStatus().GetContainerStatuses()
		if len(cs) == 0 || cs[0].GetState().GetTerminated() == nil {
			return fmt.Sprint(p.GetStatus())
		}
		if term := cs[0].State.Terminated; term.Reason != "OOMKilled" || p.Status.Phase != "Failed" {
			return fmt.Sprintf("terminated %v phase %s", term, p.Status.Phase)
		}
		return ""
	})
}

// klMinictlThroughAPIServer runs minictl logs, exec and top against the
// apiserver, which finds the kubelet from the pod's node: the pods kubia
// and client must be running on n.
func klMinictlThroughAPIServer(t *testing.T, server, kubeconfig string, n *klNode) {
	t.Helper()
	m := &minictl{t: t, bin: buildMinictl(t), home: t.TempDir(), server: server, kubeconfig: kubeconfig}
	if out := m.ok("logs", "kubia"); !strings.Contains(out, "kubia server starting") {
		t.Errorf("minictl logs kubia: %q", out)
	}
	if out := m.ok("logs", "pod/kubia", "-c", "main", "--tail=1"); strings.Count(out, "\n") != 1 {
		t.Errorf("minictl logs --tail=1: %q", out)
	}
	if msg := m.fails("logs", "kubia", "-c", "nope"); !strings.Contains(msg, "container nope is not valid for pod kubia") {
		t.Errorf("logs of a missing container: %q", msg)
	}
	if msg := m.fails("logs", "ghost"); !strings.Contains(msg, `pods "ghost" not found`) {
		t.Errorf("logs of a missing pod: %q", msg)
	}
	if out := m.ok("exec", "client", "--", "hostname"); out != "client\n" {
		t.Errorf("minictl exec hostname: %q", out)
	}
	// stdin goes through and stderr stays apart.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := m.command(ctx, "exec", "-i", "client", "--", "sh", "-c", "read x; echo got:$x; echo oops >&2")
	cmd.Stdin = strings.NewReader("hi\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stdout.String() != "got:hi\n" || stderr.String() != "oops\n" {
		t.Errorf("minictl exec -i: %v stdout %q stderr %q", err, stdout.String(), stderr.String())
	}
	// The command's exit status is minictl's, as with kubectl exec.
	r := m.run("exec", "client", "--", "sh", "-c", "exit 3")
	if r.code != 3 || r.stderr != "command terminated with exit code 3\n" {
		t.Errorf("minictl exec exit status: %s", r)
	}
	if msg := m.fails("exec", "client", "--", "/no/such/binary"); msg == "" {
		t.Errorf("exec of a missing binary gave no error")
	}
	if msg := m.fails("exec", "client"); !strings.Contains(msg, "at least one command") {
		t.Errorf("exec without a command: %q", msg)
	}
	out := m.ok("top", "nodes")
	if !strings.HasPrefix(out, "NAME") || !strings.Contains(out, n.Name) || !strings.Contains(out, "Mi") {
		t.Errorf("minictl top nodes: %q", out)
	}
	out = m.ok("top", "pods")
	if !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "kubia") || !strings.Contains(out, "client") {
		t.Errorf("minictl top pods: %q", out)
	}
}
