// Package fakekubelet plays the kubelets (and, optionally, the scheduler)
// of a test cluster without running containers. By default every node is
// a hollow node (test/hollownode): the real kubelet on the fake runtime
// and network, as kubemark runs them. Registration, heartbeats, pod
// status, graceful deletion and the stats summary are then the real
// kubelet's; this package only binds pods (with Bind) and plays the
// containers (Outcome, ReadyDelay, DeleteDelay, SetPodUsage) through the
// fake runtime's hooks.
//
// With Config.Simulated no kubelet code runs: the package registers Node objects
// with a heartbeat (a Lease in kube-node-lease and the Ready condition),
// binds pending pods round-robin over its live nodes, marks bound pods
// Running and Ready with a pod IP, finishes pods whose restartPolicy is
// not Always as Succeeded (or as Outcome says), and completes graceful
// deletions by deleting terminating pods with grace period 0. A node can
// be stopped to simulate its kubelet dying: its heartbeat and pod handling
// end while its objects stay. With Config.ServeStats every node also
// serves a kubelet stats summary whose per-pod numbers the test sets.
package fakekubelet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	kubeletapi "minik8s/api/kubelet"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/workqueue"
	"minik8s/kubelet/runtime/fake"
	"minik8s/test/hollownode"
)

// Outcome says how a pod that is not restarted (restartPolicy OnFailure or
// Never) ends: its phase (Succeeded or Failed; "" keeps it running) after
// running for the given time.
type Outcome func(pod *corev1.Pod) (phase string, after time.Duration)

// Config configures a Kubelet.
type Config struct {
	Client *client.Client
	// Bind makes the helper bind unscheduled pods itself (no scheduler).
	Bind bool
	// Heartbeat is the period of lease renewals and node status updates
	// (default 1s).
	Heartbeat time.Duration
	// Outcome decides how run-to-completion pods end; default: Succeeded after 100ms.
	Outcome Outcome
	// Workers process pods concurrently (default 8).
	Workers int
	// DeleteDelay is how long a terminating pod takes to go (default 0).
	DeleteDelay time.Duration
	// ReadyDelay is how long a started pod stays not ready (default 0).
	ReadyDelay time.Duration
	// ServeStats gives every node an HTTP server on 127.0.0.1:0 serving
	// GET /stats/summary, published in the Node's status (InternalIP
	// 127.0.0.1 and daemonEndpoints.kubeletEndpoint.Port) as the real
	// kubelet publishes its own, so that the
	// apiserver's node proxy (NodeStats, minictl top) reaches it. A running
	// pod of the node appears in the summary once SetPodUsage gave it numbers.
	ServeStats bool
	Log        *slog.Logger
	// Server (with Kubeconfig, the credentials) is the apiserver the real
	// kubelets talk to; required unless Simulated. Their containers take
	// ReadyDelay to start and DeleteDelay to stop; run-to-completion
	// containers exit as Outcome says (0 for Succeeded, else 1), init
	// containers at once; the stats summary is always served.
	Server     string
	Kubeconfig string
	// Simulated plays the nodes in this package instead of running the
	// real kubelet (see the package comment): lighter, and what tests
	// tuned against it before the real kubelet ran on fakes still use.
	Simulated bool
}

// PodUsage is what a node's stats summary reports for one pod.
type PodUsage struct {
	// CPUMilli is the pod's CPU in millicores (usageNanoCores / 1e6).
	CPUMilli int64
	// MemoryBytes is the pod's working set.
	MemoryBytes int64
}

// Kubelet is the running helper.
type Kubelet struct {
	cfg    Config
	pods   *client.Resource[*corev1.Pod]
	nodes  *client.Resource[*corev1.Node]
	leases *client.Resource[*coordinationv1.Lease]
	inf    *informer.Informer[*corev1.Pod]
	queue  *workqueue.Queue[string]
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	alive map[string]*node // nodes whose kubelet runs
	order []string         // for round-robin binding
	next  int
	// finishing remembers when a running pod ends (by uid).
	finishing map[string]time.Time
	// usage is what stats summaries report, by pod namespace/name.
	usage map[string]PodUsage
	// statsServers are the nodes' stats endpoints (ServeStats), by node.
	statsServers map[string]*statsServer

	// Unless Config.Simulated: the running hollow nodes and, kept across
	// StopNode so a new kubelet adopts its containers, their runtimes.
	ctx      context.Context
	hollow   map[string]*hollownode.Node
	runtimes map[string]*fake.Runtime
	cpu      map[string]*cpuCounter // by container ID
}

// cpuCounter integrates a pod's CPU rate into the cumulative counter a
// runtime reports.
type cpuCounter struct {
	at    time.Time
	nanos uint64
}

type statsServer struct {
	srv  *http.Server
	url  string
	port int32
}

type node struct {
	name    string
	labels  map[string]string
	prefix  netip.Prefix
	nextIP  int
	stopped bool
}

// Start runs the helper until Stop. Nodes are added with AddNode.
func Start(ctx context.Context, cfg Config) *Kubelet {
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.Workers == 0 {
		cfg.Workers = 8
	}
	if cfg.Outcome == nil {
		cfg.Outcome = func(*corev1.Pod) (string, time.Duration) { return corev1.PodSucceeded, 100 * time.Millisecond }
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(ctx)
	pods := client.For[*corev1.Pod](cfg.Client)
	k := &Kubelet{
		cfg: cfg, pods: pods, nodes: client.For[*corev1.Node](cfg.Client), leases: client.For[*coordinationv1.Lease](cfg.Client),
		inf:   informer.New[*corev1.Pod](pods, "", client.ListOptions{}, 0),
		queue: workqueue.New[string](), cancel: cancel,
		alive: map[string]*node{}, finishing: map[string]time.Time{},
		usage: map[string]PodUsage{}, statsServers: map[string]*statsServer{},
		ctx: ctx, hollow: map[string]*hollownode.Node{}, runtimes: map[string]*fake.Runtime{}, cpu: map[string]*cpuCounter{},
	}
	enqueue := func(p *corev1.Pod) { k.queue.Add(informer.KeyOf(p)) }
	k.inf.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{AddFunc: enqueue, UpdateFunc: func(_, p *corev1.Pod) { enqueue(p) }})
	k.wg.Add(1)
	go func() { defer k.wg.Done(); k.inf.Run(ctx) }()
	if cfg.Simulated {
		k.wg.Add(1)
		go func() { defer k.wg.Done(); k.heartbeatLoop(ctx) }()
	}
	for range cfg.Workers {
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			for k.work(ctx) {
			}
		}()
	}
	go func() { <-ctx.Done(); k.queue.ShutDown() }()
	return k
}

// Stop ends the helper (nodes stay registered).
func (k *Kubelet) Stop() {
	k.mu.Lock()
	hollow := k.hollow
	k.hollow = map[string]*hollownode.Node{}
	k.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range hollow {
		wg.Add(1)
		go func() { defer wg.Done(); _ = n.Stop() }()
	}
	wg.Wait()
	k.cancel()
	k.wg.Wait()
	k.mu.Lock()
	servers := k.statsServers
	k.statsServers = map[string]*statsServer{}
	k.mu.Unlock()
	for _, s := range servers {
		_ = s.srv.Close()
	}
}

// AddNode registers a Node (or takes over an existing one) and starts its
// heartbeat; its pods are then run by the helper.
func (k *Kubelet) AddNode(ctx context.Context, name string, nodeLabels map[string]string) error {
	if !k.cfg.Simulated {
		return k.addHollow(ctx, name, nodeLabels)
	}
	now := timestamppb.Now()
	l := map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
	for key, v := range nodeLabels {
		l[key] = v
	}
	n := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: name, Labels: l},
		Spec:     &corev1.NodeSpec{},
		Status: &corev1.NodeStatus{
			Capacity:    map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110"},
			Allocatable: map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110"},
			Conditions:  []*corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now}},
			Addresses:   []*corev1.NodeAddress{{Type: "InternalIP", Address: "127.0.0.1"}, {Type: "Hostname", Address: name}},
		},
	}
	if k.cfg.ServeStats {
		if _, err := k.serveStats(name); err != nil {
			return err
		}
	}
	created, err := k.nodes.Create(ctx, n)
	if apierrors.IsAlreadyExists(err) {
		created, err = k.nodes.Get(ctx, "", name)
	}
	if err != nil {
		return fmt.Errorf("register node %s: %w", name, err)
	}
	// The status is a subresource: write it separately.
	if err := k.postStatus(ctx, name, created); err != nil {
		return err
	}
	if err := k.renewLease(ctx, name); err != nil {
		return err
	}
	k.mu.Lock()
	idx := len(k.order)
	if _, ok := k.alive[name]; !ok {
		k.order = append(k.order, name)
	} else {
		idx = sortIndex(k.order, name)
	}
	k.alive[name] = &node{name: name, labels: l, prefix: netip.MustParsePrefix(fmt.Sprintf("10.250.%d.0/24", idx%256))}
	k.mu.Unlock()
	k.resyncAll()
	return nil
}

func sortIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return 0
}

// StopNode simulates the node's kubelet dying: no more heartbeats, and its
// pods are left as they are.
func (k *Kubelet) StopNode(name string) {
	k.mu.Lock()
	if n, ok := k.alive[name]; ok {
		n.stopped = true
	}
	h := k.hollow[name]
	delete(k.hollow, name)
	k.mu.Unlock()
	if h != nil {
		_ = h.Stop()
	}
}

// RemoveNode stops the node and deletes its Node object.
func (k *Kubelet) RemoveNode(ctx context.Context, name string) error {
	k.mu.Lock()
	delete(k.alive, name)
	for i, n := range k.order {
		if n == name {
			k.order = append(k.order[:i], k.order[i+1:]...)
			break
		}
	}
	srv := k.statsServers[name]
	delete(k.statsServers, name)
	h := k.hollow[name]
	delete(k.hollow, name)
	delete(k.runtimes, name)
	k.mu.Unlock()
	if srv != nil {
		_ = srv.srv.Close()
	}
	if h != nil {
		_ = h.Stop()
	}
	_, err := k.nodes.Delete(ctx, "", name, nil)
	if apierrors.IsNotFound(err) {
		err = nil
	}
	return err
}

// SetPodUsage sets what the stats summary of the pod's node reports for
// the pod namespace/name; pods never given numbers are left out of the
// summary, as a kubelet that has not sampled them yet leaves them out.
func (k *Kubelet) SetPodUsage(namespace, name string, u PodUsage) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.usage[namespace+"/"+name] = u
}

// serveStats starts (once) the stats endpoint of node name and returns its URL.
func (k *Kubelet) serveStats(name string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.statsServers[name]; ok {
		return s.url, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("stats server of node %s: %w", name, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats/summary", func(w http.ResponseWriter, _ *http.Request) { k.handleSummary(w, name) })
	s := &statsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, url: "http://" + l.Addr().String(),
		port: int32(l.Addr().(*net.TCPAddr).Port)}
	k.statsServers[name] = s
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			k.cfg.Log.Debug("fake kubelet: stats server failed", "node", name, "err", err)
		}
	}()
	return s.url, nil
}

// statsPort is the port of node name's stats server, 0 if it has none.
func (k *Kubelet) statsPort(name string) int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.statsServers[name]; ok {
		return s.port
	}
	return 0
}

// handleSummary answers like the kubelet's /stats/summary: the running
// pods of the node that have numbers. A stopped node's kubelet is dead
// and answers nothing useful.
func (k *Kubelet) handleSummary(w http.ResponseWriter, nodeName string) {
	if _, ok := k.running(nodeName); !ok {
		http.Error(w, "kubelet stopped", http.StatusServiceUnavailable)
		return
	}
	now := time.Now()
	sum := kubeletapi.Summary{Node: kubeletapi.NodeStats{NodeName: nodeName, CPU: &kubeletapi.CPU{Time: now}, Memory: &kubeletapi.Memory{Time: now}}}
	var pods []*corev1.Pod
	for _, p := range k.inf.Lister().List(nil) {
		if p.GetSpec().GetNodeName() == nodeName && p.GetStatus().GetPhase() == corev1.PodRunning {
			pods = append(pods, p)
		}
	}
	sort.Slice(pods, func(i, j int) bool { return informer.KeyOf(pods[i]) < informer.KeyOf(pods[j]) })
	k.mu.Lock()
	for _, p := range pods {
		u, ok := k.usage[informer.KeyOf(p)]
		if !ok {
			continue
		}
		md := p.GetMetadata()
		cpu := &kubeletapi.CPU{Time: now, UsageNanoCores: uint64(u.CPUMilli) * 1e6}
		mem := &kubeletapi.Memory{Time: now, UsageBytes: uint64(u.MemoryBytes), WorkingSetBytes: uint64(u.MemoryBytes)}
		var containers []kubeletapi.ContainerStats
		if cs := p.GetSpec().GetContainers(); len(cs) > 0 {
			// All of the pod's usage goes to its first container.
			containers = append(containers, kubeletapi.ContainerStats{Name: cs[0].GetName(), StartTime: p.GetStatus().GetStartTime().AsTime(), CPU: cpu, Memory: mem})
		}
		sum.Pods = append(sum.Pods, kubeletapi.PodStats{PodRef: kubeletapi.PodRef{Name: md.GetName(), Namespace: md.GetNamespace(), UID: md.GetUid()},
			CPU: cpu, Memory: mem, Containers: containers})
		sum.Node.CPU.UsageNanoCores += cpu.UsageNanoCores
		sum.Node.Memory.WorkingSetBytes += mem.WorkingSetBytes
		sum.Node.Memory.UsageBytes += mem.UsageBytes
	}
	k.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sum)
}

func (k *Kubelet) resyncAll() {
	for _, p := range k.inf.Lister().List(nil) {
		k.queue.Add(informer.KeyOf(p))
	}
}

func (k *Kubelet) running(name string) (*node, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n, ok := k.alive[name]
	if !ok || n.stopped {
		return nil, false
	}
	return n, true
}

func (k *Kubelet) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(k.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		k.mu.Lock()
		var names []string
		for name, n := range k.alive {
			if !n.stopped {
				names = append(names, name)
			}
		}
		k.mu.Unlock()
		sort.Strings(names)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for _, name := range names {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := k.renewLease(ctx, name); err != nil && ctx.Err() == nil {
					k.cfg.Log.Debug("fake kubelet: lease renewal failed", "node", name, "err", err)
				}
				if err := k.postStatus(ctx, name, nil); err != nil && ctx.Err() == nil {
					k.cfg.Log.Debug("fake kubelet: node status failed", "node", name, "err", err)
				}
			}()
		}
		wg.Wait()
	}
}

// renewLease creates or renews the node's Lease in kube-node-lease.
func (k *Kubelet) renewLease(ctx context.Context, name string) error {
	now := timestamppb.New(time.Now().Truncate(time.Microsecond))
	return client.RetryOnConflict(ctx, client.Backoff{}, func() error {
		l, err := k.leases.Get(ctx, "kube-node-lease", name)
		if apierrors.IsNotFound(err) {
			_, err = k.leases.Create(ctx, &coordinationv1.Lease{
				Metadata: &metav1.ObjectMeta{Name: name, Namespace: "kube-node-lease"},
				Spec: &coordinationv1.LeaseSpec{HolderIdentity: proto.String(name), LeaseDurationSeconds: proto.Int32(40),
					RenewTime: now, AcquireTime: now},
			})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict("leases", name, "created concurrently")
			}
			return err
		}
		if err != nil {
			return err
		}
		l.Spec.RenewTime = now
		_, err = k.leases.Update(ctx, l)
		return err
	})
}

// postStatus sets the Ready condition to True with a fresh heartbeat
// (cur, if given, is the node as just read).
func (k *Kubelet) postStatus(ctx context.Context, name string, cur *corev1.Node) error {
	return client.RetryOnConflict(ctx, client.Backoff{}, func() error {
		n := cur
		cur = nil
		if n == nil {
			var err error
			if n, err = k.nodes.Get(ctx, "", name); err != nil {
				return err
			}
		}
		now := timestamppb.Now()
		if n.Status == nil {
			n.Status = &corev1.NodeStatus{}
		}
		found := false
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				found = true
				if c.Status != corev1.ConditionTrue {
					c.LastTransitionTime = now
				}
				c.Status, c.Reason, c.Message, c.LastHeartbeatTime = corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status", now
			}
		}
		if !found {
			n.Status.Conditions = append(n.Status.Conditions, &corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now})
		}
		if port := k.statsPort(name); port != 0 {
			// Where the apiserver finds this node's kubelet server.
			n.Status.Addresses = []*corev1.NodeAddress{{Type: "InternalIP", Address: "127.0.0.1"}, {Type: "Hostname", Address: name}}
			n.Status.DaemonEndpoints = &corev1.NodeDaemonEndpoints{KubeletEndpoint: &corev1.DaemonEndpoint{Port: port}}
		}
		_, err := k.nodes.UpdateStatus(ctx, n)
		return err
	})
}

func (k *Kubelet) work(ctx context.Context) bool {
	key, shutdown := k.queue.Get()
	if shutdown {
		return false
	}
	defer k.queue.Done(key)
	if err := k.syncPod(ctx, key); err != nil && ctx.Err() == nil {
		k.cfg.Log.Debug("fake kubelet: pod sync failed", "pod", key, "err", err)
		k.queue.AddAfter(key, 50*time.Millisecond)
	}
	return true
}

func (k *Kubelet) syncPod(ctx context.Context, key string) error {
	ns, name := informer.SplitKey(key)
	pod, err := k.inf.Lister().Get(ns, name)
	if err != nil {
		return nil // gone
	}
	nodeName := pod.GetSpec().GetNodeName()
	if !k.cfg.Simulated && nodeName != "" {
		return nil // the node's kubelet runs it
	}
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		if nodeName != "" {
			if _, ok := k.running(nodeName); !ok {
				return nil // a dead kubelet finishes nothing
			}
		}
		if k.cfg.DeleteDelay > 0 {
			if wait := time.Until(pod.Metadata.DeletionTimestamp.AsTime().Add(-time.Duration(pod.Metadata.GetDeletionGracePeriodSeconds()) * time.Second).Add(k.cfg.DeleteDelay)); wait > 0 {
				k.queue.AddAfter(key, wait)
				return nil
			}
		}
		_, err := k.pods.Delete(ctx, ns, name, &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(0),
			Preconditions: &metav1.Preconditions{Uid: pod.Metadata.Uid}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if nodeName == "" {
		if !k.cfg.Bind {
			return nil
		}
		target, ok := k.pickNode(pod)
		if !ok {
			k.queue.AddAfter(key, 200*time.Millisecond)
			return nil
		}
		err := k.cfg.Client.Bind(ctx, ns, name, &corev1.Binding{
			Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns},
			Target:   &corev1.ObjectReference{Kind: "Node", Name: target},
		})
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	n, ok := k.running(nodeName)
	if !ok {
		return nil
	}
	switch pod.GetStatus().GetPhase() {
	case corev1.PodSucceeded, corev1.PodFailed:
		return nil
	case corev1.PodRunning:
		if err := k.maybeReady(ctx, key, pod); err != nil {
			return err
		}
		return k.maybeFinish(ctx, key, pod)
	}
	ip := k.podIP(n)
	now := timestamppb.Now()
	up := proto.Clone(pod).(*corev1.Pod)
	st := up.Status
	if st == nil {
		st = &corev1.PodStatus{}
		up.Status = st
	}
	st.Phase = corev1.PodRunning
	st.PodIP, st.PodIPs = ip, []*corev1.PodIP{{Ip: ip}}
	st.HostIP, st.HostIPs = "192.0.2.1", []*corev1.HostIP{{Ip: "192.0.2.1"}}
	st.StartTime = now
	ready := corev1.ConditionTrue
	if k.cfg.ReadyDelay > 0 {
		ready = corev1.ConditionFalse
	}
	st.Conditions = []*corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: ready, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: ready, LastTransitionTime: now},
	}
	st.ContainerStatuses = nil
	for _, c := range up.GetSpec().GetContainers() {
		st.ContainerStatuses = append(st.ContainerStatuses, &corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: ready == corev1.ConditionTrue, Started: proto.Bool(true),
			ContainerID: "fake://" + up.Metadata.Uid + "/" + c.Name,
			State:       &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	updated, err := k.pods.UpdateStatus(ctx, up)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if k.cfg.ReadyDelay > 0 {
		k.queue.AddAfter(key, k.cfg.ReadyDelay)
		return nil
	}
	return k.maybeFinish(ctx, key, updated)
}

// maybeReady marks a running pod ready once ReadyDelay has passed since it started.
func (k *Kubelet) maybeReady(ctx context.Context, key string, pod *corev1.Pod) error {
	var cond *corev1.PodCondition
	for _, c := range pod.GetStatus().GetConditions() {
		if c.GetType() == corev1.PodReady {
			cond = c
		}
	}
	if k.cfg.ReadyDelay <= 0 || cond == nil || cond.GetStatus() == corev1.ConditionTrue || cond.GetReason() == "PodCompleted" {
		return nil
	}
	if wait := time.Until(pod.GetStatus().GetStartTime().AsTime().Add(k.cfg.ReadyDelay)); wait > 0 {
		k.queue.AddAfter(key, wait)
		return nil
	}
	up := proto.Clone(pod).(*corev1.Pod)
	now := timestamppb.Now()
	for _, c := range up.Status.Conditions {
		if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			c.Status, c.LastTransitionTime = corev1.ConditionTrue, now
		}
	}
	for _, cs := range up.Status.ContainerStatuses {
		cs.Ready = true
	}
	_, err := k.pods.UpdateStatus(ctx, up)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// maybeFinish ends a running pod that is not restarted once its Outcome time has come.
func (k *Kubelet) maybeFinish(ctx context.Context, key string, pod *corev1.Pod) error {
	if pod.GetSpec().GetRestartPolicy() == "Always" || pod.GetSpec().GetRestartPolicy() == "" {
		return nil
	}
	phase, after := k.cfg.Outcome(pod)
	if phase == "" {
		return nil
	}
	uid := pod.GetMetadata().GetUid()
	k.mu.Lock()
	at, ok := k.finishing[uid]
	if !ok {
		at = time.Now().Add(after)
		k.finishing[uid] = at
	}
	k.mu.Unlock()
	if wait := time.Until(at); wait > 0 {
		k.queue.AddAfter(key, wait)
		return nil
	}
	up := proto.Clone(pod).(*corev1.Pod)
	now := timestamppb.Now()
	exit, reason := int32(0), "Completed"
	if phase == corev1.PodFailed {
		exit, reason = 1, "Error"
	}
	up.Status.Phase = phase
	for _, c := range up.Status.Conditions {
		if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			c.Status, c.Reason, c.LastTransitionTime = corev1.ConditionFalse, "PodCompleted", now
		}
	}
	for _, cs := range up.Status.ContainerStatuses {
		cs.Ready = false
		cs.State = &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Reason: reason, FinishedAt: now,
			StartedAt: cs.GetState().GetRunning().GetStartedAt(), ContainerID: cs.ContainerID}}
	}
	_, err := k.pods.UpdateStatus(ctx, up)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		k.mu.Lock()
		delete(k.finishing, uid)
		k.mu.Unlock()
	}
	return err
}

func (k *Kubelet) podIP(n *node) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	n.nextIP++
	a := n.prefix.Addr().As4()
	a[3] = byte(2 + n.nextIP%250)
	a[2] += byte(n.nextIP / 250) // wraps into the next /24s for many pods
	return netip.AddrFrom4(a).String()
}

// pickNode chooses the next live node round-robin that matches the pod's
// nodeSelector.
func (k *Kubelet) pickNode(pod *corev1.Pod) (string, bool) {
	sel := labels.SelectorFromSet(pod.GetSpec().GetNodeSelector())
	k.mu.Lock()
	defer k.mu.Unlock()
	for range k.order {
		name := k.order[k.next%len(k.order)]
		k.next++
		n := k.alive[name]
		if n != nil && !n.stopped && sel.Matches(n.labels) {
			return name, true
		}
	}
	return "", false
}
