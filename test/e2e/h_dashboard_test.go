package e2e

// The web dashboard add-on (deploy/addons/dashboard.yaml, docs/dashboard.md)
// in a real browser: Debian's chromium, headless, driven by chromedp over
// the DevTools protocol. Two service accounts of a test namespace log in
// with tokens from the TokenRequest API: an editor (RoleBinding to edit)
// sees the namespace's pods, sees a pod created during the test appear
// without a reload, reads a pod's events, log and usage charts (real
// metrics.k8s.io numbers), sees an event recorded during the test appear on
// the live events page without a reload, and scales a Deployment; a viewer
// (view) gets the apiserver's Forbidden when it tries to, and once bound to
// view cluster-wide sees every node's usage charted. Last the dashboard is
// reached by name through the ingress controller (host
// dashboard.minik8s.local on NodePort 30080). Screenshots go to
// _output/e2e-artifacts/TestDashboard (or $MK8S_E2E_ARTIFACTS/TestDashboard).
//
// The browser may load only the dashboard: host names resolve to nothing
// and every other address goes to a proxy that does not exist, and the
// test fails if the page requested anything else.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	authenticationv1 "minik8s/api/authentication/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

const (
	dashboardNodePort = "30090"
	chromiumPath      = "/usr/bin/chromium"
)

var chromiumOnce sync.Once

// needChromium installs Debian's chromium when it is missing (the test
// setup's part; hack/install-deps.sh installs it too).
func needChromium(t *testing.T) {
	t.Helper()
	chromiumOnce.Do(func() {
		if _, err := os.Stat(chromiumPath); err == nil || os.Geteuid() != 0 {
			return
		}
		cmd := exec.Command("apt-get", "install", "-y", "-qq", "chromium")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("apt-get install chromium: %v\n%s", err, out)
		}
	})
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%v: install Debian's chromium (hack/install-deps.sh)", err)
	}
}

// artifactDir is where the test's screenshots go.
func (c *cluster) artifactDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("MK8S_E2E_ARTIFACTS")
	if base == "" {
		base = filepath.Join(filepath.Dir(c.bin), "_output", "e2e-artifacts")
	}
	dir := filepath.Join(base, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless chromium with a fresh profile that can reach
// only allowIP, and returns its context; it is closed at test end. Every
// URL the page requests is checked to start with allowed. The host names
// in hosts resolve to allowIP (as /etc/hosts would map
// dashboard.minik8s.local to a node); every other name to nothing.
func browser(t *testing.T, allowIP, allowed string, hosts ...string) context.Context {
	t.Helper()
	rules, bypass := "", allowIP
	for _, h := range hosts {
		rules += "MAP " + h + " " + allowIP + ", "
		bypass += ";" + h
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// No outside network: no name resolves, and every address but the
		// node's goes to a proxy port nothing listens on.
		chromedp.Flag("host-resolver-rules", rules+"MAP * ~NOTFOUND, EXCLUDE "+allowIP),
		chromedp.ProxyServer("http://127.0.0.1:9"),
		chromedp.Flag("proxy-bypass-list", bypass),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	var mu sync.Mutex
	var foreign []string
	// Listen starts the browser (without a timeout: it lives as long as ctx).
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil &&
			!strings.HasPrefix(e.Request.URL, allowed) && !strings.HasPrefix(e.Request.URL, "data:") && e.Request.URL != "about:blank" {
			mu.Lock()
			foreign = append(foreign, e.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		mu.Lock()
		defer mu.Unlock()
		if len(foreign) > 0 {
			t.Errorf("the browser requested URLs outside the dashboard: %q", foreign)
		}
	})
	return ctx
}

// do runs browser steps under a timeout.
func do(t *testing.T, ctx context.Context, timeout time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one browser action that returns a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	file := filepath.Join(dir, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", file)
}

// waitText waits until the element's text contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	eventually(t, 30*time.Second, sel+" shows "+want, func() string {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		text, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil || !strings.Contains(text, want) {
			return fmt.Sprintf("%.300q %v", text, err)
		}
		return ""
	})
}

// login opens the dashboard, pastes the token into the login form and
// waits for the app.
func login(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	do(t, ctx, 60*time.Second, "log in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SetValue(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#logout")),
	)
}

func TestDashboard(t *testing.T) {
	c := need(t)
	needChromium(t)
	c.ensureAddon(t, "dashboard.yaml", "kubernetes-dashboard")
	ns := c.namespace(t, "mk8s-e2e-dashboard")
	c.apply(t, ns, `apiVersion: v1
kind: ServiceAccount
metadata:
  name: editor
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: viewer
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: editor
subjects:
- kind: ServiceAccount
  name: editor
  namespace: `+ns+`
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: edit
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: viewer
subjects:
- kind: ServiceAccount
  name: viewer
  namespace: `+ns+`
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: kubia
        image: luksa/kubia
        ports:
        - containerPort: 8080
`)
	first := c.runningPods(t, ns, "app=web", 1, 120*time.Second)[0]
	token := func(sa string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		exp := int64(3600)
		out, err := c.api.CreateToken(ctx, ns, sa, &authenticationv1.TokenRequest{Spec: &authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}})
		if err != nil || out.GetStatus().GetToken() == "" {
			t.Fatalf("token of %s/%s: %v", ns, sa, err)
		}
		return out.GetStatus().GetToken()
	}
	editorToken, viewerToken := token("editor"), token("viewer")
	nodeIP := c.nodeIPs[0]
	base := "http://" + net.JoinHostPort(nodeIP, dashboardNodePort)
	shots := c.artifactDir(t)

	t.Run("only the login page without a token", func(t *testing.T) {
		eventually(t, 60*time.Second, "the dashboard through NodePort "+dashboardNodePort, func() string {
			resp, err := http.Get(base + "/api/pods")
			if err != nil {
				return err.Error()
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusUnauthorized {
				return fmt.Sprintf("GET /api/pods without a token: %s %s", resp.Status, body)
			}
			return ""
		})
	})

	ctx := browser(t, nodeIP, base+"/")

	t.Run("editor sees pods live and scales", func(t *testing.T) {
		login(t, ctx, base, editorToken)
		podsURL := base + "/#/pods?namespace=" + ns
		row := func(name string) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(`#pods tr[data-name=%q]`, name)) }
		do(t, ctx, 60*time.Second, "the pods page lists the existing pod",
			chromedp.Navigate(podsURL),
			chromedp.WaitVisible(row(first.name)),
			chromedp.WaitVisible(chromedp.CSS("#live.on")),
		)
		user := get(t, ctx, "user", chromedp.Text(chromedp.CSS("#user")))
		// A mark that a reload would wipe out.
		get(t, ctx, "mark the page", chromedp.Evaluate[bool](`window.__noReload = "still here"; true`))
		if want := "system:serviceaccount:" + ns + ":editor"; user != want {
			t.Errorf("logged in as %q, want %q", user, want)
		}
		c.apply(t, ns, `apiVersion: v1
kind: Pod
metadata:
  name: appears
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["sleep", "36000"]
`)
		do(t, ctx, 90*time.Second, "the new pod appears without a reload",
			chromedp.WaitVisible(row("appears")),
			chromedp.WaitVisible(row("appears")+`[data-status="Running"]`),
		)
		if mark := get(t, ctx, "the mark", chromedp.Evaluate[string](`window.__noReload || "reloaded"`)); mark != "still here" {
			t.Errorf("the page was reloaded (mark %q)", mark)
		}
		screenshot(t, ctx, shots, "pods")

		// A pod's detail: its events (the scheduler's and the kubelet's)
		// and its container's log.
		do(t, ctx, 60*time.Second, "pod detail",
			chromedp.Navigate(base+"/#/pod/"+ns+"/"+first.name),
			chromedp.WaitVisible(chromedp.CSS("#containers")))
		waitText(t, ctx, "#events", "Scheduled")
		waitText(t, ctx, "#log", "kubia server starting")
		// Its events are live: one recorded now appears on top without a
		// reload.
		do(t, ctx, 60*time.Second, "the pod's events follow", chromedp.WaitVisible(chromedp.CSS("#events-live.on")))
		get(t, ctx, "mark the page", chromedp.Evaluate[bool](`window.__noReload = "still here"; true`))
		c.recordEvent(t, ns, first.name, "dashboard-e2e-pod", "DashboardPodLive")
		do(t, ctx, 60*time.Second, "the pod's new event appears without a reload",
			chromedp.WaitVisible(chromedp.CSS(`#events tbody tr:first-child[data-name="dashboard-e2e-pod"][data-reason="DashboardPodLive"]`)))
		if mark := get(t, ctx, "the mark", chromedp.Evaluate[string](`window.__noReload || "reloaded"`)); mark != "still here" {
			t.Errorf("the pod page was reloaded (mark %q)", mark)
		}
		// The usage charts: the metrics API's numbers for the running
		// pod, read with the editor's token (view covers pod metrics).
		// An idle pod may use 0m of CPU; its working set is never 0.
		waitChart(t, ctx, fmt.Sprintf(`#pod-usage svg.chart[data-series="pod/%s/%s/memory"]`, ns, first.name), true)
		waitChart(t, ctx, fmt.Sprintf(`#pod-usage svg.chart[data-series="pod/%s/%s/cpu"]`, ns, first.name), false)
		screenshot(t, ctx, shots, "pod")
		// Node metrics are cluster-wide: a namespace's editor sees the refusal.
		do(t, ctx, 60*time.Second, "the overview refuses the editor node usage",
			chromedp.Navigate(base+"/#/overview"),
			chromedp.WaitVisible(chromedp.CSS("#node-usage .error")))

		// The events page is live: an event recorded now appears on top
		// without a reload.
		do(t, ctx, 60*time.Second, "the events page",
			chromedp.Navigate(base+"/#/events?namespace="+ns),
			chromedp.WaitVisible(chromedp.CSS("#events tbody tr")),
			chromedp.WaitVisible(chromedp.CSS("#live.on")))
		get(t, ctx, "mark the page", chromedp.Evaluate[bool](`window.__noReload = "still here"; true`))
		c.recordEvent(t, ns, first.name, "dashboard-e2e", "DashboardLive")
		do(t, ctx, 60*time.Second, "the new event appears without a reload",
			chromedp.WaitVisible(chromedp.CSS(`#events tbody tr:first-child[data-name="dashboard-e2e"][data-reason="DashboardLive"]`)))
		if mark := get(t, ctx, "the mark", chromedp.Evaluate[string](`window.__noReload || "reloaded"`)); mark != "still here" {
			t.Errorf("the events page was reloaded (mark %q)", mark)
		}
		screenshot(t, ctx, shots, "events")

		scaleRow := chromedp.CSS(`#deployments tr[data-name="web"]`)
		do(t, ctx, 60*time.Second, "scale web to 2",
			chromedp.Navigate(base+"/#/deployments?namespace="+ns),
			chromedp.WaitVisible(scaleRow+" input.replicas"),
			chromedp.SetValue(scaleRow+" input.replicas", "2"),
			chromedp.Click(scaleRow+" button.scale"),
			chromedp.WaitVisible(chromedp.CSS("#message.ok")),
			chromedp.WaitVisible(chromedp.CSS(`#deployments tr[data-name="web"][data-desired="2"]`)),
		)
		msg := get(t, ctx, "message", chromedp.Text(chromedp.CSS("#message")))
		if !strings.Contains(msg, "Scaled deployment "+ns+"/web to 2") {
			t.Errorf("message after scaling: %q", msg)
		}
		if n := c.deploymentReplicas(t, ns, "web"); n != 2 {
			t.Errorf("spec.replicas %d after the editor scaled to 2", n)
		}
		screenshot(t, ctx, shots, "deployments-scaled")
		do(t, ctx, 30*time.Second, "log out",
			chromedp.Click(chromedp.CSS("#logout")),
			chromedp.WaitVisible(chromedp.CSS("#token")))
	})

	t.Run("viewer is refused", func(t *testing.T) {
		login(t, ctx, base, viewerToken)
		scaleRow := chromedp.CSS(`#deployments tr[data-name="web"]`)
		do(t, ctx, 60*time.Second, "try to scale web to 3",
			chromedp.Navigate(base+"/#/deployments?namespace="+ns),
			chromedp.WaitVisible(scaleRow+" input.replicas"),
			chromedp.SetValue(scaleRow+" input.replicas", "3"),
			chromedp.Click(scaleRow+" button.scale"),
			chromedp.WaitVisible(chromedp.CSS("#message.error")),
		)
		msg := get(t, ctx, "message", chromedp.Text(chromedp.CSS("#message")))
		want := fmt.Sprintf(`User "system:serviceaccount:%s:viewer" cannot update resource "deployments" in API group "apps" in the namespace %q`, ns, ns)
		if !strings.Contains(msg, "Scale refused") || !strings.Contains(msg, want) {
			t.Errorf("refusal %q, want the apiserver's Forbidden: %s", msg, want)
		}
		screenshot(t, ctx, shots, "deployments-refused")
		if n := c.deploymentReplicas(t, ns, "web"); n != 2 {
			t.Errorf("spec.replicas %d after the viewer's refused scale, want 2", n)
		}
		// The viewer still sees the namespace's pods.
		do(t, ctx, 60*time.Second, "the viewer's pods page",
			chromedp.Navigate(base+"/#/pods?namespace="+ns),
			chromedp.WaitVisible(chromedp.CSS(`#pods tr[data-name="appears"]`)))
		do(t, ctx, 30*time.Second, "log out",
			chromedp.Click(chromedp.CSS("#logout")),
			chromedp.WaitVisible(chromedp.CSS("#token")))
	})

	t.Run("a cluster-wide reader sees node usage", func(t *testing.T) {
		// view bound cluster-wide reads metrics.k8s.io nodes.
		crb := ns + "-reader"
		c.apply(t, ns, `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: `+crb+`
subjects:
- kind: ServiceAccount
  name: viewer
  namespace: `+ns+`
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
`)
		t.Cleanup(func() {
			if _, err := c.minictl("delete", "clusterrolebinding", crb); err != nil {
				t.Logf("delete clusterrolebinding %s: %v", crb, err)
			}
		})
		login(t, ctx, base, viewerToken)
		do(t, ctx, 30*time.Second, "overview", chromedp.Navigate(base+"/#/overview"), chromedp.WaitVisible(chromedp.CSS("#page h2")))
		// A node always uses some CPU and memory.
		for _, n := range c.nodes {
			if mem := waitChart(t, ctx, fmt.Sprintf(`#node-usage svg.chart[data-series="node/%s/memory"]`, n), true); mem < 16<<20 {
				t.Errorf("node %s memory chart at %v bytes, want a real working set", n, mem)
			}
			waitChart(t, ctx, fmt.Sprintf(`#node-usage svg.chart[data-series="node/%s/cpu"]`, n), true)
		}
		screenshot(t, ctx, shots, "node-usage")
	})

	t.Run("through the ingress by host", func(t *testing.T) {
		// deploy/addons/dashboard.yaml's Ingress: host
		// dashboard.minik8s.local on the ingress controller's NodePort.
		c.ensureAddon(t, "ingress.yaml", "ingress-controller")
		const host = "dashboard.minik8s.local"
		ingBase := "http://" + net.JoinHostPort(host, ingressHTTPNodePort)
		nodeURL := "http://" + net.JoinHostPort(nodeIP, ingressHTTPNodePort) + "/"
		hc := &http.Client{Timeout: 10 * time.Second}
		eventually(t, 90*time.Second, "the login page through the ingress", func() string {
			code, body, err := ingressGet(hc, nodeURL, host)
			if err != nil || code != http.StatusOK || !strings.Contains(body, `name="token"`) {
				return fmt.Sprintf("GET %s Host %s: %d %v %.200q", nodeURL, host, code, err, body)
			}
			return ""
		})
		// Another host name on the same port is not the dashboard.
		if code, body, err := ingressGet(hc, nodeURL, "not-"+host); err != nil || code != http.StatusNotFound {
			t.Errorf("Host not-%s: %d %v %.200q, want the default 404", host, code, err, body)
		}
		// The browser by name, the name mapped to the node as /etc/hosts
		// would: login, and the live pods page through the proxy.
		ictx := browser(t, nodeIP, ingBase+"/", host)
		login(t, ictx, ingBase, editorToken)
		do(t, ictx, 60*time.Second, "the live pods page through the ingress",
			chromedp.Navigate(ingBase+"/#/pods?namespace="+ns),
			chromedp.WaitVisible(chromedp.CSS(`#pods tr[data-name="appears"]`)),
			chromedp.WaitVisible(chromedp.CSS("#live.on")))
		if loc := get(t, ictx, "location", chromedp.Evaluate[string]("location.host")); loc != host+":"+ingressHTTPNodePort {
			t.Errorf("the page is at %q, want %s:%s", loc, host, ingressHTTPNodePort)
		}
		screenshot(t, ictx, shots, "through-ingress")
	})
}

// waitChart waits until the usage chart sel shows a sample (above 0 if
// positive) and returns its value. The app samples every 10 s; a CPU rate
// needs two scrapes of the kubelet, so the first can say 0.
func waitChart(t *testing.T, ctx context.Context, sel string, positive bool) float64 {
	t.Helper()
	var v float64
	eventually(t, 120*time.Second, sel+" drawn", func() string {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && e.querySelector("polyline") ? Number(e.dataset.value) : -1; })()`, sel)
		n, err := chromedp.Run(tctx, chromedp.Evaluate[float64](js))
		if err != nil || n < 0 {
			msg, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`(document.querySelector("#pod-usage, #node-usage") || {}).textContent || ""`))
			return fmt.Sprintf("no chart (%v): %.200q", err, msg)
		}
		v = n
		if positive && n <= 0 {
			return fmt.Sprintf("%s at %v", sel, n)
		}
		return ""
	})
	return v
}

// recordEvent records a Normal event about a pod, as a kubelet would
// (with the pod's uid).
func (c *cluster) recordEvent(t *testing.T, ns, pod, name, reason string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := client.For[*corev1.Pod](c.api).Get(ctx, ns, pod)
	if err != nil {
		t.Fatal(err)
	}
	now := timestamppb.Now()
	_, err = client.For[*corev1.Event](c.api).Create(ctx, &corev1.Event{
		Metadata:       &metav1.ObjectMeta{Namespace: ns, Name: name},
		InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod, Uid: p.GetMetadata().GetUid()},
		Reason:         reason, Message: "recorded by the e2e test", Type: "Normal", Count: 1,
		Source:         &corev1.EventSource{Component: "e2e"},
		FirstTimestamp: now, LastTimestamp: now,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// deploymentReplicas reads spec.replicas through the API.
func (c *cluster) deploymentReplicas(t *testing.T, ns, name string) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := client.For[*appsv1.Deployment](c.api).Get(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return d.GetSpec().GetReplicas()
}
