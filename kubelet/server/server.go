// Package server is the kubelet's HTTP(S) server on --port (10250): the
// endpoints the apiserver proxies for minictl logs, exec and top, plus
// health and metrics.
//
//	GET  /healthz
//	GET  /metrics
//	GET  /pods                                       pods this kubelet runs, as JSON
//	GET  /containerLogs/{ns}/{pod}/{container}        ?follow=true&tailLines=N&previous=true
//	POST /run/{ns}/{pod}/{container}?command=a&command=b   run, reply with the output
//	POST /exec/{ns}/{pod}/{container}?command=...&stdin=true&tty=true
//	                                                  interactive; HTTP upgrade to the
//	                                                  framed stream protocol (see stream.go)
//	GET  /stats/summary                               cpu and memory of node, pods, containers
//	POST /portForward/{ns}/{pod}?port=N               HTTP upgrade to a TCP stream to the
//	                                                  pod's IP:N (see portforward.go)
package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/protobuf/proto"

	"minik8s/api/codec"
	"minik8s/api/component"
	corev1 "minik8s/api/core/v1"
	kubeletapi "minik8s/api/kubelet"
	"minik8s/kubelet/cgroups"
	"minik8s/kubelet/runtime"
)

// Pods is what the server needs from the pod manager.
type Pods interface {
	Pods() []*corev1.Pod
	Status(uid string) (*corev1.PodStatus, bool)
}

// Config configures the server.
type Config struct {
	NodeName string
	RootDir  string
	// TLSConfig, when set, serves HTTPS.
	TLSConfig *tls.Config
	// ClientCAs authenticate callers over HTTPS (--client-ca-file): the
	// certificate's common name is the user, its organizations the
	// groups. Tokens, when set, authenticate bearer tokens
	// (--authentication-token-webhook). A request with neither gets 401
	// on every path but /healthz, unless AnonymousAuth lets it in as
	// system:anonymous.
	ClientCAs     *x509.CertPool
	Tokens        TokenReviewer
	AnonymousAuth bool
	// Authorizer, when set, must allow every request over HTTPS but
	// /healthz (--authorization-mode=Webhook; see RequestAttributes);
	// nil lets every authenticated caller in (AlwaysAllow).
	Authorizer AccessReviewer
	// Dial connects port forwards to pod IPs from where those are
	// reachable (the network manager's DialContext, which enters the
	// node's network namespace); nil dials from the kubelet's own.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// PodIP, when set, replaces the lookup of a pod's IP among the pods
	// the kubelet runs (tests).
	PodIP func(ns, name string) (string, error)
}

// Server serves the kubelet API.
type Server struct {
	cfg  Config
	rt   runtime.Runtime
	pods Pods
	mux  *http.ServeMux
	reg  *prometheus.Registry

	mu      sync.Mutex
	samples map[string]cpuSamples // per container (and "/"), for CPU rates
}

// New returns a Server.
func New(cfg Config, rt runtime.Runtime, pods Pods) *Server {
	s := &Server{cfg: cfg, rt: rt, pods: pods, mux: http.NewServeMux(), reg: prometheus.NewRegistry(), samples: map[string]cpuSamples{}}
	// /healthz (and /healthz/NAME, ?verbose) from the component base,
	// without its /metrics: the kubelet's own is below, behind the guard.
	health := component.NewHealth(nil)
	health.AddLivez(component.NamedCheck("container-runtime", func(ctx context.Context) error {
		_, err := rt.Version(ctx)
		return err
	}))
	s.mux.Handle("GET /healthz", health.Handler())
	s.mux.HandleFunc("GET /pods", s.handlePods)
	s.mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", s.handleLogs)
	s.mux.HandleFunc("POST /run/{ns}/{pod}/{container}", s.handleRun)
	s.mux.HandleFunc("/exec/{ns}/{pod}/{container}", s.handleExec)
	s.mux.HandleFunc("GET /stats/summary", s.handleSummary)
	s.mux.HandleFunc("POST /portForward/{ns}/{pod}", s.handlePortForward)
	s.registerMetrics()
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return s
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var h http.Handler = s.mux
	if s.cfg.TLSConfig != nil {
		h = s.guard(s.mux)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: s.cfg.TLSConfig}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = srv.Close()
	}()
	var err error
	if s.cfg.TLSConfig != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func verified(r *http.Request, cas *x509.CertPool) bool {
	if cas == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	opts := x509.VerifyOptions{Roots: cas, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, Intermediates: x509.NewCertPool()}
	for _, c := range r.TLS.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := r.TLS.PeerCertificates[0].Verify(opts)
	return err == nil
}

func (s *Server) registerMetrics() {
	count := func(state runtime.ContainerState) float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cs, err := s.rt.ListContainers(ctx)
		if err != nil {
			return 0
		}
		n := 0
		for _, c := range cs {
			if c.State == state {
				n++
			}
		}
		return float64(n)
	}
	s.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kubelet_running_pods", Help: "Pods the kubelet runs."},
			func() float64 { return float64(len(s.pods.Pods())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kubelet_running_containers", Help: "Running containers."},
			func() float64 { return count(runtime.ContainerRunning) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kubelet_exited_containers", Help: "Exited containers kept."},
			func() float64 { return count(runtime.ContainerExited) }),
		prometheus.NewGoCollector(),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
	)
}

func (s *Server) handlePods(w http.ResponseWriter, r *http.Request) {
	var items []json.RawMessage
	for _, p := range s.pods.Pods() {
		if st, ok := s.pods.Status(p.GetMetadata().GetUid()); ok {
			cp := proto.Clone(p).(*corev1.Pod)
			cp.Status = st
			p = cp
		}
		b, err := codec.MarshalJSON(p)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		items = append(items, b)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "v1", "kind": "PodList", "items": items})
}

// findPod returns the pod by namespace and name.
func (s *Server) findPod(ns, name string) (*corev1.Pod, error) {
	for _, p := range s.pods.Pods() {
		if p.GetMetadata().GetNamespace() == ns && p.GetMetadata().GetName() == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("pod %s/%s not found on this node", ns, name)
}

// container returns the current (or previous) instance of a container.
// An empty name picks the pod's only container.
func (s *Server) container(ctx context.Context, ns, podName, name string, previous bool) (runtime.Container, error) {
	pod, err := s.findPod(ns, podName)
	if err != nil {
		return runtime.Container{}, err
	}
	if name == "" || name == "_" {
		cs := pod.GetSpec().GetContainers()
		if len(cs) != 1 {
			return runtime.Container{}, fmt.Errorf("a container name must be specified for pod %s, choose one of: %s", podName, containerNames(pod))
		}
		name = cs[0].GetName()
	}
	all, err := s.rt.PodContainers(ctx, pod.GetMetadata().GetUid())
	if err != nil {
		return runtime.Container{}, err
	}
	var insts []runtime.Container
	for _, c := range all {
		if c.PodUID == pod.GetMetadata().GetUid() && c.Name == name {
			insts = append(insts, c)
		}
	}
	sort.Slice(insts, func(i, j int) bool { return insts[i].Attempt > insts[j].Attempt })
	idx := 0
	if previous {
		idx = 1
	}
	if len(insts) <= idx {
		if previous {
			return runtime.Container{}, fmt.Errorf("previous terminated container %q in pod %q not found", name, podName)
		}
		return runtime.Container{}, fmt.Errorf("container %q in pod %q is not available (choose one of: %s)", name, podName, containerNames(pod))
	}
	return insts[idx], nil
}

func containerNames(p *corev1.Pod) string {
	var names []string
	for _, c := range p.GetSpec().GetContainers() {
		names = append(names, c.GetName())
	}
	return "[" + strings.Join(names, " ") + "]"
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	previous := q.Get("previous") == "true"
	follow := q.Get("follow") == "true"
	c, err := s.container(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), previous)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	f, err := os.Open(c.LogPath)
	if err != nil {
		http.Error(w, "open log: "+err.Error(), http.StatusNotFound)
		return
	}
	defer f.Close()
	if n, err := strconv.Atoi(q.Get("tailLines")); err == nil && n >= 0 {
		if err := seekTail(f, n); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if _, err := io.Copy(w, f); err != nil || !follow {
		return
	}
	flusher, _ := w.(http.Flusher)
	for {
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		n, _ := io.Copy(w, f)
		if n == 0 {
			st, err := s.rt.ContainerStatus(r.Context(), c.ID)
			if err != nil || st.State != runtime.ContainerRunning {
				_, _ = io.Copy(w, f)
				return
			}
		}
	}
}

// seekTail positions f at the start of its last n lines.
func seekTail(f *os.File, n int) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if n == 0 {
		_, err := f.Seek(size, io.SeekStart)
		return err
	}
	const chunk = 8192
	lines := 0
	pos := size
	buf := make([]byte, chunk)
	for pos > 0 {
		read := int64(chunk)
		if pos < read {
			read = pos
		}
		pos -= read
		if _, err := f.ReadAt(buf[:read], pos); err != nil && err != io.EOF {
			return err
		}
		for i := read - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				continue
			}
			// A newline ending the file does not start a line.
			if pos+i == size-1 {
				continue
			}
			lines++
			if lines == n {
				_, err := f.Seek(pos+i+1, io.SeekStart)
				return err
			}
		}
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}

// handleRun runs a command and replies with its combined output; the exit
// code is in the X-Exit-Code header.
func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		var body struct {
			Command []string `json:"command"`
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body)
		cmd = body.Command
	}
	if len(cmd) == 0 {
		http.Error(w, "no command", http.StatusBadRequest)
		return
	}
	c, err := s.container(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), false)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	// One buffer for both streams, behind a lock: the runtime copies
	// stdout and stderr concurrently.
	var out lockedBuffer
	code, err := s.rt.Exec(r.Context(), c.ID, runtime.ExecOptions{Cmd: cmd, Stdout: &out, Stderr: &out})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Exit-Code", strconv.Itoa(code))
	_, _ = w.Write(out.Bytes())
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers. It hides
// ReadFrom on purpose: two concurrent ReadFroms on one bytes.Buffer lose data.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}

func (s *Server) handleExec(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cmd := q["command"]
	if len(cmd) == 0 {
		http.Error(w, "no command", http.StatusBadRequest)
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), kubeletapi.StreamProtocol) {
		http.Error(w, "exec needs Upgrade: "+kubeletapi.StreamProtocol+" (use /run for a one-shot command)", http.StatusUpgradeRequired)
		return
	}
	c, err := s.container(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), false)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if c.State != runtime.ContainerRunning {
		http.Error(w, fmt.Sprintf("container %s is not running", c.Name), http.StatusBadRequest)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot upgrade this connection", http.StatusInternalServerError)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + kubeletapi.StreamProtocol + "\r\n\r\n")
	_ = brw.Flush()
	serveStream(r.Context(), conn, brw.Reader, s.rt, c.ID, cmd, q.Get("stdin") == "true", q.Get("tty") == "true")
}

// The summary document's types live in the client package, which the
// apiserver's proxy and minictl top read it with.
type (
	Summary        = kubeletapi.Summary
	NodeStats      = kubeletapi.NodeStats
	PodStats       = kubeletapi.PodStats
	PodRef         = kubeletapi.PodRef
	ContainerStats = kubeletapi.ContainerStats
	CPU            = kubeletapi.CPU
	Memory         = kubeletapi.Memory
)

func (s *Server) handleSummary(w http.ResponseWriter, r *http.Request) {
	sum, err := s.Summary(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(sum)
}

// Summary samples every running container, summing them per pod, and the
// node's total from /proc.
func (s *Server) Summary(ctx context.Context) (*Summary, error) {
	cs, err := s.rt.ListContainers(ctx)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Node: NodeStats{NodeName: s.cfg.NodeName}}
	byUID := map[string][]runtime.Container{}
	for _, c := range cs {
		if c.State == runtime.ContainerRunning {
			byUID[c.PodUID] = append(byUID[c.PodUID], c)
		}
	}
	var nodeCPU CPU
	var nodeMem Memory
	seen := map[string]bool{"/": true}
	defer s.prune(seen)
	for _, p := range s.pods.Pods() {
		md := p.GetMetadata()
		ps := PodStats{PodRef: PodRef{Name: md.GetName(), Namespace: md.GetNamespace(), UID: md.GetUid()}, Containers: []ContainerStats{}}
		var pc CPU
		var pm Memory
		for _, c := range byUID[md.GetUid()] {
			st, err := s.rt.ContainerStats(ctx, c.ID)
			if err != nil {
				continue
			}
			seen[c.ID] = true
			cpu := s.rate(c.ID, st, c.StartedAt)
			mem := &Memory{Time: st.Time, UsageBytes: st.MemoryUsageBytes, WorkingSetBytes: st.MemoryWorkingSetBytes}
			ps.Containers = append(ps.Containers, ContainerStats{Name: c.Name, StartTime: c.StartedAt, CPU: cpu, Memory: mem})
			pc.Time, pm.Time = st.Time, st.Time
			pc.UsageNanoCores += cpu.UsageNanoCores
			pc.UsageCoreNanoSeconds += cpu.UsageCoreNanoSeconds
			pm.UsageBytes += mem.UsageBytes
			pm.WorkingSetBytes += mem.WorkingSetBytes
		}
		ps.CPU, ps.Memory = &pc, &pm
		nodeCPU.UsageNanoCores += pc.UsageNanoCores
		nodeCPU.UsageCoreNanoSeconds += pc.UsageCoreNanoSeconds
		nodeMem.UsageBytes += pm.UsageBytes
		nodeMem.WorkingSetBytes += pm.WorkingSetBytes
		sum.Pods = append(sum.Pods, ps)
	}
	now := time.Now()
	if u, err := cgroups.Read("/"); err == nil {
		// The root cgroup is the whole machine.
		cpu := s.rate("/", runtime.Stats{Time: u.Time, CPUUsageNanos: u.CPUUsageNanos}, time.Time{})
		nodeCPU = *cpu
		nodeMem.UsageBytes, nodeMem.WorkingSetBytes = memInfoUsed()
	}
	nodeCPU.Time, nodeMem.Time = now, now
	sum.Node.CPU, sum.Node.Memory = &nodeCPU, &nodeMem
	return sum, nil
}

// rateWindow is the least span a CPU rate is computed over: callers that
// ask back to back (minictl top, the HPA) must not get a rate over a few
// milliseconds, which is mostly noise.
const rateWindow = time.Second

// cpuSamples are the two samples a rate is measured against: newer moves
// on only once it is rateWindow old, so older is at least that far back.
type cpuSamples struct{ older, newer runtime.Stats }

// rate turns a cumulative CPU sample into a usage rate. Until two
// samples lie a window apart, a container's average since it started
// (started, when known) stands in, rather than a zero or a rate over a
// few milliseconds.
func (s *Server) rate(key string, st runtime.Stats, started time.Time) *CPU {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &CPU{Time: st.Time, UsageCoreNanoSeconds: st.CPUUsageNanos}
	cs, ok := s.samples[key]
	if !ok {
		cs = cpuSamples{newer: st}
	} else if st.Time.Sub(cs.newer.Time) >= rateWindow {
		cs.older, cs.newer = cs.newer, st
	}
	s.samples[key] = cs
	perSecond := func(ref runtime.Stats) uint64 {
		return uint64(float64(st.CPUUsageNanos-ref.CPUUsageNanos) / st.Time.Sub(ref.Time).Seconds())
	}
	switch ref := cs.older; {
	case !ref.Time.IsZero() && st.Time.After(ref.Time) && st.CPUUsageNanos >= ref.CPUUsageNanos:
		out.UsageNanoCores = perSecond(ref)
	case !started.IsZero() && st.Time.After(started):
		out.UsageNanoCores = perSecond(runtime.Stats{Time: started})
	case st.Time.After(cs.newer.Time) && st.CPUUsageNanos >= cs.newer.CPUUsageNanos:
		out.UsageNanoCores = perSecond(cs.newer)
	}
	return out
}

// prune forgets the samples of containers that are gone.
func (s *Server) prune(seen map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.samples {
		if !seen[k] {
			delete(s.samples, k)
		}
	}
}

func memInfoUsed() (usage, workingSet uint64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	vals := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(strings.Fields(v)[0], 10, 64)
		vals[k] = n * 1024
	}
	used := vals["MemTotal"] - vals["MemFree"]
	return used, used - min(used, vals["Inactive(file)"])
}
