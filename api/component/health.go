package component

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// A Check is one named health check, as Kubernetes' healthz checks are:
// nil is healthy; an error says why not. Check is called with the
// request's context and must return promptly.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// NamedCheck returns a Check of f.
func NamedCheck(name string, f func(ctx context.Context) error) Check {
	return Check{Name: name, Check: f}
}

// PingCheck always passes: the server answers. Every Health has it.
var PingCheck = NamedCheck("ping", func(context.Context) error { return nil })

// ShutdownCheck fails once ctx has ended, so /readyz turns unready while
// the daemon drains, before its server closes.
func ShutdownCheck(ctx context.Context) Check {
	return NamedCheck("shutdown", func(context.Context) error {
		if ctx.Err() != nil {
			return errors.New("shutting down")
		}
		return nil
	})
}

// Health serves a daemon's /healthz, /livez, /readyz and /metrics.
// /livez and /healthz (its older name) run the liveness checks: failing,
// the daemon should be restarted. /readyz runs the liveness and the
// readiness checks: failing, the daemon should get no work yet (caches
// not synced, shutting down). Each answers 200 "ok", or 500 with one line
// per check ("[+]ping ok", "[-]informer-sync failed: ...") and
// "<path> check failed"; ?verbose prints the lines on success too,
// ?exclude=NAME (repeatable) skips a check, and /livez/NAME (likewise
// /healthz/NAME, /readyz/NAME) runs one check alone. Checks may be added
// while serving.
type Health struct {
	metrics prometheus.Gatherer

	mu    sync.RWMutex
	live  []Check
	ready []Check
}

// NewHealth returns a Health with PingCheck whose /metrics serves metrics
// (none when nil).
func NewHealth(metrics prometheus.Gatherer) *Health {
	return &Health{metrics: metrics, live: []Check{PingCheck}}
}

// AddLivez adds liveness checks (/healthz, /livez and /readyz run them).
func (h *Health) AddLivez(checks ...Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.live = append(h.live, checks...)
}

// AddReadyz adds readiness checks (only /readyz runs them).
func (h *Health) AddReadyz(checks ...Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ready = append(h.ready, checks...)
}

func (h *Health) checks(path string) []Check {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if path == "readyz" {
		return append(slices.Clone(h.live), h.ready...)
	}
	return slices.Clone(h.live)
}

// Handler serves the health paths and /metrics.
func (h *Health) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"healthz", "livez", "readyz"} {
		mux.HandleFunc("/"+p, func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, p, "") })
		mux.HandleFunc("/"+p+"/{check}", func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, p, r.PathValue("check")) })
	}
	if h.metrics != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(h.metrics, promhttp.HandlerOpts{}))
	}
	return mux
}

// serve runs the checks of path (or the one named only) and writes the
// answer.
func (h *Health) serve(w http.ResponseWriter, r *http.Request, path, only string) {
	checks := h.checks(path)
	if only != "" {
		i := slices.IndexFunc(checks, func(c Check) bool { return c.Name == only })
		if i < 0 {
			http.Error(w, fmt.Sprintf("no %s check named %q", path, only), http.StatusNotFound)
			return
		}
		checks = checks[i : i+1]
	}
	exclude := r.URL.Query()["exclude"]
	_, verbose := r.URL.Query()["verbose"]
	var b strings.Builder
	failed := false
	for _, c := range checks {
		if slices.Contains(exclude, c.Name) {
			fmt.Fprintf(&b, "[+]%s excluded: ok\n", c.Name)
			continue
		}
		if err := c.Check(r.Context()); err != nil {
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: %v\n", c.Name, err)
			continue
		}
		fmt.Fprintf(&b, "[+]%s ok\n", c.Name)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if failed {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "%s%s check failed\n", b.String(), path)
		return
	}
	if verbose {
		fmt.Fprintf(w, "%s%s check passed\n", b.String(), path)
		return
	}
	fmt.Fprint(w, "ok")
}

// NewRegistry returns a metrics registry holding the Go runtime and
// process collectors, as every daemon's /metrics does.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
