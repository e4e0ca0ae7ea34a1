package audit

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// memBackend keeps the lines written.
type memBackend struct {
	mu     sync.Mutex
	lines  []string
	closed bool
}

func (m *memBackend) ProcessEvents(events ...[]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	for _, ev := range events {
		m.lines = append(m.lines, string(ev))
	}
	return true
}

func (m *memBackend) Shutdown() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
}

func (m *memBackend) text() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.lines, "\n")
}

// testAuditor records under policy with a clock that ticks a millisecond
// per reading and IDs id-1, id-2, ...
func testAuditor(t *testing.T, policy string) (*Auditor, *memBackend) {
	t.Helper()
	p, err := ParsePolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	m := &memBackend{}
	a := New(p, m)
	now := time.Date(2026, 12, 5, 10, 0, 10, 123456000, time.UTC)
	a.now = func() time.Time { now = now.Add(time.Millisecond); return now }
	n := 0
	a.newID = func() string { n++; return "id-" + string(rune('0'+n)) }
	return a, m
}

func policyAt(level Level) string {
	return "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: " + string(level) + "\n"
}

var (
	admin = &auth.User{Name: "kubernetes-admin", Groups: []string{"system:masters", "system:authenticated"}}
	jane  = &auth.User{Name: "jane", UID: "u-1", Groups: []string{"devs", "system:authenticated"}, Extra: map[string][]string{"scopes": {"a", "b"}}}
)

func kind(t *testing.T, resource string) *scheme.Kind {
	t.Helper()
	k, err := scheme.ByResource(resource)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func info() RequestInfo {
	return RequestInfo{RequestURI: "/api/v1/namespaces/default/configmaps", SourceIPs: []string{"10.0.0.1", "127.0.0.1"},
		UserAgent: "kubectl/v1.33.0 (linux/amd64)", Received: time.Date(2026, 12, 5, 10, 0, 0, 1000, time.UTC)}
}

// create records a create of a ConfigMap (or Secret) as the request path
// does.
func create(t *testing.T, a *Auditor, resource string, obj scheme.Object) {
	t.Helper()
	ctx, r := a.Begin(context.Background(), info())
	attrs := auth.Attributes{User: admin, Verb: "create", Resource: resource, Namespace: "default"}
	r.Describe(attrs, "v1")
	r.Evaluate(attrs, "v1")
	if d, _, _ := r.Authorizer(allow{}).Authorize(ctx, attrs); d != auth.Allow {
		t.Fatal("not allowed")
	}
	k := kind(t, resource)
	r.LogRequestObject(k, obj)
	out := obj
	scheme.Meta(out).Uid, scheme.Meta(out).ResourceVersion = "uid-1", "42"
	r.LogResponseObject(k, out)
	r.Complete(201, nil)
}

type allow struct{}

func (allow) Authorize(context.Context, auth.Attributes) (auth.Decision, string, error) {
	return auth.Allow, `RBAC: allowed by ClusterRoleBinding "cluster-admin"`, nil
}

// TestEventGolden: the JSON lines of a create, a 404 with an impersonated
// user, a watch and a failed authentication, as Kubernetes writes them.
func TestEventGolden(t *testing.T) {
	a, m := testAuditor(t, policyAt(LevelRequestResponse))
	create(t, a, "configmaps", &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cm", ManagedFields: []*metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}, Data: map[string]string{"k": "v"}})

	ctx, r := a.Begin(context.Background(), RequestInfo{RequestURI: "/api/v1/namespaces/default/pods/x", AuditID: "from-client", Received: time.Date(2026, 12, 5, 10, 0, 1, 0, time.UTC)})
	r.SetUser(admin)
	r.SetImpersonatedUser(jane)
	attrs := auth.Attributes{User: admin, Verb: "get", Resource: "pods", Namespace: "default", Name: "x"}
	r.Evaluate(attrs, "v1")
	_, _, _ = r.Authorizer(allow{}).Authorize(ctx, attrs)
	AddAnnotation(ctx, "example.com/note", "first")
	AddAnnotation(ctx, "example.com/note", "second is ignored")
	r.Complete(404, apierrors.NewNotFound("pods", "x").Status)

	_, r = a.Begin(context.Background(), RequestInfo{RequestURI: "/minik8s.rpc.API/Watch", Received: time.Date(2026, 12, 5, 10, 0, 2, 0, time.UTC)})
	r.Describe(auth.Attributes{Verb: "watch", Group: "apps", Resource: "deployments", Namespace: "web"}, "v1")
	r.Evaluate(auth.Attributes{User: jane, Verb: "watch", Group: "apps", Resource: "deployments", Namespace: "web"}, "v1")
	r.ResponseStarted(200)
	r.Complete(200, nil)

	ctx = auth.WithCredentials(context.Background(), auth.Credentials{BearerToken: "t"})
	ctx, r = a.Begin(ctx, RequestInfo{RequestURI: "/api/v1/secrets", Received: time.Date(2026, 12, 5, 10, 0, 3, 0, time.UTC)})
	r.Describe(auth.Attributes{Verb: "list", Resource: "secrets"}, "v1")
	r.AuthenticationFailed(ctx)
	r.Complete(401, apierrors.NewUnauthorized("Unauthorized").Status)

	got := m.text() + "\n"
	golden := filepath.Join("testdata", "events.golden.jsonl")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("events differ from %s (run with -update):\n%s", golden, got)
	}
}

// TestLevels: what each level writes; Metadata never has objects, and a
// secret's data is never written below RequestResponse.
func TestLevels(t *testing.T) {
	cm := func() scheme.Object {
		return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"k": "cm-value"}}
	}
	secret := func() scheme.Object {
		return &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "s"}, Data: map[string][]byte{"password": []byte("hunter2")}, StringData: map[string]string{"token": "s3cret"}}
	}
	for _, tc := range []struct {
		name          string
		level         Level
		resource      string
		obj           func() scheme.Object
		lines         int
		req, resp     bool
		mustNotAppear []string
	}{
		{"None writes nothing", LevelNone, "configmaps", cm, 0, false, false, nil},
		{"Metadata: no objects", LevelMetadata, "configmaps", cm, 2, false, false, []string{"cm-value"}},
		{"Request: the request object", LevelRequest, "configmaps", cm, 2, true, false, nil},
		{"RequestResponse: both", LevelRequestResponse, "configmaps", cm, 2, true, true, nil},
		{"secret at Metadata", LevelMetadata, "secrets", secret, 2, false, false, []string{"hunter2", "aHVudGVyMg", "s3cret"}},
		{"secret at Request: no data", LevelRequest, "secrets", secret, 2, false, false, []string{"hunter2", "aHVudGVyMg", "s3cret"}},
		{"secret at RequestResponse: asked for", LevelRequestResponse, "secrets", secret, 2, true, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, m := testAuditor(t, policyAt(tc.level))
			create(t, a, tc.resource, tc.obj())
			if len(m.lines) != tc.lines {
				t.Fatalf("%d lines, want %d:\n%s", len(m.lines), tc.lines, m.text())
			}
			text := m.text()
			if strings.Contains(text, `"requestObject"`) != tc.req || strings.Contains(text, `"responseObject"`) != tc.resp {
				t.Fatalf("requestObject %v responseObject %v, want %v %v:\n%s", !tc.req, !tc.resp, tc.req, tc.resp, text)
			}
			for _, s := range tc.mustNotAppear {
				if strings.Contains(text, s) {
					t.Fatalf("%q written:\n%s", s, text)
				}
			}
			if tc.lines > 0 && !strings.Contains(m.lines[len(m.lines)-1], `"uid":"uid-1"`) && tc.level != LevelNone {
				// objectRef gets the request object's uid only when it has
				// one; the response's is not copied.
				t.Logf("%s", m.lines[len(m.lines)-1])
			}
		})
	}
	t.Run("omitManagedFields", func(t *testing.T) {
		a, m := testAuditor(t, "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitManagedFields: true\nrules:\n- level: RequestResponse\n")
		create(t, a, "configmaps", &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cm", ManagedFields: []*metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}})
		if strings.Contains(m.text(), "managedFields") || !strings.Contains(m.text(), `"requestObject"`) {
			t.Fatal(m.text())
		}
	})
	t.Run("secret patch at Request: no patch", func(t *testing.T) {
		a, m := testAuditor(t, policyAt(LevelRequest))
		_, r := a.Begin(context.Background(), info())
		r.Evaluate(auth.Attributes{User: admin, Verb: "patch", Resource: "secrets", Namespace: "default", Name: "s"}, "v1")
		r.LogRequestPatch([]byte(`{"stringData":{"password":"hunter2"}}`))
		r.Complete(200, nil)
		if strings.Contains(m.text(), "hunter2") {
			t.Fatal(m.text())
		}
	})
	t.Run("configmap apply patch at Request: YAML written as JSON", func(t *testing.T) {
		a, m := testAuditor(t, policyAt(LevelRequest))
		_, r := a.Begin(context.Background(), info())
		r.Evaluate(auth.Attributes{User: admin, Verb: "patch", Resource: "configmaps", Namespace: "default", Name: "c"}, "v1")
		r.LogRequestPatch([]byte("data:\n  k: v\n"))
		r.Complete(200, nil)
		if !strings.Contains(m.text(), `"requestObject":{"data":{"k":"v"}}`) {
			t.Fatal(m.text())
		}
	})
}

// TestStages: omitted stages, the Panic stage, a request never evaluated
// by the request path, and one that is not recorded at all.
func TestStages(t *testing.T) {
	stages := func(m *memBackend) string {
		var out []string
		for _, l := range m.lines {
			i := strings.Index(l, `"stage":"`)
			rest := l[i+9:]
			out = append(out, rest[:strings.Index(rest, `"`)])
		}
		return strings.Join(out, ",")
	}
	t.Run("omitted", func(t *testing.T) {
		a, m := testAuditor(t, "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n  omitStages: [ResponseStarted]\n")
		_, r := a.Begin(context.Background(), info())
		r.Evaluate(auth.Attributes{User: admin, Verb: "watch", Resource: "pods"}, "v1")
		r.ResponseStarted(200)
		r.Complete(200, nil)
		if got := stages(m); got != "ResponseComplete" {
			t.Fatal(got)
		}
	})
	t.Run("watch that fails before streaming", func(t *testing.T) {
		a, m := testAuditor(t, policyAt(LevelMetadata))
		_, r := a.Begin(context.Background(), info())
		r.Evaluate(auth.Attributes{User: admin, Verb: "watch", Resource: "pods"}, "v1")
		r.Complete(403, apierrors.NewForbidden("pods", "", "no").Status)
		if got := stages(m); got != "RequestReceived,ResponseStarted,ResponseComplete" {
			t.Fatal(got)
		}
	})
	t.Run("panic", func(t *testing.T) {
		a, m := testAuditor(t, policyAt(LevelMetadata))
		_, r := a.Begin(context.Background(), info())
		r.Evaluate(auth.Attributes{User: admin, Verb: "get", Resource: "pods"}, "v1")
		r.Panic(errors.New("boom"))
		r.Complete(500, nil)
		r.Complete(500, nil) // once only
		if got := stages(m); got != "RequestReceived,Panic" || !strings.Contains(m.text(), `"message":"APIServer panic'd: boom"`) {
			t.Fatal(got, m.text())
		}
	})
	t.Run("described only (a bad body)", func(t *testing.T) {
		a, m := testAuditor(t, policyAt(LevelMetadata))
		_, r := a.Begin(context.Background(), info())
		r.SetUser(admin)
		r.Describe(auth.Attributes{Verb: "create", Resource: "pods", Namespace: "default"}, "v1")
		r.Complete(400, apierrors.NewBadRequest("bad").Status)
		if got := stages(m); got != "RequestReceived,ResponseComplete" || !strings.Contains(m.text(), `"username":"kubernetes-admin"`) ||
			!strings.Contains(m.text(), `"code":400`) {
			t.Fatal(got, m.text())
		}
	})
	t.Run("level None: no event, no ID, the authorizer untouched", func(t *testing.T) {
		a, m := testAuditor(t, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n")
		_, r := a.Begin(context.Background(), info())
		r.Evaluate(auth.Attributes{User: admin, Verb: "get", Resource: "pods"}, "v1")
		if _, ok := r.Authorizer(allow{}).(allow); !ok || r.ID() != "" || r.Level() != LevelNone {
			t.Fatal("recording a request at level None")
		}
		r.LogRequestObject(kind(t, "configmaps"), &corev1.ConfigMap{})
		r.Complete(200, nil)
		if len(m.lines) != 0 {
			t.Fatal(m.text())
		}
	})
	t.Run("nil auditor and nil request", func(t *testing.T) {
		var a *Auditor
		ctx, r := a.Begin(context.Background(), info())
		if r != nil || From(ctx) != nil {
			t.Fatal("a nil auditor records")
		}
		r.Evaluate(auth.Attributes{}, "")
		r.Complete(200, nil)
		a.Shutdown()
	})
}

func TestMicroTime(t *testing.T) {
	b, _ := MicroTime(time.Date(2026, 1, 2, 3, 4, 5, 6789000, time.FixedZone("x", 3600))).MarshalJSON()
	if !bytes.Equal(b, []byte(`"2026-01-02T02:04:05.006789Z"`)) {
		t.Fatal(string(b))
	}
}

type deny struct{}

func (deny) Authorize(context.Context, auth.Attributes) (auth.Decision, string, error) {
	return auth.Deny, "no", nil
}

// TestDecisionAnnotations: a patch authorized as a get (allowed) and then
// an update (refused) is recorded with the refusal.
func TestDecisionAnnotations(t *testing.T) {
	a, m := testAuditor(t, policyAt(LevelMetadata))
	ctx, r := a.Begin(context.Background(), info())
	r.Describe(auth.Attributes{Verb: "patch", Resource: "pods", Namespace: "default", Name: "x"}, "v1")
	get := auth.Attributes{User: admin, Verb: "get", Resource: "pods", Namespace: "default", Name: "x"}
	r.Evaluate(get, "v1")
	_, _, _ = r.Authorizer(allow{}).Authorize(ctx, get)
	upd := get
	upd.Verb = "update"
	r.Evaluate(upd, "v1")
	_, _, _ = r.Authorizer(deny{}).Authorize(ctx, upd)
	r.Complete(403, apierrors.NewForbidden("pods", "x", "no").Status)
	last := m.lines[len(m.lines)-1]
	if !strings.Contains(last, `"verb":"patch"`) || !strings.Contains(last, `"annotations":{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":"no"}`) {
		t.Fatal(last)
	}
}
