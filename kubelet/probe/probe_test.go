package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kubelet/runtime"
)

func prober(exitCode int) *Prober {
	var d net.Dialer
	return &Prober{
		Dial: d.DialContext,
		Exec: func(ctx context.Context, id string, cmd []string, timeout time.Duration) (runtime.ExecResult, error) {
			return runtime.ExecResult{ExitCode: exitCode, Stdout: []byte("out")}, nil
		},
	}
}

func TestRunHandlers(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || r.Header.Get("X-Probe") != "1" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	host, portS, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portS)
	c := &corev1.Container{Name: "app", Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	byName := &metav1.IntOrString{Type: 1, StrVal: "http"}
	httpProbe := &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: "healthz", Port: byName,
		HttpHeaders: []*corev1.HTTPHeader{{Name: "X-Probe", Value: "1"}}}}
	ctx := context.Background()
	if r, msg := prober(0).Run(ctx, httpProbe, c, host, "id"); r != Success {
		t.Fatalf("http 200: %v %s", r, msg)
	}
	status = http.StatusInternalServerError
	if r, msg := prober(0).Run(ctx, httpProbe, c, host, "id"); r != Failure || msg == "" {
		t.Fatalf("http 500: %v %s", r, msg)
	}
	tcp := &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: &metav1.IntOrString{IntVal: int32(port)}}}
	if r, _ := prober(0).Run(ctx, tcp, c, host, "id"); r != Success {
		t.Fatal("tcp to a listener failed")
	}
	closed := &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: &metav1.IntOrString{IntVal: 1}}}
	if r, _ := prober(0).Run(ctx, closed, c, host, "id"); r != Failure {
		t.Fatal("tcp to a closed port succeeded")
	}
	exec := &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"true"}}}
	if r, _ := prober(0).Run(ctx, exec, c, host, "id"); r != Success {
		t.Fatal("exec 0 failed")
	}
	if r, msg := prober(1).Run(ctx, exec, c, host, "id"); r != Failure || msg == "" {
		t.Fatal("exec 1 succeeded")
	}
	if _, err := resolvePort(&metav1.IntOrString{Type: 1, StrVal: "nope"}, c); err == nil {
		t.Fatal("unknown port name resolved")
	}
}

// TestManagerThresholds: readiness starts failing, turns ready after one
// success; liveness reports failure only after failureThreshold failures.
func TestManagerThresholds(t *testing.T) {
	var mu sync.Mutex
	code := 0
	p := &Prober{Exec: func(ctx context.Context, id string, cmd []string, timeout time.Duration) (runtime.ExecResult, error) {
		mu.Lock()
		defer mu.Unlock()
		return runtime.ExecResult{ExitCode: code}, nil
	}}
	events := make(chan Event, 100)
	m := NewManager(p, func(e Event) { events <- e }, nil)
	c := &corev1.Container{Name: "app",
		ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, Exec: &corev1.ExecAction{Command: []string{"x"}}},
		LivenessProbe:  &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 2, Exec: &corev1.ExecAction{Command: []string{"x"}}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.Sync(ctx, "pod", []Target{{PodUID: "pod", ContainerID: "c1", StartedAt: time.Now(), Container: c}})
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("ready", func() bool { return m.Result("c1", Readiness) == Success })
	if m.Result("c1", Liveness) != Success {
		t.Fatal("liveness not success")
	}
	mu.Lock()
	code = 1
	mu.Unlock()
	wait("not ready", func() bool { return m.Result("c1", Readiness) == Failure })
	wait("liveness failed", func() bool { return m.Result("c1", Liveness) == Failure })
	sawFailureEvent := false
	for len(events) > 0 {
		if e := <-events; e.Result == Failure && !e.Changed && e.Type == Liveness {
			sawFailureEvent = true
		}
	}
	if !sawFailureEvent {
		t.Error("no per-run failure event")
	}
	m.RemovePod("pod")
	if m.Result("c1", Liveness) != Unknown {
		t.Error("results kept after RemovePod")
	}
}
