// Command kubia is the sample app of the seed: an HTTP server that answers
// every request with "You've hit <hostname>", so a client can tell which
// pod served it. GET /healthz answers "ok"; with --fail-after N the
// /healthz endpoint starts failing after N requests, for liveness demos.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("listen", ":8080", "address to serve on")
	failAfter := flag.Int64("fail-after", 0, "if > 0, /healthz fails with 500 after this many requests to /")
	flag.Parse()
	host, _ := os.Hostname()
	var served atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if *failAfter > 0 && served.Load() >= *failAfter {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		slog.Info("request", "remote", r.RemoteAddr, "path", r.URL.Path)
		fmt.Fprintf(w, "You've hit %s\n", host)
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	slog.Info("kubia server starting", "addr", *addr, "hostname", host)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}
