// Command bench-controllers measures the controller-manager against a real
// etcd and apiserver in one run, with hollow nodes played by the fake
// kubelet (test/fakekubelet, which also binds pods round-robin), and
// writes a markdown report:
//
//   - the apiserver's raw pod-create ceiling (concurrent clients creating
//     pods directly), the baseline;
//   - a Deployment of N replicas on M hollow nodes: time until N pods
//     exist, are bound, are ready, and the Deployment reports them
//     available - and pods created per second against the baseline;
//   - a rolling update of that Deployment (default 25% surge and
//     unavailability): time until it is rolled out, with the most live
//     pods and the fewest ready ones seen.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	_ "minik8s/api/all"
	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	apiserver "minik8s/apiserver/app"
	cm "minik8s/controller-manager/app"
	"minik8s/hack/benchpki"
	"minik8s/test/etcdtest"
	"minik8s/test/fakekubelet"
)

func main() {
	out := flag.String("out", "_output/bench/bench-controllers.md", "markdown file to write")
	replicas := flag.Int("replicas", 1000, "replicas of the benchmark Deployment")
	nodes := flag.Int("nodes", 100, "hollow nodes")
	conc := flag.Int("concurrency", 32, "concurrent clients for the raw create baseline")
	members := flag.Int("etcd-members", 3, "etcd cluster size")
	verbose := flag.Bool("v", false, "log the components")
	realKubelets := flag.Bool("real-kubelets", false, "hollow nodes run the real kubelet on the fake runtime and network (test/fakekubelet's default); false: test/fakekubelet's Simulated nodes, the mode of the figures in docs/benchmarks.md")
	flag.Parse()
	// Bursts of events overflow the recorders' queues by design (they
	// drop rather than slow the controllers); only errors are shown.
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	r, err := bench(*replicas, *nodes, *conc, *members, *realKubelets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-controllers:", err)
		os.Exit(1)
	}
	_ = os.MkdirAll(filepath.Dir(*out), 0o755)
	if err := os.WriteFile(*out, []byte(r.markdown()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench-controllers:", err)
		os.Exit(1)
	}
	fmt.Print(r.markdown())
}

type report struct {
	replicas, nodes, conc, members int
	real                           bool
	rawCreates, rawElapsed         time.Duration
	rawRate                        float64
	exist, bound, ready, available time.Duration
	rollout                        time.Duration
	maxLive, minReady              int
	podsCreated                    int
}

func (r *report) markdown() string {
	var b strings.Builder
	rate := float64(r.replicas) / r.exist.Seconds()
	fmt.Fprintf(&b, "## Controllers\n\n")
	fmt.Fprintf(&b, "Produced by `go run ./hack/bench-controllers -out _output/bench/bench-controllers.md` on %s, %s/%s, %d CPUs, %s.\n",
		time.Now().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&b, "Everything runs on this one machine in one run: a %d-member etcd (pinned bin/etcd, loopback), the apiserver, the controller-manager "+
		"(all controllers, no leader election) and %d hollow nodes played by test/fakekubelet (%s), all in the benchmark process.\n\n", r.members, r.nodes, r.hollow())
	fmt.Fprintf(&b, "| benchmark | figure | note |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| apiserver raw pod create (baseline) | %.0f pods/s | %d creates by %d concurrent clients in %s |\n", r.rawRate, r.replicas, r.conc, r.rawElapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "| Deployment of %d: all pods exist | %s | **%.0f pods/s = %.0f%% of the raw create ceiling** (target >= 50%%) |\n", r.replicas, r.exist.Round(time.Millisecond), rate, 100*rate/r.rawRate)
	fmt.Fprintf(&b, "| Deployment of %d: all pods bound | %s | bound by the fake kubelet's round-robin binder over %d nodes |\n", r.replicas, r.bound.Round(time.Millisecond), r.nodes)
	fmt.Fprintf(&b, "| Deployment of %d: all pods ready | %s | |\n", r.replicas, r.ready.Round(time.Millisecond))
	fmt.Fprintf(&b, "| Deployment of %d: status shows all available | %s | |\n", r.replicas, r.available.Round(time.Millisecond))
	fmt.Fprintf(&b, "| rolling update of %d replicas (maxSurge 25%%, maxUnavailable 25%%) | %s | at most %d live pods (limit %d), at least %d ready (limit %d); %d pods created in all |\n",
		r.replicas, r.rollout.Round(time.Millisecond), r.maxLive, r.replicas+(r.replicas+3)/4, r.minReady, r.replicas-r.replicas/4, r.podsCreated)
	fmt.Fprintf(&b, "\nTimes are from the create (or the template change) of the Deployment. The ratio compares the rate at which the controllers "+
		"(deployment -> replicaset -> pods, slow-start batches of up to %d per sync) create pods with the rate %d dedicated clients reach.\n", 500, r.conc)
	return b.String()
}

// hollow says what plays the nodes.
func (r *report) hollow() string {
	if r.real {
		return "which binds pending pods round-robin; each node is the real kubelet on the fake runtime and network, heartbeating every 10s"
	}
	return "which binds pending pods round-robin, marks bound pods Running and Ready, and heartbeats every 10s"
}

// podTracker follows the benchmark namespace's pods through a watch.
type podTracker struct {
	mu       sync.Mutex
	pods     map[string]*corev1.Pod
	created  int
	maxLive  int
	minReady int
	changed  chan struct{}
}

func ready(p *corev1.Pod) bool {
	if p.GetMetadata().GetDeletionTimestamp() != nil || p.GetStatus().GetPhase() != corev1.PodRunning {
		return false
	}
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == corev1.PodReady {
			return c.GetStatus() == corev1.ConditionTrue
		}
	}
	return false
}

func (t *podTracker) counts() (live, bound, readyN int) {
	for _, p := range t.pods {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		live++
		if p.GetSpec().GetNodeName() != "" {
			bound++
		}
		if ready(p) {
			readyN++
		}
	}
	return
}

func track(ctx context.Context, c *client.Client, ns string) (*podTracker, error) {
	pods := client.For[*corev1.Pod](c)
	l, err := pods.List(ctx, ns, client.ListOptions{})
	if err != nil {
		return nil, err
	}
	w, err := pods.Watch(ctx, ns, client.ListOptions{ResourceVersion: l.ResourceVersion})
	if err != nil {
		return nil, err
	}
	t := &podTracker{pods: map[string]*corev1.Pod{}, minReady: 1 << 30, changed: make(chan struct{}, 1)}
	go func() {
		for ev := range w.ResultChan() {
			if ev.Err != nil {
				if ctx.Err() == nil {
					slog.Error("pod watch ended", "err", ev.Err)
				}
				return
			}
			t.mu.Lock()
			switch ev.Type {
			case client.Added:
				t.created++
				t.pods[ev.Object.Metadata.Name] = ev.Object
			case client.Modified:
				t.pods[ev.Object.Metadata.Name] = ev.Object
			case client.Deleted:
				delete(t.pods, ev.Object.Metadata.Name)
			}
			live, _, r := t.counts()
			t.maxLive = max(t.maxLive, live)
			t.minReady = min(t.minReady, r)
			t.mu.Unlock()
			select {
			case t.changed <- struct{}{}:
			default:
			}
		}
	}()
	return t, nil
}

// until waits for cond (checked under the tracker's lock) and returns the time since start.
func (t *podTracker) until(ctx context.Context, start time.Time, cond func() bool) (time.Duration, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		ok := cond()
		t.mu.Unlock()
		if ok {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.changed:
		case <-tick.C:
		}
	}
}

func podTemplate(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "bench"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: image,
			Ports: []*corev1.ContainerPort{{ContainerPort: 8080, Name: "http"}}}}},
	}
}

func runParallel(n, conc int, fn func(i int) error) error {
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return nil
}

func bench(replicas, nodes, conc, members int, realKubelets bool) (*report, error) {
	r := &report{replicas: replicas, nodes: nodes, conc: conc, members: members, real: realKubelets}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "minik8s-bench-controllers-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(os.Stderr, "starting a %d-member etcd and the apiserver\n", members)
	etcd, err := etcdtest.Run(members, dir)
	if err != nil {
		return nil, err
	}
	defer etcd.Stop()
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	readyC := make(chan string, 1)
	apiDone := make(chan error, 1)
	bp, err := benchpki.New()
	if err != nil {
		return nil, err
	}
	defer bp.Close()
	go func() {
		apiDone <- apiserver.Run(actx, bp.Secure(apiserver.Options{EtcdServers: etcd.Endpoints(), BindAddress: "127.0.0.1",
			ServiceClusterIPRange: "10.96.0.0/16", GCPercent: 400, ComponentHealth: apiserver.DefaultComponentHealth}), readyC)
	}()
	var addr string
	select {
	case addr = <-readyC:
	case err := <-apiDone:
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	defer func() { acancel(); <-apiDone }()
	kubeconfig, tc, err := bp.Kubeconfig(addr)
	if err != nil {
		return nil, err
	}
	clients := make([]*client.Client, conc)
	for i := range clients {
		if clients[i], err = client.New([]string{addr}, client.WithTLS(tc)); err != nil {
			return nil, err
		}
		defer clients[i].Close()
	}
	c := clients[0]
	for _, ns := range []string{"bench-raw", "bench"} {
		if _, err := client.For[*corev1.Namespace](c).Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, err
		}
		// The ServiceAccount admission plugin refuses pods until their
		// namespace has its default account, which the controller-manager
		// (started later) would create.
		if _, err := client.For[*corev1.ServiceAccount](c).Create(ctx, &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
			return nil, err
		}
	}

	// 1. The baseline: raw creates of the same pods.
	fmt.Fprintf(os.Stderr, "raw pod create x%d (%d concurrent clients)\n", replicas, conc)
	tmpl := podTemplate("registry.local/kubia:1")
	start := time.Now()
	err = runParallel(replicas, conc, func(i int) error {
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("raw-%d", i), Namespace: "bench-raw", Labels: tmpl.Metadata.Labels},
			Spec: proto.Clone(tmpl.Spec).(*corev1.PodSpec)}
		_, err := client.For[*corev1.Pod](clients[i%conc]).Create(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	r.rawElapsed = time.Since(start)
	r.rawRate = float64(replicas) / r.rawElapsed.Seconds()
	// The raw pods are unbound: deleting them is immediate.
	if err := runParallel(replicas, conc, func(i int) error {
		_, err := client.For[*corev1.Pod](clients[i%conc]).Delete(ctx, "bench-raw", fmt.Sprintf("raw-%d", i), nil)
		return err
	}); err != nil {
		return nil, err
	}

	// 2. Hollow nodes and the controller-manager.
	fmt.Fprintf(os.Stderr, "starting %d hollow nodes and the controller-manager\n", nodes)
	kubelet := fakekubelet.Start(ctx, fakekubelet.Config{Client: clients[1%conc], Bind: true, Heartbeat: 10 * time.Second, Workers: 32,
		Simulated: !realKubelets, Server: addr, Kubeconfig: kubeconfig})
	defer kubelet.Stop()
	if err := runParallel(nodes, 16, func(i int) error { return kubelet.AddNode(ctx, fmt.Sprintf("hollow-%03d", i), nil) }); err != nil {
		return nil, err
	}
	o := cm.DefaultOptions()
	o.Server, o.Kubeconfig, o.LeaderElect, o.Port, o.MinResyncPeriod = addr, kubeconfig, false, -1, 0
	cmCtx, cmCancel := context.WithCancel(ctx)
	cmDone := make(chan error, 1)
	cmReady := make(chan cm.Ready, 1)
	go func() { cmDone <- cm.Run(cmCtx, o, cmReady) }()
	select {
	case <-cmReady:
	case err := <-cmDone:
		cmCancel()
		return nil, fmt.Errorf("controller-manager: %w", err)
	}
	defer func() { cmCancel(); <-cmDone }()

	t, err := track(ctx, c, "bench")
	if err != nil {
		return nil, err
	}
	// 3. The Deployment.
	fmt.Fprintf(os.Stderr, "deployment of %d replicas\n", replicas)
	ds := client.For[*appsv1.Deployment](c)
	start = time.Now()
	if _, err := ds.Create(ctx, &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Name: "bench", Namespace: "bench"},
		Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(int32(replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bench"}}, Template: tmpl},
	}); err != nil {
		return nil, err
	}
	if r.exist, err = t.until(ctx, start, func() bool { live, _, _ := t.counts(); return live >= replicas }); err != nil {
		return nil, fmt.Errorf("waiting for %d pods: %w", replicas, err)
	}
	if r.bound, err = t.until(ctx, start, func() bool { _, b, _ := t.counts(); return b >= replicas }); err != nil {
		return nil, fmt.Errorf("waiting for bound pods: %w", err)
	}
	if r.ready, err = t.until(ctx, start, func() bool { _, _, rd := t.counts(); return rd >= replicas }); err != nil {
		return nil, fmt.Errorf("waiting for ready pods: %w", err)
	}
	rolledOut := func(gen int64) func() bool {
		return func() bool {
			d, err := ds.Get(ctx, "bench", "bench")
			if err != nil {
				return false
			}
			st := d.GetStatus()
			return st.GetObservedGeneration() >= gen && st.GetAvailableReplicas() == int32(replicas) &&
				st.GetUpdatedReplicas() == int32(replicas) && st.GetReplicas() == int32(replicas)
		}
	}
	if r.available, err = t.until(ctx, start, rolledOut(1)); err != nil {
		return nil, fmt.Errorf("waiting for the deployment status: %w", err)
	}

	// 4. The rolling update.
	fmt.Fprintf(os.Stderr, "rolling update of %d replicas\n", replicas)
	t.mu.Lock()
	t.maxLive, t.minReady, t.created = 0, 1<<30, 0
	t.mu.Unlock()
	var gen int64
	start = time.Now()
	err = client.RetryOnConflict(ctx, client.Backoff{}, func() error {
		d, err := ds.Get(ctx, "bench", "bench")
		if err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Image = "registry.local/kubia:2"
		u, err := ds.Update(ctx, d)
		if err == nil {
			gen = u.Metadata.Generation
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	cond := rolledOut(gen)
	if r.rollout, err = t.until(ctx, start, func() bool {
		live, _, rd := t.counts()
		return live == replicas && rd == replicas && cond()
	}); err != nil {
		return nil, fmt.Errorf("waiting for the rollout: %w", err)
	}
	t.mu.Lock()
	r.maxLive, r.minReady, r.podsCreated = t.maxLive, t.minReady, t.created
	t.mu.Unlock()
	return r, nil
}
