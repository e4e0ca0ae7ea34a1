// Package probe runs the liveness, readiness and startup probes of running
// containers (httpGet, tcpSocket, exec) and keeps their results. One
// goroutine per container and probe type probes at the probe's period;
// a result that crosses its success or failure threshold is recorded and
// the pod's worker is told to sync.
package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/workqueue"
	"minik8s/kubelet/runtime"
)

// Type is a probe type.
type Type string

// Probe types.
const (
	Liveness  Type = "Liveness"
	Readiness Type = "Readiness"
	Startup   Type = "Startup"
)

// Result is a probe's outcome.
type Result int

// Results.
const (
	Unknown Result = iota
	Success
	Failure
)

func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Failure:
		return "failure"
	}
	return "unknown"
}

// Prober runs one probe once.
type Prober struct {
	// Dial connects from where pod IPs are reachable.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Exec runs a command in a container.
	Exec func(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (runtime.ExecResult, error)
}

// Run executes p against the container and returns the result and, for a
// failure, why.
func (pr *Prober) Run(ctx context.Context, p *corev1.Probe, c *corev1.Container, podIP, containerID string) (Result, string) {
	timeout := time.Duration(max(p.GetTimeoutSeconds(), 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.GetExec() != nil:
		res, err := pr.Exec(ctx, containerID, p.Exec.GetCommand(), timeout)
		if err != nil {
			return Failure, fmt.Sprintf("exec probe %v: %v", p.Exec.GetCommand(), err)
		}
		if res.ExitCode != 0 {
			out := strings.TrimSpace(string(res.Stdout) + string(res.Stderr))
			return Failure, fmt.Sprintf("exec probe %v exited %d: %s", p.Exec.GetCommand(), res.ExitCode, out)
		}
		return Success, ""
	case p.GetHttpGet() != nil:
		return pr.http(ctx, p.HttpGet, c, podIP)
	case p.GetTcpSocket() != nil:
		port, err := resolvePort(p.TcpSocket.GetPort(), c)
		if err != nil {
			return Failure, err.Error()
		}
		host := p.TcpSocket.GetHost()
		if host == "" {
			host = podIP
		}
		conn, err := pr.Dial(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return Failure, fmt.Sprintf("tcp probe: %v", err)
		}
		conn.Close()
		return Success, ""
	}
	return Unknown, "probe has no handler"
}

func (pr *Prober) http(ctx context.Context, g *corev1.HTTPGetAction, c *corev1.Container, podIP string) (Result, string) {
	port, err := resolvePort(g.GetPort(), c)
	if err != nil {
		return Failure, err.Error()
	}
	host := g.GetHost()
	if host == "" {
		host = podIP
	}
	scheme := strings.ToLower(g.GetScheme())
	if scheme == "" {
		scheme = "http"
	}
	path := g.GetPath()
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Failure, err.Error()
	}
	req.Header.Set("User-Agent", "kube-probe/minik8s")
	for _, h := range g.GetHttpHeaders() {
		if strings.EqualFold(h.GetName(), "Host") {
			req.Host = h.GetValue()
			continue
		}
		req.Header.Add(h.GetName(), h.GetValue())
	}
	tr := &http.Transport{DialContext: pr.Dial, DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // Kubernetes probes skip verification too
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return Failure, fmt.Sprintf("HTTP probe failed: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return Success, ""
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

// resolvePort turns an int-or-string port into a number, looking names up
// in the container's ports.
func resolvePort(p interface {
	GetType() int32
	GetIntVal() int32
	GetStrVal() string
}, c *corev1.Container) (int, error) {
	if p == nil {
		return 0, fmt.Errorf("probe has no port")
	}
	if p.GetType() == 0 && p.GetStrVal() == "" {
		return int(p.GetIntVal()), nil
	}
	name := p.GetStrVal()
	if n, err := strconv.Atoi(name); err == nil {
		return n, nil
	}
	for _, cp := range c.GetPorts() {
		if cp.GetName() == name {
			return int(cp.GetContainerPort()), nil
		}
	}
	return 0, fmt.Errorf("port %q not found in container %s", name, c.GetName())
}

// Target is a running container to probe.
type Target struct {
	PodUID      string
	PodIP       string
	ContainerID string
	StartedAt   time.Time
	Container   *corev1.Container
}

// Manager keeps one worker per running container and probe type, and the
// latest results. Safe for concurrent use.
type Manager struct {
	prober *Prober
	clock  workqueue.Clock
	// notify is called from worker goroutines; see NewManager.
	notify func(Event)

	mu      sync.Mutex
	workers map[workerKey]*worker
	results map[workerKey]Result
}

type workerKey struct {
	containerID string
	t           Type
}

type worker struct {
	cancel context.CancelFunc
	podUID string
}

// Event tells about a probe run that failed or changed the result.
type Event struct {
	PodUID, ContainerID string
	Type                Type
	Result              Result
	// Changed is true when Result is the container's new recorded result.
	Changed bool
	// Message says why the probe failed.
	Message string
}

// NewManager returns a Manager; notify gets every failed probe run (for
// Unhealthy events) and every change of a recorded result (to sync the pod).
// Initial delays and periods are measured on clock (the wall clock if nil),
// so tests step probes with a fake one.
func NewManager(p *Prober, notify func(Event), clock workqueue.Clock) *Manager {
	if clock == nil {
		clock = workqueue.RealClock{}
	}
	return &Manager{prober: p, clock: clock, notify: notify, workers: map[workerKey]*worker{}, results: map[workerKey]Result{}}
}

// Sync makes the workers of one pod match its running containers: it
// starts workers for new containers and stops those of containers gone.
func (m *Manager) Sync(ctx context.Context, podUID string, running []Target) {
	want := map[workerKey]Target{}
	for _, t := range running {
		c := t.Container
		for typ, p := range map[Type]*corev1.Probe{Liveness: c.GetLivenessProbe(), Readiness: c.GetReadinessProbe(), Startup: c.GetStartupProbe()} {
			if p != nil {
				want[workerKey{t.ContainerID, typ}] = t
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, w := range m.workers {
		if w.podUID != podUID {
			continue
		}
		if _, ok := want[k]; !ok {
			w.cancel()
			delete(m.workers, k)
			delete(m.results, k)
		}
	}
	for k, t := range want {
		if _, ok := m.workers[k]; ok {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		m.workers[k] = &worker{cancel: cancel, podUID: podUID}
		go m.run(wctx, k, t)
	}
}

// RemovePod stops every worker of a pod.
func (m *Manager) RemovePod(podUID string) { m.Sync(context.Background(), podUID, nil) }

// Result returns the latest result of a container's probe (Unknown when
// it has none yet).
func (m *Manager) Result(containerID string, t Type) Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.results[workerKey{containerID, t}]
}

func (m *Manager) set(k workerKey, podUID string, r Result, msg string) {
	m.mu.Lock()
	if _, live := m.workers[k]; !live {
		m.mu.Unlock()
		return
	}
	old, had := m.results[k]
	m.results[k] = r
	m.mu.Unlock()
	if (old != r || !had) && m.notify != nil {
		m.notify(Event{PodUID: podUID, ContainerID: k.containerID, Type: k.t, Result: r, Changed: true, Message: msg})
	}
}

// run probes at the period until ctx ends. Liveness starts as success,
// readiness as failure (not ready until proven), startup as unknown; after
// a startup probe succeeds it stops, and the other probes start only then.
func (m *Manager) run(ctx context.Context, k workerKey, t Target) {
	c := t.Container
	p := map[Type]*corev1.Probe{Liveness: c.GetLivenessProbe(), Readiness: c.GetReadinessProbe(), Startup: c.GetStartupProbe()}[k.t]
	switch k.t {
	case Liveness:
		m.set(k, t.PodUID, Success, "")
	case Readiness:
		m.set(k, t.PodUID, Failure, "")
	}
	period := time.Duration(max(p.GetPeriodSeconds(), 1)) * time.Second
	if p.GetPeriodSeconds() == 0 {
		period = 10 * time.Second
	}
	successThreshold := max(p.GetSuccessThreshold(), 1)
	failureThreshold := max(p.GetFailureThreshold(), 1)
	if p.GetFailureThreshold() == 0 {
		failureThreshold = 3
	}
	delay := t.StartedAt.Add(time.Duration(p.GetInitialDelaySeconds()) * time.Second).Sub(m.clock.Now())
	if !m.sleep(ctx, delay) {
		return
	}
	var successes, failures int32
	for {
		if k.t != Startup && c.GetStartupProbe() != nil && m.Result(t.ContainerID, Startup) != Success {
			// Wait for the startup probe before liveness and readiness run.
			if !m.sleep(ctx, period) {
				return
			}
			continue
		}
		r, msg := m.prober.Run(ctx, p, c, t.PodIP, t.ContainerID)
		if ctx.Err() != nil {
			return
		}
		switch r {
		case Success:
			successes, failures = successes+1, 0
			if successes >= successThreshold {
				m.set(k, t.PodUID, Success, "")
			}
		default:
			failures, successes = failures+1, 0
			if m.notify != nil {
				m.notify(Event{PodUID: t.PodUID, ContainerID: t.ContainerID, Type: k.t, Result: Failure, Message: msg})
			}
			if failures >= failureThreshold {
				m.set(k, t.PodUID, Failure, msg)
			}
		}
		if k.t == Startup && m.Result(t.ContainerID, Startup) == Success {
			return
		}
		if !m.sleep(ctx, period) {
			return
		}
	}
}

// sleep waits d on the manager's clock; false means ctx ended first.
func (m *Manager) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-m.clock.After(d):
		return true
	}
}
