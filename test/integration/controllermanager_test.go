package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	_ "minik8s/api/all"
	appsv1 "minik8s/api/apps/v1"
	batchv1 "minik8s/api/batch/v1"
	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/app"
	"minik8s/minictl/cmd"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
	"minik8s/test/fakekubelet"
)

// cmEnv is a test cluster: etcd, an apiserver, a controller-manager and
// the fake kubelet (which also binds pods).
type cmEnv struct {
	t       *testing.T
	ctx     context.Context
	api     *apiservertest.Server
	c       *client.Client
	kubelet *fakekubelet.Kubelet
	stops   []func()
}

// stopAllCM stops every controller-manager started so far.
func (e *cmEnv) stopAllCM() {
	for _, stop := range e.stops {
		stop()
	}
	e.stops = nil
}

// cmOptions are the controller-manager options tests start from: no
// leader election, no HTTP port, short node timings.
func cmOptions(server, kubeconfig string) app.Options {
	o := app.DefaultOptions()
	o.Server = server
	o.Kubeconfig = kubeconfig
	o.LeaderElect = false
	o.Port = 0
	o.NodeMonitorPeriod = 200 * time.Millisecond
	o.NodeMonitorGrace = 3 * time.Second
	o.PodEvictionTimeout = time.Second
	o.MinResyncPeriod = 0
	return o
}

// startCMEnv starts the cluster with nodes, and a controller-manager with
// opts changed by mutate (nil: cmOptions).
func startCMEnv(t *testing.T, nodes int, mutate func(*app.Options)) *cmEnv {
	t.Helper()
	return startCMEnvWith(t, nodes, nil, mutate)
}

// startCMEnvWith is startCMEnv with the fake kubelet's config changed by kubelet.
func startCMEnvWith(t *testing.T, nodes int, kubelet func(*fakekubelet.Config), mutate func(*app.Options)) *cmEnv {
	t.Helper()
	e := startClusterOnly(t, nodes, kubelet)
	e.startCM(mutate)
	return e
}

// startClusterOnly starts etcd, the apiserver and the fake kubelet with
// nodes, but no controller-manager.
func startClusterOnly(t *testing.T, nodes int, kubelet func(*fakekubelet.Config)) *cmEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	t.Cleanup(cancel)
	// Without DefaultTolerationSeconds: its 300 s tolerations would keep
	// pods on a lost node far longer than the tests' shortened eviction.
	e := &cmEnv{t: t, ctx: ctx, api: apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{DisableAdmissionPlugins: "DefaultTolerationSeconds,ServiceAccount"})}
	e.c = e.api.Client(t)
	// Simulated: these tests' timings (eviction, heartbeats, ReadyDelay)
	// were tuned against the simulated nodes.
	kc := fakekubelet.Config{Client: e.c, Bind: true, Heartbeat: 300 * time.Millisecond, Simulated: true,
		Server: e.api.Addr, Kubeconfig: e.api.Kubeconfig}
	if kubelet != nil {
		kubelet(&kc)
	}
	e.kubelet = fakekubelet.Start(ctx, kc)
	t.Cleanup(e.kubelet.Stop)
	for i := range nodes {
		if err := e.kubelet.AddNode(ctx, fmt.Sprintf("node-%d", i+1), nil); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// startCM runs a controller-manager until the test ends; stop ends it early.
func (e *cmEnv) startCM(mutate func(*app.Options)) (stop func()) {
	e.t.Helper()
	stop, _ = e.startCMReady(mutate)
	return stop
}

// startCMReady is startCM that also returns what the controller-manager serves.
func (e *cmEnv) startCMReady(mutate func(*app.Options)) (stop func(), served app.Ready) {
	e.t.Helper()
	o := cmOptions(e.api.Addr, e.api.Kubeconfig)
	if mutate != nil {
		mutate(&o)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	ready := make(chan app.Ready, 1)
	go func() { done <- app.Run(ctx, o, ready) }()
	select {
	case served = <-ready:
	case err := <-done:
		cancel()
		e.t.Fatalf("controller-manager did not start: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			e.t.Error("controller-manager did not stop within 20s")
		}
	}
	e.t.Cleanup(stop)
	e.stops = append(e.stops, stop)
	return stop, served
}

// eventually polls cond every 50ms until it returns true or the timeout
// passes; the last message cond gave is reported on failure.
func (e *cmEnv) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			e.t.Fatalf("%s: not reached within %s: %s", what, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pods lists the pods in ns matching selector.
func (e *cmEnv) pods(ns, selector string) []*corev1.Pod {
	e.t.Helper()
	l, err := client.For[*corev1.Pod](e.c).List(e.ctx, ns, client.ListOptions{LabelSelector: selector})
	if err != nil {
		e.t.Fatal(err)
	}
	return l.Items
}

// podCounts returns (not terminating, ready and not terminating) pods.
func podCounts(pods []*corev1.Pod) (live, ready int) {
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		live++
		for _, c := range p.GetStatus().GetConditions() {
			if c.GetType() == "Ready" && c.GetStatus() == "True" && p.GetStatus().GetPhase() == "Running" {
				ready++
			}
		}
	}
	return live, ready
}

func cmTemplate(labels map[string]string, image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		Metadata: &metav1.ObjectMeta{Labels: labels},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: image,
			Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
}

func (e *cmEnv) waitReady(ns, selector string, n int) {
	e.t.Helper()
	e.eventually(30*time.Second, fmt.Sprintf("%d ready pods %s", n, selector), func() (bool, string) {
		pods := e.pods(ns, selector)
		live, ready := podCounts(pods)
		return live == n && ready == n, fmt.Sprintf("%d live, %d ready", live, ready)
	})
}

func TestControllerManagerReplicaSet(t *testing.T) {
	e := startCMEnv(t, 2, nil)
	rss := client.For[*appsv1.ReplicaSet](e.c)
	rs, err := rss.Create(e.ctx, &appsv1.ReplicaSet{
		Metadata: &metav1.ObjectMeta{Name: "kubia", Namespace: "default"},
		Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "kubia"}},
			Template: cmTemplate(map[string]string{"app": "kubia"}, "registry.local/kubia:1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitReady("default", "app=kubia", 3)
	// A deleted pod is replaced.
	victim := e.pods("default", "app=kubia")[0]
	if _, err := client.For[*corev1.Pod](e.c).Delete(e.ctx, "default", victim.Metadata.Name, nil); err != nil {
		t.Fatal(err)
	}
	e.eventually(20*time.Second, "replacement", func() (bool, string) {
		pods := e.pods("default", "app=kubia")
		live, ready := podCounts(pods)
		for _, p := range pods {
			if p.Metadata.Name == victim.Metadata.Name {
				return false, "victim still there"
			}
		}
		return live == 3 && ready == 3, fmt.Sprintf("%d live %d ready", live, ready)
	})
	// Status is reported.
	e.eventually(10*time.Second, "status", func() (bool, string) {
		cur, err := rss.Get(e.ctx, "default", "kubia")
		if err != nil {
			return false, err.Error()
		}
		st := cur.GetStatus()
		return st.GetReplicas() == 3 && st.GetReadyReplicas() == 3 && st.GetAvailableReplicas() == 3 && st.GetObservedGeneration() == cur.Metadata.Generation,
			fmt.Sprintf("%v", st)
	})
	// Scale down to 1.
	err = client.RetryOnConflict(e.ctx, client.Backoff{}, func() error {
		cur, err := rss.Get(e.ctx, "default", "kubia")
		if err != nil {
			return err
		}
		cur.Spec.Replicas = proto.Int32(1)
		_, err = rss.Update(e.ctx, cur)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitReady("default", "app=kubia", 1)
	// Events name the controller.
	e.eventually(10*time.Second, "events", func() (bool, string) {
		evs, err := client.For[*corev1.Event](e.c).List(e.ctx, "default", client.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		create, del := false, false
		for _, ev := range evs.Items {
			if ev.GetInvolvedObject().GetUid() != rs.Metadata.Uid {
				continue
			}
			seen = append(seen, ev.Reason+"/"+ev.GetSource().GetComponent())
			create = create || ev.Reason == "SuccessfulCreate" && ev.GetSource().GetComponent() == "replicaset-controller"
			del = del || ev.Reason == "SuccessfulDelete"
		}
		return create && del, strings.Join(seen, ",")
	})
}

func cmDeployment(ns, name string, replicas int32, image string) *appsv1.Deployment {
	l := map[string]string{"app": name}
	return &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: l}, Template: cmTemplate(l, image)},
	}
}

// updateDeployment changes a deployment with retry on conflict.
func (e *cmEnv) updateDeployment(ns, name string, change func(*appsv1.Deployment)) {
	e.t.Helper()
	ds := client.For[*appsv1.Deployment](e.c)
	err := client.RetryOnConflict(e.ctx, client.Backoff{}, func() error {
		d, err := ds.Get(e.ctx, ns, name)
		if err != nil {
			return err
		}
		change(d)
		_, err = ds.Update(e.ctx, d)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// waitRolledOut waits until the deployment's status shows every replica
// updated and available, for the current generation.
func (e *cmEnv) waitRolledOut(ns, name string, replicas int32) {
	e.t.Helper()
	ds := client.For[*appsv1.Deployment](e.c)
	e.eventually(40*time.Second, "rollout of "+name, func() (bool, string) {
		d, err := ds.Get(e.ctx, ns, name)
		if err != nil {
			return false, err.Error()
		}
		st := d.GetStatus()
		return st.GetObservedGeneration() >= d.Metadata.Generation && st.GetReplicas() == replicas && st.GetUpdatedReplicas() == replicas &&
			st.GetAvailableReplicas() == replicas && st.GetReadyReplicas() == replicas, fmt.Sprintf("generation %d status %v", d.Metadata.Generation, st)
	})
}

func TestControllerManagerDeploymentScale(t *testing.T) {
	e := startCMEnv(t, 3, nil)
	ds := client.For[*appsv1.Deployment](e.c)
	if _, err := ds.Create(e.ctx, cmDeployment("default", "web", 5, "registry.local/kubia:1")); err != nil {
		t.Fatal(err)
	}
	e.waitReady("default", "app=web", 5)
	e.waitRolledOut("default", "web", 5)
	for _, n := range []int32{10, 5} {
		e.updateDeployment("default", "web", func(d *appsv1.Deployment) { d.Spec.Replicas = proto.Int32(n) })
		e.waitReady("default", "app=web", int(n))
		e.waitRolledOut("default", "web", n)
	}
	// One ReplicaSet throughout: scaling is not a rollout.
	rss, err := client.For[*appsv1.ReplicaSet](e.c).List(e.ctx, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 1 || rss.Items[0].Spec.GetReplicas() != 5 {
		t.Fatalf("replica sets after scaling: %d (want 1 with 5 replicas)", len(rss.Items))
	}
	e.eventually(10*time.Second, "ScalingReplicaSet events", func() (bool, string) {
		evs, _ := client.For[*corev1.Event](e.c).List(e.ctx, "default", client.ListOptions{})
		var msgs []string
		for _, ev := range evs.Items {
			if ev.Reason == "ScalingReplicaSet" && ev.GetSource().GetComponent() == "deployment-controller" {
				msgs = append(msgs, ev.Message)
			}
		}
		joined := strings.Join(msgs, "; ")
		return strings.Contains(joined, "Scaled up replica set web-") && strings.Contains(joined, "to 10 from 5") && strings.Contains(joined, "to 5 from 10"), joined
	})
}

// rolloutWatcher follows every pod event of a deployment's pods and
// records the most live pods and the fewest ready ones seen in any state.
type rolloutWatcher struct {
	mu                sync.Mutex
	pods              map[string]*corev1.Pod
	seen              map[string]string // every pod name ever seen -> image
	maxLive, minReady int
	events            int
}

func (e *cmEnv) watchRollout(ns, selector string) *rolloutWatcher {
	e.t.Helper()
	pods := client.For[*corev1.Pod](e.c)
	l, err := pods.List(e.ctx, ns, client.ListOptions{LabelSelector: selector})
	if err != nil {
		e.t.Fatal(err)
	}
	w := &rolloutWatcher{pods: map[string]*corev1.Pod{}, seen: map[string]string{}, minReady: 1 << 30}
	for _, p := range l.Items {
		w.pods[p.Metadata.Name] = p
	}
	w.observe()
	wctx, cancel := context.WithCancel(e.ctx)
	e.t.Cleanup(cancel)
	watch, err := pods.Watch(wctx, ns, client.ListOptions{LabelSelector: selector, ResourceVersion: l.ResourceVersion})
	if err != nil {
		e.t.Fatal(err)
	}
	go func() {
		for ev := range watch.ResultChan() {
			w.mu.Lock()
			switch ev.Type {
			case client.Added, client.Modified:
				w.pods[ev.Object.Metadata.Name] = ev.Object
				w.seen[ev.Object.Metadata.Name] = ev.Object.Spec.Containers[0].Image
			case client.Deleted:
				delete(w.pods, ev.Object.Metadata.Name)
			}
			w.mu.Unlock()
			w.observe()
		}
	}()
	return w
}

func (w *rolloutWatcher) observe() {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := make([]*corev1.Pod, 0, len(w.pods))
	for _, p := range w.pods {
		list = append(list, p)
	}
	live, ready := podCounts(list)
	w.maxLive = max(w.maxLive, live)
	w.minReady = min(w.minReady, ready)
	w.events++
}

// namesWithImage counts the distinct pods ever seen running image.
func (w *rolloutWatcher) namesWithImage(image string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, img := range w.seen {
		if img == image {
			n++
		}
	}
	return n
}

func (w *rolloutWatcher) result() (maxLive, minReady, events int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxLive, w.minReady, w.events
}

func TestControllerManagerRollingUpdate(t *testing.T) {
	e := startCMEnv(t, 3, nil)
	ds := client.For[*appsv1.Deployment](e.c)
	d := cmDeployment("default", "web", 10, "registry.local/kubia:1")
	d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxSurge: &metav1.IntOrString{IntVal: 2}, MaxUnavailable: &metav1.IntOrString{IntVal: 1}}}
	if _, err := ds.Create(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	e.waitReady("default", "app=web", 10)
	e.waitRolledOut("default", "web", 10)

	w := e.watchRollout("default", "app=web")
	e.updateDeployment("default", "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "registry.local/kubia:2" })
	e.waitRolledOut("default", "web", 10)
	e.waitReady("default", "app=web", 10)
	for _, p := range e.pods("default", "app=web") {
		if p.Metadata.DeletionTimestamp == nil && p.Spec.Containers[0].Image != "registry.local/kubia:2" {
			t.Fatalf("pod %s still runs %s after the rollout", p.Metadata.Name, p.Spec.Containers[0].Image)
		}
	}
	maxLive, minReady, events := w.result()
	t.Logf("rolling update: %d pod events, at most %d live pods, at least %d ready", events, maxLive, minReady)
	if maxLive > 12 {
		t.Errorf("rollout reached %d live pods, maxSurge 2 allows 12", maxLive)
	}
	if minReady < 9 {
		t.Errorf("rollout dropped to %d ready pods, maxUnavailable 1 allows 9", minReady)
	}
}

// minictl runs one minictl command line in-process against the cluster.
func (e *cmEnv) minictl(args ...string) (string, error) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	cfg := e.api.Kubeconfig
	o := &cmd.Options{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }, Now: time.Now}
	code := o.Run(e.ctx, append([]string{"--server", e.api.Addr, "--kubeconfig", cfg}, args...))
	if code != 0 {
		return out.String(), fmt.Errorf("minictl %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String(), nil
}

func TestControllerManagerRolloutUndoWithMinictl(t *testing.T) {
	e := startCMEnv(t, 2, nil)
	if out, err := e.minictl("run", "kubia", "--image=registry.local/kubia:1", "--replicas=3", "--port=8080"); err != nil || out != "deployment.apps/kubia created\n" {
		t.Fatalf("run: %q %v", out, err)
	}
	e.waitRolledOut("default", "kubia", 3)
	if _, err := e.minictl("set", "image", "deployment/kubia", "kubia=registry.local/kubia:2"); err != nil {
		t.Fatal(err)
	}
	out, err := e.minictl("rollout", "status", "deployment/kubia", "--timeout=30s")
	if err != nil || !strings.HasSuffix(out, "deployment \"kubia\" successfully rolled out\n") {
		t.Fatalf("rollout status: %q %v", out, err)
	}
	e.waitRolledOut("default", "kubia", 3)
	out, err = e.minictl("rollout", "history", "deployment/kubia")
	if err != nil || !strings.Contains(out, "\n1 ") || !strings.Contains(out, "\n2 ") {
		t.Fatalf("history: %q %v", out, err)
	}
	if _, err := e.minictl("rollout", "undo", "deployment/kubia"); err != nil {
		t.Fatal(err)
	}
	e.waitRolledOut("default", "kubia", 3)
	e.eventually(20*time.Second, "pods back on the old image", func() (bool, string) {
		var images []string
		ok := true
		live := 0
		for _, p := range e.pods("default", "run=kubia") {
			if p.Metadata.DeletionTimestamp != nil {
				continue
			}
			live++
			images = append(images, p.Spec.Containers[0].Image)
			ok = ok && p.Spec.Containers[0].Image == "registry.local/kubia:1"
		}
		return ok && live == 3, strings.Join(images, ",")
	})
	// The old ReplicaSet came back as revision 3; no third ReplicaSet was made.
	rss, err := client.For[*appsv1.ReplicaSet](e.c).List(e.ctx, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Fatalf("%d replica sets after undo, want 2", len(rss.Items))
	}
	for _, rs := range rss.Items {
		img, rev := rs.Spec.Template.Spec.Containers[0].Image, rs.Metadata.Annotations["deployment.kubernetes.io/revision"]
		if img == "registry.local/kubia:1" && (rev != "3" || rs.Spec.GetReplicas() != 3) || img == "registry.local/kubia:2" && (rev != "2" || rs.Spec.GetReplicas() != 0) {
			t.Errorf("replica set %s: image %s revision %s replicas %d", rs.Metadata.Name, img, rev, rs.Spec.GetReplicas())
		}
	}
	// Pause stops rollouts; resume lets the pending change roll out.
	if _, err := e.minictl("rollout", "pause", "deployment/kubia"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.minictl("set", "image", "deployment/kubia", "kubia=registry.local/kubia:3"); err != nil {
		t.Fatal(err)
	}
	e.eventually(10*time.Second, "paused condition", func() (bool, string) {
		d, _ := client.For[*appsv1.Deployment](e.c).Get(e.ctx, "default", "kubia")
		for _, c := range d.GetStatus().GetConditions() {
			if c.Type == "Progressing" && c.Reason == "DeploymentPaused" {
				return d.Status.ObservedGeneration == d.Metadata.Generation, ""
			}
		}
		return false, fmt.Sprint(d.GetStatus())
	})
	if rss, _ := client.For[*appsv1.ReplicaSet](e.c).List(e.ctx, "default", client.ListOptions{}); len(rss.Items) != 2 {
		t.Fatalf("a paused deployment created a replica set (%d)", len(rss.Items))
	}
	if _, err := e.minictl("rollout", "resume", "deployment/kubia"); err != nil {
		t.Fatal(err)
	}
	e.waitRolledOut("default", "kubia", 3)
	if out, err := e.minictl("scale", "deployment", "kubia", "--replicas=4"); err != nil || out != "deployment.apps/kubia scaled\n" {
		t.Fatalf("scale: %q %v", out, err)
	}
	e.waitRolledOut("default", "kubia", 4)
}

// TestControllerManagerRestartMidRollout kills the controller-manager in
// the middle of a rolling update and starts another: the rollout finishes
// with the same new ReplicaSet, exactly one pod per replica of it ever
// created, and the surge bound held throughout.
func TestControllerManagerRestartMidRollout(t *testing.T) {
	e := startCMEnvWith(t, 3, func(c *fakekubelet.Config) { c.ReadyDelay = 400 * time.Millisecond }, nil)
	ds := client.For[*appsv1.Deployment](e.c)
	d := cmDeployment("default", "web", 10, "registry.local/kubia:1")
	d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxSurge: &metav1.IntOrString{IntVal: 2}, MaxUnavailable: &metav1.IntOrString{IntVal: 1}}}
	if _, err := ds.Create(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	e.waitRolledOut("default", "web", 10)
	w := e.watchRollout("default", "app=web")
	e.updateDeployment("default", "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "registry.local/kubia:2" })
	e.eventually(20*time.Second, "rollout under way", func() (bool, string) {
		n := 0
		for _, p := range e.pods("default", "app=web") {
			if p.Spec.Containers[0].Image == "registry.local/kubia:2" {
				n++
			}
		}
		return n >= 3 && n <= 7, fmt.Sprintf("%d new pods", n)
	})
	e.stopAllCM()
	time.Sleep(300 * time.Millisecond) // the cluster sits without a controller-manager for a moment
	e.startCM(nil)
	e.waitRolledOut("default", "web", 10)
	e.waitReady("default", "app=web", 10)
	rss, err := client.For[*appsv1.ReplicaSet](e.c).List(e.ctx, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Fatalf("%d replica sets, want 2 (one per template)", len(rss.Items))
	}
	maxLive, minReady, _ := w.result()
	newPods := w.namesWithImage("registry.local/kubia:2")
	t.Logf("restart mid-rollout: %d new pods ever created, at most %d live, at least %d ready", newPods, maxLive, minReady)
	if newPods != 10 {
		t.Errorf("%d pods of the new template were created, want exactly 10", newPods)
	}
	if maxLive > 12 || minReady < 9 {
		t.Errorf("bounds broken across the restart: max live %d (<= 12), min ready %d (>= 9)", maxLive, minReady)
	}
}

func TestControllerManagerEndpoints(t *testing.T) {
	e := startCMEnv(t, 2, nil)
	svcs := client.For[*corev1.Service](e.c)
	if _, err := svcs.Create(e.ctx, &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []*corev1.ServicePort{{Name: "http", Port: 80, TargetPort: &metav1.IntOrString{Type: 1, StrVal: "http"}}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*appsv1.Deployment](e.c).Create(e.ctx, cmDeployment("default", "web", 3, "registry.local/kubia:1")); err != nil {
		t.Fatal(err)
	}
	eps := client.For[*corev1.Endpoints](e.c)
	endpoints := func() (ready, notReady []string, port int32) {
		ep, err := eps.Get(e.ctx, "default", "web")
		if err != nil {
			return nil, nil, 0
		}
		for _, ss := range ep.Subsets {
			for _, a := range ss.Addresses {
				ready = append(ready, a.GetTargetRef().GetName())
			}
			for _, a := range ss.NotReadyAddresses {
				notReady = append(notReady, a.GetTargetRef().GetName())
			}
			port = ss.Ports[0].Port
		}
		return ready, notReady, port
	}
	e.eventually(20*time.Second, "3 ready endpoints on port 8080", func() (bool, string) {
		r, nr, port := endpoints()
		return len(r) == 3 && len(nr) == 0 && port == 8080, fmt.Sprintf("ready %v not ready %v port %d", r, nr, port)
	})
	// A pod turning unready moves to notReadyAddresses within a second.
	pods := client.For[*corev1.Pod](e.c)
	victim := e.pods("default", "app=web")[0]
	victim.Status.Conditions = []*corev1.PodCondition{{Type: "Ready", Status: "False"}}
	if _, err := pods.UpdateStatus(e.ctx, victim); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e.eventually(5*time.Second, "unready pod in notReadyAddresses", func() (bool, string) {
		r, nr, _ := endpoints()
		return len(r) == 2 && len(nr) == 1 && nr[0] == victim.Metadata.Name, fmt.Sprintf("ready %v not ready %v", r, nr)
	})
	if d := time.Since(start); d > time.Second {
		t.Errorf("endpoints took %s to reflect a readiness change", d)
	}
	// Deleting the service deletes its endpoints.
	if _, err := svcs.Delete(e.ctx, "default", "web", nil); err != nil {
		t.Fatal(err)
	}
	e.eventually(10*time.Second, "endpoints deleted with the service", func() (bool, string) {
		_, err := eps.Get(e.ctx, "default", "web")
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

func TestControllerManagerNamespaceDeletion(t *testing.T) {
	e := startCMEnv(t, 2, nil)
	nss := client.For[*corev1.Namespace](e.c)
	if _, err := nss.Create(e.ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "doomed"}}); err != nil {
		t.Fatal(err)
	}
	// The service account controller gives it a default service account.
	e.eventually(10*time.Second, "default service account", func() (bool, string) {
		_, err := client.For[*corev1.ServiceAccount](e.c).Get(e.ctx, "doomed", "default")
		return err == nil, fmt.Sprint(err)
	})
	if _, err := client.For[*appsv1.Deployment](e.c).Create(e.ctx, cmDeployment("doomed", "web", 3, "registry.local/kubia:1")); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*corev1.ConfigMap](e.c).Create(e.ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cfg", Namespace: "doomed"}, Data: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	e.waitReady("doomed", "app=web", 3)
	if _, err := nss.Delete(e.ctx, "", "doomed", nil); err != nil {
		t.Fatal(err)
	}
	e.eventually(30*time.Second, "namespace gone", func() (bool, string) {
		ns, err := nss.Get(e.ctx, "", "doomed")
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("phase %s conditions %v", ns.GetStatus().GetPhase(), ns.GetStatus().GetConditions())
	})
	for _, res := range []string{"pods", "replicasets", "deployments", "configmaps", "serviceaccounts", "events"} {
		api, _ := e.c.Dynamic(res)
		l, err := api.List(e.ctx, "doomed", client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 0 {
			t.Errorf("%d %s left in the deleted namespace", len(l.Items), res)
		}
	}
}

func TestControllerManagerGarbageCollection(t *testing.T) {
	e := startCMEnv(t, 2, nil)
	ds := client.For[*appsv1.Deployment](e.c)
	rss := client.For[*appsv1.ReplicaSet](e.c)
	count := func(selector string) (pods, sets int) {
		l, _ := rss.List(e.ctx, "default", client.ListOptions{LabelSelector: selector})
		return len(e.pods("default", selector)), len(l.Items)
	}
	for _, name := range []string{"bg", "fg", "orphan"} {
		if _, err := ds.Create(e.ctx, cmDeployment("default", name, 2, "registry.local/kubia:1")); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"bg", "fg", "orphan"} {
		e.waitReady("default", "app="+name, 2)
	}

	// Background: the deployment goes at once, then its replica set and pods.
	if _, err := ds.Delete(e.ctx, "default", "bg", nil); err != nil {
		t.Fatal(err)
	}
	e.eventually(20*time.Second, "background deletion", func() (bool, string) {
		p, s := count("app=bg")
		return p == 0 && s == 0, fmt.Sprintf("%d pods %d replica sets", p, s)
	})

	// Foreground: the deployment stays (with a deletionTimestamp) until
	// its replica set and pods are gone.
	if _, err := ds.Delete(e.ctx, "default", "fg", &metav1.DeleteOptions{PropagationPolicy: "Foreground"}); err != nil {
		t.Fatal(err)
	}
	sawWaiting := false
	e.eventually(20*time.Second, "foreground deletion", func() (bool, string) {
		d, err := ds.Get(e.ctx, "default", "fg")
		p, s := count("app=fg")
		if err == nil {
			if d.Metadata.DeletionTimestamp == nil {
				return false, "deployment not marked"
			}
			if p == 0 && s == 0 {
				return false, "dependents gone, owner still there"
			}
			sawWaiting = true
			return false, fmt.Sprintf("waiting: %d pods %d replica sets", p, s)
		}
		if !apierrors.IsNotFound(err) {
			return false, err.Error()
		}
		return p == 0 && s == 0, fmt.Sprintf("deployment gone with %d pods %d replica sets left", p, s)
	})
	if !sawWaiting {
		t.Log("foreground deletion finished before it could be observed waiting")
	}

	// Orphan: the replica set stays, without its owner.
	if _, err := ds.Delete(e.ctx, "default", "orphan", &metav1.DeleteOptions{PropagationPolicy: "Orphan"}); err != nil {
		t.Fatal(err)
	}
	e.eventually(20*time.Second, "orphaning", func() (bool, string) {
		if _, err := ds.Get(e.ctx, "default", "orphan"); !apierrors.IsNotFound(err) {
			return false, "deployment still there"
		}
		l, _ := rss.List(e.ctx, "default", client.ListOptions{LabelSelector: "app=orphan"})
		if len(l.Items) != 1 {
			return false, fmt.Sprintf("%d replica sets", len(l.Items))
		}
		return len(l.Items[0].Metadata.OwnerReferences) == 0, fmt.Sprintf("owner refs %v", l.Items[0].Metadata.OwnerReferences)
	})
	// The orphaned replica set keeps its pods.
	e.waitReady("default", "app=orphan", 2)
}

// leading reads leader_election_master_status from a controller-manager's /metrics.
func leading(t *testing.T, addr string) bool {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(body), "\nleader_election_master_status 1")
}

func TestControllerManagerLeaderFailover(t *testing.T) {
	e := startClusterOnly(t, 2, nil)
	elect := func(id string) func(*app.Options) {
		return func(o *app.Options) {
			o.LeaderElect = true
			o.Identity = id
			o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 2*time.Second, 1500*time.Millisecond, 200*time.Millisecond
		}
	}
	stopA, a := e.startCMReady(elect("cm-a"))
	// Health answers before leading, for componentstatuses.
	if resp, err := http.Get("http://" + a.HealthAddr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz of cm-a: %v %v", resp, err)
	}
	leases := client.For[*coordinationv1.Lease](e.c)
	holder := func() (string, int32) {
		l, err := leases.Get(e.ctx, "kube-system", "controller-manager")
		if err != nil {
			return "", -1
		}
		return l.Spec.GetHolderIdentity(), l.Spec.GetLeaseTransitions()
	}
	e.eventually(10*time.Second, "cm-a leads", func() (bool, string) {
		h, _ := holder()
		return h == "cm-a" && leading(t, a.HealthAddr), h
	})
	_, b := e.startCMReady(elect("cm-b"))
	// The standby runs nothing; the leader does the work, once.
	rss := client.For[*appsv1.ReplicaSet](e.c)
	mk := func(name string) {
		if _, err := rss.Create(e.ctx, &appsv1.ReplicaSet{
			Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(3),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: cmTemplate(map[string]string{"app": name}, "registry.local/kubia:1")},
		}); err != nil {
			t.Fatal(err)
		}
	}
	mk("one")
	e.waitReady("default", "app=one", 3)
	if leading(t, b.HealthAddr) {
		t.Fatal("the standby says it leads")
	}
	_, transitions := holder()
	stopA()
	e.eventually(10*time.Second, "cm-b takes over", func() (bool, string) {
		h, tr := holder()
		return h == "cm-b" && tr == transitions+1 && leading(t, b.HealthAddr), fmt.Sprintf("holder %q transitions %d", h, tr)
	})
	mk("two")
	e.waitReady("default", "app=two", 3)
	e.waitReady("default", "app=one", 3) // nothing doubled by the new leader
}

// TestControllerManagerNodeFailure stops one node's heartbeat: the node
// becomes Ready=Unknown and tainted unreachable after the grace period
// (3s here), its pods are evicted after the eviction timeout (1s here),
// and the ReplicaSet replaces them on the other nodes. Node IPAM gave
// every node its own pod CIDR.
func TestControllerManagerNodeFailure(t *testing.T) {
	e := startCMEnv(t, 3, nil)
	nodes := client.For[*corev1.Node](e.c)
	e.eventually(10*time.Second, "distinct pod CIDRs", func() (bool, string) {
		l, err := nodes.List(e.ctx, "", client.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		seen := map[string]bool{}
		var cidrs []string
		for _, n := range l.Items {
			c := n.GetSpec().GetPodCIDR()
			cidrs = append(cidrs, n.Metadata.Name+"="+c)
			if c == "" || seen[c] || !strings.HasPrefix(c, "10.244.") || !strings.HasSuffix(c, "/24") {
				return false, strings.Join(cidrs, " ")
			}
			seen[c] = true
		}
		return len(seen) == 3, strings.Join(cidrs, " ")
	})
	if _, err := client.For[*appsv1.Deployment](e.c).Create(e.ctx, cmDeployment("default", "web", 6, "registry.local/kubia:1")); err != nil {
		t.Fatal(err)
	}
	e.waitReady("default", "app=web", 6)
	onNode := func(node string) int {
		n := 0
		for _, p := range e.pods("default", "app=web") {
			if p.Spec.NodeName == node && p.Metadata.DeletionTimestamp == nil {
				n++
			}
		}
		return n
	}
	if onNode("node-1") == 0 {
		t.Fatal("no pod landed on node-1")
	}
	e.kubelet.StopNode("node-1")
	stopped := time.Now()
	e.eventually(15*time.Second, "node-1 unknown and tainted", func() (bool, string) {
		n, err := nodes.Get(e.ctx, "", "node-1")
		if err != nil {
			return false, err.Error()
		}
		ready := ""
		for _, c := range n.GetStatus().GetConditions() {
			if c.Type == "Ready" {
				ready = c.Status
			}
		}
		tainted := false
		for _, tn := range n.GetSpec().GetTaints() {
			tainted = tainted || tn.Key == "node.kubernetes.io/unreachable" && tn.Effect == "NoExecute"
		}
		return ready == "Unknown" && tainted, fmt.Sprintf("ready %q taints %v", ready, n.GetSpec().GetTaints())
	})
	if d := time.Since(stopped); d < 2*time.Second {
		t.Errorf("node marked unknown after %s, before the 3s grace period", d)
	}
	e.eventually(20*time.Second, "pods replaced on other nodes", func() (bool, string) {
		live, ready := podCounts(e.pods("default", "app=web"))
		return onNode("node-1") == 0 && live == 6 && ready == 6, fmt.Sprintf("%d on node-1, %d live, %d ready", onNode("node-1"), live, ready)
	})
	// A deleted node's pod CIDR is released; a new node gets one.
	if err := e.kubelet.RemoveNode(e.ctx, "node-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.kubelet.AddNode(e.ctx, "node-4", nil); err != nil {
		t.Fatal(err)
	}
	e.eventually(10*time.Second, "node-4 gets a pod CIDR", func() (bool, string) {
		n, err := nodes.Get(e.ctx, "", "node-4")
		return err == nil && n.GetSpec().GetPodCIDR() != "", fmt.Sprint(err)
	})
	// Pods left on the deleted node are garbage collected.
	e.eventually(10*time.Second, "pods of the deleted node gone", func() (bool, string) {
		n := 0
		for _, p := range e.pods("default", "app=web") {
			if p.Spec.NodeName == "node-1" {
				n++
			}
		}
		return n == 0, fmt.Sprintf("%d pods still bound to node-1", n)
	})
}

func TestControllerManagerDaemonSet(t *testing.T) {
	e := startCMEnv(t, 2, nil)
	dss := client.For[*appsv1.DaemonSet](e.c)
	l := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		Metadata: &metav1.ObjectMeta{Name: "agent", Namespace: "kube-system"},
		Spec:     &appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: l}, Template: cmTemplate(l, "registry.local/agent:1")},
	}
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"agent": "yes"}
	if _, err := dss.Create(e.ctx, ds); err != nil {
		t.Fatal(err)
	}
	nodesWithPod := func() []string {
		var out []string
		for _, p := range e.pods("kube-system", "app=agent") {
			if p.Metadata.DeletionTimestamp == nil {
				out = append(out, p.Spec.NodeName)
			}
		}
		sort.Strings(out)
		return out
	}
	expect := func(what string, want ...string) {
		t.Helper()
		e.eventually(20*time.Second, what, func() (bool, string) {
			got := nodesWithPod()
			return slices.Equal(got, want), fmt.Sprint(got)
		})
	}
	// No node carries the label yet.
	if err := e.kubelet.AddNode(e.ctx, "node-a", map[string]string{"agent": "yes"}); err != nil {
		t.Fatal(err)
	}
	if err := e.kubelet.AddNode(e.ctx, "node-b", map[string]string{"agent": "yes"}); err != nil {
		t.Fatal(err)
	}
	expect("a pod on each labeled node", "node-a", "node-b")
	// A node leaves: its pod goes.
	if err := e.kubelet.RemoveNode(e.ctx, "node-a"); err != nil {
		t.Fatal(err)
	}
	expect("pod gone with its node", "node-b")
	// A node joins.
	if err := e.kubelet.AddNode(e.ctx, "node-c", map[string]string{"agent": "yes"}); err != nil {
		t.Fatal(err)
	}
	expect("pod on the new node", "node-b", "node-c")
	e.eventually(10*time.Second, "status", func() (bool, string) {
		cur, _ := dss.Get(e.ctx, "kube-system", "agent")
		st := cur.GetStatus()
		return st.GetDesiredNumberScheduled() == 2 && st.GetNumberReady() == 2 && st.GetUpdatedNumberScheduled() == 2, fmt.Sprint(st)
	})
	// A rolling update replaces the pods one node at a time.
	err := client.RetryOnConflict(e.ctx, client.Backoff{}, func() error {
		cur, err := dss.Get(e.ctx, "kube-system", "agent")
		if err != nil {
			return err
		}
		cur.Spec.Template.Spec.Containers[0].Image = "registry.local/agent:2"
		_, err = dss.Update(e.ctx, cur)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually(20*time.Second, "rolled out", func() (bool, string) {
		var imgs []string
		for _, p := range e.pods("kube-system", "app=agent") {
			if p.Metadata.DeletionTimestamp == nil && controllerIsReady(p) {
				imgs = append(imgs, p.Spec.NodeName+"="+p.Spec.Containers[0].Image)
			}
		}
		sort.Strings(imgs)
		return slices.Equal(imgs, []string{"node-b=registry.local/agent:2", "node-c=registry.local/agent:2"}), fmt.Sprint(imgs)
	})
}

func controllerIsReady(p *corev1.Pod) bool {
	_, ready := podCounts([]*corev1.Pod{p})
	return ready == 1
}

func TestControllerManagerJob(t *testing.T) {
	e := startCMEnvWith(t, 2, func(c *fakekubelet.Config) {
		c.Outcome = func(*corev1.Pod) (string, time.Duration) { return "Succeeded", 300 * time.Millisecond }
	}, nil)
	jobs := client.For[*batchv1.Job](e.c)
	tmpl := cmTemplate(nil, "registry.local/pi:1")
	tmpl.Spec.RestartPolicy = "Never"
	if _, err := jobs.Create(e.ctx, &batchv1.Job{
		Metadata: &metav1.ObjectMeta{Name: "pi", Namespace: "default"},
		Spec:     &batchv1.JobSpec{Completions: proto.Int32(5), Parallelism: proto.Int32(2), Template: tmpl, TtlSecondsAfterFinished: proto.Int32(2)},
	}); err != nil {
		t.Fatal(err)
	}
	// Never more than 2 at once: watch the job's pods.
	maxActive := 0
	var mu sync.Mutex
	stopWatch := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(20 * time.Millisecond):
			}
			n := 0
			for _, p := range e.pods("default", "batch.kubernetes.io/job-name=pi") {
				if ph := p.Status.GetPhase(); ph != "Succeeded" && ph != "Failed" && p.Metadata.DeletionTimestamp == nil {
					n++
				}
			}
			mu.Lock()
			maxActive = max(maxActive, n)
			mu.Unlock()
		}
	}()
	e.eventually(30*time.Second, "job complete", func() (bool, string) {
		j, err := jobs.Get(e.ctx, "default", "pi")
		if err != nil {
			return false, err.Error()
		}
		for _, c := range j.GetStatus().GetConditions() {
			if c.Type == "Complete" && c.Status == "True" {
				return j.Status.Succeeded == 5 && j.Status.Active == 0 && j.Status.CompletionTime != nil, fmt.Sprint(j.Status)
			}
		}
		return false, fmt.Sprint(j.GetStatus())
	})
	close(stopWatch)
	mu.Lock()
	defer mu.Unlock()
	if maxActive > 2 {
		t.Errorf("%d pods ran at once, parallelism is 2", maxActive)
	}
	if n := len(e.pods("default", "batch.kubernetes.io/job-name=pi")); n != 5 {
		t.Errorf("%d pods for 5 completions", n)
	}
	// ttlSecondsAfterFinished: the job and its pods go.
	e.eventually(20*time.Second, "finished job deleted after its TTL", func() (bool, string) {
		_, err := jobs.Get(e.ctx, "default", "pi")
		return apierrors.IsNotFound(err) && len(e.pods("default", "batch.kubernetes.io/job-name=pi")) == 0, fmt.Sprint(err)
	})
}

func TestControllerManagerStatefulSet(t *testing.T) {
	e := startCMEnvWith(t, 2, func(c *fakekubelet.Config) { c.ReadyDelay = 200 * time.Millisecond }, nil)
	l := map[string]string{"app": "nginx"}
	if _, err := client.For[*corev1.Service](e.c).Create(e.ctx, &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: "nginx", Namespace: "default"},
		Spec:     &corev1.ServiceSpec{ClusterIP: "None", Selector: l, Ports: []*corev1.ServicePort{{Name: "web", Port: 80}}},
	}); err != nil {
		t.Fatal(err)
	}
	// Record when each pod appears and when it becomes ready.
	pods := client.For[*corev1.Pod](e.c)
	before, err := pods.List(e.ctx, "default", client.ListOptions{LabelSelector: "app=nginx"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := pods.Watch(e.ctx, "default", client.ListOptions{LabelSelector: "app=nginx", ResourceVersion: before.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	var log []string
	readySeen := map[string]bool{}
	go func() {
		for ev := range w.ResultChan() {
			if ev.Object == nil || ev.Object.Metadata == nil {
				continue
			}
			mu.Lock()
			name := ev.Object.Metadata.Name
			if ev.Type == client.Added {
				log = append(log, "created "+name)
			}
			if ev.Type == client.Modified && controllerIsReady(ev.Object) && !readySeen[name] {
				readySeen[name] = true
				log = append(log, "ready "+name)
			}
			mu.Unlock()
		}
	}()
	sets := client.For[*appsv1.StatefulSet](e.c)
	if _, err := sets.Create(e.ctx, &appsv1.StatefulSet{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &appsv1.StatefulSetSpec{Replicas: proto.Int32(3), ServiceName: "nginx",
			Selector: &metav1.LabelSelector{MatchLabels: l}, Template: cmTemplate(l, "registry.local/nginx:1")},
	}); err != nil {
		t.Fatal(err)
	}
	e.waitReady("default", "app=nginx", 3)
	want := "created web-0, ready web-0, created web-1, ready web-1, created web-2, ready web-2"
	e.eventually(5*time.Second, "ordered creation", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		got := strings.Join(log, ", ")
		return got == want, got
	})
	for _, p := range e.pods("default", "app=nginx") {
		if p.Spec.Hostname != p.Metadata.Name || p.Spec.Subdomain != "nginx" {
			t.Errorf("pod %s: hostname %q subdomain %q", p.Metadata.Name, p.Spec.Hostname, p.Spec.Subdomain)
		}
	}
	// Headless service endpoints carry the stable hostnames.
	e.eventually(10*time.Second, "headless endpoints with hostnames", func() (bool, string) {
		ep, err := client.For[*corev1.Endpoints](e.c).Get(e.ctx, "default", "nginx")
		if err != nil || len(ep.Subsets) != 1 {
			return false, fmt.Sprint(err)
		}
		var hosts []string
		for _, a := range ep.Subsets[0].Addresses {
			hosts = append(hosts, a.Hostname)
		}
		sort.Strings(hosts)
		return slices.Equal(hosts, []string{"web-0", "web-1", "web-2"}), fmt.Sprint(hosts)
	})
	// Scale down removes the highest ordinal first.
	err = client.RetryOnConflict(e.ctx, client.Backoff{}, func() error {
		s, err := sets.Get(e.ctx, "default", "web")
		if err != nil {
			return err
		}
		s.Spec.Replicas = proto.Int32(1)
		_, err = sets.Update(e.ctx, s)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitReady("default", "app=nginx", 1)
	if p := e.pods("default", "app=nginx"); p[0].Metadata.Name != "web-0" {
		t.Fatalf("after scale down %s is left, want web-0", p[0].Metadata.Name)
	}
}
