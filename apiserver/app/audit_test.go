package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/apiserver/app"
	"minik8s/apiserver/audit"
	"minik8s/apiserver/auth"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

const auditTestPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps"]
- level: Metadata
`

// startAudited runs an apiserver that audits under auditTestPolicy into a
// file it returns.
func startAudited(t *testing.T, etcd *etcdtest.Cluster, authz string) (*apiservertest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(auditTestPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "log", "audit.log")
	s := apiservertest.Start(t, etcd, apiservertest.Options{AuthorizationMode: authz,
		Audit: app.AuditOptions{PolicyFile: policy, LogPath: logPath, Batch: audit.BatchConfig{MaxBatchWait: 50 * time.Millisecond}}})
	return s, logPath
}

func readAudit(t *testing.T, path string) []audit.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []audit.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev audit.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestAuditLog: with a policy file and a log path, each request over REST
// and over gRPC (create, get, list, watch, delete, a 404) is one
// ResponseComplete line naming the admin user, the verb, the object and
// the code; watches also have ResponseStarted; a request without
// credentials is one ResponseStarted line with no user and 401; a refused
// one says 403 and the decision.
func TestAuditLog(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	s, logPath := startAudited(t, etcd, "")
	cfg, err := client.ConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	adminTLS, err := cfg.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: adminTLS}, Timeout: 30 * time.Second}
	base := "https://" + s.Addr
	auditIDs := map[string]string{} // name of the REST step -> Audit-Id header
	do := func(step, method, path, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s: %d, want %d", step, resp.StatusCode, want)
		}
		auditIDs[step] = resp.Header.Get("Audit-Id")
	}
	const cms = "/api/v1/namespaces/default/configmaps"
	do("create", "POST", cms, `{"metadata":{"name":"rest-cm"},"data":{"k":"v"}}`, 201)
	do("get", "GET", cms+"/rest-cm", "", 200)
	do("list", "GET", cms, "", 200)
	do("watch", "GET", cms+"?watch=1&timeoutSeconds=1", "", 200)
	do("delete", "DELETE", cms+"/rest-cm", "", 200)
	do("missing", "GET", cms+"/missing", "", 404)
	do("secret", "POST", "/api/v1/namespaces/default/secrets", `{"metadata":{"name":"s1"},"stringData":{"password":"hunter2"}}`, 201)
	// No client certificate: 401.
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: adminTLS.RootCAs}}, Timeout: 30 * time.Second}
	resp, err := anon.Get(base + cms + "/anon")
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("anonymous: %v %v", resp, err)
	}
	resp.Body.Close()

	// The same over gRPC.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := client.For[*corev1.ConfigMap](s.Client(t))
	if _, err := c.Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "grpc-cm", Namespace: "default"}, Data: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "default", "grpc-cm"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(ctx, "default", client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(ctx, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-w.ResultChan() // the ADDED of grpc-cm: the watch is streaming
	w.Stop()
	if _, err := c.Delete(ctx, "default", "grpc-cm", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "default", "missing"); !apierrors.IsNotFound(err) {
		t.Fatalf("get missing: %v", err)
	}

	// Refused: another apiserver on the same etcd denies everything.
	denying, denyLog := startAudited(t, etcd, "AlwaysDeny")
	if _, err := client.For[*corev1.ConfigMap](denying.Client(t)).Get(ctx, "default", "x"); !apierrors.IsForbidden(err) {
		t.Fatalf("AlwaysDeny: %v", err)
	}
	dcfg, err := client.ConfigFromFlags("", denying.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	denyTLS, err := dcfg.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	resp, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: denyTLS}, Timeout: 30 * time.Second}).Get("https://" + denying.Addr + cms + "/x")
	if err != nil || resp.StatusCode != 403 {
		t.Fatalf("AlwaysDeny over REST: %v %v", resp, err)
	}
	resp.Body.Close()

	// A clean stop writes everything buffered.
	time.Sleep(200 * time.Millisecond) // the gRPC watch's server side ends after the client's Stop
	s.Stop()
	denying.Stop()
	evs := readAudit(t, logPath)
	if os.Getenv("AUDIT_DUMP") != "" {
		data, _ := os.ReadFile(logPath)
		t.Log(string(data))
	}

	type want struct {
		verb, name, uri string
		code            int32
		started         bool
	}
	find := func(stage audit.Stage, w want) []audit.Event {
		var out []audit.Event
		for _, ev := range evs {
			if ev.Stage != stage || ev.ObjectRef == nil || ev.ObjectRef.Resource != "configmaps" || ev.Verb != w.verb || ev.ObjectRef.Name != w.name {
				continue
			}
			if w.uri != "" && !strings.HasPrefix(ev.RequestURI, w.uri) {
				continue
			}
			out = append(out, ev)
		}
		return out
	}
	const grpcMethod = "/minik8s.rpc.API/"
	for step, w := range map[string]want{
		"rest create":  {verb: "create", name: "rest-cm", uri: cms, code: 201},
		"rest get":     {verb: "get", name: "rest-cm", uri: cms, code: 200},
		"rest list":    {verb: "list", uri: cms, code: 200},
		"rest watch":   {verb: "watch", uri: cms + "?watch", code: 200, started: true},
		"rest delete":  {verb: "delete", name: "rest-cm", uri: cms, code: 200},
		"rest missing": {verb: "get", name: "missing", uri: cms, code: 404},
		"grpc create":  {verb: "create", name: "grpc-cm", uri: grpcMethod + "Create", code: 201},
		"grpc get":     {verb: "get", name: "grpc-cm", uri: grpcMethod + "Get", code: 200},
		"grpc list":    {verb: "list", uri: grpcMethod + "List", code: 200},
		"grpc watch":   {verb: "watch", uri: grpcMethod + "Watch", code: 200, started: true},
		"grpc delete":  {verb: "delete", name: "grpc-cm", uri: grpcMethod + "Delete", code: 200},
		"grpc missing": {verb: "get", name: "missing", uri: grpcMethod + "Get", code: 404},
	} {
		t.Run(step, func(t *testing.T) {
			got := find(audit.StageResponseComplete, w)
			if len(got) != 1 {
				t.Fatalf("%d ResponseComplete lines, want 1: %+v", len(got), got)
			}
			ev := got[0]
			if ev.User.Username != "kubernetes-admin" || strings.Join(ev.User.Groups, ",") != "system:masters,system:authenticated" {
				t.Errorf("user %+v", ev.User)
			}
			if ev.ResponseStatus == nil || ev.ResponseStatus.Code != w.code {
				t.Errorf("responseStatus %+v, want code %d", ev.ResponseStatus, w.code)
			}
			if ev.ObjectRef.Namespace != "default" || ev.ObjectRef.APIVersion != "v1" || ev.Level != audit.LevelRequestResponse {
				t.Errorf("objectRef %+v level %s", ev.ObjectRef, ev.Level)
			}
			if ev.Annotations[audit.AnnotationDecision] != "allow" {
				t.Errorf("annotations %v", ev.Annotations)
			}
			if w.code == 404 && (ev.ResponseStatus.Reason != "NotFound" || ev.ResponseStatus.Status != "Failure") {
				t.Errorf("404 status %+v", ev.ResponseStatus)
			}
			if s := find(audit.StageResponseStarted, w); w.started != (len(s) == 1) {
				t.Errorf("%d ResponseStarted lines (want one: %v)", len(s), w.started)
			}
			if len(find(audit.StageRequestReceived, w)) != 0 {
				t.Errorf("RequestReceived written though the policy omits it")
			}
			if strings.HasPrefix(step, "rest ") {
				if id := auditIDs[strings.TrimPrefix(step, "rest ")]; id != ev.AuditID {
					t.Errorf("Audit-Id header %q, event %q", id, ev.AuditID)
				}
			}
			if w.verb == "create" && (len(ev.RequestObject) == 0 || len(ev.ResponseObject) == 0) {
				t.Errorf("RequestResponse create without objects")
			}
		})
	}
	t.Run("unauthenticated", func(t *testing.T) {
		var got []audit.Event
		for _, ev := range evs {
			if ev.ObjectRef != nil && ev.ObjectRef.Name == "anon" {
				got = append(got, ev)
			}
		}
		if len(got) != 1 || got[0].Stage != audit.StageResponseStarted || got[0].User.Username != "" ||
			got[0].ResponseStatus.Code != 401 || got[0].ResponseStatus.Message != "Authentication failed, no credentials provided" {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("secret at Metadata", func(t *testing.T) {
		data, _ := os.ReadFile(logPath)
		if bytes.Contains(data, []byte("hunter2")) || bytes.Contains(data, []byte("aHVudGVyMg")) {
			t.Fatal("the secret's data is in the audit log")
		}
		n := 0
		for _, ev := range evs {
			if ev.ObjectRef != nil && ev.ObjectRef.Resource == "secrets" && ev.Stage == audit.StageResponseComplete {
				n++
				if ev.Level != audit.LevelMetadata || ev.RequestObject != nil || ev.ResponseObject != nil || ev.ObjectRef.Name != "s1" {
					t.Errorf("secret event %+v", ev)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%d secret events", n)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		var got []audit.Event
		for _, ev := range readAudit(t, denyLog) {
			if ev.ObjectRef != nil && ev.ObjectRef.Name == "x" && ev.Stage == audit.StageResponseComplete {
				got = append(got, ev)
			}
		}
		if len(got) != 2 {
			t.Fatalf("%d events, want one over gRPC and one over REST: %+v", len(got), got)
		}
		for _, ev := range got {
			if ev.ResponseStatus.Code != 403 || ev.ResponseStatus.Reason != "Forbidden" || ev.Verb != "get" ||
				ev.Annotations[audit.AnnotationDecision] != "forbid" || ev.Annotations[audit.AnnotationReason] != "Everything is forbidden." {
				t.Errorf("got %+v", ev)
			}
		}
	})
}

// TestAuditLogRotation: --audit-log-maxsize rotates the file; no line is
// lost or cut across the files, and --audit-log-maxbackup 0 keeps all.
func TestAuditLogRotation(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Blocking mode, and a pause every 200 events: lumberjack names a
	// rotated file to the millisecond, so two rotations within one
	// millisecond (a megabyte written that fast, easy for 400-event
	// batches in a tight loop) would overwrite a file. Real sizes (100 MB
	// by default) never rotate that fast.
	o := app.AuditOptions{PolicyFile: policy, LogPath: filepath.Join(dir, "audit.log"), MaxSize: 1, Mode: "blocking"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := o.Build()
	if err != nil {
		t.Fatal(err)
	}
	const n = 2500 // about 1.2 KiB each: three files or more
	ua := strings.Repeat("u", 1000)
	for i := 0; i < n; i++ {
		if i%200 == 0 {
			time.Sleep(time.Millisecond)
		}
		_, r := a.Begin(context.Background(), audit.RequestInfo{RequestURI: "/api/v1/pods", UserAgent: ua})
		r.Evaluate(auth.Attributes{User: &auth.User{Name: "jane"}, Verb: "list", Resource: "pods"}, "v1")
		r.Complete(200, nil)
	}
	a.Shutdown()
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
	if len(files) < 3 {
		t.Fatalf("files %v: want rotation", files)
	}
	total := 0
	for _, f := range files {
		st, _ := os.Stat(f)
		if st.Size() > 1<<20 || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %d bytes, mode %v", f, st.Size(), st.Mode())
		}
		total += len(readAudit(t, f))
	}
	if total != n {
		t.Fatalf("%d events in %d files, want %d", total, len(files), n)
	}
}

func TestAuditOptionsValidate(t *testing.T) {
	for _, o := range []app.AuditOptions{{Format: "legacy"}, {Mode: "blocking-strict"}, {MaxSize: -1}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if a, err := (&app.AuditOptions{LogPath: "/nonexistent/x"}).Build(); a != nil || err != nil {
		t.Errorf("without a policy: %v %v", a, err)
	}
	bad := filepath.Join(t.TempDir(), "p.yaml")
	_ = os.WriteFile(bad, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\n"), 0o600)
	if _, err := (&app.AuditOptions{PolicyFile: bad, LogPath: "-"}).Build(); err == nil || !strings.Contains(err.Error(), "--audit-policy-file") {
		t.Errorf("a policy without rules: %v", err)
	}
}
