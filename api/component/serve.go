package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// DrainTimeout is how long an HTTPServer's Shutdown lets requests in
// flight finish before it closes their connections.
const DrainTimeout = 5 * time.Second

// HTTPServer serves one handler on one listener until Shutdown. A nil
// *HTTPServer is a disabled one: Addr is "" and Shutdown does nothing.
type HTTPServer struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
	err  error // of Serve, once done is closed
	once sync.Once
}

// Listen binds addr (HOST:PORT; port 0 picks a free one) and serves h on
// it; an empty addr disables the server (nil, nil).
func Listen(addr string, h http.Handler) (*HTTPServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return Serve(ln, h), nil
}

// Serve serves h on ln, which the server owns from now on.
func Serve(ln net.Listener, h http.Handler) *HTTPServer {
	s := &HTTPServer{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = err
			slog.Error("http server failed", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return s
}

// Addr is the bound address ("" when disabled).
func (s *HTTPServer) Addr() string {
	if s == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Done is closed when the server has stopped serving (a disabled
// server's never is).
func (s *HTTPServer) Done() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.done
}

// Shutdown stops accepting connections, lets requests in flight finish
// for up to DrainTimeout, closes what is left, and returns the error that
// stopped serving before (nil after a clean run). Later calls return at
// once.
func (s *HTTPServer) Shutdown() error {
	if s == nil {
		return nil
	}
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
		<-s.done
	})
	return s.err
}

// SignalContext returns a context cancelled by the first SIGTERM or
// SIGINT, so the daemon shuts down gracefully; a second signal exits the
// process at once (status 1), for a shutdown that hangs. stop releases
// the signals.
func SignalContext(parent context.Context) (ctx context.Context, stop func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	ctx, stopWatch := watchSignals(parent, ch, os.Exit)
	return ctx, func() { signal.Stop(ch); stopWatch() }
}

// watchSignals cancels ctx at the first value on signals and calls exit(1)
// at the second.
func watchSignals(parent context.Context, signals <-chan os.Signal, exit func(int)) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	quit := make(chan struct{})
	go func() {
		select {
		case sig := <-signals:
			slog.Info("shutting down", "signal", sig.String())
			cancel()
		case <-quit:
			return
		}
		select {
		case sig := <-signals:
			slog.Error("second signal: exiting at once", "signal", sig.String())
			exit(1)
		case <-quit:
		}
	}()
	var once sync.Once
	return ctx, func() { once.Do(func() { close(quit); cancel() }) }
}

// Main runs a daemon's run function under SignalContext and exits: 0
// when run returns nil, else 1 after printing "name: error" to stderr.
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := SignalContext(context.Background())
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}
