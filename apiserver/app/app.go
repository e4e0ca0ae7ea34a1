// Package app assembles the apiserver from its flags: the etcd client, the
// store with its watch caches, the gRPC server and the HTTP endpoints for
// health and metrics.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	_ "minik8s/api/all" // every kind
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/allocator"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/componentstatus"
	"minik8s/apiserver/endpoints"
	"minik8s/apiserver/openapi"
	_ "minik8s/apiserver/registry/all" // every kind's strategy
	"minik8s/apiserver/registry/core/pods"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/restapi"
	"minik8s/apiserver/server"
	"minik8s/apiserver/storage"
	"minik8s/apiserver/storage/encryption"
)

// Options are the apiserver's flags, named as Kubernetes names them.
type Options struct {
	EtcdServers           string
	BindAddress           string
	SecurePort            int
	HTTPPort              int
	ServiceClusterIPRange string
	ServiceNodePortRange  string
	AdvertiseAddress      string
	WatchHistory          int
	ComponentHealth       string
	GCPercent             int
	Authentication        AuthenticationOptions
	// EnableAdmissionPlugins and DisableAdmissionPlugins are
	// comma-separated plugin names (kube-apiserver's
	// --enable-admission-plugins and --disable-admission-plugins): the
	// plugins that run are DefaultAdmissionPlugins plus the enabled minus
	// the disabled ones (admission.go).
	EnableAdmissionPlugins  string
	DisableAdmissionPlugins string
	// DefaultNotReadyTolerationSeconds and
	// DefaultUnreachableTolerationSeconds are the tolerationSeconds the
	// DefaultTolerationSeconds plugin gives pods; nil means 300.
	DefaultNotReadyTolerationSeconds    *int64
	DefaultUnreachableTolerationSeconds *int64
	// EncryptionProviderConfig is an EncryptionConfiguration file:
	// which resources are encrypted at rest, with which keys.
	EncryptionProviderConfig string
	// RequestTimeout, MaxRequestsInflight and MaxMutatingRequestsInflight
	// bound requests that are not long-running (kube-apiserver's
	// --request-timeout, --max-requests-inflight,
	// --max-mutating-requests-inflight).
	RequestTimeout              time.Duration
	MaxRequestsInflight         int
	MaxMutatingRequestsInflight int
	// AuthorizationMode lists the authorizers, in order
	// (kube-apiserver's --authorization-mode).
	AuthorizationMode string
	// KubeletPreferredAddressTypes orders the Node address types tried
	// for a kubelet (Kubernetes' --kubelet-preferred-address-types).
	KubeletPreferredAddressTypes string

	// Serving and authentication (kube-apiserver's flags).
	TLSCertFile       string
	TLSPrivateKeyFile string
	CertDir           string
	ClientCAFile      string
	AnonymousAuth     bool
	// etcd client TLS.
	EtcdCAFile   string
	EtcdCertFile string
	EtcdKeyFile  string
	// How the apiserver calls kubelets.
	KubeletClientCertificate    string
	KubeletClientKey            string
	KubeletCertificateAuthority string

	// Audit are the --audit-* flags.
	Audit AuditOptions

	// Authenticators are added to the union after client certificates
	// (token authenticators); not a flag.
	Authenticators []auth.Authenticator
}

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.EtcdServers, "etcd-servers", "http://127.0.0.1:2379", "comma-separated etcd client URLs")
	fs.StringVar(&o.BindAddress, "bind-address", "0.0.0.0", "address to serve on")
	fs.IntVar(&o.SecurePort, "secure-port", 6443, "port of the gRPC API")
	fs.IntVar(&o.HTTPPort, "http-port", 8080, "port of /healthz, /livez, /readyz and /metrics (0 disables)")
	fs.StringVar(&o.ServiceClusterIPRange, "service-cluster-ip-range", "10.96.0.0/16", "CIDR from which Service cluster IPs are allocated")
	fs.StringVar(&o.AdvertiseAddress, "advertise-address", "", "IP published in the endpoints of Service default/kubernetes (default: --bind-address, or the first non-loopback IPv4 address when that is 0.0.0.0)")
	fs.StringVar(&o.ServiceNodePortRange, "service-node-port-range", allocator.DefaultNodePortRange, "port range (LOW-HIGH) from which Service node ports are allocated")
	fs.IntVar(&o.WatchHistory, "watch-cache-history", 10000, "events kept per resource for watches resuming from an old resourceVersion")
	fs.IntVar(&o.GCPercent, "gc-percent", 400,
		"Go GC target (as GOGC; ignored when GOGC is set): the watch cache keeps much live memory, and collecting at 100% spends CPU etcd needs on the same machine")
	fs.StringVar(&o.KubeletPreferredAddressTypes, "kubelet-preferred-address-types", strings.Join(pods.DefaultPreferredAddressTypes, ","),
		"the order of Node address types to reach a kubelet at (with the port in the Node's status.daemonEndpoints)")
	fs.StringVar(&o.TLSCertFile, "tls-cert-file", "", "PEM serving certificate of the API port (with intermediates after it); without it a self-signed one is made under --cert-dir")
	fs.StringVar(&o.TLSPrivateKeyFile, "tls-private-key-file", "", "PEM private key of --tls-cert-file")
	fs.StringVar(&o.CertDir, "cert-dir", "/var/run/kubernetes", "directory of the self-signed serving certificate (apiserver.crt/key) used when --tls-cert-file is not given")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", "", "CA bundle: a client certificate signed by one of them authenticates its common name as the user and its organizations as groups")
	fs.BoolVar(&o.AnonymousAuth, "anonymous-auth", false, "treat requests without credentials as system:anonymous; false: 401 for them (except /healthz, /livez, /readyz and /version, always open)")
	fs.StringVar(&o.EtcdCAFile, "etcd-cafile", "", "CA bundle verifying the etcd servers")
	fs.StringVar(&o.EtcdCertFile, "etcd-certfile", "", "client certificate for etcd")
	fs.StringVar(&o.EtcdKeyFile, "etcd-keyfile", "", "private key of --etcd-certfile")
	fs.StringVar(&o.KubeletClientCertificate, "kubelet-client-certificate", "", "client certificate the apiserver presents to kubelets")
	fs.StringVar(&o.KubeletClientKey, "kubelet-client-key", "", "private key of --kubelet-client-certificate")
	fs.StringVar(&o.KubeletCertificateAuthority, "kubelet-certificate-authority", "", "CA bundle verifying the kubelets' serving certificates")
	fs.StringVar(&o.ComponentHealth, "component-health", DefaultComponentHealth,
		"health URLs probed for (get componentstatuses): name=url[;url...] (several URLs for active-standby replicas), comma-separated")
	o.Authentication.AddFlags(fs)
	o.Audit.AddFlags(fs)
	fs.StringVar(&o.EncryptionProviderConfig, "encryption-provider-config", "",
		"EncryptionConfiguration (apiserver.config.k8s.io/v1) file naming the resources encrypted in etcd and their providers (aesgcm, aescbc, identity); the first provider encrypts")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", time.Minute,
		"longest a request that is not a watch or a stream may take; a storage that does not answer by then gives 504 Timeout")
	fs.IntVar(&o.MaxRequestsInflight, "max-requests-inflight", 400,
		"read-only requests served at once; more get 429 with Retry-After (system:masters is never refused; 0: no limit)")
	fs.IntVar(&o.MaxMutatingRequestsInflight, "max-mutating-requests-inflight", 200,
		"create, update, patch and delete requests served at once; more get 429 with Retry-After (0: no limit)")
	fs.StringVar(&o.AuthorizationMode, "authorization-mode", DefaultAuthorizationMode,
		"comma-separated authorizers asked in order (the first to allow or deny decides), of: "+strings.Join(AuthorizationModes, ", "))
	o.addAdmissionFlags(fs)
}

// DefaultComponentHealth are the scheduler's and controller-manager's
// default health endpoints (Kubernetes' ports).
const DefaultComponentHealth = "scheduler=http://127.0.0.1:10259/healthz,controller-manager=http://127.0.0.1:10257/healthz"

// Validate checks the flags.
func (o *Options) Validate() error {
	if strings.TrimSpace(o.EtcdServers) == "" {
		return errors.New("--etcd-servers is required")
	}
	if o.SecurePort < 0 || o.SecurePort > 65535 {
		return fmt.Errorf("--secure-port %d: must be 0-65535 (0 picks a free port)", o.SecurePort)
	}
	if o.AdvertiseAddress != "" {
		if _, err := netip.ParseAddr(o.AdvertiseAddress); err != nil {
			return fmt.Errorf("--advertise-address %q: not an IP address", o.AdvertiseAddress)
		}
	}
	if _, _, err := net.ParseCIDR(o.ServiceClusterIPRange); err != nil {
		return fmt.Errorf("--service-cluster-ip-range %q: %v", o.ServiceClusterIPRange, err)
	}
	if o.ServiceNodePortRange != "" {
		if _, _, err := allocator.ParsePortRange(o.ServiceNodePortRange); err != nil {
			return fmt.Errorf("--service-node-port-range: %v", err)
		}
	}
	if o.KubeletPreferredAddressTypes != "" {
		if _, err := pods.ParseAddressTypes(o.KubeletPreferredAddressTypes); err != nil {
			return fmt.Errorf("--kubelet-preferred-address-types: %v", err)
		}
	}
	if _, err := componentstatus.ParseHTTP(o.ComponentHealth); err != nil {
		return fmt.Errorf("--component-health: %v", err)
	}
	if err := o.validateAdmission(); err != nil {
		return err
	}
	if _, err := parseAuthorizationModes(o.AuthorizationMode); err != nil {
		return err
	}
	if err := o.Audit.Validate(); err != nil {
		return err
	}
	return o.Authentication.Validate()
}

// kubeletConfig is where the node proxy reaches kubelets: the Node's
// preferred address (https when the apiserver has kubelet client TLS).
func (o *Options) kubeletConfig() pods.KubeletConfig {
	types, _ := pods.ParseAddressTypes(o.KubeletPreferredAddressTypes)
	return pods.KubeletConfig{Scheme: "http", PreferredAddressTypes: types}
}

// Run serves until ctx ends. ready, if not nil, receives the gRPC address
// once the server accepts requests.
func Run(ctx context.Context, o Options, ready chan<- string) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.GCPercent > 0 && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(o.GCPercent)
	}
	etcdTLS, err := o.etcdTLS()
	if err != nil {
		return err
	}
	auditor, err := o.Audit.Build()
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: after the servers and the watches
	// stopped, every event accepted is written before Run returns.
	defer auditor.Shutdown()
	cert, err := servingCert(o.TLSCertFile, o.TLSPrivateKeyFile, o.CertDir, selfSignedHosts(o))
	if err != nil {
		return err
	}
	cli, err := clientv3.New(clientv3.Config{
		TLS:         etcdTLS,
		Endpoints:   strings.Split(o.EtcdServers, ","),
		DialTimeout: 5 * time.Second,
		// A member whose connection goes silent (a hung host, a firewall
		// dropping) is found by keepalive pings and its connection closed,
		// so the watches and lists on it move to another member. 10 s is
		// the shortest interval gRPC allows a client (Kubernetes: 30 s).
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		Logger:               zap.NewNop(),
		// Room for lists of large kinds; objects themselves are capped.
		MaxCallRecvMsgSize: 1 << 30,
	})
	if err != nil {
		return fmt.Errorf("connect to etcd %s: %w", o.EtcdServers, err)
	}
	defer cli.Close()

	etcdStore := storage.NewEtcd(cli)
	corrupt := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "apiserver_storage_corrupt_objects_total",
		Help: "Stored values that could not be decoded, by resource: skipped by lists and watches, named by gets, removable by delete."}, []string{"resource"})
	etcdStore.OnCorrupt = func(key string, err error) {
		res, _, _ := strings.Cut(strings.TrimPrefix(key, storage.Prefix+"/"), "/")
		corrupt.WithLabelValues(res).Inc()
		slog.Error("stored object cannot be decoded; it is skipped until deleted", "key", key, "err", err)
	}
	if o.EncryptionProviderConfig != "" {
		enc, err := encryption.Load(o.EncryptionProviderConfig)
		if err != nil {
			return err
		}
		etcdStore.Encrypt(enc)
	}
	st := generic.New(etcdStore, cache.Options{History: o.WatchHistory})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	storeDone := make(chan struct{})
	go func() { st.Run(ctx); close(storeDone) }()
	defer func() { cancel(); <-storeDone }()

	if err := bootstrap(ctx, st); err != nil {
		return err
	}

	services, err := serviceAllocator(ctx, cli, st, o)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), corrupt)
	metrics := server.NewMetrics(reg)
	// handshaken: the split listener did the TLS handshake (alpn.go).
	g := grpc.NewServer(append(append(server.ServerOptions(metrics), server.AuditOptions(auditor)...), grpc.Creds(handshaken{}))...)
	health, _ := componentstatus.ParseHTTP(o.ComponentHealth)
	// Client certificates first, then the bearer tokens (a token file,
	// bootstrap tokens, service-account tokens; they read the store).
	tokens, err := o.Authentication.Build(StoreGetter(st))
	if err != nil {
		return err
	}
	authz, err := o.authorizer(ctx, st)
	if err != nil {
		return err
	}
	authn, err := authenticator(o, append(tokens.Authenticators, o.Authenticators...)...)
	if err != nil {
		return err
	}
	// Impersonate-* headers: the door and the request path see the
	// impersonated user, once the caller may act as it.
	authn = auth.Impersonating{Authenticator: authn, Authorizer: authz}
	if z := rbacIn(authz); z != nil {
		if err := startRBAC(ctx, st, z); err != nil {
			return err
		}
	}
	api := NewAPI(st, services, &componentstatus.Prober{Etcd: cli, HTTP: health}, memo{authn}, authz, o.admissionChain(st, authz))
	tokens.Install(api)
	api.SetLimits(endpoints.Limits{RequestTimeout: o.RequestTimeout, MaxReadOnly: o.MaxRequestsInflight, MaxMutating: o.MaxMutatingRequestsInflight})
	kubeletTLS, err := o.kubeletTLS()
	if err != nil {
		return err
	}
	kc := pods.NewKubeletClient(o.kubeletConfig(), kubeletTLS)
	RegisterMetrics(api, st, kc)
	server.New(server.Config{API: api, Store: st, Kubelet: kc}).Register(g)

	lis, err := net.Listen("tcp", net.JoinHostPort(o.BindAddress, strconv.Itoa(o.SecurePort)))
	if err != nil {
		return fmt.Errorf("listen on API port: %w", err)
	}
	// One TLS port: gRPC for our components, the REST API for everyone
	// else (secure.go).
	errc := make(chan error, 3)
	extra := healthMux(st, reg)
	extra.HandleFunc("/version", serveVersion)
	extra.Handle("/openapi/", openapi.Handler())
	tokens.InstallOpenID(extra)
	rest := restapi.New(restapi.Config{
		API: api, Extra: extra, Connect: newConnector(st, kc).serve, Patch: ApplyPatch,
	})
	split := newTLSSplitListener(lis, serverTLS(cert))
	rs := &http.Server{
		Handler: secureHandler(g, rest, authn, auditor, authz),
		// No TLSConfig: the split listener hands over finished TLS
		// connections, and without one Serve sets up h2 for them.
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          tlsErrorLog(),
	}
	go func() {
		if err := rs.Serve(split.http); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			errc <- err
		}
	}()
	go func() { errc <- g.Serve(split.grpc) }()
	defer split.Close()

	var hs *http.Server
	if o.HTTPPort > 0 {
		hl, err := net.Listen("tcp", net.JoinHostPort(o.BindAddress, strconv.Itoa(o.HTTPPort)))
		if err != nil {
			g.Stop()
			return fmt.Errorf("listen on HTTP port: %w", err)
		}
		hs = &http.Server{Handler: healthMux(st, reg), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := hs.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	ks, err := newKubernetesService(st, services, o, lis.Addr().(*net.TCPAddr).Port)
	if err != nil {
		g.Stop()
		return err
	}
	// The first round before serving: clients that start with this
	// apiserver find the kubernetes service already there.
	if err := ks.sync(ctx); err != nil {
		slog.Warn("kubernetes service", "err", err)
	}
	ksDone := make(chan struct{})
	go func() { ks.Run(ctx); close(ksDone) }()
	// Runs before the store and etcd client close: a clean stop takes this
	// apiserver out of the kubernetes endpoints.
	defer func() { cancel(); <-ksDone }()

	slog.Info("apiserver serving", "https (grpc+rest)", lis.Addr().String(), "etcd", o.EtcdServers)
	if ready != nil {
		ready <- lis.Addr().String()
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	if hs != nil {
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		_ = hs.Shutdown(sctx)
		c()
	}
	{
		// Shutdown does not wait for hijacked or streaming (watch) requests
		// beyond its deadline; gRPC calls through ServeHTTP end with it.
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		_ = rs.Shutdown(sctx)
		c()
		_ = rs.Close()
		split.Close()
		stopped := make(chan struct{})
		go func() { g.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(3 * time.Second):
			g.Stop()
		}
	}
	return err
}

// repairInterval is how often the allocation maps are checked against the
// stored Services (Kubernetes' repair controllers run every 3 minutes).
const repairInterval = 3 * time.Minute

// serviceAllocator builds the cluster IP and node port allocator and starts
// its repair loop, which stops with ctx.
func serviceAllocator(ctx context.Context, cli *clientv3.Client, st *generic.Store, o Options) (*allocator.Services, error) {
	svcKind, _ := scheme.ByResource("services")
	get := func(ctx context.Context, ns, name string) (*corev1.Service, error) {
		obj, err := st.Get(ctx, svcKind, ns, name)
		if err != nil {
			return nil, err
		}
		return obj.(*corev1.Service), nil
	}
	services, err := allocator.NewServices(cli, o.ServiceClusterIPRange, o.ServiceNodePortRange, get)
	if err != nil {
		return nil, err
	}
	rep := &allocator.Repairer{Services: services, List: func(ctx context.Context) ([]*corev1.Service, error) {
		objs, _, err := st.Storage().List(ctx, svcKind, "")
		if err != nil {
			return nil, err
		}
		out := make([]*corev1.Service, len(objs))
		for i, obj := range objs {
			out[i] = obj.(*corev1.Service)
		}
		return out, nil
	}}
	go rep.Run(ctx, repairInterval)
	return services, nil
}

// SystemNamespaces exist in every cluster.
var SystemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// bootstrap creates the system namespaces if they are missing. Several
// apiservers may race here; AlreadyExists is success.
func bootstrap(ctx context.Context, st *generic.Store) error {
	nsKind, _ := scheme.ByResource("namespaces")
	for _, name := range SystemNamespaces {
		ns := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}}
		var err error
		for attempt := 0; attempt < 30; attempt++ {
			_, err = st.Create(ctx, nsKind, "", ns, rest.WriteOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				err = nil
				break
			}
			slog.Warn("creating system namespace, retrying", "namespace", name, "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err != nil {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	return nil
}

func healthMux(st *generic.Store, reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }
	mux.HandleFunc("/livez", ok)
	check := func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := st.ConsistentRV(ctx); err != nil {
			http.Error(w, "etcd: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err := st.WaitReady(ctx); err != nil {
			http.Error(w, "watch cache not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		ok(w, r)
	}
	mux.HandleFunc("/healthz", check)
	mux.HandleFunc("/readyz", check)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
