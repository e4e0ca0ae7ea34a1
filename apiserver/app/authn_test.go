package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/admission"
	"minik8s/apiserver/app"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/restapi"
	"minik8s/apiserver/storage/memory"
)

// authServer is the REST front over in-memory storage with the
// authentication flags' authenticators, and a stand-in for the fronts'
// credential plumbing (the Authorization header into the context).
type authServer struct {
	URL    string
	st     *generic.Store
	token  string // static admin token
	client *http.Client
}

func newAuthServer(t *testing.T, extraFlags ...string) *authServer {
	t.Helper()
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(key)
	keyFile := filepath.Join(dir, "sa.key")
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokens, []byte("admin-secret,admin,uid-admin,\"system:masters\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var o app.Options
	fs := flag.NewFlagSet("apiserver", flag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(append([]string{"--token-auth-file=" + tokens, "--service-account-signing-key-file=" + keyFile,
		"--enable-bootstrap-token-auth"}, extraFlags...)); err != nil {
		t.Fatal(err)
	}
	if err := o.Authentication.Validate(); err != nil {
		t.Fatal(err)
	}

	st := generic.New(memory.New(), cache.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := st.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"default", "kube-system"} {
		mustCreate(t, st, "namespaces", &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}})
	}
	authn, err := o.Authentication.Build(app.StoreGetter(st))
	if err != nil {
		t.Fatal(err)
	}
	adm := admission.Chain{app.NamespaceLifecycle(st), app.ServiceAccountAdmission(st)}
	api := app.NewAPI(st, nil, nil, auth.Union{Authenticators: authn.Authenticators}, nil, adm)
	authn.Install(api)
	extra := http.NewServeMux()
	authn.InstallOpenID(extra)
	h := restapi.New(restapi.Config{API: api, Extra: extra, Patch: app.ApplyPatch})
	// TLS: clients (kubectl) send bearer tokens only over HTTPS.
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c auth.Credentials
		c.BearerToken, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		h.ServeHTTP(w, r.WithContext(auth.WithCredentials(r.Context(), c)))
	}))
	t.Cleanup(hs.Close)
	return &authServer{URL: hs.URL, st: st, token: "admin-secret", client: hs.Client()}
}

func mustCreate[T scheme.Object](t *testing.T, st *generic.Store, resource string, obj T) T {
	t.Helper()
	k, _ := scheme.ByResource(resource)
	out, err := st.Create(context.Background(), k, obj.GetMetadata().GetNamespace(), obj, rest.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out.(T)
}

// do sends a request as the bearer of token and decodes a JSON answer.
func (s *authServer) do(t *testing.T, method, path, token, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

type userInfo struct {
	Username string              `json:"username"`
	UID      string              `json:"uid"`
	Groups   []string            `json:"groups"`
	Extra    map[string][]string `json:"extra"`
}

func (s *authServer) whoami(t *testing.T, token string) (int, userInfo) {
	t.Helper()
	var r struct {
		Status struct {
			UserInfo userInfo `json:"userInfo"`
		} `json:"status"`
	}
	code := s.do(t, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", token,
		`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`, &r)
	return code, r.Status.UserInfo
}

func (s *authServer) review(t *testing.T, token string, audiences ...string) (bool, userInfo, string) {
	t.Helper()
	spec, _ := json.Marshal(map[string]any{"token": token, "audiences": audiences})
	var r struct {
		Status struct {
			Authenticated bool     `json:"authenticated"`
			User          userInfo `json:"user"`
			Error         string   `json:"error"`
		} `json:"status"`
	}
	if code := s.do(t, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", s.token,
		`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":`+string(spec)+`}`, &r); code != http.StatusCreated {
		t.Fatalf("tokenreview: %d", code)
	}
	return r.Status.Authenticated, r.Status.User, r.Status.Error
}

func TestServiceAccountTokenOverREST(t *testing.T) {
	s := newAuthServer(t)
	sa := mustCreate(t, s.st, "serviceaccounts", &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "builder", Namespace: "default"}})
	pod := mustCreate(t, s.st, "pods", &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web-1", Namespace: "default"},
		Spec: &corev1.PodSpec{ServiceAccountName: "builder", Containers: []*corev1.Container{{Name: "web", Image: "nginx"}}}})

	mustCreate(t, s.st, "serviceaccounts", &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "other", Namespace: "default"}})

	code, u := s.whoami(t, s.token)
	if code != http.StatusCreated || u.Username != "admin" || strings.Join(u.Groups, ",") != "system:masters,system:authenticated" {
		t.Fatalf("whoami as admin: %d %+v", code, u)
	}
	if code, _ := s.whoami(t, "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("whoami with a bad token: %d", code)
	}

	var tr struct {
		Spec struct {
			Audiences         []string `json:"audiences"`
			ExpirationSeconds int64    `json:"expirationSeconds"`
		} `json:"spec"`
		Status struct {
			Token               string    `json:"token"`
			ExpirationTimestamp time.Time `json:"expirationTimestamp"`
		} `json:"status"`
	}
	body := `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":1200,
		"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"web-1","uid":"` + pod.Metadata.Uid + `"}}}`
	if code := s.do(t, "POST", "/api/v1/namespaces/default/serviceaccounts/builder/token", s.token, body, &tr); code != http.StatusCreated {
		t.Fatalf("token request: %d %+v", code, tr)
	}
	if tr.Status.Token == "" || tr.Spec.ExpirationSeconds != 1200 || tr.Spec.Audiences[0] != "https://kubernetes.default.svc.cluster.local" ||
		time.Until(tr.Status.ExpirationTimestamp) > 21*time.Minute || time.Until(tr.Status.ExpirationTimestamp) < 19*time.Minute {
		t.Fatalf("token request answer: %+v", tr)
	}
	tok := tr.Status.Token

	code, u = s.whoami(t, tok)
	if code != http.StatusCreated || u.Username != "system:serviceaccount:default:builder" || u.UID != sa.Metadata.Uid ||
		u.Extra["authentication.kubernetes.io/pod-name"][0] != "web-1" {
		t.Fatalf("whoami as the service account: %d %+v", code, u)
	}
	ok, u, _ := s.review(t, tok)
	if !ok || u.Username != "system:serviceaccount:default:builder" ||
		strings.Join(u.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:default,system:authenticated" {
		t.Fatalf("tokenreview: %v %+v", ok, u)
	}
	if ok, _, msg := s.review(t, tok, "vault"); ok || msg != "invalid bearer token" {
		t.Fatalf("tokenreview for another audience: %v %q", ok, msg)
	}
	if ok, _, _ := s.review(t, "nonsense"); ok {
		t.Fatal("tokenreview of nonsense authenticated")
	}

	for name, tc := range map[string]struct {
		path, body string
		code       int
	}{
		"too short":           {"/api/v1/namespaces/default/serviceaccounts/builder/token", `{"spec":{"expirationSeconds":60}}`, 422},
		"no such account":     {"/api/v1/namespaces/default/serviceaccounts/nobody/token", `{}`, 404},
		"pod of another uid":  {"/api/v1/namespaces/default/serviceaccounts/builder/token", `{"spec":{"boundObjectRef":{"kind":"Pod","name":"web-1","uid":"x"}}}`, 409},
		"unsupported kind":    {"/api/v1/namespaces/default/serviceaccounts/builder/token", `{"spec":{"boundObjectRef":{"kind":"Node","name":"n"}}}`, 422},
		"pod of another name": {"/api/v1/namespaces/default/serviceaccounts/other/token", `{"spec":{"boundObjectRef":{"kind":"Pod","name":"web-1"}}}`, 400},
		"no credentials":      {"/api/v1/namespaces/default/serviceaccounts/builder/token", `{}`, 401},
	} {
		t.Run(name, func(t *testing.T) {
			tokArg := s.token
			if name == "no credentials" {
				tokArg = ""
			}
			if code := s.do(t, "POST", tc.path, tokArg, tc.body, nil); code != tc.code {
				t.Fatalf("%d, want %d", code, tc.code)
			}
		})
	}

	// Deleting the pod revokes the token.
	zero := int64(0)
	podKind, _ := scheme.ByResource("pods")
	if _, err := s.st.Delete(context.Background(), podKind, "default", "web-1", &metav1.DeleteOptions{GracePeriodSeconds: &zero}, rest.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The authenticator reads pods from the watch cache, which learns of
	// the deletion a moment after etcd.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := s.whoami(t, tok)
		if code == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("whoami after the pod is gone: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ok, _, _ := s.review(t, tok); ok {
		t.Fatal("tokenreview after the pod is gone: authenticated")
	}
}

func TestBootstrapTokenOverREST(t *testing.T) {
	s := newAuthServer(t)
	mustCreate(t, s.st, "secrets", &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "bootstrap-token-abcdef", Namespace: "kube-system"},
		Type: "bootstrap.kubernetes.io/token", Data: map[string][]byte{
			"token-id": []byte("abcdef"), "token-secret": []byte("0123456789abcdef"), "usage-bootstrap-authentication": []byte("true"),
			"expiration": []byte(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))}})
	code, u := s.whoami(t, "abcdef.0123456789abcdef")
	if code != http.StatusCreated || u.Username != "system:bootstrap:abcdef" || u.Groups[0] != "system:bootstrappers" {
		t.Fatalf("whoami: %d %+v", code, u)
	}
	if code, _ := s.whoami(t, "abcdef.0123456789abcdee"); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", code)
	}
}

func TestOpenIDOverREST(t *testing.T) {
	s := newAuthServer(t, "--service-account-issuer=https://issuer.example")
	var cfg struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if code := s.do(t, "GET", "/.well-known/openid-configuration", "", "", &cfg); code != 200 ||
		cfg.Issuer != "https://issuer.example" || cfg.JWKSURI != "https://issuer.example/openid/v1/jwks" {
		t.Fatalf("openid-configuration: %d %+v", code, cfg)
	}
	var jwks struct {
		Keys []struct{ Kty, Alg, Kid string }
	}
	if code := s.do(t, "GET", "/openid/v1/jwks", "", "", &jwks); code != 200 || len(jwks.Keys) != 1 || jwks.Keys[0].Alg != "ES256" {
		t.Fatalf("jwks: %d %+v", code, jwks)
	}
}

// TestKubectl runs the real kubectl (skipped when not installed):
// create token and auth whoami.
func TestKubectlCreateTokenAndWhoami(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	s := newAuthServer(t)
	mustCreate(t, s.st, "serviceaccounts", &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "builder", Namespace: "default"}})
	dir := t.TempDir()
	run := func(token string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--server=" + s.URL, "--token=" + token, "--insecure-skip-tls-verify", "--cache-dir=" + dir}, args...)...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "none"), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tok := strings.TrimSpace(run(s.token, "create", "token", "builder", "--duration=15m"))
	out := run(tok, "auth", "whoami")
	for _, want := range []string{"system:serviceaccount:default:builder", "system:serviceaccounts:default", "system:authenticated"} {
		if !strings.Contains(out, want) {
			t.Errorf("whoami output lacks %q:\n%s", want, out)
		}
	}
}

func TestServiceAccountAdmissionOverREST(t *testing.T) {
	s := newAuthServer(t)
	// What the service-account controller would have made.
	mustCreate(t, s.st, "serviceaccounts", &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "default", Namespace: "default"}})
	var pod struct {
		Spec struct {
			ServiceAccountName string `json:"serviceAccountName"`
			Volumes            []struct {
				Name      string          `json:"name"`
				Projected json.RawMessage `json:"projected"`
			} `json:"volumes"`
			Containers []struct {
				VolumeMounts []struct{ Name, MountPath string } `json:"volumeMounts"`
			} `json:"containers"`
		} `json:"spec"`
	}
	code := s.do(t, "POST", "/api/v1/namespaces/default/pods", s.token,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`, &pod)
	if code != http.StatusCreated || pod.Spec.ServiceAccountName != "default" || len(pod.Spec.Volumes) != 1 ||
		!strings.HasPrefix(pod.Spec.Volumes[0].Name, "kube-api-access-") ||
		pod.Spec.Containers[0].VolumeMounts[0].MountPath != "/var/run/secrets/kubernetes.io/serviceaccount" {
		t.Fatalf("%d %+v", code, pod)
	}
}
