package integration

// Root integration test of the control plane running as pods: a master
// node (a network namespace with its own containerd and a kubelet) whose
// manifest directory holds the static pods deploy/staticpods renders, and
// kube-proxy applied as the DaemonSet in deploy/addons.

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/pki"
	"minik8s/deploy/images"
	"minik8s/deploy/staticpods"
	"minik8s/kubelet/static"
	"minik8s/test/nodetest"
)

var (
	cpImagesOnce sync.Once
	cpImages     []images.Built
	cpImagesErr  error
)

// controlPlaneImages builds the control-plane images once per test
// process, under the lock nodetest.BuildImages takes on _output/images,
// so a concurrent build there never sees half-written binaries.
func controlPlaneImages(t *testing.T) []images.Built {
	t.Helper()
	cpImagesOnce.Do(func() {
		root, err := images.ModuleRoot("")
		if err != nil {
			cpImagesErr = err
			return
		}
		dir := filepath.Join(root, "_output", "images")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			cpImagesErr = err
			return
		}
		lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			cpImagesErr = err
			return
		}
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			cpImagesErr = err
			return
		}
		defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		bin := filepath.Join(dir, "bin")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if cpImagesErr = images.BuildControlPlaneBinaries(ctx, root, bin); cpImagesErr != nil {
			return
		}
		if cpImages, cpImagesErr = images.ControlPlane(bin); cpImagesErr != nil {
			return
		}
		for _, b := range cpImages {
			if _, cpImagesErr = b.Image.Digest(); cpImagesErr != nil {
				return
			}
		}
	})
	if cpImagesErr != nil {
		t.Fatalf("control-plane images: %v", cpImagesErr)
	}
	return cpImages
}

// TestStaticControlPlane: the kubelet of a master node starts with no
// apiserver anywhere; from its manifest directory it runs etcd,
// kube-apiserver, kube-scheduler and kube-controller-manager on the node's
// network. The test reaches that apiserver on the node's IP over a veth
// of its own; the kubelet registers its Node there, mirror pods show the
// four static pods, componentstatuses reports everything Healthy, and
// kube-proxy applied as a DaemonSet runs on the master and writes its
// KUBE-SERVICES chain into the node's nat table.
func TestStaticControlPlane(t *testing.T) {
	nodetest.RequireRoot(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skipf("needs iptables: %v", err)
	}
	reg := nodetest.Registry(t)
	cp := controlPlaneImages(t)
	pushCtx, cancelPush := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelPush()
	if err := images.Push(pushCtx, reg, cp); err != nil {
		t.Fatal(err)
	}

	// A /30 from TEST-NET-2 (never routed anywhere) picked by PID, so the
	// root namespace's connected route cannot clash with another run's.
	sub := (os.Getpid() % 64) * 4
	hostIP, nodeIP := fmt.Sprintf("198.51.100.%d", sub+1), fmt.Sprintf("198.51.100.%d", sub+2)
	server := nodeIP + ":6443"
	// The cluster's PKI (`minictl certs`' layout): the static pods mount
	// it, the kubelet and the test use the admin kubeconfig.
	pkiDir := t.TempDir()
	if _, err := pki.Generate(pki.ClusterOptions{CertDir: filepath.Join(pkiDir, "pki"), KubeconfigDir: pkiDir,
		Server: "https://" + server, APIServerAddresses: []string{nodeIP}}); err != nil {
		t.Fatal(err)
	}
	adminConf := filepath.Join(pkiDir, "admin.conf")
	n := klNewNode(t, "cp", "10.244.9.0/24", nodeIP, server, adminConf, reg)

	// The test's own veth into the node: the only link it adds to the root
	// namespace, under a unique name; it goes with the namespace, and is
	// deleted by name in case the namespace outlived the test.
	hostIf := nodetest.Name("mk8scp")
	if out, err := exec.Command("ip", "link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", n.Netns).CombinedOutput(); err != nil {
		t.Fatalf("add veth: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", hostIf).Run() })
	for _, args := range [][]string{{"addr", "add", hostIP + "/30", "dev", hostIf}, {"link", "set", hostIf, "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	nodetest.IP(t, n.Netns, "addr", "add", nodeIP+"/30", "dev", "eth0")
	nodetest.IP(t, n.Netns, "link", "set", "eth0", "up")

	manifests := t.TempDir()
	policy, err := filepath.Abs("../../deploy/audit/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := staticpods.Config{NodeIP: nodeIP, EtcdName: n.Name, EtcdDataDir: filepath.Join(t.TempDir(), "etcd"), PKIDir: filepath.Join(pkiDir, "pki"),
		AuditPolicyFile: policy, AuditLogDir: filepath.Join(t.TempDir(), "audit")}
	if err := staticpods.Write(manifests, cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.APIServerAddress() != server {
		t.Fatalf("APIServerAddress %s, want %s", cfg.APIServerAddress(), server)
	}
	n.Opts.PodManifestPath = manifests
	n.start(t)

	ccfg, err := client.ConfigFromFlags(server, adminConf)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewForConfig(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	testCtx, cancelTest := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancelTest)
	ctx := func() context.Context { return testCtx }
	// What the node runs, for failure messages.
	running := func() string {
		cs, err := n.kubelet.Runtime.ListContainers(context.Background())
		if err != nil {
			return err.Error()
		}
		var b strings.Builder
		for _, ct := range cs {
			fmt.Fprintf(&b, "%s=%s ", ct.Name, ct.State)
		}
		return b.String()
	}

	klWait(t, 3*time.Minute, "the Node registered with the static apiserver", func() string {
		node, err := client.For[*corev1.Node](c).Get(ctx(), "", n.Name)
		if err != nil {
			return fmt.Sprintf("%v; containers: %s", err, running())
		}
		for _, cond := range node.GetStatus().GetConditions() {
			if cond.Type == "Ready" && cond.Status == "True" {
				return ""
			}
		}
		return fmt.Sprintf("node conditions %v", node.GetStatus().GetConditions())
	})

	// The static apiserver audits into the hostPath the manifest mounts.
	klWait(t, time.Minute, "the static apiserver's audit log", func() string {
		if st, err := os.Stat(filepath.Join(cfg.AuditLogDir, "audit.log")); err != nil || st.Size() == 0 {
			return fmt.Sprint("audit.log: ", err)
		}
		return ""
	})

	klWait(t, 2*time.Minute, "mirror pods of the four static pods, Running and Ready", func() string {
		for _, comp := range staticpods.Components {
			p, err := client.For[*corev1.Pod](c).Get(ctx(), "kube-system", comp+"-"+n.Name)
			if err != nil {
				return fmt.Sprintf("%s: %v; containers: %s", comp, err, running())
			}
			if !static.IsMirror(p) || p.Spec.GetNodeName() != n.Name || !p.Spec.GetHostNetwork() {
				return fmt.Sprintf("%s: mirror=%v nodeName=%q hostNetwork=%v", comp, static.IsMirror(p), p.Spec.GetNodeName(), p.Spec.GetHostNetwork())
			}
			// Ready: the readiness probes (etcd /readyz, apiserver /readyz)
			// pass on the node's loopback.
			if p.Status.GetPhase() != "Running" || p.Status.GetPodIP() != nodeIP || !klReady(p) {
				return fmt.Sprintf("%s: phase %s podIP %s ready %v", comp, p.Status.GetPhase(), p.Status.GetPodIP(), klReady(p))
			}
		}
		return ""
	})

	// get componentstatuses: the apiserver probes etcd and, on the node's
	// loopback, the scheduler and controller-manager it shares a network with.
	cs, err := c.Dynamic("componentstatuses")
	if err != nil {
		t.Fatal(err)
	}
	klWait(t, time.Minute, "componentstatuses all Healthy", func() string {
		l, err := cs.List(ctx(), "", client.ListOptions{})
		if err != nil {
			return err.Error()
		}
		health := map[string]string{}
		for _, o := range l.Items {
			s := o.(*corev1.ComponentStatus)
			health[s.Metadata.Name] = s.Conditions[0].Status + " " + s.Conditions[0].Message + s.Conditions[0].Error
			if s.Conditions[0].Status != "True" {
				return fmt.Sprint(health)
			}
		}
		for _, want := range []string{"etcd-0", "scheduler", "controller-manager"} {
			if _, ok := health[want]; !ok {
				return fmt.Sprintf("no %s in %v", want, health)
			}
		}
		return ""
	})

	// etcd holds the cluster state as readable JSON: etcdctl in the etcd
	// pod (through the kubelet's run endpoint) prints the apiserver's
	// mirror pod from /registry/pods/kube-system/<name>.
	key := "/registry/pods/kube-system/" + staticpods.APIServer + "-" + n.Name
	q := url.Values{"command": {images.EtcdctlPath, "--endpoints=https://127.0.0.1:2379",
		"--cacert=/etc/kubernetes/pki/etcd/ca.crt", "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
		"--key=/etc/kubernetes/pki/etcd/healthcheck-client.key", "get", key, "--print-value-only"}}
	code, out := klHTTP(t, "POST", fmt.Sprintf("http://%s/run/kube-system/%s-%s/%s?%s", n.Addr, staticpods.Etcd, n.Name, staticpods.Etcd, q.Encode()))
	if code != 200 || !strings.Contains(out, `"kind":"Pod"`) || !strings.Contains(out, `"nodeName":"`+n.Name+`"`) {
		t.Errorf("etcdctl get %s in the etcd pod: %d %s", key, code, out)
	}

	// kube-proxy as a DaemonSet, applied as a user would, with the
	// apiserver address replaced as the harness does.
	root, err := images.ModuleRoot("")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "addons", "kube-proxy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := staticpods.KubeProxyManifest(raw, cfg.APIServerAddress())
	if err != nil {
		t.Fatal(err)
	}
	m := &minictl{t: t, bin: buildMinictl(t), home: t.TempDir(), server: server, kubeconfig: adminConf}
	// Its credentials, as the harness gives them: kube-proxy.conf in the
	// Secret kube-proxy-kubeconfig.
	proxyConf, err := os.ReadFile(filepath.Join(pkiDir, "kube-proxy.conf"))
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(m.home, "kube-proxy-secret.yaml")
	if err := os.WriteFile(secret, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: kube-proxy-kubeconfig\n  namespace: kube-system\ndata:\n  kubeconfig: "+
		base64.StdEncoding.EncodeToString(proxyConf)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.ok("apply", "-f", secret)
	file := filepath.Join(m.home, "kube-proxy.yaml")
	if err := os.WriteFile(file, manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	m.ok("apply", "-f", file)
	var proxyPod string
	klWait(t, 2*time.Minute, "a running kube-proxy pod on the master", func() string {
		l, err := client.For[*corev1.Pod](c).List(ctx(), "kube-system", client.ListOptions{LabelSelector: "k8s-app=kube-proxy"})
		if err != nil {
			return err.Error()
		}
		for _, p := range l.Items {
			if p.Spec.GetNodeName() == n.Name && p.Status.GetPhase() == "Running" {
				proxyPod = p.Metadata.Name
				return ""
			}
		}
		return fmt.Sprintf("%d kube-proxy pods; containers: %s", len(l.Items), running())
	})
	klWait(t, time.Minute, "KUBE-SERVICES in the node's nat table", func() string {
		out, err := exec.Command("ip", "netns", "exec", n.Netns, "iptables", "-t", "nat", "-S", "KUBE-SERVICES").CombinedOutput()
		if err != nil {
			return fmt.Sprintf("%v: %s", err, out)
		}
		// The apiserver keeps Service default/kubernetes: its rule shows
		// kube-proxy read Services through the apiserver it was given.
		if !strings.Contains(string(out), "default/kubernetes") {
			return string(out)
		}
		return ""
	})
	t.Logf("kube-proxy pod %s programs the node; minictl get pods -n kube-system:\n%s", proxyPod,
		m.ok("get", "pods", "-n", "kube-system", "-o", "wide"))
}
