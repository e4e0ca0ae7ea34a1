package nftables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"sigs.k8s.io/knftables"

	"minik8s/kube-proxy/conntrack"
	"minik8s/kube-proxy/metrics"
	"minik8s/kube-proxy/proxy"
	"minik8s/kube-proxy/runner"
)

// Backend applies transactions to kube-proxy's table, in the network
// namespace of the calling thread.
type Backend interface {
	// NewTx starts a transaction; full says it rewrites the whole table
	// (a backend may take another path for those).
	NewTx(full bool) Tx
	// Run applies tx atomically: all of it or, on error, nothing.
	Run(ctx context.Context, tx Tx) error
	// List names the chains and sets the table has (none when there is
	// no table).
	List(ctx context.Context) (Existing, error)
	// DeleteTable removes the table; a missing table is no error.
	DeleteTable(ctx context.Context) error
}

// Tx is a transaction being written.
type Tx interface {
	Writer
}

// NFT is the Backend over knftables: the nft CLI (nft -f, one process
// per transaction) or knftables.Fake in tests. The nft CLI reads the
// whole table back before every transaction, so its cost grows with the
// number of services even for a one-element change (measured in
// docs/benchmarks.md); the default backend is Netlink.
type NFT struct{ NFT knftables.Interface }

// NewNFT returns the knftables backend over the nft binary.
func NewNFT() (*NFT, error) {
	nft, err := knftables.New(knftables.IPv4Family, TableName)
	if err != nil {
		return nil, err
	}
	return &NFT{nft}, nil
}

type nftTx struct {
	TxWriter
}

// NewTx implements Backend.
func (b *NFT) NewTx(bool) Tx { return nftTx{TxWriter{b.NFT.NewTransaction()}} }

// Run implements Backend.
func (b *NFT) Run(ctx context.Context, tx Tx) error { return b.NFT.Run(ctx, tx.(nftTx).Tx) }

// List implements Backend.
func (b *NFT) List(ctx context.Context) (Existing, error) {
	all, err := b.NFT.ListAll(ctx)
	if err != nil && !knftables.IsNotFound(err) {
		return Existing{}, err
	}
	ex := Existing{Chains: all["chain"], Sets: all["set"]}
	for _, m := range all["map"] {
		if IsEndpointMap(m) {
			ex.Maps = append(ex.Maps, m)
		}
	}
	return ex, nil
}

// DeleteTable implements Backend.
func (b *NFT) DeleteTable(ctx context.Context) error {
	tx := b.NFT.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := b.NFT.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return err
	}
	return nil
}

// Cleanup deletes kube-proxy's table (everything the nftables mode made);
// a missing table is no error.
func Cleanup(ctx context.Context, b Backend) error {
	if err := b.DeleteTable(ctx); err != nil {
		return fmt.Errorf("delete nftables table ip %s: %w", TableName, err)
	}
	return nil
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
	nft      Backend
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
func NewProxier(cfg ProxierConfig, nft Backend, ct conntrack.Interface, m *metrics.Metrics, log *slog.Logger) *Proxier {
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
		ex, err := p.nft.List(ctx)
		if err != nil {
			return fail(fmt.Errorf("list nftables table ip %s: %w", TableName, err))
		}
		existing = &ex
	}
	d0 := time.Now()
	tx := p.nft.NewTx(full)
	res.Stats = Diff(tx, p.cfg.Render, rs, &p.applied, full, existing)
	res.Render = rendered.Sub(start) + time.Since(d0)
	if res.Stats.Operations > 0 {
		if err := p.nft.Run(ctx, tx); err != nil {
			return fail(fmt.Errorf("nft transaction (%d changes): %w", res.Stats.Operations, err))
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
