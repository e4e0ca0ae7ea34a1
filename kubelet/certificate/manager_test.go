package certificate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client"
	"minik8s/api/client/fake"
	"minik8s/api/pki"
	"minik8s/api/workqueue"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testCA(t *testing.T) *pki.KeyPair {
	t.Helper()
	ca, err := pki.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue makes a key and a certificate for cn valid from notBefore for
// life, as PEM.
func issue(t *testing.T, ca *pki.KeyPair, cn string, notBefore time.Time, life time.Duration) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(notBefore.UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notBefore.Add(life), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err = pki.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM
}

func TestRotationDeadline(t *testing.T) {
	ca := testCA(t)
	certPEM, keyPEM := issue(t, ca, "system:node:n1", t0, 100*time.Hour)
	for _, tc := range []struct {
		name   string
		jitter float64
		want   time.Duration
	}{
		{"no jitter: 70%", 0, 70 * time.Hour},
		{"half: 80%", 0.5, 80 * time.Hour},
		{"most: just under 90%", 0.99, 89*time.Hour + 48*time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &Store{Dir: t.TempDir(), Prefix: ClientPrefix, Now: func() time.Time { return t0 }}
			if _, err := store.Update(certPEM, keyPEM); err != nil {
				t.Fatal(err)
			}
			m := NewManager(ManagerConfig{Name: "client", Store: store, Jitter: func() float64 { return tc.jitter }})
			if got := m.RotationDeadline().Sub(t0); got != tc.want {
				t.Errorf("deadline at %v of the lifetime, want %v", got, tc.want)
			}
		})
	}
}

func TestStoreSymlinkSwap(t *testing.T) {
	ca := testCA(t)
	dir := t.TempDir()
	now := t0
	store := &Store{Dir: dir, Prefix: ClientPrefix, Now: func() time.Time { return now }}
	if _, err := store.Current(); !errors.Is(err, ErrNoCert) {
		t.Fatalf("empty store: %v, want ErrNoCert", err)
	}
	c1, k1 := issue(t, ca, "first", t0, time.Hour)
	if _, err := store.Update(c1, k1); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(30 * time.Minute)
	c2, k2 := issue(t, ca, "second", now, time.Hour)
	if _, err := store.Update(c2, k2); err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(store.CurrentPath())
	if err != nil {
		t.Fatal(err)
	}
	if want := "kubelet-client-2026-01-01-00-30-00.pem"; target != want {
		t.Errorf("kubelet-client-current.pem -> %s, want %s", target, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "kubelet-client-2026-01-01-00-00-00.pem")); err != nil {
		t.Errorf("the first pair is gone: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, target)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("pair file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	cur, err := store.Current()
	if err != nil {
		t.Fatal(err)
	}
	if cur.Leaf.Subject.CommonName != "second" {
		t.Errorf("current is %q, want second", cur.Leaf.Subject.CommonName)
	}
	if _, err := store.Update(c1, k2); err == nil {
		t.Error("a certificate with another key's was stored")
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestManagerRotatesAtDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := testCA(t)
	clock := workqueue.NewFakeClock(t0)
	csrs := fake.NewAPI[*CSR]()
	signer := &testSigner{ca: ca, csrs: csrs, now: clock.Now, life: 100 * time.Hour}
	go signer.run(ctx, t)

	store := &Store{Dir: t.TempDir(), Prefix: ClientPrefix, Now: clock.Now}
	c1, k1 := issue(t, ca, "system:node:n1", t0, 100*time.Hour)
	if _, err := store.Update(c1, k1); err != nil {
		t.Fatal(err)
	}
	var rotated atomic.Int32
	m := NewManager(ManagerConfig{
		Name: "client", Store: store, Request: func() Request { return ClientRequest("n1") },
		CSRs:  func() (client.Interface[*CSR], error) { return csrs, nil },
		Clock: clock, Jitter: func() float64 { return 0.5 },
		OnRotate: func(*tls.Certificate) { rotated.Add(1) },
	})
	old, _ := m.GetClientCertificate(nil)
	if old.Leaf == nil || old.Leaf.NotBefore != t0 {
		t.Fatalf("the valid stored certificate was not reused: %+v", old.Leaf)
	}
	go m.Run(ctx)
	waitFor(t, "the manager to wait for its deadline", func() bool { return clock.Waiters() == 1 })

	clock.Step(80*time.Hour - time.Second)
	time.Sleep(50 * time.Millisecond)
	if n := len(csrs.Objects()); n != 0 {
		t.Fatalf("%d requests before the rotation deadline (80h)", n)
	}
	clock.Step(time.Second)
	waitFor(t, "the rotated certificate", func() bool { return rotated.Load() == 1 })

	objs := csrs.Objects()
	if len(objs) != 1 {
		t.Fatalf("%d requests, want 1", len(objs))
	}
	spec := objs[0].GetSpec()
	if spec.GetSignerName() != certificatesv1.KubeAPIServerClientKubeletSignerName ||
		strings.Join(spec.GetUsages(), ",") != "digital signature,client auth" {
		t.Errorf("request: signer %q usages %q", spec.GetSignerName(), spec.GetUsages())
	}
	b, _ := pem.Decode(spec.GetRequest())
	req, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if req.Subject.CommonName != "system:node:n1" || strings.Join(req.Subject.Organization, ",") != "system:nodes" {
		t.Errorf("request subject %v", req.Subject)
	}
	if _, ok := req.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("request key %T, want ECDSA", req.PublicKey)
	}

	got, _ := m.GetClientCertificate(nil)
	if !got.Leaf.NotBefore.Equal(t0.Add(80 * time.Hour)) {
		t.Errorf("GetClientCertificate serves a certificate from %v, want the new one (from %v)", got.Leaf.NotBefore, t0.Add(80*time.Hour))
	}
	if got2, _ := m.GetCertificate(nil); got2 != got {
		t.Error("GetCertificate and GetClientCertificate disagree")
	}
	onDisk, err := store.Current()
	if err != nil || !onDisk.Leaf.Equal(got.Leaf) {
		t.Errorf("kubelet-client-current.pem is not the new certificate (%v)", err)
	}
	if want := t0.Add(80*time.Hour + 80*time.Hour); !m.RotationDeadline().Equal(want) {
		t.Errorf("next deadline %v, want %v", m.RotationDeadline(), want)
	}
}

func TestManagerRequestsAtOnceWithoutCertificate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := testCA(t)
	clock := workqueue.NewFakeClock(t0)
	csrs := fake.NewAPI[*CSR]()
	go (&testSigner{ca: ca, csrs: csrs, now: clock.Now, life: time.Hour}).run(ctx, t)
	m := NewManager(ManagerConfig{
		Name: "serving", Store: &Store{Dir: t.TempDir(), Prefix: ServingPrefix, Now: clock.Now}, Clock: clock,
		Request: func() Request { return ServingRequest("n1", []string{"n1"}, nil) },
		CSRs:    func() (client.Interface[*CSR], error) { return csrs, nil },
	})
	if _, err := m.GetCertificate(nil); err == nil || !strings.Contains(err.Error(), "no serving certificate") {
		t.Fatalf("GetCertificate before issuance: %v", err)
	}
	if c, _ := m.GetClientCertificate(nil); c == nil || len(c.Certificate) != 0 {
		t.Fatalf("GetClientCertificate before issuance presents %v, want an empty certificate", c)
	}
	go m.Run(ctx)
	waitFor(t, "the serving certificate", func() bool { return m.Current() != nil })
	if got := m.Current().Leaf.DNSNames; len(got) != 1 || got[0] != "n1" {
		t.Errorf("SANs %v", got)
	}
	if u := csrs.Objects()[0].GetSpec().GetUsages(); strings.Join(u, ",") != "digital signature,key encipherment,server auth" {
		t.Errorf("usages %v", u)
	}
}

func TestRequestRefusedOnDenied(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	csrs := fake.NewAPI[*CSR]()
	go (&testSigner{ca: testCA(t), csrs: csrs, deny: true, now: time.Now}).run(ctx, t)
	_, _, err := RequestCertificate(ctx, csrs, ClientRequest("n1"), nil)
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "was denied (TestDenied: the test signer denies everything)") || strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line naming the denial and its reason", msg)
	}
}

func TestKubeconfigValid(t *testing.T) {
	ca := testCA(t)
	dir := t.TempDir()
	write := func(name string, cert []byte, token string) string {
		file := filepath.Join(dir, name)
		y := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n" +
			"contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n"
		if cert != nil {
			cf := filepath.Join(dir, name+".pem")
			if err := os.WriteFile(cf, cert, 0o600); err != nil {
				t.Fatal(err)
			}
			y += "    client-certificate: " + cf + "\n    client-key: " + cf + "\n"
		}
		if token != "" {
			y += "    token: " + token + "\n"
		}
		if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	valid, validKey := issue(t, ca, "a", t0.Add(-time.Hour), 2*time.Hour)
	expired, expiredKey := issue(t, ca, "b", t0.Add(-3*time.Hour), 2*time.Hour)
	for _, tc := range []struct {
		name string
		file string
		want bool
	}{
		{"missing", filepath.Join(dir, "none"), false},
		{"valid certificate", write("valid", append(valid, validKey...), ""), true},
		{"expired certificate", write("expired", append(expired, expiredKey...), ""), false},
		{"token", write("token", nil, "abcdef.0123456789abcdef"), true},
		{"no credentials", write("empty", nil, ""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, why := kubeconfigValid(tc.file, t0); got != tc.want {
				t.Errorf("valid = %v (%s), want %v", got, why, tc.want)
			}
		})
	}
}
