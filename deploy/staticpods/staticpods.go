// Package staticpods renders the manifests that run the control plane as
// static pods on a master node: etcd (one member), kube-apiserver,
// kube-scheduler and kube-controller-manager, each a Pod in kube-system on
// the host network, for the kubelet's --pod-manifest-path. The kubelet runs
// them before any apiserver exists; once its own static apiserver answers,
// it registers the Node and mirror pods show them in the API.
//
// The manifests are plain Kubernetes YAML, rendered from Config, so a
// harness (or a user) calls Write once per master and starts the kubelet.
package staticpods

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"minik8s/deploy/images"
)

// Component names: the pods' names (the kubelet suffixes them with the
// node name), their "component" label and the manifest file names.
const (
	Etcd              = "etcd"
	APIServer         = "kube-apiserver"
	Scheduler         = "kube-scheduler"
	ControllerManager = "kube-controller-manager"
)

// Components lists the static pods in the order they are rendered.
var Components = []string{Etcd, APIServer, Scheduler, ControllerManager}

// Ports the control plane uses on the master's host network. The health
// ports are the daemons' defaults; the liveness probes target them on
// 127.0.0.1, which the kubelet dials from the node's network namespace.
const (
	EtcdClientPort         = 2379
	EtcdPeerPort           = 2380
	EtcdMetricsPort        = 2381
	SchedulerHealthPort    = 10259
	ControllerManagerPort  = 10257
	DefaultAPIServerPort   = 6443
	DefaultAPIServerHealth = 8080
)

// Config describes one master node.
type Config struct {
	// NodeIP is the master's address: etcd's peer and advertised client
	// URL, the apiserver's advertise address and the address the
	// scheduler and controller-manager reach it on. Required.
	NodeIP string
	// EtcdName is the etcd member name (default "master").
	EtcdName string
	// EtcdDataDir is the host directory holding etcd's data, mounted as a
	// hostPath (default /var/lib/minik8s/etcd). It must outlive the pod:
	// a restarted etcd finds its member there.
	EtcdDataDir string
	// APIServerPort is the gRPC API port (default 6443) and
	// APIServerHealthPort the port of /livez, /readyz, /metrics (default 8080).
	APIServerPort       int
	APIServerHealthPort int
	// ServiceClusterIPRange and ClusterCIDR default to DESIGN.md's
	// 10.96.0.0/16 and 10.244.0.0/16.
	ServiceClusterIPRange string
	ClusterCIDR           string
	// ImagePrefix is put before "minik8s/<image>:<tag>", e.g.
	// "127.0.0.1:5000/". Empty leaves the names short, which resolve to
	// docker.io and so to the local registry through the kubelet's
	// docker.io mirror.
	ImagePrefix string
	// ImagePullPolicy defaults to IfNotPresent.
	ImagePullPolicy string
	// PKIDir is the host directory of the cluster's certificates in
	// kubeadm's layout (`minictl certs`; default /etc/minik8s/pki),
	// mounted read-only at /etc/kubernetes/pki; KubeconfigDir holds
	// scheduler.conf and controller-manager.conf (default PKIDir's
	// parent).
	PKIDir        string
	KubeconfigDir string
	// AuditPolicyFile is the host file of the audit policy (kube-apiserver
	// --audit-policy-file; default KubeconfigDir/audit-policy.yaml, e.g.
	// /etc/minik8s/audit-policy.yaml), mounted read-only; AuditLogDir the
	// host directory the apiserver writes audit.log into (default
	// /var/log/kubernetes/audit, kubeadm's documented place).
	AuditPolicyFile string
	AuditLogDir     string
	// ExtraArgs are appended to one component's flags, keyed by its name
	// (Etcd, APIServer, ...), e.g. {Scheduler: {"--v=4"}}.
	ExtraArgs map[string][]string
}

// Manifest is one rendered file.
type Manifest struct {
	Component string
	File      string // <component>.yaml
	Data      []byte
}

func (c Config) withDefaults() (Config, error) {
	if net.ParseIP(c.NodeIP).To4() == nil {
		return c, fmt.Errorf("static pods: node IP %q is not an IPv4 address", c.NodeIP)
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.EtcdName, "master")
	def(&c.EtcdDataDir, "/var/lib/minik8s/etcd")
	def(&c.ServiceClusterIPRange, "10.96.0.0/16")
	def(&c.ClusterCIDR, "10.244.0.0/16")
	def(&c.ImagePullPolicy, "IfNotPresent")
	def(&c.PKIDir, "/etc/minik8s/pki")
	def(&c.KubeconfigDir, filepath.Dir(filepath.Clean(c.PKIDir)))
	def(&c.AuditPolicyFile, filepath.Join(c.KubeconfigDir, "audit-policy.yaml"))
	def(&c.AuditLogDir, "/var/log/kubernetes/audit")
	if c.APIServerPort == 0 {
		c.APIServerPort = DefaultAPIServerPort
	}
	if c.APIServerHealthPort == 0 {
		c.APIServerHealthPort = DefaultAPIServerHealth
	}
	if !filepath.IsAbs(c.EtcdDataDir) {
		return c, fmt.Errorf("static pods: etcd data dir %q is not absolute", c.EtcdDataDir)
	}
	for k := range c.ExtraArgs {
		if !known(k) {
			return c, fmt.Errorf("static pods: extra args for unknown component %q", k)
		}
	}
	return c, nil
}

func known(component string) bool {
	for _, c := range Components {
		if c == component {
			return true
		}
	}
	return false
}

// APIServerAddress is the HOST:PORT every component (and kube-proxy's
// --server) reaches the apiserver on.
func (c Config) APIServerAddress() string {
	port := c.APIServerPort
	if port == 0 {
		port = DefaultAPIServerPort
	}
	return net.JoinHostPort(c.NodeIP, strconv.Itoa(port))
}

// Render returns the four manifests, in Components order.
func Render(cfg Config) ([]Manifest, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var out []Manifest
	for _, p := range []pod{c.etcd(), c.apiserver(), c.scheduler(), c.controllerManager()} {
		p.args = append(p.args, c.ExtraArgs[p.name]...)
		out = append(out, Manifest{Component: p.name, File: p.name + ".yaml", Data: []byte(p.yaml())})
	}
	return out, nil
}

// Write renders the manifests into dir (created if missing). Each file is
// written under a dot-name and renamed, so a kubelet polling dir never
// reads half a manifest (it skips dot-files).
func Write(dir string, cfg Config) error {
	ms, err := Render(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, m := range ms {
		tmp := filepath.Join(dir, "."+m.File+".tmp")
		if err := os.WriteFile(tmp, m.Data, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, m.File)); err != nil {
			_ = os.Remove(tmp)
			return err
		}
	}
	return nil
}

// pod is what differs between the four manifests.
type pod struct {
	name    string
	image   string
	pull    string
	command string
	args    []string
	// probePort and the paths serve the startup and liveness probes
	// (and readiness when readyPath is set).
	probePort int
	livePath  string
	readyPath string
	// hostPath volumes: name -> host dir, mounted at mounts[name];
	// files[name] marks a volume that is one file (type File, read-only).
	volumes map[string]string
	mounts  map[string]string
	files   map[string]bool
	// readOnly volumes are mounted read-only.
	readOnly map[string]bool
}

// pkiMount is where the static pods see PKIDir (kubeadm's path).
const pkiMount = "/etc/kubernetes/pki"

// Where the apiserver finds its audit policy and writes its audit log
// inside the pod (kubeadm's paths).
const (
	auditPolicyMount = "/etc/kubernetes/audit-policy.yaml"
	auditLogMount    = "/var/log/kubernetes/audit"
)

func (c Config) image(repo string) string { return c.ImagePrefix + images.Image(repo) }

func (c Config) etcd() pod {
	ip := c.NodeIP
	url := func(host string, port int) string { return "https://" + net.JoinHostPort(host, strconv.Itoa(port)) }
	metrics := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(EtcdMetricsPort))
	return pod{
		name: Etcd, image: c.image(images.EtcdRepo), pull: c.ImagePullPolicy, command: images.EtcdPath,
		args: []string{
			"--name=" + c.EtcdName,
			"--data-dir=/var/lib/etcd",
			"--listen-client-urls=" + url("127.0.0.1", EtcdClientPort) + "," + url(ip, EtcdClientPort),
			"--advertise-client-urls=" + url(ip, EtcdClientPort),
			"--listen-peer-urls=" + url(ip, EtcdPeerPort),
			"--initial-advertise-peer-urls=" + url(ip, EtcdPeerPort),
			"--initial-cluster=" + c.EtcdName + "=" + url(ip, EtcdPeerPort),
			"--initial-cluster-state=new",
			// Health endpoints on loopback only, apart from the client
			// port, as kubeadm does: probes need no client URL.
			"--listen-metrics-urls=" + metrics,
			// TLS for clients (a certificate of the etcd CA required:
			// only apiservers hold one) and for peers.
			"--cert-file=" + pkiMount + "/etcd/server.crt",
			"--key-file=" + pkiMount + "/etcd/server.key",
			"--client-cert-auth",
			"--trusted-ca-file=" + pkiMount + "/etcd/ca.crt",
			"--peer-cert-file=" + pkiMount + "/etcd/peer.crt",
			"--peer-key-file=" + pkiMount + "/etcd/peer.key",
			"--peer-client-cert-auth",
			"--peer-trusted-ca-file=" + pkiMount + "/etcd/ca.crt",
		},
		probePort: EtcdMetricsPort, livePath: "/livez", readyPath: "/readyz",
		volumes:  map[string]string{"etcd-data": c.EtcdDataDir, "pki": c.PKIDir},
		mounts:   map[string]string{"etcd-data": "/var/lib/etcd", "pki": pkiMount},
		readOnly: map[string]bool{"pki": true},
	}
}

func (c Config) apiserver() pod {
	health := "scheduler=http://127.0.0.1:" + strconv.Itoa(SchedulerHealthPort) + "/healthz," +
		"controller-manager=http://127.0.0.1:" + strconv.Itoa(ControllerManagerPort) + "/healthz"
	return pod{
		name: APIServer, image: c.image(images.APIServerRepo), pull: c.ImagePullPolicy, command: images.APIServerPath,
		args: []string{
			"--etcd-servers=https://127.0.0.1:" + strconv.Itoa(EtcdClientPort),
			"--bind-address=0.0.0.0",
			"--advertise-address=" + c.NodeIP,
			"--secure-port=" + strconv.Itoa(c.APIServerPort),
			"--http-port=" + strconv.Itoa(c.APIServerHealthPort),
			"--service-cluster-ip-range=" + c.ServiceClusterIPRange,
			// The scheduler and controller-manager share the master's
			// host network, so the apiserver probes them on loopback.
			"--component-health=" + health,
			"--tls-cert-file=" + pkiMount + "/apiserver.crt",
			"--tls-private-key-file=" + pkiMount + "/apiserver.key",
			"--client-ca-file=" + pkiMount + "/ca.crt",
			"--anonymous-auth=false",
			"--etcd-cafile=" + pkiMount + "/etcd/ca.crt",
			"--etcd-certfile=" + pkiMount + "/apiserver-etcd-client.crt",
			"--etcd-keyfile=" + pkiMount + "/apiserver-etcd-client.key",
			"--kubelet-client-certificate=" + pkiMount + "/apiserver-kubelet-client.crt",
			"--kubelet-client-key=" + pkiMount + "/apiserver-kubelet-client.key",
			"--kubelet-certificate-authority=" + pkiMount + "/ca.crt",
			"--service-account-key-file=" + pkiMount + "/sa.pub",
			"--service-account-signing-key-file=" + pkiMount + "/sa.key",
			"--authorization-mode=Node,RBAC",
			// The default plugins plus NodeRestriction (kubeadm's choice).
			"--enable-admission-plugins=NodeRestriction",
			// Who did what: kubeadm's audit layout, rotated at 100 MB.
			"--audit-policy-file=" + auditPolicyMount,
			"--audit-log-path=" + auditLogMount + "/audit.log",
			"--audit-log-maxsize=100",
			"--audit-log-maxbackup=3",
		},
		probePort: c.APIServerHealthPort, livePath: "/livez", readyPath: "/readyz",
		volumes:  map[string]string{"pki": c.PKIDir, "audit-policy": c.AuditPolicyFile, "audit-log": c.AuditLogDir},
		mounts:   map[string]string{"pki": pkiMount, "audit-policy": auditPolicyMount, "audit-log": auditLogMount},
		readOnly: map[string]bool{"pki": true, "audit-policy": true},
		files:    map[string]bool{"audit-policy": true},
	}
}

func (c Config) scheduler() pod {
	return pod{
		name: Scheduler, image: c.image(images.SchedulerRepo), pull: c.ImagePullPolicy, command: images.SchedulerPath,
		args: []string{
			"--server=" + c.APIServerAddress(),
			"--kubeconfig=/etc/kubernetes/scheduler.conf",
			"--bind-address=127.0.0.1",
			"--port=" + strconv.Itoa(SchedulerHealthPort),
			"--leader-elect=true",
		},
		probePort: SchedulerHealthPort, livePath: "/healthz",
	}.withKubeconfig(filepath.Join(c.KubeconfigDir, "scheduler.conf"), "/etc/kubernetes/scheduler.conf")
}

func (c Config) controllerManager() pod {
	p := pod{
		name: ControllerManager, image: c.image(images.ControllerManagerRepo), pull: c.ImagePullPolicy, command: images.ControllerManagerPath,
		args: []string{
			"--server=" + c.APIServerAddress(),
			"--bind-address=127.0.0.1",
			"--port=" + strconv.Itoa(ControllerManagerPort),
			"--cluster-cidr=" + c.ClusterCIDR,
			"--leader-elect=true",
			"--kubeconfig=/etc/kubernetes/controller-manager.conf",
			// Published as ConfigMap kube-root-ca.crt in every namespace.
			"--root-ca-file=" + pkiMount + "/ca.crt",
			// csrsigning signs approved CSRs with the cluster CA.
			"--cluster-signing-cert-file=" + pkiMount + "/ca.crt",
			"--cluster-signing-key-file=" + pkiMount + "/ca.key",
		},
		probePort: ControllerManagerPort, livePath: "/healthz",
	}.withKubeconfig(filepath.Join(c.KubeconfigDir, "controller-manager.conf"), "/etc/kubernetes/controller-manager.conf")
	p.volumes["pki"], p.mounts["pki"], p.readOnly["pki"] = c.PKIDir, pkiMount, true
	return p
}

// withKubeconfig mounts the host file hostFile at path, read-only.
func (p pod) withKubeconfig(hostFile, path string) pod {
	p.volumes = map[string]string{"kubeconfig": hostFile}
	p.mounts = map[string]string{"kubeconfig": path}
	p.files = map[string]bool{"kubeconfig": true}
	p.readOnly = map[string]bool{"kubeconfig": true}
	return p
}

// yaml writes the manifest by hand: the shape is fixed and small, and
// every string goes through strconv.Quote (a JSON string is a YAML
// double-quoted scalar), so no value can break the document.
func (p pod) yaml() string {
	q := strconv.Quote
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# %s as a static pod of the master (rendered by minik8s/deploy/staticpods).", p.name)
	w("apiVersion: v1")
	w("kind: Pod")
	w("metadata:")
	w("  name: %s", q(p.name))
	w("  namespace: kube-system")
	w("  labels:")
	w("    component: %s", q(p.name))
	w("    tier: control-plane")
	w("spec:")
	w("  hostNetwork: true")
	w("  restartPolicy: Always")
	w("  terminationGracePeriodSeconds: 10")
	w("  containers:")
	w("  - name: %s", q(p.name))
	w("    image: %s", q(p.image))
	w("    imagePullPolicy: %s", q(p.pull))
	w("    command:")
	w("    - %s", q(p.command))
	for _, a := range p.args {
		w("    - %s", q(a))
	}
	probe := func(kind, path string, extra ...string) {
		w("    %s:", kind)
		w("      httpGet:")
		w("        host: 127.0.0.1")
		w("        path: %s", q(path))
		w("        port: %d", p.probePort)
		for _, e := range extra {
			w("      %s", e)
		}
	}
	// Startup gives a slow first start (image pull, etcd recovering its
	// WAL) two minutes before liveness may restart the container; after
	// that a wedged daemon is restarted within about 80s, as kubeadm's
	// thresholds do.
	probe("startupProbe", p.livePath, "periodSeconds: 5", "timeoutSeconds: 5", "failureThreshold: 24")
	probe("livenessProbe", p.livePath, "periodSeconds: 10", "timeoutSeconds: 5", "failureThreshold: 8")
	if p.readyPath != "" {
		probe("readinessProbe", p.readyPath, "periodSeconds: 2", "timeoutSeconds: 5", "failureThreshold: 3")
	}
	if len(p.volumes) > 0 {
		w("    volumeMounts:")
		for _, n := range sortedKeys(p.mounts) {
			w("    - name: %s", q(n))
			w("      mountPath: %s", q(p.mounts[n]))
			if p.readOnly[n] {
				w("      readOnly: true")
			}
		}
		w("  volumes:")
		for _, n := range sortedKeys(p.volumes) {
			w("  - name: %s", q(n))
			w("    hostPath:")
			w("      path: %s", q(p.volumes[n]))
			if p.files[n] {
				w("      type: File")
			} else {
				w("      type: DirectoryOrCreate")
			}
		}
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// KubeProxyDefaultServer is the apiserver address written in
// deploy/addons/kube-proxy.yaml (env KUBE_APISERVER): the master of the
// local cluster. Whoever applies the DaemonSet for another master replaces
// this string with Config.APIServerAddress(); KubeProxyManifest does that.
const KubeProxyDefaultServer = "10.250.0.11:6443"

// KubeProxyManifest returns the DaemonSet manifest (the contents of
// deploy/addons/kube-proxy.yaml) with the apiserver address set to server.
func KubeProxyManifest(manifest []byte, server string) ([]byte, error) {
	old := []byte(`"` + KubeProxyDefaultServer + `"`)
	if !bytes.Contains(manifest, old) {
		return nil, fmt.Errorf("kube-proxy manifest: no %s to replace", old)
	}
	return bytes.ReplaceAll(manifest, old, []byte(strconv.Quote(server))), nil
}
