package cmd

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"minik8s/api/pki"
)

// newCertsCommand is `minictl certs`: the cluster's PKI in kubeadm's layout
// (what `kubeadm init phase certs all` and `kubeconfig all` write), from
// flags alone, without a cluster.
func newCertsCommand(o *Options) *cobra.Command {
	var (
		certDir, kubeconfigDir, server, serviceCIDR, domain string
		advertise, extraSANs, etcdAddrs, nodes, clients     []string
	)
	c := &cobra.Command{
		Use:   "certs",
		Short: "Write the cluster's certificates, keys and kubeconfigs (kubeadm's layout); existing files are kept",
		Long: `Writes into --cert-dir: ca.crt/key (the cluster CA), apiserver.crt/key (SANs: every
--apiserver-advertise-address, the first IP of --service-cidr, kubernetes, kubernetes.default,
kubernetes.default.svc, kubernetes.default.svc.CLUSTER-DOMAIN, localhost, 127.0.0.1),
apiserver-kubelet-client.crt/key (O=system:masters), apiserver-etcd-client.crt/key,
etcd/ca, etcd/server, etcd/peer, etcd/healthcheck-client, sa.key/sa.pub (service-account
signing key) and kubelet/NODE.crt/key (each node's kubelet serving certificate); and into
--kubeconfig-dir: admin.conf (O=system:masters), scheduler.conf (system:kube-scheduler),
controller-manager.conf (system:kube-controller-manager), kube-proxy.conf (system:kube-proxy)
and kubelet-NODE.conf (system:node:NODE, O=system:nodes), each naming --server and embedding
the CA and its client certificate. Files that exist are kept, so running it again only adds
what is missing (a new node).`,
		Example: `  minictl certs --cert-dir /etc/minik8s/pki --apiserver-advertise-address 10.0.0.10 \
      --server https://10.0.0.10:6443 --nodes node1=10.0.0.11,node2=10.0.0.12`,
		Args: cobra.NoArgs,
		// No cluster, no kubeconfig: the certificates come first.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(*cobra.Command, []string) error {
			co := pki.ClusterOptions{
				CertDir: certDir, KubeconfigDir: kubeconfigDir, Server: server, ClusterDomain: domain,
				APIServerAddresses: append(append([]string(nil), advertise...), extraSANs...),
				EtcdAddresses:      etcdAddrs,
			}
			if co.Server == "" {
				if len(advertise) == 0 {
					return fmt.Errorf("--server or --apiserver-advertise-address is required")
				}
				co.Server = "https://" + net.JoinHostPort(advertise[0], "6443")
			}
			p, err := netip.ParsePrefix(serviceCIDR)
			if err != nil {
				return fmt.Errorf("--service-cidr %q: %v", serviceCIDR, err)
			}
			co.ServiceIP = p.Masked().Addr().Next().String()
			for _, n := range nodes {
				name, addrs, _ := strings.Cut(n, "=")
				if name == "" {
					return fmt.Errorf("--nodes %q: want NAME or NAME=ADDRESS[+ADDRESS...]", n)
				}
				node := pki.Node{Name: name}
				if addrs != "" {
					node.Addresses = strings.Split(addrs, "+")
				}
				co.Nodes = append(co.Nodes, node)
			}
			for _, cl := range clients {
				file, subject, ok := strings.Cut(cl, "=")
				cn, orgs, _ := strings.Cut(subject, "/")
				if !ok || file == "" || cn == "" {
					return fmt.Errorf("--client %q: want FILE=CN[/ORG[+ORG]]", cl)
				}
				k := pki.ClientKubeconfig{File: file, CommonName: cn}
				if orgs != "" {
					k.Organization = strings.Split(orgs, "+")
				}
				co.Clients = append(co.Clients, k)
			}
			gen, err := pki.Generate(co)
			if err != nil {
				return err
			}
			for _, f := range gen.Created {
				fmt.Fprintf(o.Out, "created %s\n", f)
			}
			for _, f := range gen.Kept {
				fmt.Fprintf(o.Out, "kept    %s\n", f)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&certDir, "cert-dir", "/etc/minik8s/pki", "directory of the certificates and keys")
	f.StringVar(&kubeconfigDir, "kubeconfig-dir", "", "directory of the kubeconfigs (default: the parent of --cert-dir)")
	f.StringVar(&server, "server", "", "apiserver URL the kubeconfigs name (default https://FIRST-ADVERTISE-ADDRESS:6443)")
	f.StringSliceVar(&advertise, "apiserver-advertise-address", nil, "address of an apiserver (repeat or comma-separate for several); SANs of the serving certificate")
	f.StringSliceVar(&extraSANs, "apiserver-cert-extra-sans", nil, "more SANs (IPs or DNS names) of the apiserver's serving certificate")
	f.StringSliceVar(&etcdAddrs, "etcd-addresses", nil, "addresses of the etcd members, SANs of etcd's server and peer certificates (default: the apiserver addresses)")
	f.StringSliceVar(&nodes, "nodes", nil, "worker nodes as NAME=ADDRESS[+ADDRESS] (comma-separated or repeated): a kubelet serving certificate and kubeconfig each")
	f.StringArrayVar(&clients, "client", nil, "one more client kubeconfig as FILE=CN[/ORG[+ORG]] (repeatable), e.g. kube-dns.conf=system:kube-dns")
	f.StringVar(&serviceCIDR, "service-cidr", "10.96.0.0/16", "service range; its first IP (the kubernetes service) is a SAN of the apiserver")
	f.StringVar(&domain, "service-dns-domain", "cluster.local", "cluster domain of the kubernetes.default.svc SAN")
	return c
}
