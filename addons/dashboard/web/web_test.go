package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/addons/dashboard/web"
	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"

	_ "minik8s/api/all"
)

// Tokens of the static token file: an editor and a viewer of namespace
// "team" (RoleBindings to the edit and view ClusterRoles), and nobody.
const (
	editorToken = "editor-token-1234567890"
	viewerToken = "viewer-token-1234567890"
	nobodyToken = "nobody-token-1234567890"
	adminToken  = "admin-token-1234567890"
	ns          = "team"
)

// env is a real apiserver (RBAC on, real etcd) and the dashboard in front
// of it over a connection without credentials of its own.
type env struct {
	admin *client.Client
	url   string
	logs  *bytes.Buffer
}

func start(t *testing.T) *env {
	t.Helper()
	return startWith(t, nil)
}

// startWith is start with the dashboard's API changed by edit first (a
// fake metrics API where no kubelet runs).
func startWith(t *testing.T, edit func(*web.API)) *env {
	t.Helper()
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokFile, []byte(editorToken+",editor,1\n"+viewerToken+",viewer,2\n"+nobodyToken+",nobody,3\n"+adminToken+",admin,4,system:masters\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	api := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{AuthorizationMode: "Node,RBAC", TokenAuthFile: tokFile})
	e := &env{admin: api.Client(t), logs: &bytes.Buffer{}}
	ctx := context.Background()
	if _, err := client.For[*corev1.Namespace](e.admin).Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	for user, role := range map[string]string{"editor": "edit", "viewer": "view"} {
		_, err := client.For[*rbacv1.RoleBinding](e.admin).Create(ctx, &rbacv1.RoleBinding{
			Metadata: &metav1.ObjectMeta{Namespace: ns, Name: user},
			Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: user}},
			RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := client.ConfigFromFlags("", api.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// UserConfig drops the admin certificate: the dashboard can act only
	// as its users.
	c, err := client.NewForConfig(web.UserConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dapi := web.NewAPI(c)
	if edit != nil {
		edit(&dapi)
	}
	srv := httptest.NewServer(web.New(web.Options{API: dapi, Logger: log, Heartbeat: 200 * time.Millisecond}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	t.Cleanup(func() {
		for _, tok := range []string{editorToken, viewerToken, nobodyToken, adminToken} {
			if strings.Contains(e.logs.String(), tok) {
				t.Errorf("a token was logged:\n%s", e.logs)
			}
		}
	})
	return e
}

// browser is an HTTP client with a cookie jar, as a browser keeps the session.
func (e *env) browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login posts the token and returns the browser holding the session.
func (e *env) login(t *testing.T, token string) *http.Client {
	t.Helper()
	b := e.browser(t)
	resp, err := b.PostForm(e.url+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", resp.Status)
	}
	return b
}

func get(t *testing.T, b *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (e *env) createPod(t *testing.T, name string) {
	t.Helper()
	_, err := client.For[*corev1.Pod](e.admin).Create(context.Background(), &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "main", Image: "busybox"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDashboard(t *testing.T) {
	e := start(t)
	e.createPod(t, "before")

	t.Run("without a session only the login page", func(t *testing.T) {
		b := e.browser(t)
		for _, tc := range []struct {
			path string
			code int
			want string
		}{
			{"/", 200, `name="token"`},
			{"/static/style.css", 200, "minik8s dashboard"},
			{"/static/app.js", 401, "log in"},
			{"/api/pods", 401, "log in"},
			{"/api/pods/watch", 401, "log in"},
		} {
			code, body := get(t, b, e.url+tc.path)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("GET %s: %d %.200q, want %d with %q", tc.path, code, body, tc.code, tc.want)
			}
		}
	})

	t.Run("login", func(t *testing.T) {
		b := e.browser(t)
		resp, err := b.PostForm(e.url+"/login", url.Values{"token": {"not-a-token"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(body), "Login refused") || len(resp.Cookies()) != 0 {
			t.Errorf("bad token: %s %q cookies %v", resp.Status, body, resp.Cookies())
		}
		resp, err = b.PostForm(e.url+"/login", url.Values{"token": {"Bearer " + viewerToken}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
			t.Fatalf("good token: %s cookies %v", resp.Status, resp.Cookies())
		}
		c := resp.Cookies()[0]
		if c.Name != web.CookieName || c.Value != viewerToken || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie %+v: want the token, HttpOnly, SameSite=Strict", c)
		}
		if code, body := get(t, b, e.url+"/"); code != 200 || !strings.Contains(body, "/static/app.js") {
			t.Errorf("GET / after login: %d %.200q, want the app", code, body)
		}
		if code, body := get(t, b, e.url+"/api/whoami"); code != 200 || !strings.Contains(body, `"username":"viewer"`) {
			t.Errorf("whoami: %d %s", code, body)
		}
		// A login form posted from another site is refused.
		req, _ := http.NewRequest("POST", e.url+"/login", strings.NewReader("token="+viewerToken))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://evil.example")
		if resp, err := e.browser(t).Do(req); err != nil || resp.StatusCode != 403 {
			t.Errorf("cross-origin login: %v %v", resp.Status, err)
		}
		// Logging out ends the session.
		resp, err = b.Post(e.url+"/logout", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if code, _ := get(t, b, e.url+"/api/whoami"); code != 401 {
			t.Errorf("whoami after logout: %d", code)
		}
	})

	t.Run("RBAC decides what a user sees", func(t *testing.T) {
		viewer := e.login(t, viewerToken)
		if code, body := get(t, viewer, e.url+"/api/pods?namespace="+ns); code != 200 || !strings.Contains(body, `"name":"before"`) {
			t.Errorf("viewer's pods in %s: %d %s", ns, code, body)
		}
		code, body := get(t, viewer, e.url+"/api/pods")
		if code != 403 || !strings.Contains(body, `User \"viewer\" cannot list resource \"pods\"`) {
			t.Errorf("viewer's pods of every namespace: %d %s, want the apiserver's Forbidden", code, body)
		}
		code, body = get(t, e.login(t, nobodyToken), e.url+"/api/pods?namespace="+ns)
		if code != 403 {
			t.Errorf("nobody's pods: %d %s", code, body)
		}
		var o struct {
			Nodes struct {
				Error *struct{ Error string } `json:"error"`
			} `json:"nodes"`
		}
		code, body = get(t, viewer, e.url+"/api/overview")
		if err := json.Unmarshal([]byte(body), &o); err != nil || code != 200 || o.Nodes.Error == nil || !strings.Contains(o.Nodes.Error.Error, "cannot list resource \"nodes\"") {
			t.Errorf("viewer's overview: %d %s, want the nodes section refused", code, body)
		}
		// A cluster admin sees every part of the overview.
		code, body = get(t, e.login(t, adminToken), e.url+"/api/overview")
		if code != 200 || strings.Contains(body, `"error"`) || !strings.Contains(body, `"name":"team"`) || !strings.Contains(body, `"components":{"items":[`) {
			t.Errorf("admin's overview: %d %s", code, body)
		}
		if code, body := get(t, viewer, e.url+"/api/namespaces/"+ns+"/pods/before"); code != 200 || !strings.Contains(body, `"image":"busybox"`) {
			t.Errorf("pod detail: %d %s", code, body)
		}
	})

	t.Run("pods update live", func(t *testing.T) {
		b := e.login(t, viewerToken)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/pods/watch?namespace="+ns, nil)
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("watch: %s %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		events := readEvents(resp.Body)
		next := func() sseEvent {
			for ev := range events {
				if ev.name != "" {
					return ev
				}
			}
			t.Fatal("stream ended")
			return sseEvent{}
		}
		if ev := next(); ev.name != "reset" || !strings.Contains(ev.data, `"name":"before"`) {
			t.Fatalf("first event %+v, want the reset with pod before", ev)
		}
		e.createPod(t, "during")
		for {
			ev := next()
			if ev.name == "upsert" && strings.Contains(ev.data, `"name":"during"`) {
				break
			}
		}
		if _, err := client.For[*corev1.Pod](e.admin).Delete(ctx, ns, "during", &metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
		for {
			ev := next()
			if ev.name == "delete" && strings.Contains(ev.data, `"name":"during"`) {
				break
			}
		}
	})

	t.Run("scale", func(t *testing.T) {
		ctx := context.Background()
		e.createDeployment(t)
		post := func(b *http.Client, body string) (int, string) {
			resp, err := b.Post(e.url+"/api/namespaces/"+ns+"/deployments/web/scale", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(out)
		}
		viewer, editor := e.login(t, viewerToken), e.login(t, editorToken)
		code, body := post(viewer, `{"replicas": 3}`)
		if code != 403 || !strings.Contains(body, `User \"viewer\" cannot update resource \"deployments\" in API group \"apps\" in the namespace \"team\"`) {
			t.Errorf("viewer scales: %d %s, want the apiserver's Forbidden", code, body)
		}
		for _, bad := range []string{`{}`, `{"replicas": -1}`, `{"replicas": 100000}`, `nonsense`} {
			if code, body := post(editor, bad); code != 400 && code != 422 {
				t.Errorf("scale with %s: %d %s", bad, code, body)
			}
		}
		if code, body := post(editor, `{"replicas": 3}`); code != 200 || !strings.Contains(body, `"desired":3`) {
			t.Errorf("editor scales: %d %s", code, body)
		}
		d, err := client.For[*appsv1.Deployment](e.admin).Get(ctx, ns, "web")
		if err != nil || d.GetSpec().GetReplicas() != 3 {
			t.Errorf("spec.replicas %d %v, want 3", d.GetSpec().GetReplicas(), err)
		}
		if code, body := get(t, viewer, e.url+"/api/deployments?namespace="+ns); code != 200 || !strings.Contains(body, `"name":"web"`) {
			t.Errorf("viewer's deployments: %d %s", code, body)
		}
	})

	t.Run("services, events, ingresses, replica sets", func(t *testing.T) {
		viewer := e.login(t, viewerToken)
		if code, body := get(t, viewer, e.url+"/api/services?namespace="+ns); code != 200 || !strings.Contains(body, `"items":[]`) {
			t.Errorf("services: %d %s", code, body)
		}
		for _, page := range []string{"events", "ingresses", "replicasets"} {
			if code, body := get(t, viewer, e.url+"/api/"+page+"?namespace="+ns); code != 200 || !strings.Contains(body, `"items":`) {
				t.Errorf("%s: %d %s", page, code, body)
			}
		}
	})
}

func (e *env) createDeployment(t *testing.T) {
	t.Helper()
	replicas := int32(1)
	_, err := client.For[*appsv1.Deployment](e.admin).Create(context.Background(), &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: &appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &corev1.PodTemplateSpec{
				Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: "luksa/kubia"}}},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

type sseEvent struct{ name, data string }

// readEvents parses a text/event-stream into events (comments give an
// event with no name).
func readEvents(r io.Reader) <-chan sseEvent {
	ch := make(chan sseEvent)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				ch <- ev
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			}
		}
	}()
	return ch
}

// createEvent records an event about pod "before", as a kubelet would.
func (e *env) createEvent(t *testing.T, name, reason string) {
	t.Helper()
	e.createEventAbout(t, "before", name, reason)
}

// createEventAbout records an event about a pod, with its uid as
// recorders set it.
func (e *env) createEventAbout(t *testing.T, pod, name, reason string) {
	t.Helper()
	p, err := client.For[*corev1.Pod](e.admin).Get(context.Background(), ns, pod)
	if err != nil {
		t.Fatal(err)
	}
	now := timestamppb.Now()
	_, err = client.For[*corev1.Event](e.admin).Create(context.Background(), &corev1.Event{
		Metadata:       &metav1.ObjectMeta{Namespace: ns, Name: name},
		InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod, Uid: p.GetMetadata().GetUid()},
		Reason:         reason, Message: "a test event " + name, Type: "Normal", Count: 1,
		Source:         &corev1.EventSource{Component: "dashboard-test"},
		FirstTimestamp: now, LastTimestamp: now,
	})
	if err != nil {
		t.Fatal(err)
	}
}
