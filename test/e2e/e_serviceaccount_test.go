package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
)

// TestServiceAccountToken: every pod gets its service account's projected
// token, the cluster CA and its namespace under
// /var/run/secrets/kubernetes.io/serviceaccount (the ServiceAccount
// admission plugin, the kubelet's TokenRequest, the root-ca-cert
// publisher); the token authenticates as system:serviceaccount:NS:default
// to the apiserver, whose certificate ca.crt verifies under the in-cluster
// name kubernetes.default.svc; once the pod is gone the token is refused.
func TestServiceAccountToken(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	ns := c.kubectlNamespace(t, "satoken")
	k.expect(t, []string{"-n", ns, "run", "holder", "--image=busybox", "--restart=Never", "--command", "--", "sleep", "3600"},
		"pod/holder created")
	k.ok(t, "-n", ns, "wait", "--for=condition=Ready", "pod/holder", "--timeout=150s")

	const dir = "/var/run/secrets/kubernetes.io/serviceaccount/"
	read := func(file string) string {
		return k.ok(t, "-n", ns, "exec", "holder", "--", "cat", dir+file)
	}
	if got := strings.TrimSpace(read("namespace")); got != ns {
		t.Fatalf("namespace file holds %q, want %q", got, ns)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(read("ca.crt"))) {
		t.Fatal("ca.crt holds no certificate")
	}
	token := strings.TrimSpace(read("token"))
	if strings.Count(token, ".") != 2 {
		t.Fatalf("token is not a JWT: %q", token)
	}

	cfg, err := client.ConfigFromFlags(c.servers, c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	server := cfg.Servers[0]
	// Dial the apiserver's address but verify its certificate as a pod
	// does, for kubernetes.default.svc, with only the pod's ca.crt.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "kubernetes.default.svc"},
	}}
	whoami := func() (int, string) {
		body := `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`
		req, err := http.NewRequest(http.MethodPost, "https://"+server+"/apis/authentication.k8s.io/v1/selfsubjectreviews", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST selfsubjectreviews: %v", err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return resp.StatusCode, string(out)
	}
	code, body := whoami()
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("whoami with the pod's token: %d %s", code, body)
	}
	var review struct {
		Status struct {
			UserInfo struct {
				Username string   `json:"username"`
				Groups   []string `json:"groups"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(body), &review); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if want := fmt.Sprintf("system:serviceaccount:%s:default", ns); review.Status.UserInfo.Username != want {
		t.Fatalf("the pod's token authenticates as %q, want %q (%s)", review.Status.UserInfo.Username, want, body)
	}

	// The token is bound to the pod: gone with it.
	k.ok(t, "-n", ns, "delete", "pod", "holder", "--grace-period=1", "--wait=true", "--timeout=90s")
	eventually(t, 30*time.Second, "the deleted pod's token refused", func() string {
		if code, body := whoami(); code != http.StatusUnauthorized {
			return fmt.Sprintf("%d %s", code, body)
		}
		return ""
	})
}
