package pki

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Well-known names of the cluster's identities (Kubernetes' names).
const (
	GroupMasters          = "system:masters"
	GroupNodes            = "system:nodes"
	UserScheduler         = "system:kube-scheduler"
	UserControllerManager = "system:kube-controller-manager"
	UserKubeProxy         = "system:kube-proxy"
	UserAPIServerKubelet  = "kube-apiserver-kubelet-client"
	UserAPIServerEtcd     = "kube-apiserver-etcd-client"
	NodeUserPrefix        = "system:node:"
)

// Node is a worker whose kubelet gets a serving certificate and a
// kubeconfig.
type Node struct {
	Name string
	// Addresses are the node's IPs or DNS names (SANs of its serving
	// certificate, besides its name).
	Addresses []string
}

// ClusterOptions describe the cluster's PKI.
type ClusterOptions struct {
	// CertDir receives kubeadm's layout: ca.crt/key, apiserver.crt/key,
	// apiserver-kubelet-client, apiserver-etcd-client, sa.key/sa.pub,
	// etcd/{ca,server,peer,healthcheck-client}, kubelet/NODE.crt/key.
	CertDir string
	// KubeconfigDir receives admin.conf, scheduler.conf,
	// controller-manager.conf, kube-proxy.conf and kubelet-NODE.conf;
	// empty: CertDir's parent.
	KubeconfigDir string
	// Server is the URL the kubeconfigs name (https://HOST:PORT).
	Server string
	// APIServerAddresses are every apiserver's IPs and DNS names, SANs of
	// the serving certificate (with ServiceIP and the kubernetes names).
	APIServerAddresses []string
	// ServiceIP is the first IP of the service range (10.96.0.1).
	ServiceIP string
	// ClusterDomain is cluster.local unless set.
	ClusterDomain string
	// EtcdAddresses are the etcd members' IPs and names (default:
	// APIServerAddresses); localhost and 127.0.0.1 are always added.
	EtcdAddresses []string
	Nodes         []Node
	// Clients are more kubeconfigs with client certificates (add-ons).
	Clients []ClientKubeconfig
}

// ClientKubeconfig is one more kubeconfig Generate writes.
type ClientKubeconfig struct {
	// File is the name under KubeconfigDir ("kube-dns.conf").
	File         string
	CommonName   string
	Organization []string
}

// Generated lists what Generate did, file by file.
type Generated struct {
	Created []string
	Kept    []string
}

// Generate writes every certificate, key and kubeconfig of o that does not
// exist yet; existing files are kept (and existing CAs sign the new
// files), so running it again is harmless.
func Generate(o ClusterOptions) (*Generated, error) {
	if o.CertDir == "" {
		return nil, fmt.Errorf("no certificate directory given")
	}
	if o.Server == "" {
		return nil, fmt.Errorf("no server URL given for the kubeconfigs")
	}
	if o.KubeconfigDir == "" {
		o.KubeconfigDir = filepath.Dir(filepath.Clean(o.CertDir))
	}
	if o.ServiceIP == "" {
		o.ServiceIP = "10.96.0.1"
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	if len(o.EtcdAddresses) == 0 {
		o.EtcdAddresses = o.APIServerAddresses
	}
	g := &generator{dir: o.CertDir, out: &Generated{}}

	ca, err := g.ca("ca", "kubernetes")
	if err != nil {
		return nil, err
	}
	etcdCA, err := g.ca("etcd/ca", "etcd-ca")
	if err != nil {
		return nil, err
	}
	apiHosts := append([]string{o.ServiceIP, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc." + o.ClusterDomain, "localhost", "127.0.0.1"}, o.APIServerAddresses...)
	etcdHosts := append([]string{"localhost", "127.0.0.1"}, o.EtcdAddresses...)
	leaves := []struct {
		ca   *KeyPair
		name string
		cfg  CertConfig
	}{
		{ca, "apiserver", CertConfig{CommonName: "kube-apiserver", Usage: Server}.withHosts(apiHosts)},
		{ca, "apiserver-kubelet-client", CertConfig{CommonName: UserAPIServerKubelet, Organization: []string{GroupMasters}, Usage: Client}},
		{etcdCA, "apiserver-etcd-client", CertConfig{CommonName: UserAPIServerEtcd, Usage: Client}},
		{etcdCA, "etcd/server", CertConfig{CommonName: "etcd-server", Usage: Peer}.withHosts(etcdHosts)},
		{etcdCA, "etcd/peer", CertConfig{CommonName: "etcd-peer", Usage: Peer}.withHosts(etcdHosts)},
		{etcdCA, "etcd/healthcheck-client", CertConfig{CommonName: "kube-etcd-healthcheck-client", Usage: Client}},
	}
	for _, n := range o.Nodes {
		leaves = append(leaves, struct {
			ca   *KeyPair
			name string
			cfg  CertConfig
		}{ca, "kubelet/" + n.Name, CertConfig{CommonName: n.Name, Usage: Server}.withHosts(append([]string{n.Name}, n.Addresses...))})
	}
	for _, l := range leaves {
		if err := g.leaf(l.ca, l.name, l.cfg); err != nil {
			return nil, err
		}
	}
	if err := g.serviceAccountKey(); err != nil {
		return nil, err
	}

	confs := []struct {
		file string
		cfg  CertConfig
	}{
		{"admin.conf", CertConfig{CommonName: "kubernetes-admin", Organization: []string{GroupMasters}, Usage: Client}},
		{"scheduler.conf", CertConfig{CommonName: UserScheduler, Usage: Client}},
		{"controller-manager.conf", CertConfig{CommonName: UserControllerManager, Usage: Client}},
		{"kube-proxy.conf", CertConfig{CommonName: UserKubeProxy, Usage: Client}},
	}
	for _, n := range o.Nodes {
		confs = append(confs, struct {
			file string
			cfg  CertConfig
		}{"kubelet-" + n.Name + ".conf", CertConfig{CommonName: NodeUserPrefix + n.Name, Organization: []string{GroupNodes}, Usage: Client}})
	}
	for _, c := range o.Clients {
		confs = append(confs, struct {
			file string
			cfg  CertConfig
		}{c.File, CertConfig{CommonName: c.CommonName, Organization: c.Organization, Usage: Client}})
	}
	for _, c := range confs {
		file := filepath.Join(o.KubeconfigDir, c.file)
		if exists(file) {
			g.out.Kept = append(g.out.Kept, file)
			continue
		}
		kp, err := ca.Sign(c.cfg)
		if err != nil {
			return nil, err
		}
		if err := WriteKubeconfig(file, o.Server, ca.Cert, kp, c.cfg.CommonName); err != nil {
			return nil, err
		}
		g.out.Created = append(g.out.Created, file)
	}
	return g.out, nil
}

func (c CertConfig) withHosts(hosts []string) CertConfig {
	seen := map[string]bool{}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			c.IPs = append(c.IPs, ip)
		} else {
			c.DNSNames = append(c.DNSNames, h)
		}
	}
	return c
}

type generator struct {
	dir string
	out *Generated
}

// ca loads dir/name.{crt,key} or creates it.
func (g *generator) ca(name, cn string) (*KeyPair, error) {
	certFile, keyFile := Paths(g.dir, name)
	if exists(certFile) && exists(keyFile) {
		g.out.Kept = append(g.out.Kept, certFile)
		return ReadKeyPair(g.dir, name)
	}
	kp, err := NewCA(cn)
	if err != nil {
		return nil, err
	}
	if err := WriteKeyPair(g.dir, name, kp); err != nil {
		return nil, err
	}
	g.out.Created = append(g.out.Created, certFile, keyFile)
	return kp, nil
}

func (g *generator) leaf(ca *KeyPair, name string, c CertConfig) error {
	certFile, keyFile := Paths(g.dir, name)
	if exists(certFile) && exists(keyFile) {
		g.out.Kept = append(g.out.Kept, certFile)
		return nil
	}
	kp, err := ca.Sign(c)
	if err != nil {
		return err
	}
	if err := WriteKeyPair(g.dir, name, kp); err != nil {
		return err
	}
	g.out.Created = append(g.out.Created, certFile, keyFile)
	return nil
}

// serviceAccountKey writes sa.key (RSA, PKCS#1) and sa.pub (PKIX), the
// service-account signing key pair, as kubeadm does.
func (g *generator) serviceAccountKey() error {
	keyFile, pubFile := filepath.Join(g.dir, "sa.key"), filepath.Join(g.dir, "sa.pub")
	if exists(keyFile) && exists(pubFile) {
		g.out.Kept = append(g.out.Kept, keyFile)
		return nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	keyPEM, _ := EncodeKey(key)
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	if err := WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		return err
	}
	g.out.Created = append(g.out.Created, keyFile, pubFile)
	return nil
}

// WriteKubeconfig writes a kubeconfig with one cluster ("kubernetes", at
// server, trusting ca), one user (user, with kp's certificate and key
// embedded) and one context ("USER@kubernetes"), current: the shape of
// kubeadm's admin.conf. The file is 0600: it holds a private key.
func WriteKubeconfig(file, server string, ca *x509.Certificate, kp *KeyPair, user string) error {
	keyPEM, err := EncodeKey(kp.Key)
	if err != nil {
		return err
	}
	return writeKubeconfig(file, server, EncodeCert(ca), user, &clientcmdapi.AuthInfo{ClientCertificateData: EncodeCert(kp.Cert), ClientKeyData: keyPEM})
}
