package controller_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/addons/ingress/controller"
	"minik8s/addons/ingress/routes"
	"minik8s/api/client"
	"minik8s/api/codec"
	"minik8s/api/component"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	networkingv1 "minik8s/api/networking/v1"
	"minik8s/api/scheme"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"

	_ "minik8s/api/all"
)

// The add-on's identity: its service account, as the in-cluster config
// authenticates it.
var serviceAccount = client.Impersonation{
	User:   "system:serviceaccount:kube-system:ingress-controller",
	Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
}

// env is a real apiserver (RBAC on, real etcd) with the manifest's class
// and RBAC applied, loopback HTTP servers standing in as pods, and the
// controller running in-process as the add-on's service account.
type env struct {
	api      *client.Client
	ctl      *controller.Controller
	httpURL  string
	httpsURL string
	port     string // the backends' common port on 127.0.0.1-3
	pods     map[string]*httptest.Server
	ca       *x509.Certificate
	caKey    *ecdsa.PrivateKey
}

func start(t *testing.T) *env {
	t.Helper()
	api := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{AuthorizationMode: "Node,RBAC"})
	e := &env{api: api.Client(t), pods: map[string]*httptest.Server{}}
	e.ca, e.caKey = newCA(t)
	applyManifest(t, e.api)
	e.startPods(t, "a1", "a2", "b1")

	ctl, err := controller.New(controller.Options{
		ClientOptions:      component.ClientOptions{Server: api.Addr, Kubeconfig: api.Kubeconfig},
		HTTPAddr:           "127.0.0.1:0",
		HTTPSAddr:          "127.0.0.1:0",
		HealthAddr:         "127.0.0.1:0",
		PublishAddresses:   []string{"192.0.2.10"},
		SyncDelay:          10 * time.Millisecond,
		ExtraClientOptions: []client.Option{client.WithImpersonation(serviceAccount)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
	})
	e.ctl, e.httpURL, e.httpsURL = ctl, "http://"+ctl.HTTPAddr(), ctl.HTTPSAddr()
	eventually(t, 30*time.Second, func() error {
		resp, err := http.Get("http://" + ctl.HealthAddr() + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/readyz: %d", resp.StatusCode)
		}
		return nil
	})
	return e
}

// applyManifest creates what deploy/addons/ingress.yaml declares besides
// the workload: the IngressClass and the RBAC the controller runs with.
func applyManifest(t *testing.T, c *client.Client) {
	t.Helper()
	data, err := os.ReadFile("../../../deploy/addons/ingress.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := codec.DecodeObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "IngressClass", "ClusterRole", "ClusterRoleBinding", "ServiceAccount":
		default:
			continue
		}
		k, err := scheme.KindOf(o)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Dynamic(k.Resource)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Create(ctxT(t), o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %s %s: %v", o.GetKind(), o.GetMetadata().GetName(), err)
		}
	}
}

// startPods starts one HTTP server per name on 127.0.0.N with a common
// port, answering its name.
func (e *env) startPods(t *testing.T, names ...string) {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		var ls []net.Listener
		port := "0"
		for i := range names {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%s", i+1, port))
			if err != nil {
				break
			}
			_, port, _ = net.SplitHostPort(l.Addr().String())
			ls = append(ls, l)
		}
		if len(ls) < len(names) {
			for _, l := range ls {
				l.Close()
			}
			continue
		}
		for i, name := range names {
			s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, name) }))
			s.Listener = ls[i]
			s.Start()
			t.Cleanup(s.Close)
			e.pods[name] = s
		}
		e.port = port
		return
	}
	t.Fatal("no common free port on 127.0.0.x")
}

func (e *env) ip(pod string) string {
	h, _, _ := net.SplitHostPort(e.pods[pod].Listener.Addr().String())
	return h
}

// service creates a Service (port 80 "http") and its Endpoints with the
// pods' addresses, as the endpoints controller would.
func (e *env) service(t *testing.T, name string, pods ...string) {
	t.Helper()
	svc := &corev1.Service{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: &corev1.ServiceSpec{
		Selector: map[string]string{"app": name},
		Ports:    []*corev1.ServicePort{{Name: "http", Port: 80, Protocol: "TCP", TargetPort: &metav1.IntOrString{IntVal: 8080}}},
	}}
	if _, err := client.For[*corev1.Service](e.api).Create(ctxT(t), svc); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*corev1.Endpoints](e.api).Create(ctxT(t), e.endpoints(name, pods...)); err != nil {
		t.Fatal(err)
	}
}

func (e *env) endpoints(name string, pods ...string) *corev1.Endpoints {
	n, _ := strconv.Atoi(e.port)
	sub := &corev1.EndpointSubset{Ports: []*corev1.EndpointPort{{Name: "http", Port: int32(n), Protocol: "TCP"}}}
	for _, p := range pods {
		sub.Addresses = append(sub.Addresses, &corev1.EndpointAddress{Ip: e.ip(p)})
	}
	return &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}, Subsets: []*corev1.EndpointSubset{sub}}
}

func (e *env) tlsSecret(t *testing.T, name, host string) {
	t.Helper()
	crt, key := issue(t, e.ca, e.caKey, host)
	s := &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}, Type: routes.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}
	if _, err := client.For[*corev1.Secret](e.api).Create(ctxT(t), s); err != nil {
		t.Fatal(err)
	}
}

func prefix(path, svc string) *networkingv1.HTTPIngressPath {
	return &networkingv1.HTTPIngressPath{Path: path, PathType: new("Prefix"), Backend: &networkingv1.IngressBackend{
		Service: &networkingv1.IngressServiceBackend{Name: svc, Port: &networkingv1.ServiceBackendPort{Name: "http"}}}}
}

// get sends GET path with Host host to the proxy's HTTP port.
func (e *env) get(host, path string) (int, string, error) {
	req, _ := http.NewRequest("GET", e.httpURL+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

func TestControllerAgainstAPIServer(t *testing.T) {
	e := start(t)
	e.service(t, "svc-a", "a1", "a2")
	e.service(t, "svc-b", "b1")
	e.tlsSecret(t, "a-tls", "a.test")
	// An Opaque secret is never listed by the controller (the field
	// selector), so an Ingress naming it gets the fallback certificate.
	opaque := &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "opaque", Namespace: "default"}, Type: "Opaque", Data: map[string][]byte{"x": []byte("y")}}
	if _, err := client.For[*corev1.Secret](e.api).Create(ctxT(t), opaque); err != nil {
		t.Fatal(err)
	}
	ing := &networkingv1.Ingress{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: &networkingv1.IngressSpec{
		// No class: the default class minik8s is ours.
		Rules: []*networkingv1.IngressRule{
			{Host: "a.test", Http: &networkingv1.HTTPIngressRuleValue{Paths: []*networkingv1.HTTPIngressPath{prefix("/", "svc-a")}}},
			{Host: "b.test", Http: &networkingv1.HTTPIngressRuleValue{Paths: []*networkingv1.HTTPIngressPath{prefix("/", "svc-b"), prefix("/a", "svc-a")}}},
		},
		Tls: []*networkingv1.IngressTLS{{Hosts: []string{"a.test"}, SecretName: "a-tls"}, {Hosts: []string{"b.test"}, SecretName: "opaque"}},
	}}
	ings := client.For[*networkingv1.Ingress](e.api)
	if _, err := ings.Create(ctxT(t), ing); err != nil {
		t.Fatal(err)
	}

	t.Run("routing", func(t *testing.T) {
		want := map[string]string{"a.test /": "a", "b.test /": "b1", "b.test /a/x": "a", "b.test /ab": "b1"}
		eventually(t, 10*time.Second, func() error {
			for k, w := range want {
				host, path, _ := strings.Cut(k, " ")
				code, body, err := e.get(host, path)
				if err != nil || code != 200 || !strings.HasPrefix(body, w) {
					return fmt.Errorf("%s: %d %q %v, want %s", k, code, body, err, w)
				}
			}
			return nil
		})
		if code, body, _ := e.get("unknown.test", "/"); code != 404 {
			t.Errorf("unknown host: %d %q, want 404", code, body)
		}
	})

	t.Run("status", func(t *testing.T) {
		eventually(t, 10*time.Second, func() error {
			got, err := ings.Get(ctxT(t), "default", "web")
			if err != nil {
				return err
			}
			lb := got.GetStatus().GetLoadBalancer().GetIngress()
			if len(lb) != 1 || lb[0].GetIp() != "192.0.2.10" {
				return fmt.Errorf("status.loadBalancer.ingress = %v", lb)
			}
			return nil
		})
	})

	t.Run("tls by SNI", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(e.ca)
		conn, err := tls.Dial("tcp", e.httpsURL, &tls.Config{ServerName: "a.test", RootCAs: pool})
		if err != nil {
			t.Fatalf("a.test: %v", err)
		}
		conn.Close()
		conn, err = tls.Dial("tcp", e.httpsURL, &tls.Config{ServerName: "b.test", InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; !strings.Contains(cn, "fallback") {
			t.Errorf("b.test (an Opaque secret): CN %q, want the fallback certificate", cn)
		}
	})

	// A loop of requests runs through the rest: a path change and a backend
	// going away must not fail one of them.
	var ok, failed atomic.Int64
	var lastErr atomic.Value
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				code, body, err := e.get("a.test", "/")
				if err != nil || code != 200 || !strings.HasPrefix(body, "a") {
					failed.Add(1)
					lastErr.Store(fmt.Sprintf("%d %q %v", code, body, err))
					continue
				}
				ok.Add(1)
			}
		})
	}

	t.Run("path change", func(t *testing.T) {
		cur, err := ings.Get(ctxT(t), "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		upd := proto.Clone(cur).(*networkingv1.Ingress)
		upd.Spec.Rules[0].Http.Paths = append(upd.Spec.Rules[0].Http.Paths, prefix("/v2", "svc-b"))
		begin := time.Now()
		if _, err := ings.Update(ctxT(t), upd); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, func() error {
			if _, body, _ := e.get("a.test", "/v2/x"); body != "b1" {
				return fmt.Errorf("a.test/v2/x answered %q", body)
			}
			return nil
		})
		// How fast is for the benchmarks; logged for the reader.
		t.Logf("the path took effect after %v", time.Since(begin))
	})

	t.Run("backend gone mid-traffic", func(t *testing.T) {
		time.Sleep(100 * time.Millisecond)
		e.pods["a2"].Close() // the pod dies: connection refused until its endpoint goes
		time.Sleep(200 * time.Millisecond)
		if _, err := client.For[*corev1.Endpoints](e.api).Update(ctxT(t), withRV(t, e, e.endpoints("svc-a", "a1"))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	})
	stop()
	wg.Wait()
	t.Logf("%d requests during the changes, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 || ok.Load() == 0 {
		t.Errorf("%d of %d requests failed (last: %v)", failed.Load(), ok.Load()+failed.Load(), lastErr.Load())
	}

	t.Run("delete", func(t *testing.T) {
		if _, err := ings.Delete(ctxT(t), "default", "web", nil); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, func() error {
			if code, _, _ := e.get("a.test", "/"); code != 404 {
				return fmt.Errorf("a.test answers %d after the Ingress is gone", code)
			}
			return nil
		})
	})
}

// withRV copies the stored object's resourceVersion into obj for an update.
func withRV(t *testing.T, e *env, obj *corev1.Endpoints) *corev1.Endpoints {
	t.Helper()
	cur, err := client.For[*corev1.Endpoints](e.api).Get(ctxT(t), obj.Metadata.Namespace, obj.Metadata.Name)
	if err != nil {
		t.Fatal(err)
	}
	obj.Metadata.ResourceVersion = cur.GetMetadata().GetResourceVersion()
	return obj
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", within, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, k
}

func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, host string) (crtPEM, keyPEM []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}
