// Command render writes the master's static pod manifests (etcd,
// kube-apiserver, kube-scheduler, kube-controller-manager) into a
// directory for the kubelet's --pod-manifest-path:
//
//	go run ./deploy/staticpods/render --node-ip 10.250.0.11 --out /etc/minik8s/manifests
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"minik8s/deploy/staticpods"
)

func main() {
	var c staticpods.Config
	out := flag.String("out", "", "directory to write the manifests into (created if missing)")
	flag.StringVar(&c.NodeIP, "node-ip", "", "the master's IPv4 address (required)")
	flag.StringVar(&c.EtcdName, "etcd-name", "", "etcd member name (default master)")
	flag.StringVar(&c.EtcdDataDir, "etcd-data-dir", "", "host directory for etcd's data (default /var/lib/minik8s/etcd)")
	flag.IntVar(&c.APIServerPort, "apiserver-port", 0, "apiserver gRPC port (default 6443)")
	flag.IntVar(&c.APIServerHealthPort, "apiserver-health-port", 0, "apiserver /livez, /readyz port (default 8080)")
	flag.StringVar(&c.ServiceClusterIPRange, "service-cluster-ip-range", "", "service CIDR (default 10.96.0.0/16)")
	flag.StringVar(&c.ClusterCIDR, "cluster-cidr", "", "pod CIDR (default 10.244.0.0/16)")
	flag.StringVar(&c.PKIDir, "pki-dir", "", "host directory of the cluster PKI, kubeadm's layout (default /etc/minik8s/pki)")
	flag.StringVar(&c.KubeconfigDir, "kubeconfig-dir", "", "host directory of scheduler.conf and controller-manager.conf (default: the parent of --pki-dir)")
	flag.StringVar(&c.AuditPolicyFile, "audit-policy-file", "", "host file of the apiserver's audit policy (default: audit-policy.yaml in --kubeconfig-dir)")
	flag.StringVar(&c.AuditLogDir, "audit-log-dir", "", "host directory the apiserver writes audit.log into (default /var/log/kubernetes/audit)")
	flag.StringVar(&c.ImagePrefix, "image-prefix", "", `put before "minik8s/...": e.g. "127.0.0.1:5000/" (default none: docker.io via the kubelet's mirror)`)
	flag.StringVar(&c.ImagePullPolicy, "image-pull-policy", "", "Always, IfNotPresent or Never (default IfNotPresent)")
	extra := map[string]*string{}
	for _, comp := range staticpods.Components {
		extra[comp] = flag.String(comp+"-extra-args", "", "space-separated flags appended to "+comp+"'s")
	}
	flag.Parse()
	if *out == "" || c.NodeIP == "" {
		fmt.Fprintln(os.Stderr, "render: --out and --node-ip are required")
		os.Exit(2)
	}
	c.ExtraArgs = map[string][]string{}
	for comp, v := range extra {
		if f := strings.Fields(*v); len(f) > 0 {
			c.ExtraArgs[comp] = f
		}
	}
	if err := staticpods.Write(*out, c); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}
