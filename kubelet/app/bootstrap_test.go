package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "minik8s/api/authentication/v1"
	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client"
	"minik8s/api/component"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/pki"
	"minik8s/api/workqueue"
	"minik8s/kubelet/certificate"
	"minik8s/kubelet/network"
	"minik8s/kubelet/runtime/fake"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// TestTLSBootstrapAndRotation: a kubelet given only a bootstrap kubeconfig
// (a bootstrap token) against a real apiserver (Node,RBAC, NodeRestriction,
// bootstrap tokens) gets its client certificate through a CSR, writes its
// kubeconfig (no token in it), is system:node:NAME to the apiserver,
// gets a kubelet-serving certificate and serves with it, and rotates both
// when the fake clock passes their rotation deadlines, keeping its
// identity. CSRs are approved and signed by the test-only signer
// (testsigner_test.go) until the controller-manager's land.
func TestTLSBootstrapAndRotation(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	s := apiservertest.Start(t, etcd, apiservertest.Options{AuthorizationMode: "Node,RBAC", EnableAdmissionPlugins: "NodeRestriction", EnableBootstrapTokenAuth: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := s.Client(t)
	const tokenID, tokenSecret = "abcdef", "0123456789abcdef"
	if _, err := client.For[*corev1.Secret](admin).Create(ctx, &corev1.Secret{
		Metadata: &metav1.ObjectMeta{Name: "bootstrap-token-" + tokenID, Namespace: "kube-system"},
		Type:     "bootstrap.kubernetes.io/token",
		Data: map[string][]byte{"token-id": []byte(tokenID), "token-secret": []byte(tokenSecret),
			"usage-bootstrap-authentication": []byte("true"), "auth-extra-groups": []byte("system:bootstrappers:kubeadm:default-node-token")},
	}); err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(s.PKI, "pki")
	ca, err := pki.ReadKeyPair(certDir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	signer := &testSigner{ca: ca, csrs: client.For[*certificatesv1.CertificateSigningRequest](admin), renewLife: 1000 * time.Hour}
	go signer.run(ctx, t)

	dir := t.TempDir()
	bootKubeconfig := filepath.Join(dir, "bootstrap-kubelet.conf")
	if err := os.WriteFile(bootKubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    server: https://`+s.Addr+`
    certificate-authority-data: `+base64.StdEncoding.EncodeToString(pki.EncodeCert(ca.Cert))+`
users:
- name: tls-bootstrap-token-user
  user:
    token: `+tokenID+"."+tokenSecret+`
contexts:
- name: tls-bootstrap-token-user@kubernetes
  context:
    cluster: kubernetes
    user: tls-bootstrap-token-user
current-context: tls-bootstrap-token-user@kubernetes
`), 0o600); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubelet.conf")
	root := filepath.Join(dir, "root")
	clock := workqueue.NewFakeClock(time.Now())
	o := Options{
		BootstrapKubeconfig: bootKubeconfig, ClientOptions: component.ClientOptions{Kubeconfig: kubeconfig}, RootDir: root,
		RotateCertificates: true, RotateServerCertificates: true, CertificateExpirationSeconds: 3600,
		HostnameOverride: "n1", NodeIP: "127.0.0.1", Address: "127.0.0.1", Port: 0,
		AuthorizationMode: AuthorizationModeAlwaysAllow, MaxPods: 10, StatusInterval: time.Second,
		BackoffBase: time.Second, BackoffMax: time.Second, Relist: time.Second, ClusterDNS: "10.96.0.10", ClusterDomain: "cluster.local",
	}
	ready := make(chan *Kubelet, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunWith(ctx, o, Deps{Runtime: fake.New(nil), Network: network.NewFake(), Clock: clock}, ready)
	}()
	var k *Kubelet
	select {
	case k = <-ready:
	case err := <-done:
		t.Fatalf("kubelet: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("kubelet did not start")
	}
	stopped := false
	stop := func() {
		if !stopped {
			cancel()
			<-done
			stopped = true
		}
	}
	defer stop()

	// The kubeconfig it wrote: the certificate in --cert-dir, no token.
	kc, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	current := filepath.Join(root, "pki", "kubelet-client-current.pem")
	if strings.Contains(string(kc), tokenSecret) || !strings.Contains(string(kc), "client-certificate: "+current) {
		t.Errorf("kubeconfig written:\n%s\nwant client-certificate %s and no bootstrap token", kc, current)
	}
	if target, err := os.Readlink(current); err != nil || !strings.HasPrefix(target, "kubelet-client-") {
		t.Errorf("%s -> %q (%v)", current, target, err)
	}

	whoami := func() *authenticationv1.UserInfo {
		t.Helper()
		r, err := client.For[*authenticationv1.SelfSubjectReview](k.Client).Create(ctx, &authenticationv1.SelfSubjectReview{Metadata: &metav1.ObjectMeta{}})
		if err != nil {
			t.Fatalf("whoami as the kubelet: %v", err)
		}
		return r.GetStatus().GetUserInfo()
	}
	if u := whoami(); u.GetUsername() != "system:node:n1" || !strings.Contains(strings.Join(u.GetGroups(), ","), "system:nodes") {
		t.Errorf("the kubelet is %q %v, want system:node:n1 in system:nodes", u.GetUsername(), u.GetGroups())
	}
	// The Node registered under Node,RBAC and NodeRestriction: only
	// system:node:n1 may create it.
	waitUntil(t, "node n1 registered", func() bool {
		_, err := client.For[*corev1.Node](admin).Get(ctx, "", "n1")
		return err == nil
	})

	// The serving certificate, from the kubelet-serving signer, verified
	// with the cluster CA as the apiserver verifies it.
	waitUntil(t, "the serving certificate", func() bool { return k.ServingCertificate.Current() != nil })
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	serving := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", k.ServerAddr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("TLS to the kubelet server: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	first := serving()
	if first.Subject.CommonName != "system:node:n1" || len(first.IPAddresses) != 1 || !first.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("serving certificate %v SANs %v %v", first.Subject, first.DNSNames, first.IPAddresses)
	}
	oldClient := k.ClientCertificate.Current().Leaf
	if len(signer.signed()) != 2 {
		t.Fatalf("signed %v, want the client and the serving request", signer.signed())
	}

	// Past 90% of the first certificates' hour: both rotate, without a
	// restart, and the kubelet is still itself.
	clock.Step(3300 * time.Second)
	waitUntil(t, "the client certificate rotated", func() bool { return !k.ClientCertificate.Current().Leaf.Equal(oldClient) })
	waitUntil(t, "the serving certificate rotated", func() bool { return !serving().Equal(first) })
	if u := whoami(); u.GetUsername() != "system:node:n1" {
		t.Errorf("after rotation the kubelet is %q", u.GetUsername())
	}
	onDisk, err := (&certificate.Store{Dir: filepath.Join(root, "pki"), Prefix: certificate.ClientPrefix}).Current()
	if err != nil || !onDisk.Leaf.Equal(k.ClientCertificate.Current().Leaf) {
		t.Errorf("kubelet-client-current.pem is not the rotated certificate (%v)", err)
	}
	if n := len(signer.signed()); n != 4 {
		t.Errorf("signed %v, want 4 (2 bootstrap, 2 renewals)", signer.signed())
	}

	// A restart reuses the stored certificate: no new request.
	stop()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	done2 := make(chan error, 1)
	go func() {
		done2 <- RunWith(ctx2, o, Deps{Runtime: fake.New(nil), Network: network.NewFake(), Clock: workqueue.NewFakeClock(time.Now())}, ready)
	}()
	select {
	case <-ready:
	case err := <-done2:
		t.Fatalf("restarted kubelet: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("restarted kubelet did not start")
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(signer.signed()); n != 4 {
		t.Errorf("after a restart %d requests signed, want still 4 (stored certificates reused)", n)
	}
	cancel2()
	<-done2
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
