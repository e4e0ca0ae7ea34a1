package client

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
)

// connTracker is a listener that remembers its connections, so a
// handler can cut them all, as an apiserver's death does.
type connTracker struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *connTracker) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *connTracker) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

// dropper reads each write request, then either drops the connection
// without answering (an apiserver dying mid-commit) or, when slow, holds
// it past the caller's deadline; or it refuses with a Status.
type dropper struct {
	rpc.UnimplementedAPIServer
	lis      *connTracker
	mode     string // "cut", "slow", "refuse"
	mu       sync.Mutex
	received int
}

func (d *dropper) answer(ctx context.Context) error {
	d.mu.Lock()
	d.received++
	d.mu.Unlock()
	switch d.mode {
	case "cut":
		d.lis.cut()
	case "slow":
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	case "refuse":
		return apierrors.ToGRPC(apierrors.NewUnavailable("etcd: connection refused"))
	}
	<-ctx.Done()
	return ctx.Err()
}

func (d *dropper) Create(ctx context.Context, _ *rpc.CreateRequest) (*rpc.Object, error) {
	return nil, d.answer(ctx)
}
func (d *dropper) Update(ctx context.Context, _ *rpc.UpdateRequest) (*rpc.Object, error) {
	return nil, d.answer(ctx)
}
func (d *dropper) Delete(ctx context.Context, _ *rpc.DeleteRequest) (*rpc.Object, error) {
	return nil, d.answer(ctx)
}

func serveDropper(t *testing.T, mode string) (*dropper, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dropper{lis: &connTracker{Listener: lis}, mode: mode}
	s := grpc.NewServer()
	rpc.RegisterAPIServer(s, d)
	go func() { _ = s.Serve(d.lis) }()
	t.Cleanup(s.Stop)
	return d, lis.Addr().String()
}

// TestAmbiguousWrites: a write whose connection is cut after the server
// read the request, or whose deadline passes while the server holds it,
// is reported as an ambiguous write (504 Timeout, "the outcome of the
// write is unknown", IsAmbiguous) - not ServiceUnavailable; a write that
// never left, or that the server refused with a Status, is not.
func TestAmbiguousWrites(t *testing.T) {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"}}
	writes := []struct {
		verb, want string
		call       func(context.Context, *Resource[*corev1.Pod]) error
	}{
		{"create", `create pods "web" was sent`, func(ctx context.Context, r *Resource[*corev1.Pod]) error { _, err := r.Create(ctx, p); return err }},
		{"update", `update pods "web" was sent`, func(ctx context.Context, r *Resource[*corev1.Pod]) error { _, err := r.Update(ctx, p); return err }},
		{"update status", `update pods/status "web" was sent`, func(ctx context.Context, r *Resource[*corev1.Pod]) error {
			_, err := r.UpdateStatus(ctx, p)
			return err
		}},
		{"delete", `delete pods "web" was sent`, func(ctx context.Context, r *Resource[*corev1.Pod]) error {
			_, err := r.Delete(ctx, "default", "web", nil)
			return err
		}},
	}
	for _, mode := range []string{"cut", "slow"} {
		for _, w := range writes {
			t.Run(mode+"/"+w.verb, func(t *testing.T) {
				d, addr := serveDropper(t, mode)
				pods := For[*corev1.Pod](newClient(t, addr))
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				if mode == "slow" {
					ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
				}
				defer cancel()
				err := w.call(ctx, pods)
				if !apierrors.IsAmbiguous(err) || !apierrors.IsUnknownOutcome(err) {
					t.Fatalf("error %v (reason %q) is not ambiguous", err, apierrors.ReasonOf(err))
				}
				if msg := err.Error(); !strings.Contains(msg, "the outcome of the write is unknown") || !strings.Contains(msg, w.want) {
					t.Fatalf("message %q", msg)
				}
				d.mu.Lock()
				n := d.received
				d.mu.Unlock()
				if n != 1 {
					t.Fatalf("server read %d requests, want 1 (a write is never repeated)", n)
				}
			})
		}
	}
	t.Run("never sent", func(t *testing.T) {
		pods := For[*corev1.Pod](newClient(t, deadAddr(t)))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := pods.Create(ctx, p)
		if err == nil || apierrors.IsAmbiguous(err) || apierrors.ReasonOf(err) != apierrors.ReasonUnavailable {
			t.Fatalf("error %v (reason %q), want ServiceUnavailable", err, apierrors.ReasonOf(err))
		}
	})
	t.Run("refused with a Status", func(t *testing.T) {
		_, addr := serveDropper(t, "refuse")
		pods := For[*corev1.Pod](newClient(t, addr))
		_, err := pods.Create(context.Background(), p)
		if apierrors.IsAmbiguous(err) || apierrors.ReasonOf(err) != apierrors.ReasonUnavailable {
			t.Fatalf("error %v (reason %q), want the server's ServiceUnavailable", err, apierrors.ReasonOf(err))
		}
	})
}
