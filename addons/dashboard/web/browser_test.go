package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium is Debian's browser (hack/install-deps.sh installs it).
const chromium = "/usr/bin/chromium"

// TestBrowser drives the app in a headless chromium against the test
// apiserver: login, the live pods page, the overview, a pod's detail,
// scaling as the editor and the refusal shown to the viewer. It needs no
// cluster (test/e2e's TestDashboard runs the same in a real one); it
// skips where chromium is not installed.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no browser: %v (hack/install-deps.sh installs chromium)", err)
	}
	e := startWith(t, fakeMetrics)
	shots := t.TempDir()
	e.createPod(t, "before")
	actx, c1 := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900))
	defer c1()
	ctx, c2 := chromedp.NewContext(actx)
	defer c2()
	if err := chromedp.Listen(ctx, func(any) {}); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(c, steps...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
			loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("location.href"))
			t.Logf("at %s:\n%s\nlogs:\n%s", loc, html, e.logs)
			t.Fatalf("%s: %v", what, err)
		}
	}
	step("login", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SetValue(chromedp.CSS("#token"), editorToken),
		chromedp.Click(chromedp.CSS("#login")), chromedp.WaitVisible(chromedp.CSS("#logout")))
	step("pods", chromedp.Navigate(e.url+"/#/pods?namespace="+ns), chromedp.WaitVisible(chromedp.CSS(`#pods tr[data-name="before"]`)), chromedp.WaitVisible(chromedp.CSS("#live.on")))
	e.createPod(t, "during")
	step("live", chromedp.WaitVisible(chromedp.CSS(`#pods tr[data-name="during"]`)))
	shot("pods")
	// The editor of one namespace may not read node metrics: the usage
	// section says so.
	step("overview", chromedp.Navigate(e.url+"/#/overview"), chromedp.WaitVisible(chromedp.CSS("#page h2")),
		chromedp.WaitVisible(chromedp.CSS("#node-usage .error")))
	shot("overview")
	step("pod", chromedp.Navigate(e.url+"/#/pod/"+ns+"/before"), chromedp.WaitVisible(chromedp.CSS("#containers")),
		chromedp.WaitVisible(chromedp.CSS(`#pod-usage svg.chart[data-series="pod/team/before/cpu"][data-value="125"] polyline`)),
		chromedp.WaitVisible(chromedp.CSS(`#pod-usage svg.chart[data-series="pod/team/before/memory"][data-value="33554432"]`)))
	if text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#pod-usage"))); err != nil || !strings.Contains(text, "125m") || !strings.Contains(text, "32.0Mi") {
		t.Errorf("pod usage %q %v, want 125m and 32.0Mi", text, err)
	}
	// The pod's events are live too: one recorded while its page is open
	// appears on top without a reload.
	step("pod events live", chromedp.WaitVisible(chromedp.CSS("#events-live.on")))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__noReload = "still here"; true`)); err != nil {
		t.Fatal(err)
	}
	e.createEvent(t, "on-pod-page", "PodPageLive")
	step("pod event appears", chromedp.WaitVisible(chromedp.CSS(`#events tbody tr:first-child[data-name="on-pod-page"][data-reason="PodPageLive"]`)))
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__noReload || "reloaded"`)); err != nil || mark != "still here" {
		t.Errorf("the pod page was reloaded (mark %q, %v)", mark, err)
	}
	shot("pod")
	// The events page is live: an event recorded while it is open appears
	// on top without a reload.
	e.createEvent(t, "earlier", "Tested")
	step("events", chromedp.Navigate(e.url+"/#/events?namespace="+ns), chromedp.WaitVisible(chromedp.CSS(`#events tr[data-name="earlier"]`)),
		chromedp.WaitVisible(chromedp.CSS("#live.on")))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__noReload = "still here"; true`)); err != nil {
		t.Fatal(err)
	}
	e.createEvent(t, "later", "Appeared")
	step("event appears", chromedp.WaitVisible(chromedp.CSS(`#events tbody tr:first-child[data-name="later"][data-reason="Appeared"]`)))
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__noReload || "reloaded"`)); err != nil || mark != "still here" {
		t.Errorf("the events page was reloaded (mark %q, %v)", mark, err)
	}
	shot("events")
	e.createDeployment(t)
	row := chromedp.CSS(`#deployments tr[data-name="web"]`)
	step("scale", chromedp.Navigate(e.url+"/#/deployments?namespace="+ns), chromedp.WaitVisible(row+" input.replicas"),
		chromedp.SetValue(row+" input.replicas", "2"), chromedp.Click(row+" button.scale"), chromedp.WaitVisible(chromedp.CSS("#message.ok")),
		chromedp.WaitVisible(chromedp.CSS(`#deployments tr[data-name="web"][data-desired="2"]`)))
	step("logout", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#token")))
	step("login viewer", chromedp.SetValue(chromedp.CSS("#token"), viewerToken), chromedp.Click(chromedp.CSS("#login")), chromedp.WaitVisible(chromedp.CSS("#logout")))
	step("scale refused", chromedp.Navigate(e.url+"/#/deployments?namespace="+ns), chromedp.WaitVisible(row+" input.replicas"),
		chromedp.SetValue(row+" input.replicas", "3"), chromedp.Click(row+" button.scale"), chromedp.WaitVisible(chromedp.CSS("#message.error")))
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#message")))
	if want := `User "viewer" cannot update resource "deployments" in API group "apps" in the namespace "team"`; err != nil || !strings.Contains(msg, want) {
		t.Errorf("refusal %q %v, want the apiserver's Forbidden: %s", msg, err, want)
	}
	shot("scale-refused")
	step("pods all", chromedp.Navigate(e.url+"/#/pods"), chromedp.WaitVisible(chromedp.CSS(".error")))
	shot("refused")

	// A cluster admin sees every node's usage charted.
	step("login admin", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SetValue(chromedp.CSS("#token"), adminToken), chromedp.Click(chromedp.CSS("#login")), chromedp.WaitVisible(chromedp.CSS("#logout")))
	step("node usage", chromedp.Navigate(e.url+"/#/overview"),
		chromedp.WaitVisible(chromedp.CSS(`#node-usage svg.chart[data-series="node/node-a/cpu"][data-value="1500"] polyline`)),
		chromedp.WaitVisible(chromedp.CSS(`#node-usage svg.chart[data-series="node/node-b/memory"][data-value="1073741824"]`)))
	shot("node-usage")
}
