// Package app wires the kubelet: the containerd runtime, pod networking,
// the pod manager, node registration and heartbeat, static pods and their
// mirrors, informers for the node's pods, and the kubelet server.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client"
	"minik8s/api/component"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	"minik8s/api/informer"
	"minik8s/api/pki"
	"minik8s/api/record"
	"minik8s/api/workqueue"
	"minik8s/kubelet/certificate"
	"minik8s/kubelet/config"
	"minik8s/kubelet/network"
	"minik8s/kubelet/node"
	"minik8s/kubelet/pod"
	"minik8s/kubelet/runtime"
	"minik8s/kubelet/server"
)

// Options are the kubelet's flags.
type Options struct {
	// ClientOptions are --kubeconfig and --server (the apiserver address
	// list, replacing the kubeconfig's server). With neither the kubelet
	// runs static pods only. With BootstrapKubeconfig the kubelet writes
	// the kubeconfig when it is missing or its certificate invalid.
	component.ClientOptions
	// BootstrapKubeconfig (--bootstrap-kubeconfig) names the apiserver
	// and a bootstrap token: the kubelet requests its client certificate
	// with it (TLS bootstrap, kubelet/certificate.LoadClientCert).
	BootstrapKubeconfig string
	// CertDir (--cert-dir) holds kubelet-client-*.pem,
	// kubelet-server-*.pem and the self-signed kubelet.crt/kubelet.key.
	// Empty: ROOT-DIR/pki for bootstrap and rotation, and no self-signed
	// serving certificate (embedders keep plain HTTP); the flag defaults
	// it to ROOT-DIR/pki (Complete).
	CertDir string
	// RotateCertificates (--rotate-certificates) renews the client
	// certificate through CertificateSigningRequests before it expires.
	RotateCertificates bool
	// RotateServerCertificates (--rotate-server-certificates) requests
	// the serving certificate from the kubelet-serving signer and renews
	// it; --tls-cert-file is then ignored.
	RotateServerCertificates bool
	// CertificateExpirationSeconds asks the signers for this lifetime
	// (spec.expirationSeconds; 0: theirs). No flag: Kubernetes' kubelet
	// leaves it to --cluster-signing-duration; tests shorten it.
	CertificateExpirationSeconds int32
	HostnameOverride             string
	NodeIP                       string
	PodCIDR                      string
	ClusterCIDR                  string
	ClusterDNS                   string
	ClusterDomain                string
	Containerd                   string
	ContainerdNamespace          string
	RootDir                      string
	PodManifestPath              string
	FileCheckFrequency           time.Duration
	RegistryMirrors              []string
	InsecureRegistries           []string
	PauseImage                   string
	Port                         int
	Address                      string
	TLSCertFile                  string
	TLSKeyFile                   string
	ClientCAFile                 string
	AnonymousAuth                bool
	// AuthenticationTokenWebhook checks bearer tokens on the kubelet API
	// with TokenReviews, cached for AuthenticationTokenWebhookCacheTTL.
	AuthenticationTokenWebhook         bool
	AuthenticationTokenWebhookCacheTTL time.Duration
	// AuthorizationMode is AlwaysAllow or Webhook (SubjectAccessReviews,
	// allowed answers cached for AuthorizationWebhookCacheAuthorizedTTL,
	// refusals for AuthorizationWebhookCacheUnauthorizedTTL).
	AuthorizationMode                        string
	AuthorizationWebhookCacheAuthorizedTTL   time.Duration
	AuthorizationWebhookCacheUnauthorizedTTL time.Duration
	MaxPods                                  int
	NodeLabels                               string
	CgroupRoot                               string
	// NodeNetns, NetnsDir, NetnsPrefix and Bridge place the node's network:
	// the harness models a node as a network namespace and runs the kubelet
	// outside it.
	NodeNetns      string
	NetnsDir       string
	NetnsPrefix    string
	Bridge         string
	StatusInterval time.Duration
	BackoffBase    time.Duration
	BackoffMax     time.Duration
	Relist         time.Duration
	// Verbosity is -v: klog's integer, or a level name (debug, info,
	// warn, error) as the kubelet's -v took before.
	Verbosity component.Verbosity
}

// AddFlags registers the kubelet's flags on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	host, _ := os.Hostname()
	o.ClientOptions.AddFlags(fs, "only static pods run; with --bootstrap-kubeconfig, the kubeconfig is written by the kubelet when missing or when its client certificate is not valid")
	fs.StringVar(&o.BootstrapKubeconfig, "bootstrap-kubeconfig", "", "kubeconfig with a bootstrap token: the kubelet requests its client certificate with it (CertificateSigningRequest, signer kubernetes.io/kube-apiserver-client-kubelet), stores it in --cert-dir and writes --kubeconfig")
	fs.StringVar(&o.CertDir, "cert-dir", "", "directory of the kubelet's certificates (kubelet-client-current.pem, kubelet-server-current.pem, kubelet.crt) (default ROOT-DIR/pki)")
	fs.BoolVar(&o.RotateCertificates, "rotate-certificates", false, "request a new client certificate from the apiserver before the current one expires")
	fs.BoolVar(&o.RotateServerCertificates, "rotate-server-certificates", false, "request the serving certificate from the apiserver (signer kubernetes.io/kubelet-serving) and renew it before it expires; --tls-cert-file is ignored")
	fs.StringVar(&o.HostnameOverride, "hostname-override", host, "node name")
	fs.StringVar(&o.NodeIP, "node-ip", "", "the node's InternalIP (default: first non-loopback IPv4 address)")
	fs.StringVar(&o.PodCIDR, "pod-cidr", "", "the node's pod CIDR when node.spec.podCIDR is not set")
	fs.StringVar(&o.ClusterCIDR, "cluster-cidr", "10.244.0.0/16", "every pod CIDR of the cluster (not masqueraded)")
	fs.StringVar(&o.ClusterDNS, "cluster-dns", "10.96.0.10", "DNS server IPs for pods, comma-separated")
	fs.StringVar(&o.ClusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	fs.StringVar(&o.Containerd, "containerd", "/run/containerd/containerd.sock", "containerd socket")
	fs.StringVar(&o.ContainerdNamespace, "containerd-namespace", "k8s.minik8s.io", "containerd namespace for the kubelet's containers")
	fs.StringVar(&o.RootDir, "root-dir", "/var/lib/minik8s-kubelet", "kubelet state: pod volumes, logs, IPAM")
	fs.StringVar(&o.PodManifestPath, "pod-manifest-path", "", "directory of static pod manifests")
	fs.DurationVar(&o.FileCheckFrequency, "file-check-frequency", 20*time.Second, "how often the manifest directory is read")
	fs.Func("registry-mirror", "REGISTRY=URL, e.g. docker.io=http://127.0.0.1:5000 (repeatable)", func(s string) error {
		o.RegistryMirrors = append(o.RegistryMirrors, s)
		return nil
	})
	fs.Func("insecure-registry", "HOST:PORT reached over plain HTTP (repeatable; loopback always is)", func(s string) error {
		o.InsecureRegistries = append(o.InsecureRegistries, s)
		return nil
	})
	fs.StringVar(&o.PauseImage, "pod-infra-container-image", "minik8s/pause:3.9", "the pause image")
	fs.IntVar(&o.Port, "port", 10250, "kubelet server port")
	fs.StringVar(&o.Address, "address", "0.0.0.0", "kubelet server address")
	fs.StringVar(&o.TLSCertFile, "tls-cert-file", "", "serve HTTPS with this certificate (with --tls-private-key-file); with neither it nor --rotate-server-certificates, a self-signed kubelet.crt in --cert-dir")
	fs.StringVar(&o.TLSKeyFile, "tls-private-key-file", "", "key of --tls-cert-file")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", "", "over HTTPS, callers must present a client certificate signed by one of these CAs (the apiserver's --kubelet-client-certificate)")
	fs.BoolVar(&o.AnonymousAuth, "anonymous-auth", false, "over HTTPS, let callers without credentials in as system:anonymous; false: 401 on every path but /healthz")
	fs.BoolVar(&o.AuthenticationTokenWebhook, "authentication-token-webhook", false, "check bearer tokens on the kubelet API with TokenReviews to the apiserver")
	fs.DurationVar(&o.AuthenticationTokenWebhookCacheTTL, "authentication-token-webhook-cache-ttl", DefaultTokenWebhookCacheTTL, "how long token review answers are cached")
	fs.StringVar(&o.AuthorizationMode, "authorization-mode", AuthorizationModeAlwaysAllow,
		"how requests on the kubelet API are authorized: AlwaysAllow (every authenticated caller) or Webhook (SubjectAccessReviews on nodes/proxy, nodes/stats, nodes/log, nodes/metrics, ...)")
	fs.DurationVar(&o.AuthorizationWebhookCacheAuthorizedTTL, "authorization-webhook-cache-authorized-ttl", DefaultAuthorizedCacheTTL, "how long allowed answers of the webhook authorizer are cached")
	fs.DurationVar(&o.AuthorizationWebhookCacheUnauthorizedTTL, "authorization-webhook-cache-unauthorized-ttl", DefaultUnauthorizedCacheTTL, "how long refusals of the webhook authorizer are cached")
	fs.IntVar(&o.MaxPods, "max-pods", 110, "pods this node takes")
	fs.StringVar(&o.NodeLabels, "node-labels", "", "extra node labels k=v,k2=v2")
	fs.StringVar(&o.CgroupRoot, "cgroup-root", "/minik8s", "parent cgroup of all pods")
	fs.StringVar(&o.NodeNetns, "node-netns", "", "network namespace path of the node (bridge, routes, iptables); empty: the kubelet's own")
	fs.StringVar(&o.NetnsDir, "netns-dir", "/var/run/netns", "where pod network namespaces are bind-mounted")
	fs.StringVar(&o.NetnsPrefix, "netns-prefix", "", "prefix of pod network namespace names (default minik8s-<node>)")
	fs.StringVar(&o.Bridge, "bridge", "minik8s0", "the node bridge")
	fs.DurationVar(&o.StatusInterval, "node-status-update-frequency", 10*time.Second, "node status and lease period")
	fs.DurationVar(&o.BackoffBase, "restart-backoff", 10*time.Second, "first container restart back-off (doubles to --restart-backoff-max)")
	fs.DurationVar(&o.BackoffMax, "restart-backoff-max", 5*time.Minute, "maximum container restart back-off")
	fs.DurationVar(&o.Relist, "relist-period", time.Second, "how often containerd is listed for changes")
	o.Verbosity.AddFlags(fs)
}

// Complete fills the defaults that depend on other flags: --cert-dir is
// ROOT-DIR/pki. The kubelet's main calls it after parsing.
func (o *Options) Complete() {
	if o.CertDir == "" {
		o.CertDir = filepath.Join(o.RootDir, "pki")
	}
}

// Kubelet is a running kubelet.
type Kubelet struct {
	Pods    *pod.Manager
	Runtime runtime.Runtime
	Network network.Manager
	Server  *server.Server
	Client  *client.Client
	// ServerAddr is the kubelet server's listening address.
	ServerAddr string
	// ClientCertificate and ServingCertificate are the certificate
	// managers with --rotate-certificates and
	// --rotate-server-certificates (nil without).
	ClientCertificate  *certificate.Manager
	ServingCertificate *certificate.Manager
}

// Deps are the parts of a kubelet that tests and hollow nodes replace
// with fakes (kubelet/runtime/fake, network.Fake); a nil field gets the
// real one (containerd at o.Containerd, Linux networking).
type Deps struct {
	Runtime runtime.Runtime
	Network network.Manager
	// Clock drives the pod manager's timers (the wall clock if nil).
	Clock workqueue.Clock
	// Log replaces slog.Default() (hollow nodes quiet their kubelets).
	Log *slog.Logger
}

// Run runs the kubelet until ctx ends. ready, if not nil, receives the
// Kubelet once it serves.
func Run(ctx context.Context, o Options, ready chan<- *Kubelet) error {
	return RunWith(ctx, o, Deps{}, ready)
}

// RunWith is Run on the given runtime and network.
func RunWith(ctx context.Context, o Options, deps Deps, ready chan<- *Kubelet) error {
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "kubelet", "node", o.HostnameOverride)
	nodeName := o.HostnameOverride
	if nodeName == "" {
		return errors.New("no node name (--hostname-override)")
	}
	if _, err := parseAuthorizationMode(o.AuthorizationMode); err != nil {
		return err
	}
	if (o.AuthenticationTokenWebhook || o.AuthorizationMode == AuthorizationModeWebhook) && !o.Given() {
		return errors.New("--authentication-token-webhook and --authorization-mode=Webhook need an apiserver (--kubeconfig or --server)")
	}
	if err := checkNodeLabels(parseLabels(o.NodeLabels)); err != nil {
		return err
	}
	if o.RotateServerCertificates && !o.Given() {
		return errors.New("--rotate-server-certificates needs an apiserver (--kubeconfig or --server)")
	}
	certDir := o.CertDir
	if certDir == "" {
		certDir = filepath.Join(o.RootDir, "pki")
	}
	// TLS bootstrap first: it writes the --kubeconfig read next.
	if o.BootstrapKubeconfig != "" {
		if err := certificate.LoadClientCert(ctx, certificate.BootstrapOptions{
			Kubeconfig: o.Kubeconfig, BootstrapKubeconfig: o.BootstrapKubeconfig, Server: o.Server,
			CertDir: certDir, NodeName: nodeName, ExpirationSeconds: o.CertificateExpirationSeconds, Log: log,
		}); err != nil {
			return err
		}
	}
	// Read --kubeconfig before touching containerd or the network, so a
	// bad file fails the start instead of leaving a half-set-up node.
	var apiConfig *client.Config
	if o.Given() {
		c, err := o.Config()
		if err != nil {
			return err
		}
		apiConfig = c
	}
	// csrs is the CSR client of the kubelet's own connection (set below):
	// renewals authenticate with the certificate in use.
	var csrClient *client.Client
	csrs := func() (client.Interface[*certificatesv1.CertificateSigningRequest], error) {
		if csrClient == nil {
			return nil, errors.New("no apiserver client")
		}
		return client.For[*certificatesv1.CertificateSigningRequest](csrClient), nil
	}
	var clientOpts []client.Option
	var clientMgr *certificate.Manager
	if o.RotateCertificates && apiConfig != nil && (apiConfig.ClientCertificate != "" || len(apiConfig.ClientCertificateData) > 0) {
		m, dialer, err := clientCertificateManager(apiConfig, certDir, nodeName, o.CertificateExpirationSeconds, csrs, deps.Clock, log)
		if err != nil {
			return err
		}
		clientMgr = m
		clientOpts = append(clientOpts, dialer.ClientOption())
	}
	if o.NodeIP == "" {
		o.NodeIP = firstIPv4()
	}
	if o.NetnsPrefix == "" {
		o.NetnsPrefix = "minik8s-" + nodeName
	}
	if err := os.MkdirAll(o.RootDir, 0o755); err != nil {
		return fmt.Errorf("root dir: %w", err)
	}
	rt := deps.Runtime
	if rt == nil {
		mirrorURLs := map[string]*url.URL{}
		for _, m := range o.RegistryMirrors {
			reg, u, err := runtime.ParseMirror(m)
			if err != nil {
				return err
			}
			mirrorURLs[reg] = u
		}
		c, err := runtime.NewContainerd(ctx, runtime.ContainerdOptions{
			Address: o.Containerd, Namespace: o.ContainerdNamespace,
			Hosts: runtime.NewHosts(mirrorURLs, o.InsecureRegistries), StateDir: filepath.Join(o.RootDir, "runtime"), Log: log,
		})
		if err != nil {
			return err
		}
		defer c.Close()
		rt = c
	}
	netw := deps.Network
	if netw == nil {
		l, err := network.NewLinux(network.Config{
			NodeNetns: o.NodeNetns, NetnsDir: o.NetnsDir, NetnsPrefix: o.NetnsPrefix, Bridge: o.Bridge,
			ClusterCIDR: o.ClusterCIDR, StateDir: filepath.Join(o.RootDir, "network"), Log: log,
		})
		if err != nil {
			return err
		}
		netw = l
	}
	var dns []string
	for _, s := range strings.Split(o.ClusterDNS, ",") {
		if s = strings.TrimSpace(s); s != "" {
			dns = append(dns, s)
		}
	}
	cfg := pod.Config{
		NodeName: nodeName, HostIP: o.NodeIP, RootDir: o.RootDir, PauseImage: o.PauseImage,
		ClusterDNS: dns, ClusterDomain: o.ClusterDomain, CgroupRoot: o.CgroupRoot,
		BackoffBase: o.BackoffBase, BackoffMax: o.BackoffMax, Relist: o.Relist, Clock: deps.Clock, Log: log,
	}
	k := &Kubelet{Runtime: rt, Network: netw, ClientCertificate: clientMgr}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	goRun := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}

	initNet := func(cidr string) {
		if cidr == "" || netw.PodCIDR() != "" {
			return
		}
		if err := netw.Init(ctx, cidr); err != nil {
			log.Error("node network init failed", "podCIDR", cidr, "err", err)
			return
		}
		log.Info("node network ready", "podCIDR", cidr, "bridge", o.Bridge)
	}

	var (
		api        pod.API = pod.NoAPI{}
		rec        *record.Recorder
		podInf     *informer.Informer[*corev1.Pod]
		mirrorSync *mirrors
	)
	if apiConfig != nil {
		c, err := client.NewForConfig(apiConfig, append([]client.Option{client.WithUserAgent("kubelet/" + node.KubeletVersion), client.WithLogger(log)}, clientOpts...)...)
		if err != nil {
			return err
		}
		defer c.Close()
		k.Client = c
		csrClient = c
		if clientMgr != nil {
			goRun(func() { clientMgr.Run(ctx) })
		}
		rec = record.New(c, "kubelet", nodeName)
		defer rec.Stop()
		pods := client.For[*corev1.Pod](c)
		podInf = informer.New[*corev1.Pod](pods, "", client.ListOptions{FieldSelector: "spec.nodeName=" + nodeName}, 0)
		svcInf := informer.New[*corev1.Service](client.For[*corev1.Service](c), "", client.ListOptions{}, 0)
		nodeInf := informer.New[*corev1.Node](client.For[*corev1.Node](c), "", client.ListOptions{}, 0)
		api = &apiAdapter{pods: pods, configMaps: client.For[*corev1.ConfigMap](c), secrets: client.For[*corev1.Secret](c),
			podLister: podInf.Lister(), services: svcInf.Lister(), client: c, log: log}
		nodeUID := func() (string, error) {
			n, err := nodeInf.Lister().Get("", nodeName)
			if err != nil {
				return "", err // not registered yet: the next sync retries
			}
			return n.GetMetadata().GetUid(), nil
		}
		mirrorSync = newMirrors(pods, podInf.Lister(), nodeName, nodeUID, log)
		k.setRoutesHandler(ctx, nodeInf, netw, nodeName, initNet, log)
		for _, run := range []func(context.Context){podInf.Run, svcInf.Run, nodeInf.Run} {
			goRun(func() { run(ctx) })
		}
		goRun(func() { mirrorSync.run(ctx, podInf.HasSynced) })
	}
	var mgr *pod.Manager
	if rec != nil {
		mgr = pod.NewManager(cfg, rt, netw, api, rec)
	} else {
		mgr = pod.NewManager(cfg, rt, netw, api, nil) // not a typed nil *record.Recorder
	}
	k.Pods = mgr
	initNet(o.PodCIDR)

	// Pod sources: the apiserver (pods bound here, minus mirror pods) and
	// the manifest directory.
	var sources []string
	copts := config.Options{}
	if podInf != nil {
		sources = append(sources, config.SourceAPI)
		copts.MirrorChanged = mirrorSync.poke
		copts.StaticChanged = mirrorSync.setStatic
	}
	if o.PodManifestPath != "" {
		sources = append(sources, config.SourceFile)
	}
	copts.Sources = sources
	podConfig := config.New(mgr, copts)
	if podInf != nil {
		goRun(func() { podConfig.WatchAPI(ctx, podInf) })
	}
	if o.PodManifestPath != "" {
		goRun(func() { podConfig.WatchFiles(ctx, o.PodManifestPath, nodeName, o.FileCheckFrequency, log) })
	}
	goRun(func() { mgr.Run(ctx) })

	scfg := server.Config{NodeName: nodeName, RootDir: o.RootDir, Dial: netw.DialContext}
	var err error
	if scfg.Tokens, scfg.Authorizer, err = o.reviewers(k.Client); err != nil {
		return err
	}
	var servingMgr *certificate.Manager
	switch {
	case o.RotateServerCertificates:
		// Requested once the Node is registered (below): the approver
		// checks the request's addresses against the Node's.
		hosts := []string{nodeName}
		var ips []net.IP
		if ip := net.ParseIP(o.NodeIP); ip != nil {
			ips = append(ips, ip)
		}
		servingMgr = certificate.NewManager(certificate.ManagerConfig{
			Name: "serving", Store: &certificate.Store{Dir: certDir, Prefix: certificate.ServingPrefix},
			Request: func() certificate.Request {
				r := certificate.ServingRequest(nodeName, hosts, ips)
				r.ExpirationSeconds = o.CertificateExpirationSeconds
				return r
			},
			CSRs: csrs, Clock: deps.Clock, Log: log,
		})
		k.ServingCertificate = servingMgr
		scfg.TLSConfig = &tls.Config{GetCertificate: servingMgr.GetCertificate}
		if o.TLSCertFile != "" {
			log.Warn("--tls-cert-file is ignored with --rotate-server-certificates")
		}
	case o.TLSCertFile != "":
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("kubelet server certificate: %w", err)
		}
		scfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	case o.CertDir != "":
		// As Kubernetes' kubelet: a self-signed serving certificate.
		cert, err := certificate.SelfSigned(certDir, nodeName, []string{o.NodeIP, nodeName})
		if err != nil {
			return fmt.Errorf("kubelet server certificate: self-signed in %s: %w", certDir, err)
		}
		log.Info("serving with a self-signed certificate (no --tls-cert-file, no --rotate-server-certificates)", "file", filepath.Join(certDir, certificate.SelfSignedCert))
		scfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	if scfg.TLSConfig != nil {
		scfg.TLSConfig.MinVersion, scfg.TLSConfig.ClientAuth = tls.VersionTLS12, tls.RequestClientCert
		scfg.AnonymousAuth = o.AnonymousAuth
		if o.ClientCAFile != "" {
			if scfg.ClientCAs, err = pki.CertPool(o.ClientCAFile); err != nil {
				return fmt.Errorf("--client-ca-file: %w", err)
			}
		}
	}
	srv := server.New(scfg, rt, mgr)
	k.Server = srv
	ln, err := listenServer(&o)
	if err != nil {
		return fmt.Errorf("kubelet server: %w", err)
	}
	k.ServerAddr = ln.Addr().String()
	goRun(func() {
		if err := srv.Serve(ctx, ln); err != nil {
			log.Error("kubelet server stopped", "err", err)
		}
	})

	if k.Client != nil {
		agent := node.NewAgent(node.Config{Name: nodeName, NodeIP: o.NodeIP, PodCIDR: o.PodCIDR, Port: ln.Addr().(*net.TCPAddr).Port,
			MaxPods: o.MaxPods, Labels: parseLabels(o.NodeLabels), Interval: o.StatusInterval, Log: log}, k.Client, rt)
		agent.NetworkReady = func() bool { return netw.PodCIDR() != "" }
		goRun(func() {
			n, err := agent.Register(ctx)
			if err != nil {
				return
			}
			initNet(n.GetSpec().GetPodCIDR())
			if servingMgr != nil {
				// The Node's addresses first, then the serving request
				// naming them.
				if err := agent.SyncStatus(ctx); err != nil && ctx.Err() == nil {
					log.Warn("node status update failed", "err", err)
				}
				goRun(func() { servingMgr.Run(ctx) })
			}
			agent.Run(ctx)
		})
	}
	log.Info("kubelet started", "server", o.Server, "kubeconfig", o.Kubeconfig, "containerd", o.Containerd, "nodeIP", o.NodeIP, "port", ln.Addr().String())
	if ready != nil {
		ready <- k
	}
	<-ctx.Done()
	return nil
}

// setRoutesHandler installs routes to every other node's pod CIDR and
// takes our own pod CIDR from our Node once the controller-manager sets it.
func (k *Kubelet) setRoutesHandler(ctx context.Context, inf *informer.Informer[*corev1.Node], netw network.Manager, self string, initNet func(string), log *slog.Logger) {
	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	inf.AddEventHandler(informer.HandlerFuncs[*corev1.Node]{
		AddFunc:    func(*corev1.Node) { poke() },
		UpdateFunc: func(o, n *corev1.Node) { poke() },
		DeleteFunc: func(*corev1.Node) { poke() },
	})
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			case <-t.C:
			}
			if !inf.HasSynced() {
				continue
			}
			var routes []network.NodeRoute
			for _, n := range inf.Lister().List(nil) {
				if n.GetMetadata().GetName() == self {
					initNet(n.GetSpec().GetPodCIDR())
					continue
				}
				cidr := n.GetSpec().GetPodCIDR()
				ip := internalIP(n)
				if cidr == "" || ip == nil {
					continue
				}
				routes = append(routes, network.NodeRoute{CIDR: cidr, Via: ip})
			}
			if err := netw.SyncRoutes(ctx, routes); err != nil {
				log.Warn("node route sync failed", "err", err)
			}
		}
	}()
}

// listenServer opens the kubelet server's socket. A kubelet whose node is
// another network namespace (--node-netns, the harness) serves in that
// namespace, as a kubelet serves on its machine's addresses, so the
// apiserver reaches it at the Node's InternalIP; a loopback --address
// stays the kubelet's own loopback (tests on one machine).
func listenServer(o *Options) (net.Listener, error) {
	addr := net.JoinHostPort(o.Address, fmt.Sprint(o.Port))
	if ip := net.ParseIP(o.Address); o.NodeNetns == "" || (ip != nil && ip.IsLoopback()) {
		return net.Listen("tcp", addr)
	}
	var ln net.Listener
	err := network.Do(o.NodeNetns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

func internalIP(n *corev1.Node) net.IP {
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == "InternalIP" {
			return net.ParseIP(a.GetAddress())
		}
	}
	return nil
}

// checkNodeLabels refuses --node-labels the NodeRestriction admission
// plugin would refuse (kubernetes.io and k8s.io labels outside the
// kubelet's set), at start rather than at every registration attempt.
func checkNodeLabels(labels map[string]string) error {
	var bad []string
	for k := range labels {
		if !helper.IsKubeletLabel(k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: %v (a kubelet may set only labels outside them, the kubelet's own, and those under %s)",
		bad, strings.Join(helper.KubeletLabelNamespaces, ", "))
}

func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k != "" {
			out[k] = v
		}
	}
	return out
}

func firstIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return ipn.IP.String()
		}
	}
	return ""
}

// clientCertificateManager manages the client certificate of cfg (the
// kubeconfig's files or data; kubelet-client-current.pem once rotated):
// cfg is changed to take the certificate from the manager at each
// handshake, and the returned Dialer's connections are closed on every
// rotation so that new ones present the new certificate.
func clientCertificateManager(cfg *client.Config, certDir, nodeName string, expirationSeconds int32,
	csrs func() (client.Interface[*certificatesv1.CertificateSigningRequest], error), clock workqueue.Clock, log *slog.Logger) (*certificate.Manager, *certificate.Dialer, error) {
	store := &certificate.Store{Dir: certDir, Prefix: certificate.ClientPrefix, CertFile: cfg.ClientCertificate, KeyFile: cfg.ClientKey}
	var initial *tls.Certificate
	if len(cfg.ClientCertificateData) > 0 {
		c, err := tls.X509KeyPair(cfg.ClientCertificateData, cfg.ClientKeyData)
		if err != nil {
			return nil, nil, fmt.Errorf("kubeconfig user %q: client certificate and key: %w", cfg.User, err)
		}
		initial = &c
	}
	dialer := certificate.NewDialer()
	m := certificate.NewManager(certificate.ManagerConfig{
		Name: "client", Store: store, Initial: initial,
		Request: func() certificate.Request {
			r := certificate.ClientRequest(nodeName)
			r.ExpirationSeconds = expirationSeconds
			return r
		},
		CSRs: csrs, Clock: clock, Log: log,
		OnRotate: func(*tls.Certificate) { dialer.CloseAll() },
	})
	if m.Current() == nil {
		return nil, nil, fmt.Errorf("--rotate-certificates: no client certificate to start from (kubeconfig user %q, %s)", cfg.User, store.CurrentPath())
	}
	cfg.GetClientCertificate = m.GetClientCertificate
	return m, dialer, nil
}
