package nftables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"sigs.k8s.io/knftables"

	"minik8s/kube-proxy/conntrack"
	"minik8s/kube-proxy/metrics"
	"minik8s/kube-proxy/proxy"
	"minik8s/kube-proxy/runner"
)

// New returns the nft-backed interface to kube-proxy's table, for the
// network namespace of the calling thread (every transaction is an `nft`
// process forked from the thread that runs it). It fails when nft is
// missing or not usable.
func New() (knftables.Interface, error) {
	return knftables.New(knftables.IPv4Family, TableName)
}

// Cleanup deletes kube-proxy's table (everything the nftables mode made);
// a missing table is no error.
func Cleanup(ctx context.Context, nft knftables.Interface) error {
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return fmt.Errorf("delete nftables table ip %s: %w", TableName, err)
	}
	return nil
}

// CleanupIfInstalled is Cleanup through nft when nft is installed, and
// nothing otherwise (a node without nft has no table of ours).
func CleanupIfInstalled(ctx context.Context) error {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil
	}
	nft, err := New()
	if err != nil {
		return err
	}
	return Cleanup(ctx, nft)
}

// ProxierConfig configures a Proxier.
type ProxierConfig struct {
	Render Config
	// Hostname is the node name; endpoints on it are local.
	Hostname string
	// SyncPeriod is the interval of full syncs (everything rewritten);
	// between them syncs write only what changed.
	SyncPeriod time.Duration
	// MinSyncPeriod is the least time between two syncs.
	MinSyncPeriod time.Duration
}

// Proxier programs kube-proxy's nftables table from Services and
// Endpoints. Informer handlers feed State(); SyncLoop applies changes.
type Proxier struct {
	cfg      ProxierConfig
	nft      knftables.Interface
	ct       conntrack.Interface
	metrics  *metrics.Metrics
	log      *slog.Logger
	state    *proxy.State
	renderer *Renderer
	runner   *runner.Runner

	// Sync goroutine only.
	applied  Applied
	needFull bool
	// needList: the next full sync lists the table's chains and sets to
	// sweep stale ones (at start and after a failure).
	needList bool
	lastFull time.Time

	mu       sync.Mutex
	lastSync time.Time
	last     SyncResult
}

// SyncResult describes one sync, for logs, tests and benchmarks.
type SyncResult struct {
	Full     bool
	Duration time.Duration
	Changed  int // service ports changed since the previous sync
	// Rules counts the table's rules after the sync, Chains its
	// per-service chains, Elements its map elements.
	Rules, Chains, Elements int
	// Stats is what the transaction did.
	Stats Stats
	// Render is the time spent rendering and diffing; the rest of
	// Duration went to nft.
	Render time.Duration
}

// NewProxier returns a proxier over nft and ct (nil: no conntrack
// cleanup).
func NewProxier(cfg ProxierConfig, nft knftables.Interface, ct conntrack.Interface, m *metrics.Metrics, log *slog.Logger) *Proxier {
	if m == nil {
		m = metrics.New(nil)
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.Render.MasqueradeBit == 0 {
		cfg.Render.MasqueradeBit = 14
	}
	p := &Proxier{cfg: cfg, nft: nft, ct: ct, metrics: m, log: log.With("proxier", "nftables"),
		renderer: NewRenderer(cfg.Render), needFull: true, needList: true}
	p.runner = runner.New(p.sync, cfg.MinSyncPeriod, cfg.SyncPeriod, time.Second)
	p.state = proxy.NewState(cfg.Hostname, p.runner.Run)
	return p
}

// State is where informer handlers record changes.
func (p *Proxier) State() *proxy.State { return p.state }

// SyncLoop syncs until ctx ends: at once, then on changes (at most every
// MinSyncPeriod) and every SyncPeriod, on the calling goroutine (whose
// thread's network namespace nft acts in).
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
	ctx := context.Background()
	start := time.Now()
	full := p.needFull || p.applied.Chains == nil || (p.cfg.SyncPeriod > 0 && start.Sub(p.lastFull) >= p.cfg.SyncPeriod)
	ch := p.state.Apply()
	var changed map[proxy.ServicePortName]bool
	if !full {
		changed = ch.Ports
	}
	rs := p.renderer.Render(p.state.Services(), p.state.Endpoints(), changed)
	rendered := time.Now()
	res := SyncResult{Full: full, Changed: len(ch.Ports), Rules: rs.Rules + FixedRules(p.cfg.Render), Chains: len(rs.Chains)}
	for _, els := range rs.Elements {
		res.Elements += len(els)
	}

	fail := func(err error) error {
		// What the table holds is now unknown: rewrite everything next time.
		p.needFull, p.needList, p.applied = true, true, Applied{}
		p.metrics.RestoreFailures.Inc()
		p.log.Error("sync proxy rules failed", "err", err, "full", full)
		return err
	}
	var existing *Existing
	if full && p.needList {
		all, err := p.nft.ListAll(ctx)
		if err != nil && !knftables.IsNotFound(err) {
			return fail(fmt.Errorf("list nftables table ip %s: %w", TableName, err))
		}
		existing = &Existing{Chains: all["chain"], Sets: all["set"]}
	}
	d0 := time.Now()
	tx := p.nft.NewTransaction()
	res.Stats = Diff(tx, p.cfg.Render, rs, &p.applied, full, existing)
	res.Render = rendered.Sub(start) + time.Since(d0)
	if res.Stats.Operations > 0 {
		if err := p.nft.Run(ctx, tx); err != nil {
			return fail(fmt.Errorf("nft transaction (%d operations): %w", res.Stats.Operations, err))
		}
	}
	p.applied.Remember(rs, full)
	p.needFull, p.needList = false, false
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
	p.metrics.RulesTotal.WithLabelValues("nftables").Set(float64(res.Rules))
	p.metrics.ChainsWritten.WithLabelValues("nftables").Observe(float64(res.Stats.ChainsWritten))
	p.metrics.ServicesProxied.Set(float64(len(p.state.Services())))
	if !ch.Since.IsZero() {
		p.metrics.ProgrammingLatency.Observe(end.Sub(ch.Since).Seconds())
	}
	p.mu.Lock()
	p.lastSync, p.last = end, res
	p.mu.Unlock()
	p.log.Debug("synced proxy rules", "full", full, "duration", res.Duration, "changed", res.Changed, "transaction", res.Stats.String())
	return nil
}

// clearConntrack deletes UDP entries that would keep steering packets
// the old way, once the new rules are in (as the iptables mode does).
func (p *Proxier) clearConntrack(ch proxy.Changes) {
	if p.ct == nil {
		return
	}
	var errs []error
	clear := func(f conntrack.Filter) {
		if _, err := p.ct.ClearUDP(f); err != nil {
			errs = append(errs, err)
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
	if err := errors.Join(errs...); err != nil {
		p.log.Warn("clear stale UDP conntrack entries", "err", err)
	}
}
