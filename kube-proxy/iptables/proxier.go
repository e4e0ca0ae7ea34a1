package iptables

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"minik8s/kube-proxy/conntrack"
	"minik8s/kube-proxy/ipt"
	"minik8s/kube-proxy/metrics"
	"minik8s/kube-proxy/proxy"
	"minik8s/kube-proxy/runner"
)

// DefaultLargeClusterEndpoints is Kubernetes' threshold for dropping
// comments from per-service chains (see Config.LargeClusterEndpoints).
const DefaultLargeClusterEndpoints = 1000

// ProxierConfig configures a Proxier.
type ProxierConfig struct {
	Render Config
	// Hostname is the node name; endpoints on it are local.
	Hostname string
	// SyncPeriod is the interval of full syncs (everything rewritten,
	// stale chains swept); between them syncs rewrite only what changed.
	SyncPeriod time.Duration
	// MinSyncPeriod is the least time between two syncs; changes arriving
	// meanwhile are applied together.
	MinSyncPeriod time.Duration
}

// Proxier programs iptables from Services and Endpoints. Informer
// handlers feed State(); SyncLoop applies the changes.
type Proxier struct {
	cfg      ProxierConfig
	ipt      ipt.Interface
	ct       conntrack.Interface
	metrics  *metrics.Metrics
	log      *slog.Logger
	state    *proxy.State
	renderer *Renderer
	runner   *runner.Runner

	// Sync goroutine only.
	applied  map[ipt.Table]map[string]string // chains as last restored; nil: unknown
	needFull bool
	// needSave: the next full sync lists the kernel's chains to sweep stale
	// ones (at start and after a failure; otherwise applied says what is
	// there - iptables-save of 10,000 services takes seconds with nft).
	needSave bool
	lastFull time.Time

	mu       sync.Mutex
	lastSync time.Time
	last     SyncResult
}

// SyncResult describes one sync, for logs, tests and benchmarks.
type SyncResult struct {
	Full                 bool
	Duration             time.Duration
	Changed              int // service ports changed since the previous sync
	NATRules, FilterRule int
	NATWritten           int // chains rewritten in nat
	FilterWritten        int
	Deleted              int // chains deleted, both tables
	RestoreBytes         int
	// Render is the time spent rendering and diffing; the rest of
	// Duration went to iptables (restore, save, base chains).
	Render time.Duration
}

// NewProxier returns a proxier over r and ct (nil: no conntrack cleanup).
func NewProxier(cfg ProxierConfig, r ipt.Interface, ct conntrack.Interface, m *metrics.Metrics, log *slog.Logger) *Proxier {
	if m == nil {
		m = metrics.New(nil)
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.Render.MasqueradeBit == 0 {
		cfg.Render.MasqueradeBit = 14
	}
	if cfg.Render.LargeClusterEndpoints == 0 {
		cfg.Render.LargeClusterEndpoints = DefaultLargeClusterEndpoints
	}
	p := &Proxier{cfg: cfg, ipt: r, ct: ct, metrics: m, log: log.With("proxier", "iptables"),
		renderer: NewRenderer(cfg.Render), needFull: true, needSave: true}
	p.runner = runner.New(p.sync, cfg.MinSyncPeriod, cfg.SyncPeriod, time.Second)
	p.state = proxy.NewState(cfg.Hostname, p.runner.Run)
	return p
}

// State is where informer handlers record changes.
func (p *Proxier) State() *proxy.State { return p.state }

// SyncLoop syncs until ctx ends: at once, then on changes (at most every
// MinSyncPeriod) and every SyncPeriod. Every iptables call runs on the
// calling goroutine, so a caller in another network namespace locks it to
// its thread first.
func (p *Proxier) SyncLoop(ctx context.Context) { p.runner.Loop(ctx) }

// Sync runs one sync now, on the calling goroutine. Not concurrently with
// SyncLoop.
func (p *Proxier) Sync() error { return p.sync() }

// LastSync is when rules were last applied successfully (zero: never).
func (p *Proxier) LastSync() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastSync
}

// LastResult describes the last successful sync.
func (p *Proxier) LastResult() SyncResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *Proxier) sync() error {
	start := time.Now()
	full := p.needFull || p.applied == nil || (p.cfg.SyncPeriod > 0 && start.Sub(p.lastFull) >= p.cfg.SyncPeriod)
	ch := p.state.Apply()
	var changed map[proxy.ServicePortName]bool
	if !full {
		changed = ch.Ports
	}
	rs := p.renderer.Render(p.state.Services(), p.state.Endpoints(), changed)
	res := SyncResult{Full: full, Changed: len(ch.Ports), NATRules: rs.NAT.Rules, FilterRule: rs.Filter.Rules}
	res.Render = time.Since(start)

	fail := func(err error) error {
		// What was applied is now unknown: rewrite everything next time.
		p.needFull, p.needSave, p.applied = true, true, nil
		p.metrics.RestoreFailures.Inc()
		p.log.Error("sync proxy rules failed", "err", err, "full", full)
		return err
	}
	if full {
		if err := EnsureBase(p.ipt); err != nil {
			return fail(err)
		}
	}
	if p.applied == nil {
		p.applied = map[ipt.Table]map[string]string{}
	}
	for _, t := range []*Table{rs.Filter, rs.NAT} {
		var existing []string
		if full && p.needSave {
			save, err := p.ipt.Save(t.Name)
			if err != nil {
				return fail(err)
			}
			existing = ipt.Chains(save)
		}
		var touched map[string]bool
		if rs.Touched != nil {
			touched = rs.Touched[t.Name]
		}
		d0 := time.Now()
		u := Diff(t, p.applied[t.Name], existing, full, touched)
		res.Render += time.Since(d0)
		if u.Data != nil {
			if err := p.ipt.Restore(t.Name, u.Data); err != nil {
				return fail(err)
			}
		}
		p.remember(t, full, touched)
		if t.Name == ipt.TableNAT {
			res.NATWritten = u.Written
		} else {
			res.FilterWritten = u.Written
		}
		res.Deleted += u.Deleted
		res.RestoreBytes += len(u.Data)
		p.metrics.ChainsWritten.WithLabelValues(string(t.Name)).Observe(float64(u.Written))
	}
	p.needFull, p.needSave = false, false
	if full {
		p.lastFull = start
	}
	p.clearConntrack(ch)

	end := time.Now()
	res.Duration = end.Sub(start)
	kind := "partial"
	if full {
		kind = "full"
	}
	p.metrics.SyncDuration.WithLabelValues(kind).Observe(res.Duration.Seconds())
	p.metrics.LastSync.Set(float64(end.UnixNano()) / 1e9)
	p.metrics.RulesTotal.WithLabelValues("nat").Set(float64(rs.NAT.Rules))
	p.metrics.RulesTotal.WithLabelValues("filter").Set(float64(rs.Filter.Rules))
	p.metrics.ServicesProxied.Set(float64(len(p.state.Services())))
	if !ch.Since.IsZero() {
		p.metrics.ProgrammingLatency.Observe(end.Sub(ch.Since).Seconds())
	}
	p.mu.Lock()
	p.lastSync, p.last = end, res
	p.mu.Unlock()
	p.log.Debug("synced proxy rules", "full", full, "duration", res.Duration, "changed", res.Changed,
		"natWritten", res.NATWritten, "filterWritten", res.FilterWritten, "deleted", res.Deleted, "natRules", res.NATRules)
	return nil
}

// remember records what a successful restore left in the kernel: the
// renderer's maps change in place on the next render, so applied is a
// copy, updated only where the rendering was touched.
func (p *Proxier) remember(t *Table, full bool, touched map[string]bool) {
	if full || touched == nil || p.applied[t.Name] == nil {
		p.applied[t.Name] = maps.Clone(t.Chains)
		return
	}
	a := p.applied[t.Name]
	for c := range touched {
		if r, ok := t.Chains[c]; ok {
			a[c] = r
		} else {
			delete(a, c)
		}
	}
}

// clearConntrack deletes UDP entries that would keep steering packets
// the old way, once the new rules are in.
func (p *Proxier) clearConntrack(ch proxy.Changes) {
	if p.ct == nil {
		return
	}
	clear := func(f conntrack.Filter) {
		if _, err := p.ct.ClearUDP(f); err != nil {
			p.log.Warn("clear stale UDP conntrack entries", "filter", fmt.Sprintf("%+v", f), "err", err)
		}
	}
	for _, s := range ch.StaleEndpoints {
		clear(conntrack.Filter{OrigDst: s.Port.ClusterIP, ReplySrc: s.Endpoint.IP})
		for _, eip := range s.Port.ExternalIPs {
			clear(conntrack.Filter{OrigDst: eip, ReplySrc: s.Endpoint.IP})
		}
		if s.Port.NodePort != 0 {
			clear(conntrack.Filter{OrigDstPort: s.Port.NodePort, ReplySrc: s.Endpoint.IP})
		}
	}
	for _, sp := range ch.NewlyServed {
		clear(conntrack.Filter{OrigDst: sp.ClusterIP})
		for _, eip := range sp.ExternalIPs {
			clear(conntrack.Filter{OrigDst: eip})
		}
	}
}
