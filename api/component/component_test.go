package component

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestVerbosity(t *testing.T) {
	for _, c := range []struct {
		args    []string
		want    slog.Level
		wantErr bool
	}{
		{args: nil, want: slog.LevelInfo},
		{args: []string{"-v", "4"}, want: slog.LevelDebug},
		{args: []string{"--v", "warn"}, want: slog.LevelWarn}, // hack/bench-kubelet's spelling
		{args: []string{"-v=true"}, want: slog.LevelDebug},    // the old boolean -v
		{args: []string{"-v"}, wantErr: true},                 // klog's -v takes a value
		{args: []string{"-v=0"}, want: slog.LevelInfo},
		{args: []string{"--v=4"}, want: slog.LevelDebug},
		{args: []string{"-v=2"}, want: slog.Level(-2)},
		{args: []string{"-v=6"}, want: slog.Level(-6)},
		{args: []string{"--v=warn"}, want: slog.LevelWarn},   // the kubelet's old values
		{args: []string{"--v=debug"}, want: slog.LevelDebug}, //
		{args: []string{"-v=error"}, want: slog.LevelError},
		{args: []string{"-v=false"}, want: slog.LevelInfo},
		{args: []string{"-v=-1"}, wantErr: true},
		{args: []string{"-v=loud"}, wantErr: true},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var v Verbosity
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			v.AddFlags(fs)
			err := fs.Parse(c.args)
			if (err != nil) != c.wantErr {
				t.Fatalf("Parse(%q) = %v, want error %v", c.args, err, c.wantErr)
			}
			if err == nil && v.Level() != c.want {
				t.Errorf("level %v, want %v", v.Level(), c.want)
			}
		})
	}
	t.Run("debug records appear at -v=4 only", func(t *testing.T) {
		for _, c := range []struct {
			v    string
			want bool
		}{{"0", false}, {"3", false}, {"4", true}} {
			var v Verbosity
			if err := v.Set(c.v); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			v.Logger(&b).Debug("detail")
			if got := strings.Contains(b.String(), "detail"); got != c.want {
				t.Errorf("-v=%s: debug logged %v, want %v", c.v, got, c.want)
			}
		}
	})
	t.Run("String round-trips", func(t *testing.T) {
		for _, s := range []string{"0", "4", "7", "warn", "error"} {
			var v, w Verbosity
			if err := v.Set(s); err != nil {
				t.Fatal(err)
			}
			if err := w.Set(v.String()); err != nil || w.Level() != v.Level() || v.String() != s {
				t.Errorf("Set(%q).String() = %q", s, v.String())
			}
		}
	})
}

func TestOptionFlags(t *testing.T) {
	c := ClientOptions{}
	le := DefaultLeaderElection("scheduler")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.AddFlags(fs, "")
	le.AddFlags(fs)
	args := []string{"--kubeconfig=/k", "--server=a:1,b:2", "--leader-elect=false", "--leader-elect-lease-duration=20s",
		"--leader-elect-resource-name=x", "--leader-elect-resource-namespace=ns", "--leader-elect-identity=me"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	want := LeaderElectionOptions{LeaseDuration: 20 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		ResourceName: "x", ResourceNamespace: "ns", Identity: "me"}
	if c != (ClientOptions{Server: "a:1,b:2", Kubeconfig: "/k"}) || le != want || !c.Given() {
		t.Errorf("got %+v %+v", c, le)
	}
	if (ClientOptions{}).Given() {
		t.Error("empty options given")
	}
	cfg, err := (ClientOptions{Server: "127.0.0.1:1,127.0.0.1:2"}).Config()
	if err != nil || len(cfg.Servers) != 2 {
		t.Errorf("Config = %+v, %v", cfg, err)
	}
}

// TestRequireConfig: the add-ons' config names the flags when neither is
// given outside a pod, and otherwise reads them as Config does.
func TestRequireConfig(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a pod
	for _, c := range []struct {
		name    string
		o       ClientOptions
		servers int
		err     string
	}{
		{name: "neither flag outside a pod", o: ClientOptions{Server: "  "}, err: "no apiserver given: set --server HOST:PORT or --kubeconfig"},
		{name: "servers", o: ClientOptions{Server: " 127.0.0.1:1,127.0.0.1:2 "}, servers: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := c.o.RequireConfig()
			switch {
			case c.err != "":
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("RequireConfig error = %v, want %q", err, c.err)
				}
			case err != nil || len(cfg.Servers) != c.servers:
				t.Errorf("RequireConfig = %+v, %v; want %d servers", cfg, err, c.servers)
			}
		})
	}
}

func TestLeaderElectionValidate(t *testing.T) {
	ok := DefaultLeaderElection("x")
	for _, c := range []struct {
		name   string
		mutate func(*LeaderElectionOptions)
		want   string
	}{
		{name: "defaults"},
		{name: "off skips checks", mutate: func(o *LeaderElectionOptions) { o.LeaderElect, o.LeaseDuration = false, 0 }},
		{name: "sub-second lease", mutate: func(o *LeaderElectionOptions) { o.LeaseDuration = 500 * time.Millisecond }, want: "--leader-elect-lease-duration"},
		{name: "renew too long", mutate: func(o *LeaderElectionOptions) { o.RenewDeadline = o.LeaseDuration }, want: "--leader-elect-renew-deadline"},
		{name: "retry too long", mutate: func(o *LeaderElectionOptions) { o.RetryPeriod = o.RenewDeadline }, want: "--leader-elect-retry-period"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := ok
			if c.mutate != nil {
				c.mutate(&o)
			}
			err := o.Validate()
			if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Errorf("Validate = %v, want %q", err, c.want)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	var broken, unsynced atomic.Bool
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "test_total", Help: "x"}))
	h := NewHealth(reg)
	h.AddLivez(NamedCheck("leaderElection", func(context.Context) error {
		if broken.Load() {
			return errors.New("lease not renewed")
		}
		return nil
	}))
	h.AddReadyz(NamedCheck("informer-sync", func(context.Context) error {
		if unsynced.Load() {
			return errors.New("caches not synced")
		}
		return nil
	}))
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		name             string
		broken, unsynced bool
		path             string
		code             int
		body             string // exact, or a prefix when it ends in "..."
	}{
		{name: "healthy", path: "/healthz", code: 200, body: "ok"},
		{name: "livez", path: "/livez", code: 200, body: "ok"},
		{name: "readyz", path: "/readyz", code: 200, body: "ok"},
		{name: "verbose", path: "/readyz?verbose", code: 200, body: "[+]ping ok\n[+]leaderElection ok\n[+]informer-sync ok\nreadyz check passed\n"},
		{name: "unsynced is live", unsynced: true, path: "/livez", code: 200, body: "ok"},
		{name: "unsynced is not ready", unsynced: true, path: "/readyz", code: 500,
			body: "[+]ping ok\n[+]leaderElection ok\n[-]informer-sync failed: caches not synced\nreadyz check failed\n"},
		{name: "excluded", unsynced: true, path: "/readyz?exclude=informer-sync", code: 200, body: "ok"},
		{name: "broken", broken: true, path: "/healthz", code: 500, body: "[+]ping ok\n[-]leaderElection failed: lease not renewed\nhealthz check failed\n"},
		{name: "one check", broken: true, path: "/livez/ping", code: 200, body: "ok"},
		{name: "one failing check", broken: true, path: "/livez/leaderElection", code: 500, body: "[-]leaderElection failed: lease not renewed\nlivez check failed\n"},
		{name: "readyz-only check", path: "/readyz/informer-sync?verbose", code: 200, body: "[+]informer-sync ok\nreadyz check passed\n"},
		{name: "unknown check", path: "/livez/informer-sync", code: 404, body: "no livez check named \"informer-sync\"\n"},
		{name: "metrics", path: "/metrics", code: 200, body: "# HELP test_total x\n..."},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken.Store(c.broken)
			unsynced.Store(c.unsynced)
			code, body := get(c.path)
			match := body == c.body
			if p, ok := strings.CutSuffix(c.body, "..."); ok {
				match = strings.HasPrefix(body, p)
			}
			if code != c.code || !match {
				t.Errorf("GET %s = %d %q, want %d %q", c.path, code, body, c.code, c.body)
			}
		})
	}
	t.Run("no metrics", func(t *testing.T) {
		rec := httptest.NewRecorder()
		NewHealth(nil).Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 404 {
			t.Errorf("/metrics without a registry: %d", rec.Code)
		}
	})
	t.Run("shutdown check", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		c := ShutdownCheck(ctx)
		if err := c.Check(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := c.Check(ctx); err == nil {
			t.Error("no error after the context ended")
		}
	})
}

func TestHTTPServer(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		s, err := Listen("", http.NotFoundHandler())
		if s != nil || err != nil || s.Addr() != "" || s.Shutdown() != nil {
			t.Errorf("Listen(\"\") = %v, %v", s, err)
		}
	})
	t.Run("drains requests in flight", func(t *testing.T) {
		started, release := make(chan struct{}), make(chan struct{})
		s, err := Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-release
			_, _ = w.Write([]byte("done"))
		}))
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			resp, err := http.Get("http://" + s.Addr() + "/")
			if err != nil {
				got <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got <- string(b)
		}()
		<-started
		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown() }()
		select {
		case <-shut:
			t.Fatal("Shutdown returned with a request in flight")
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		if err := <-shut; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if b := <-got; b != "done" {
			t.Errorf("request in flight got %q", b)
		}
		if _, err := http.Get("http://" + s.Addr() + "/"); err == nil {
			t.Error("server still answers after Shutdown")
		}
		<-s.Done()
		if err := s.Shutdown(); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
	})
	t.Run("bad address", func(t *testing.T) {
		if _, err := Listen("127.0.0.1:99999", http.NotFoundHandler()); err == nil {
			t.Error("no error")
		}
	})
}

func TestWatchSignals(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	exited := make(chan int, 1)
	ctx, stop := watchSignals(context.Background(), sigs, func(code int) { exited <- code })
	defer stop()
	sigs <- syscall.SIGTERM
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("first signal did not cancel the context")
	}
	select {
	case <-exited:
		t.Fatal("exited at the first signal")
	case <-time.After(50 * time.Millisecond):
	}
	sigs <- syscall.SIGINT
	select {
	case code := <-exited:
		if code != 1 {
			t.Errorf("exit code %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second signal did not exit")
	}

	ctx2, stop2 := watchSignals(context.Background(), make(chan os.Signal), func(int) { t.Error("exit") })
	stop2()
	if ctx2.Err() == nil {
		t.Error("stop did not cancel the context")
	}
}

func TestElectedWithoutLeaderElection(t *testing.T) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "g"})
	boom := errors.New("boom")
	for _, c := range []struct {
		name string
		work func(ctx context.Context) error
		want error
	}{
		{name: "until the context ends", work: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		{name: "work fails", work: func(context.Context) error { return boom }, want: boom},
	} {
		t.Run(c.name, func(t *testing.T) {
			var during float64
			e, err := NewElected(ElectedConfig{Options: LeaderElectionOptions{}, Leading: g, Work: func(ctx context.Context) error {
				during = gaugeValue(g)
				return c.work(ctx)
			}})
			if err != nil {
				t.Fatal(err)
			}
			if !e.IsLeader() || e.Check().Check(context.Background()) != nil {
				t.Error("without leader election: not leader or unhealthy")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := e.Run(ctx); !errors.Is(err, c.want) {
				t.Errorf("Run = %v, want %v", err, c.want)
			}
			if during != 1 || gaugeValue(g) != 0 {
				t.Errorf("leading gauge %v while working, %v after", during, gaugeValue(g))
			}
		})
	}
	if _, err := NewElected(ElectedConfig{}); err == nil {
		t.Error("NewElected without Work: no error")
	}
	bad := DefaultLeaderElection("x")
	bad.RetryPeriod = bad.RenewDeadline
	if _, err := NewElected(ElectedConfig{Options: bad, Work: func(context.Context) error { return nil }}); err == nil {
		t.Error("NewElected with a bad retry period: no error")
	}
}

func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		panic(err)
	}
	return m.GetGauge().GetValue()
}

func TestParseFlags(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "")
	if err := ParseFlags(fs, []string{"--name=x", "--v=4"}); err != nil || *name != "x" {
		t.Fatalf("ParseFlags: %v, name %q", err, *name)
	}
	if !slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		t.Error("--v=4 did not enable debug logging")
	}
	if err := ParseFlags(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--nope"}); err == nil {
		t.Error("unknown flag: no error")
	}
}
