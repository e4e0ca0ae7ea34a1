package certificates_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	authenticationv1 "minik8s/api/authentication/v1"
	authorizationv1 "minik8s/api/authorization/v1"
	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/pki"
	"minik8s/controller-manager/certificates/approver"
	"minik8s/controller-manager/certificates/certtest"
	"minik8s/controller-manager/certificates/signer"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// connect writes a kubeconfig for s with either a token or a client
// certificate and key (PEM) and returns a client of it.
func connect(t *testing.T, s *apiservertest.Server, name, token string, certPEM, keyPEM []byte) *client.Client {
	t.Helper()
	dir := t.TempDir()
	user := fmt.Sprintf("token: %q", token)
	if token == "" {
		certFile, keyFile := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
		if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		user = fmt.Sprintf("client-certificate: %s\n    client-key: %s", certFile, keyFile)
	}
	file := filepath.Join(dir, name+".conf")
	conf := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://%s
    certificate-authority: %s
users:
- name: u
  user:
    %s
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
`, s.Addr, filepath.Join(s.PKI, "pki", "ca.crt"), user)
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := client.ConfigFromFlags("", file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// componentClient is a client with a certificate of the cluster CA for
// CN=cn, O=orgs (the controller-manager's identity, for instance).
func componentClient(t *testing.T, s *apiservertest.Server, cn string, orgs ...string) *client.Client {
	t.Helper()
	ca, err := pki.ReadKeyPair(filepath.Join(s.PKI, "pki"), "ca")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Sign(pki.CertConfig{CommonName: cn, Organization: orgs, Usage: pki.Client})
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.EncodeKey(kp.Key)
	if err != nil {
		t.Fatal(err)
	}
	return connect(t, s, "component", "", pki.EncodeCert(kp.Cert), key)
}

func whoami(t *testing.T, c *client.Client) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := client.For[*authenticationv1.SelfSubjectReview](c).Create(ctx, &authenticationv1.SelfSubjectReview{ApiVersion: "authentication.k8s.io/v1", Kind: "SelfSubjectReview"})
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	u := r.GetStatus().GetUserInfo()
	return u.GetUsername(), u.GetGroups()
}

// waitIssued polls the request until it carries a certificate.
func waitIssued(t *testing.T, c *client.Client, name string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		csr, err := client.For[*certificatesv1.CertificateSigningRequest](c).Get(context.Background(), "", name)
		if err == nil && certificatesv1.IsIssued(csr) {
			return csr
		}
		if time.Now().After(deadline) {
			t.Fatalf("csr %s not issued: %v %v", name, err, csr.GetStatus())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBootstrapAndUserCertificates runs csrapproving and csrsigning as
// the controller-manager against a real apiserver with Node,RBAC and the
// default admission plugins: a kubelet with only a bootstrap token gets a
// client certificate that authenticates as its node, and a user's request
// approved by the admin through the approval subresource gives a
// certificate that authenticates as that user.
func TestBootstrapAndUserCertificates(t *testing.T) {
	s := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{AuthorizationMode: "Node,RBAC", EnableBootstrapTokenAuth: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := s.Client(t)
	csrs := client.For[*certificatesv1.CertificateSigningRequest](admin)

	// The controllers, with the controller-manager's identity and RBAC.
	cm := componentClient(t, s, "system:kube-controller-manager")
	cmCSRs := client.For[*certificatesv1.CertificateSigningRequest](cm)
	caPEM, err := os.ReadFile(filepath.Join(s.PKI, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := os.ReadFile(filepath.Join(s.PKI, "pki", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := signer.CAFromPEM(caPEM, caKey)
	if err != nil {
		t.Fatal(err)
	}
	factory := informer.NewFactory(cm, 0)
	ap := approver.New(approver.Config{
		Informer:     informer.For[*certificatesv1.CertificateSigningRequest](factory, ""),
		NodeInformer: informer.For[*corev1.Node](factory, ""),
		Approve: func(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (*certificatesv1.CertificateSigningRequest, error) {
			return cmCSRs.UpdateSubresource(ctx, csr, "approval")
		},
		Review: client.For[*authorizationv1.SubjectAccessReview](cm).Create,
	})
	sg := signer.New(signer.Config{
		Informer:     informer.For[*certificatesv1.CertificateSigningRequest](factory, ""),
		UpdateStatus: cmCSRs.UpdateStatus, CA: ca, Duration: time.Hour,
	})
	factory.Start(ctx)
	go func() { _ = ap.Run(ctx, 1) }()
	go func() { _ = sg.Run(ctx, 1) }()

	// A bootstrap token.
	if _, err := client.For[*corev1.Secret](admin).Create(ctx, &corev1.Secret{
		Metadata: &metav1.ObjectMeta{Name: "bootstrap-token-abcdef", Namespace: "kube-system"},
		Type:     "bootstrap.kubernetes.io/token",
		Data: map[string][]byte{"token-id": []byte("abcdef"), "token-secret": []byte("0123456789abcdef"),
			"usage-bootstrap-authentication": []byte("true"), "expiration": []byte(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))},
	}); err != nil {
		t.Fatal(err)
	}
	boot := connect(t, s, "bootstrap", "abcdef.0123456789abcdef", nil, nil)
	if u, _ := whoami(t, boot); u != "system:bootstrap:abcdef" {
		t.Fatalf("bootstrap token is %q", u)
	}

	t.Run("node joins with a bootstrap token", func(t *testing.T) {
		req, key := certtest.Request(t, "system:node:n1", []string{"system:nodes"}, nil, nil)
		csr := certtest.CSR("node-csr-n1", req, certificatesv1.KubeAPIServerClientKubeletSignerName, "someone-else", []string{"system:masters"},
			"digital signature", "client auth")
		created, err := client.For[*certificatesv1.CertificateSigningRequest](boot).Create(ctx, csr)
		if err != nil {
			t.Fatal(err)
		}
		if sp := created.GetSpec(); sp.GetUsername() != "system:bootstrap:abcdef" || !slices.Contains(sp.GetGroups(), "system:bootstrappers") || slices.Contains(sp.GetGroups(), "system:masters") {
			t.Fatalf("requestor %s %v: the client chose it", sp.GetUsername(), sp.GetGroups())
		}
		// The bootstrapper cannot approve its own request.
		self := certtest.CSR("node-csr-n1", nil, "", "", nil)
		self.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: []*certificatesv1.CertificateSigningRequestCondition{{Type: "Approved", Status: "True"}}}
		if _, err := client.For[*certificatesv1.CertificateSigningRequest](boot).UpdateSubresource(ctx, self, "approval"); !apierrors.IsForbidden(err) {
			t.Fatalf("bootstrapper approving: %v", err)
		}
		issued := waitIssued(t, boot, "node-csr-n1")
		if c := issued.GetStatus().GetConditions()[0]; c.GetReason() != approver.Reason || c.GetMessage() != approver.NodeClientMessage {
			t.Errorf("approval %v", c)
		}
		keyPEM, err := pki.EncodeKey(key)
		if err != nil {
			t.Fatal(err)
		}
		node := connect(t, s, "node", "", issued.GetStatus().GetCertificate(), keyPEM)
		if u, g := whoami(t, node); u != "system:node:n1" || !slices.Contains(g, "system:nodes") {
			t.Fatalf("node certificate authenticates as %s %v", u, g)
		}

		// Renewal with the node's own certificate: selfnodeclient.
		req2, _ := certtest.Request(t, "system:node:n1", []string{"system:nodes"}, nil, nil)
		if _, err := client.For[*certificatesv1.CertificateSigningRequest](node).Create(ctx,
			certtest.CSR("node-csr-n1-renew", req2, certificatesv1.KubeAPIServerClientKubeletSignerName, "", nil, "digital signature", "client auth")); err != nil {
			t.Fatal(err)
		}
		renewed := waitIssued(t, node, "node-csr-n1-renew")
		if c := renewed.GetStatus().GetConditions()[0]; c.GetMessage() != approver.SelfNodeClientMessage {
			t.Errorf("renewal approval %v", c)
		}

		// The serving certificate: approved once the Node reports the
		// addresses it names (minik8s' approver; Kubernetes leaves it to
		// an external one).
		servingReq, _ := certtest.Request(t, "system:node:n1", []string{"system:nodes"}, []string{"n1"}, []net.IP{net.ParseIP("10.0.0.1")})
		if _, err := client.For[*certificatesv1.CertificateSigningRequest](node).Create(ctx,
			certtest.CSR("node-csr-n1-serving", servingReq, certificatesv1.KubeletServingSignerName, "", nil, "digital signature", "server auth")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if cur, _ := csrs.Get(ctx, "", "node-csr-n1-serving"); certificatesv1.IsApproved(cur) {
			t.Fatal("serving request approved before the Node exists")
		}
		if _, err := client.For[*corev1.Node](node).Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1"},
			Status: &corev1.NodeStatus{Addresses: []*corev1.NodeAddress{{Type: "InternalIP", Address: "10.0.0.1"}, {Type: "Hostname", Address: "n1"}}}}); err != nil {
			t.Fatal(err)
		}
		serving := waitIssued(t, node, "node-csr-n1-serving")
		certs, err := pki.ParseCerts(serving.GetStatus().GetCertificate())
		if err != nil || certs[0].VerifyHostname("10.0.0.1") != nil || certs[0].VerifyHostname("n1") != nil {
			t.Fatalf("serving certificate: %v", err)
		}
	})

	t.Run("user added by CSR and approval", func(t *testing.T) {
		req, key := certtest.Request(t, "jane", []string{"developers"}, nil, nil)
		csr := certtest.CSR("jane", req, certificatesv1.KubeAPIServerClientSignerName, "", nil, "client auth")
		csr.Spec.ExpirationSeconds = new(int32)
		*csr.Spec.ExpirationSeconds = 600
		if _, err := csrs.Create(ctx, csr); err != nil {
			t.Fatal(err)
		}
		// Nothing happens before approval.
		time.Sleep(300 * time.Millisecond)
		if cur, _ := csrs.Get(ctx, "", "jane"); certificatesv1.IsIssued(cur) || certificatesv1.IsApproved(cur) {
			t.Fatalf("issued without approval: %v", cur.GetStatus())
		}
		cur, err := csrs.Get(ctx, "", "jane")
		if err != nil {
			t.Fatal(err)
		}
		cur.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: []*certificatesv1.CertificateSigningRequestCondition{{
			Type: "Approved", Status: "True", Reason: "KubectlApprove", LastUpdateTime: timestamppb.Now()}}}
		if _, err := csrs.UpdateSubresource(ctx, cur, "approval"); err != nil {
			t.Fatal(err)
		}
		issued := waitIssued(t, admin, "jane")
		keyPEM, _ := pki.EncodeKey(key)
		jane := connect(t, s, "jane", "", issued.GetStatus().GetCertificate(), keyPEM)
		if u, g := whoami(t, jane); u != "jane" || !slices.Contains(g, "developers") || !slices.Contains(g, "system:authenticated") {
			t.Fatalf("user certificate authenticates as %s %v", u, g)
		}
		// A certificate, once issued, cannot be replaced, and a decision
		// cannot be taken back.
		issued.Status.Conditions = nil
		if _, err := csrs.UpdateSubresource(ctx, issued, "approval"); !apierrors.IsInvalid(err) {
			t.Errorf("removing the approval: %v", err)
		}
	})

	t.Run("kubectl certificate approve and deny over REST", func(t *testing.T) {
		kubectl, err := exec.LookPath("kubectl")
		if err != nil {
			t.Skip("no kubectl")
		}
		run := func(stdin string, args ...string) string {
			t.Helper()
			cmd := exec.Command(kubectl, append([]string{"--kubeconfig", s.Kubeconfig}, args...)...)
			cmd.Stdin = strings.NewReader(stdin)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl %v: %v\n%s", args, err, out)
			}
			return string(out)
		}
		for _, name := range []string{"kc-bob", "kc-eve"} {
			req, _ := certtest.Request(t, name, []string{"qa"}, nil, nil)
			manifest := fmt.Sprintf("apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata: {name: %s}\n"+
				"spec:\n  request: %s\n  signerName: kubernetes.io/kube-apiserver-client\n  usages: [client auth]\n",
				name, base64.StdEncoding.EncodeToString(req))
			run(manifest, "apply", "-f", "-")
		}
		if out := run("", "certificate", "approve", "kc-bob"); !strings.Contains(out, "certificatesigningrequest.certificates.k8s.io/kc-bob approved") {
			t.Errorf("approve: %s", out)
		}
		if out := run("", "certificate", "deny", "kc-eve"); !strings.Contains(out, "kc-eve denied") {
			t.Errorf("deny: %s", out)
		}
		waitIssued(t, admin, "kc-bob")
		time.Sleep(300 * time.Millisecond)
		out := run("", "get", "csr", "kc-bob", "kc-eve")
		if !strings.Contains(out, "REQUESTEDDURATION") || !strings.Contains(out, "Approved,Issued") || !strings.Contains(out, "Denied") ||
			!strings.Contains(out, "kubernetes-admin") {
			t.Errorf("get csr:\n%s", out)
		}
		if cert := run("", "get", "csr", "kc-eve", "-o", "jsonpath={.status.certificate}"); cert != "" {
			t.Errorf("denied request has a certificate: %q", cert)
		}
	})

	t.Run("no system:masters through a CSR", func(t *testing.T) {
		req, _ := certtest.Request(t, "mallory", []string{"system:masters"}, nil, nil)
		_, err := csrs.Create(ctx, certtest.CSR("mallory", req, certificatesv1.KubeAPIServerClientSignerName, "", nil, "client auth"))
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "system:masters") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("invalid requests", func(t *testing.T) {
		req, _ := certtest.Request(t, "jane", nil, nil, nil)
		_, err := csrs.Create(ctx, certtest.CSR("bad", req, certificatesv1.KubeAPIServerClientKubeletSignerName, "", nil, "client auth"))
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.request") {
			t.Fatalf("got %v", err)
		}
	})
}
