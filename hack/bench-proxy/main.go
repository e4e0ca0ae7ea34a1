// Command bench-proxy measures kube-proxy in throwaway network namespaces
// (root only; nothing outside the namespaces it creates is touched) and
// writes a markdown section to -out:
//
//   - rule sync time for 1,000, 5,000 and 10,000 services with two
//     endpoints each: a full sync from empty, a full resync over existing
//     rules (a restart), and one endpoint change (a partial sync);
//   - the baseline: the 1,000-service ruleset written one go-iptables call
//     per rule, the naive way;
//   - network programming latency end to end: an Endpoints update through
//     the apiserver until kube-proxy has the rules applied;
//   - request latency through a service IP (iptables and userspace mode)
//     against the pod IP directly.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/knftables"

	_ "minik8s/api/all"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	apiapp "minik8s/apiserver/app"
	"minik8s/hack/benchpki"
	"minik8s/kube-proxy/app"
	"minik8s/kube-proxy/ipt"
	"minik8s/kube-proxy/ipt/ipttest"
	"minik8s/kube-proxy/iptables"
	"minik8s/kube-proxy/nettest"
	"minik8s/kube-proxy/nftables"
	"minik8s/kube-proxy/proxy"
	"minik8s/test/etcdtest"
)

func main() {
	out := flag.String("out", "_output/bench/bench-proxy.md", "markdown file to write")
	sizes := flag.String("sizes", "1000,5000,10000", "service counts for the sync benchmark")
	baseline := flag.Int("baseline", 1000, "services in the per-rule baseline")
	changes := flag.Int("changes", 20, "endpoint changes measured per size")
	requests := flag.Int("requests", 2000, "requests per latency measurement")
	e2eServices := flag.Int("e2e-services", 1000, "services in the end-to-end programming latency run")
	backends := flag.String("backends", "nft,legacy,nftables,nftables-cli,nftables-hybrid",
		"rows of the sync table: the iptables backends (nft, legacy), the nftables mode (nftables: its default backend, every transaction one netlink batch) and the alternatives measured against it (nftables-cli: every transaction through nft -f; nftables-hybrid: full syncs through nft -f, changes by netlink)")
	syncOnly := flag.Bool("sync-only", false, "measure only the rule sync table")
	skipE2E := flag.Bool("skip-e2e", false, "skip the end-to-end programming latency")
	skipBaseline := flag.Bool("skip-baseline", false, "skip the per-rule iptables baseline (11,000 iptables processes)")
	compareMax := flag.Int("compare-max", 2000, "largest service count for the nftables-cli and nftables-hybrid comparison rows")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	var b strings.Builder
	err := run(&b, *sizes, strings.Split(*backends, ","), *syncOnly, *compareMax, *skipBaseline, *skipE2E, *baseline, *changes, *requests, *e2eServices)
	if err != nil {
		fmt.Fprintf(&b, "\n**The run failed:** %v\n", err)
	}
	fmt.Print(b.String())
	if werr := writeFile(*out, b.String()); werr != nil {
		fmt.Fprintln(os.Stderr, "bench-proxy:", werr)
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-proxy:", err)
		os.Exit(1)
	}
}

func writeFile(out, s string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, []byte(s), 0o644)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

func run(b *strings.Builder, sizesFlag string, backends []string, syncOnly bool, compareMax int, skipBaseline, skipE2E bool, baselineN, changes, requests, e2eN int) error {
	ver, _ := exec.Command("iptables", "--version").Output()
	fmt.Fprintf(b, "## kube-proxy\n\nProduced by `go run ./hack/bench-proxy` (part of `make bench`) on %s, %s/%s, %d CPUs, %s, %s.\n",
		time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), strings.TrimSpace(string(ver)))
	if why := nettest.Skip(); why != "" {
		fmt.Fprintf(b, "\nSkipped: %s.\n", why)
		return nil
	}
	b.WriteString("Every iptables figure is measured in a network namespace made for it and deleted afterwards.\n")
	var sizes []int
	for _, f := range strings.Split(sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-sizes: %q", f)
		}
		sizes = append(sizes, n)
	}

	// 1. Rule sync.
	b.WriteString("\n### Rule sync (iptables and nftables modes, 2 endpoints per service)\n\n")
	b.WriteString("| backend | services | rule lines (nat + filter) | chains | full sync from empty (of it rendering) | restart: full sync with iptables-save | periodic full resync | restore input | one endpoint change p50 (of it rendering) | p99 / max | chains rewritten by the change |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	full := map[int]time.Duration{}
	var worstChange time.Duration
	nftFull, nftChange := map[int]time.Duration{}, map[int]time.Duration{}
	for _, backend := range backends {
		for _, n := range sizes {
			if (backend == backendNFTablesCLI || backend == backendNFTablesHybrid) && n > compareMax {
				continue
			}
			fmt.Fprintf(os.Stderr, "sync benchmark, %s, %d services\n", backend, n)
			var r *syncResult
			var err error
			if isNFTables(backend) {
				r, err = nftSyncBench(n, changes, backend)
			} else {
				r, err = syncBench(n, changes, backend)
			}
			if err != nil {
				return err
			}
			switch backend {
			case ipt.BackendNFT:
				full[n] = r.full
				worstChange = max(worstChange, pct(r.changes, .5))
			case backendNFTables:
				nftFull[n], nftChange[n] = r.full, pct(r.changes, .5)
			}
			fmt.Fprintf(b, "| %s | %d | %d | %d | %s (%s) | %s | %s | %.1f MB | %s (%s) | %s / %s | %s |\n", backend, n, r.rules, r.chains, ms(r.full), ms(r.fullRender), ms(r.resync), ms(r.periodic),
				float64(r.bytes)/1e6, ms(pct(r.changes, .5)), ms(pct(r.changeRender, .5)), ms(pct(r.changes, .99)), ms(pct(r.changes, 1)), r.written)
		}
	}

	if syncOnly {
		return nil
	}

	// 2. The naive baseline.
	var calls int
	var naive, restore time.Duration
	if !skipBaseline {
		fmt.Fprintf(os.Stderr, "per-rule baseline, %d services\n", baselineN)
		var err error
		calls, naive, err = perRuleBaseline(baselineN)
		if err != nil {
			return err
		}
		var ok bool
		restore, ok = full[baselineN]
		if !ok {
			r, err := syncBench(baselineN, 0, ipt.BackendNFT)
			if err != nil {
				return err
			}
			restore = r.full
		}
		fmt.Fprintf(b, "\nBaseline, the naive way: the same %d-service ruleset written with one go-iptables call per chain and rule (%d calls, each an `iptables` process): **%s**, against %s for one iptables-restore per table - **%.0fx** faster.\n",
			baselineN, calls, ms(naive), ms(restore), float64(naive)/float64(restore))
	}

	// 3. End to end.
	b.WriteString("\n### Network programming latency\n\nAn Endpoints update sent to the apiserver (real etcd) until kube-proxy (default --min-sync-period 1s) has applied the rules, with " + strconv.Itoa(e2eN) + " services programmed, one update every 1.5 s:\n\n| mode | updates | p50 | p99 | max |\n|---|---|---|---|---|\n")
	e2e := map[string][]time.Duration{}
	for _, mode := range []string{app.ModeIPTables, app.ModeNFTables} {
		if skipE2E {
			break
		}
		fmt.Fprintf(os.Stderr, "end-to-end programming latency, %s mode, %d services\n", mode, e2eN)
		lat, err := e2eBench(e2eN, changes, mode)
		if err != nil {
			return err
		}
		e2e[mode] = lat
		fmt.Fprintf(b, "| %s | %d | **%s** | %s | %s |\n", mode, len(lat), ms(pct(lat, .5)), ms(pct(lat, .99)), ms(pct(lat, 1)))
	}
	lat := e2e[app.ModeIPTables]

	// 4. Request latency.
	fmt.Fprintf(os.Stderr, "request latency, %d requests per path\n", requests)
	rl, err := requestBench(requests)
	if err != nil {
		return err
	}
	b.WriteString("\n### Request latency\n\nOne HTTP GET per new TCP connection from the node's namespace to a pod on its bridge, sequential; each mode's service path is measured in rounds alternating with the pod IP directly, and compared with the direct requests of its own rounds, so drift hits both alike (the pod IP row is the first mode's).\n\n| path | requests | p50 | p90 | p99 | p50 vs pod IP |\n|---|---|---|---|---|---|\n")
	// vsPod: p50 against the direct requests of the same rounds.
	vsPod := func(name string) float64 {
		d := rl["pod IP, "+name]
		if name == "pod IP directly" || len(d) == 0 {
			return 0
		}
		return 100 * (float64(pct(rl[name], .5))/float64(pct(d, .5)) - 1)
	}
	for _, name := range []string{"pod IP directly", "service IP, iptables mode", "service IP, nftables mode", "service IP, userspace mode"} {
		l := rl[name]
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %+.1f%% |\n", name, len(l), us(pct(l, .5)), us(pct(l, .9)), us(pct(l, .99)), vsPod(name))
	}

	ipt10k, have10k := full[10000]
	b.WriteString("\nTargets: ")
	if have10k {
		fmt.Fprintf(b, "full sync of 10,000 services < 2 s (%s); ", ms(ipt10k))
	}
	fmt.Fprintf(b, "one endpoint change < 100 ms (worst p50 %s); ", ms(worstChange))
	if naive > 0 {
		fmt.Fprintf(b, ">= 50x faster than per-rule at %d services (%.0fx); ", baselineN, float64(naive)/float64(restore))
	}
	fmt.Fprintf(b, "end-to-end < 1 s (p99 %s); iptables mode adds < 5%% to request latency (%+.1f%% at p50).\n",
		ms(pct(lat, .99)), vsPod("service IP, iptables mode"))
	if len(nftFull) > 0 {
		b.WriteString("\nTargets for the nftables mode: ")
		if d, ok := nftFull[10000]; ok {
			fmt.Fprintf(b, "full sync of 10,000 services < 1 s (%s); ", ms(d))
		}
		if c10, ok := nftChange[10000]; ok {
			fmt.Fprintf(b, "one endpoint change p50 < 20 ms at 10,000 services (%s)", ms(c10))
			if c1, ok := nftChange[1000]; ok {
				fmt.Fprintf(b, " and within 2x of 1,000 services (%s: %.1fx)", ms(c1), float64(c10)/float64(c1))
			}
			b.WriteString("; ")
		}
		fmt.Fprintf(b, "end-to-end p99 < 100 ms (%s); request latency within 5%% of the pod IP at p50 (%+.1f%%).\n",
			ms(pct(e2e[app.ModeNFTables], .99)), vsPod("service IP, nftables mode"))
	}
	b.WriteString(`
Notes:
- A full sync renders every chain and applies it with one ` + "`iptables-restore --noflush`" + ` per table: "from empty" is the first sync on a fresh node; a restart also lists the kernel's chains with iptables-save to sweep stale ones; the periodic resync (every --sync-period) flushes and rewrites every chain and checks the jumps with go-iptables.
- The nft backend (what ` + "`iptables`" + ` is here) is slow with many chains: iptables-nft 1.8.9 spends about 60% of a large restore in strcmp, walking its name-sorted chain list for every rule (measured with perf: 30,000 rules appended to a chain named AAA-TOP take 0.57 s, to ZZZ-TOP 2.5 s, with 30,000 other chains present). Cost per rule grows with the number of chains, so a full sync is quadratic in the number of services; declaring chains in descending order (each insert then lands at the head) halved it. Every commit also makes the kernel validate the whole graph reachable from the built-in chains (about 50 ms per entry point at 10,000 services), which is most of a partial sync. The legacy backend (` + "`--iptables-backend legacy`" + `) has the opposite profile: full syncs 10x faster, but every change rewrites the whole table. Above 1000 endpoints the per-service chains carry no comments (as in Kubernetes), a quarter less for the kernel to validate.
- A partial sync re-renders only the service ports that changed and writes only the chains whose rules differ: an endpoint change rewrites that service's KUBE-SVC chain and adds or deletes KUBE-SEP chains; KUBE-SERVICES and every other service's chains are not in the input. The last column shows the chains of one change (rewritten + deleted).
- The anchor for the nft backend was about 54k rule lines/s for iptables-restore; Kubernetes' network programming latency SLO at 5000 nodes is 5-13 s p50, mostly sync periods.
- Request latency includes connection setup, where the NAT decision is made; for the userspace mode it includes the proxy's accept, the second connection and the copy.
- nftables rows: one table of kube-proxy's own (` + "`ip kube-proxy`" + `); "rule lines" are its rules, "chains" its chains, "restore input" the size of the full sync as ` + "`nft -f`" + ` input; the last column counts what one endpoint change wrote. The mode's default backend (` + "`nftables`" + `) sends every transaction as one netlink batch (encoded by github.com/google/nftables, sent by kube-proxy asking the kernel to acknowledge only its last message); ` + "`nftables-cli`" + ` sends every transaction through ` + "`nft -f`" + ` (knftables) and ` + "`nftables-hybrid`" + ` (the default until netlink stopped asking for an acknowledgement and an echo of every message) only the full syncs, measured up to -compare-max services. The nft CLI parses text and reads the whole table back before every transaction, so its one-endpoint change grows with the table.
- An endpoint change in the nftables mode (services without session affinity) changes elements only: the service chain DNATs with ` + "`meta l4proto tcp dnat to numgen random mod N offset K map @endpoints-tcp-S`" + `, a plain (non-verdict) map of address . port shared by 64 services (off-cluster sources are marked for masquerade by one rule in the services chain, a lookup in a cluster-ips set), and hairpin traffic is found in postrouting by ` + "`ip saddr . ip daddr @hairpin-endpoints`" + `. Replacing an endpoint deletes and adds one element of each (the last column); the kernel commits element changes of non-verdict maps and sets without walking the chain graph, which it does after any transaction adding a rule or a verdict-map element with a jump, goto or NAT (50-70 ms at 10,000 services with the former chain-per-endpoint layout). A change in the number of endpoints also rewrites the service chain's modulus rule, and pays that walk.
- ClientIP-affinity services keep endpoint chains (one affinity set and chain per endpoint); with up to 8 endpoints they choose with a cascade of ` + "`numgen random mod n-i == 0 goto`" + ` rules, larger ones with one ` + "`numgen random mod n vmap { ... }`" + ` lookup: the kernel binds each inline map by walking the whole transaction, so many inline maps in one full sync cost O(n^2) in the kernel.
`)
	return nil
}

type syncResult struct {
	rules, chains int
	bytes         int
	full, resync  time.Duration
	periodic      time.Duration
	changes       []time.Duration
	changeRender  []time.Duration
	fullRender    time.Duration
	written       string
}

// serviceObjects makes n services with two endpoints each.
func serviceObjects(n int) ([]*corev1.Service, []*corev1.Endpoints) {
	svcs := make([]*corev1.Service, n)
	eps := make([]*corev1.Endpoints, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%05d", i)
		ip := netip.AddrFrom4([4]byte{10, 96, byte(1 + i/250), byte(1 + i%250)})
		svcs[i] = &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "bench", Name: name, ResourceVersion: "1"},
			Spec: &corev1.ServiceSpec{Type: "ClusterIP", ClusterIP: ip.String(), Ports: []*corev1.ServicePort{{Name: "http", Port: 80, Protocol: "TCP"}}}}
		eps[i] = endpointsOf("bench", name, "1", i, 0)
	}
	return svcs, eps
}

// endpointsOf gives service i two endpoints; gen shifts the second.
func endpointsOf(ns, name, rv string, i, gen int) *corev1.Endpoints {
	a := netip.AddrFrom4([4]byte{10, 244, byte(i / 200), byte(1 + i%200)})
	bIP := netip.AddrFrom4([4]byte{10, 245, byte(gen % 250), byte(1 + i%250)})
	return &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv},
		Subsets: []*corev1.EndpointSubset{{
			Addresses: []*corev1.EndpointAddress{{Ip: a.String()}, {Ip: bIP.String()}},
			Ports:     []*corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}},
		}}}
}

var renderCfg = iptables.Config{ClusterCIDR: netip.MustParsePrefix(nettest.PodCIDR), MasqueradeBit: 14}

func newProxier(r ipt.Interface) *iptables.Proxier {
	return iptables.NewProxier(iptables.ProxierConfig{Render: renderCfg, Hostname: "bench", SyncPeriod: time.Hour}, r, nil, nil, slog.Default())
}

// inNS runs fn inside a new throwaway namespace.
func inNS(suffix string, fn func(ns *nettest.NS) error) error {
	env := &nettest.Env{}
	defer func() { _ = env.Close() }()
	ns, err := env.NewNS(suffix)
	if err != nil {
		return err
	}
	return ns.Do(func() error { return fn(ns) })
}

func syncBench(n, changes int, backend string) (*syncResult, error) {
	res := &syncResult{}
	err := inNS(fmt.Sprintf("sync%d", n), func(*nettest.NS) error {
		r, err := ipt.NewBackend(backend)
		if err != nil {
			return err
		}
		svcs, eps := serviceObjects(n)
		feed := func(p *iptables.Proxier) {
			for i := range svcs {
				p.State().UpdateService(nil, svcs[i])
				p.State().UpdateEndpoints(nil, eps[i])
			}
		}
		p := newProxier(r)
		feed(p)
		t0 := time.Now()
		if err := p.Sync(); err != nil {
			return err
		}
		res.full = time.Since(t0)
		lr := p.LastResult()
		res.fullRender = lr.Render
		res.rules, res.bytes = lr.NATRules+lr.FilterRule, lr.RestoreBytes
		res.chains = lr.NATWritten + lr.FilterWritten

		// A restart: a new proxier over the same tables.
		q := newProxier(r)
		feed(q)
		t0 = time.Now()
		if err := q.Sync(); err != nil {
			return err
		}
		res.resync = time.Since(t0)

		// A periodic full resync: everything rewritten, no iptables-save.
		z := iptables.NewProxier(iptables.ProxierConfig{Render: renderCfg, Hostname: "bench", SyncPeriod: time.Nanosecond}, r, nil, nil, slog.Default())
		feed(z)
		if err := z.Sync(); err != nil {
			return err
		}
		t0 = time.Now()
		if err := z.Sync(); err != nil {
			return err
		}
		res.periodic = time.Since(t0)
		if !z.LastResult().Full {
			return errors.New("the periodic resync was not full")
		}

		for c := 0; c < changes; c++ {
			i := (c * 7919) % n
			prev := eps[i]
			eps[i] = endpointsOf("bench", svcs[i].Metadata.Name, strconv.Itoa(c+2), i, c+1)
			q.State().UpdateEndpoints(prev, eps[i])
			t0 = time.Now()
			if err := q.Sync(); err != nil {
				return err
			}
			res.changes = append(res.changes, time.Since(t0))
			lr := q.LastResult()
			res.changeRender = append(res.changeRender, lr.Render)
			if lr.Full {
				return errors.New("an endpoint change caused a full sync")
			}
			res.written = fmt.Sprintf("%d nat + %d filter rewritten, %d deleted (%d bytes)", lr.NATWritten, lr.FilterWritten, lr.Deleted, lr.RestoreBytes)
		}
		return nil
	})
	return res, err
}

// perRuleBaseline writes the n-service ruleset the naive way: one
// go-iptables call per chain and per rule, plus the jumps.
func perRuleBaseline(n int) (int, time.Duration, error) {
	s := proxy.NewState("bench", nil)
	svcs, eps := serviceObjects(n)
	for i := range svcs {
		s.UpdateService(nil, svcs[i])
		s.UpdateEndpoints(nil, eps[i])
	}
	s.Apply()
	rs := iptables.NewRenderer(renderCfg).Render(s.Services(), s.Endpoints(), nil)
	text := string(iptables.Diff(rs.Filter, nil, nil, true, nil).Data) + string(iptables.Diff(rs.NAT, nil, nil, true, nil).Data)
	tables, err := ipttest.Parse(text)
	if err != nil {
		return 0, 0, err
	}
	calls := 0
	var elapsed time.Duration
	err = inNS("naive", func(*nettest.NS) error {
		r, err := ipt.NewBackend(ipt.BackendNFT)
		if err != nil {
			return err
		}
		g := r.IPTables()
		t0 := time.Now()
		for _, tn := range []string{"filter", "nat"} {
			t := tables[tn]
			names := t.ChainNames()
			for _, c := range names {
				if !t.Chains[c].Builtin {
					if err := g.NewChain(tn, c); err != nil {
						return err
					}
					calls++
				}
			}
			for _, c := range names {
				for _, rule := range t.Chains[c].Rules {
					if err := g.Append(tn, c, rule.Args...); err != nil {
						return fmt.Errorf("append %s: %w", rule, err)
					}
					calls++
				}
			}
		}
		for _, j := range iptables.Jumps {
			if err := g.Insert(string(j.Table), j.Chain, 1, j.Rule...); err != nil {
				return err
			}
			calls++
		}
		elapsed = time.Since(t0)
		return nil
	})
	return calls, elapsed, err
}

// startAPIServer runs etcd and an apiserver (TLS, client certificates);
// stop ends both. kubeconfig and tc are the admin's.
func startAPIServer() (addr, kubeconfig string, tc *tls.Config, stop func(), err error) {
	dir, err := os.MkdirTemp("", "minik8s-bench-proxy-")
	if err != nil {
		return "", "", nil, nil, err
	}
	etcd, err := etcdtest.Run(1, dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", "", nil, nil, err
	}
	bp, err := benchpki.New()
	if err != nil {
		etcd.Stop()
		os.RemoveAll(dir)
		return "", "", nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- apiapp.Run(ctx, bp.Secure(apiapp.Options{EtcdServers: etcd.Endpoints(), BindAddress: "127.0.0.1", ServiceClusterIPRange: "10.96.0.0/16",
			// No service-account controller creates the "default" accounts.
			DisableAdmissionPlugins: "ServiceAccount"}), ready)
	}()
	stop = func() { cancel(); <-done; etcd.Stop(); os.RemoveAll(dir); bp.Close() }
	select {
	case addr = <-ready:
		kubeconfig, tc, err = bp.Kubeconfig(addr)
		if err != nil {
			stop()
			return "", "", nil, nil, err
		}
		return addr, kubeconfig, tc, stop, nil
	case err := <-done:
		etcd.Stop()
		os.RemoveAll(dir)
		bp.Close()
		return "", "", nil, nil, err
	}
}

// runProxy runs kube-proxy in ns against the apiserver until stop.
func runProxy(ns *nettest.NS, server, kubeconfig, mode string) (*app.ProxyServer, func(), error) {
	o := app.NewOptions()
	o.Server, o.HostnameOverride, o.ProxyMode = server, "bench", mode
	o.Kubeconfig = kubeconfig
	o.HealthzBindAddress, o.MetricsBindAddress = "", ""
	s, err := app.NewProxyServer(*o, app.Deps{Dialer: ns})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ns.Go(func() { done <- s.Run(ctx) })
	stop := func() { cancel(); <-done; _ = ns.Do(func() error { return app.Cleanup(nil) }) }
	deadline := time.Now().Add(60 * time.Second)
	for s.Proxier().LastSync().IsZero() {
		if time.Now().After(deadline) {
			stop()
			return nil, nil, errors.New("kube-proxy did not sync within 60s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s, stop, nil
}

// e2eBench: Endpoints updates through the apiserver until rules applied.
func e2eBench(n, changes int, mode string) ([]time.Duration, error) {
	addr, kubeconfig, tc, stopAPI, err := startAPIServer()
	if err != nil {
		return nil, err
	}
	defer stopAPI()
	c, err := client.New([]string{addr}, client.WithTLS(tc))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := client.For[*corev1.Namespace](c).Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "bench"}}); err != nil {
		return nil, err
	}
	svcR, epR := client.For[*corev1.Service](c), client.For[*corev1.Endpoints](c)
	svcs, eps := serviceObjects(n)
	for i := range svcs {
		svcs[i].Metadata.ResourceVersion, eps[i].Metadata.ResourceVersion = "", ""
		svcs[i].Spec.ClusterIP = "" // allocated
		if _, err := svcR.Create(ctx, svcs[i]); err != nil {
			return nil, err
		}
		if _, err := epR.Create(ctx, eps[i]); err != nil {
			return nil, err
		}
	}
	env := &nettest.Env{}
	defer func() { _ = env.Close() }()
	ns, err := env.NewNS("e2e")
	if err != nil {
		return nil, err
	}
	s, stop, err := runProxy(ns, addr, kubeconfig, mode)
	if err != nil {
		return nil, err
	}
	defer stop()
	var lat []time.Duration
	for k := 0; k < changes; k++ {
		time.Sleep(1500 * time.Millisecond)
		i := (k * 7919) % n
		before := s.Proxier().LastSync()
		t0 := time.Now()
		if _, err := epR.Update(ctx, endpointsOf("bench", svcs[i].Metadata.Name, "", i, k+1)); err != nil {
			return nil, err
		}
		for s.Proxier().LastSync() == before {
			if time.Since(t0) > 30*time.Second {
				return nil, errors.New("no sync within 30s of an endpoint change")
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, s.Proxier().LastSync().Sub(t0))
	}
	return lat, nil
}

// requestBench measures request latency to one pod directly and through
// its service in both modes.
func requestBench(requests int) (map[string][]time.Duration, error) {
	topo, err := nettest.NewTopology(1)
	if err != nil {
		return nil, err
	}
	defer func() { _ = topo.Close() }()
	pod := topo.Pods[0]
	stopHTTP, err := pod.ServeHTTP(8080, "pod-0")
	if err != nil {
		return nil, err
	}
	defer stopHTTP()
	addr, kubeconfig, tc, stopAPI, err := startAPIServer()
	if err != nil {
		return nil, err
	}
	defer stopAPI()
	c, err := client.New([]string{addr}, client.WithTLS(tc))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx := context.Background()
	svc, err := client.For[*corev1.Service](c).Create(ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: &corev1.ServiceSpec{Ports: []*corev1.ServicePort{{Port: 80}}}})
	if err != nil {
		return nil, err
	}
	if _, err := client.For[*corev1.Endpoints](c).Create(ctx, &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Subsets: []*corev1.EndpointSubset{{Addresses: []*corev1.EndpointAddress{{Ip: pod.IP}}, Ports: []*corev1.EndpointPort{{Port: 8080}}}}}); err != nil {
		return nil, err
	}
	direct := fmt.Sprintf("http://%s:8080/", pod.IP)
	viaSvc := fmt.Sprintf("http://%s:80/", svc.Spec.ClusterIP)
	out := map[string][]time.Duration{}
	hc := topo.Node.HTTPClient(5 * time.Second)
	// measure alternates rounds of the direct path and the service path.
	measure := func(name string) error {
		const rounds = 10
		per := max(requests/rounds, 1)
		for r := 0; r < rounds; r++ {
			// The direct path is measured in every mode's rounds, and each
			// mode is compared with the direct requests of its own rounds
			// (the machine's load drifts between modes).
			for _, p := range []struct{ name, url string }{{"pod IP, " + name, direct}, {name, viaSvc}} {
				for i := 0; i < per; i++ {
					t0 := time.Now()
					resp, err := hc.Get(p.url)
					if err != nil {
						return fmt.Errorf("%s: %w", p.name, err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						return fmt.Errorf("%s: %s", p.name, resp.Status)
					}
					out[p.name] = append(out[p.name], time.Since(t0))
				}
			}
		}
		return nil
	}
	for _, mode := range []struct{ mode, name string }{{app.ModeIPTables, "service IP, iptables mode"}, {app.ModeNFTables, "service IP, nftables mode"}, {app.ModeUserspace, "service IP, userspace mode"}} {
		_, stop, err := runProxy(topo.Node, addr, kubeconfig, mode.mode)
		if err != nil {
			return nil, err
		}
		// Warm up (first connections, ARP).
		for i := 0; i < 50; i++ {
			if _, err := nettest.Get(hc, viaSvc); err != nil {
				stop()
				return nil, fmt.Errorf("%s warm-up: %w", mode.name, err)
			}
			_, _ = nettest.Get(hc, direct)
		}
		err = measure(mode.name)
		stop()
		if err != nil {
			return nil, err
		}
		if out["pod IP directly"] == nil {
			out["pod IP directly"] = out["pod IP, "+mode.name]
		}
	}
	return out, nil
}

// The nftables mode's rows in the sync table: the default backend
// (netlink), the nft CLI (through knftables) and the hybrid of the two it
// was measured against.
const (
	backendNFTables       = "nftables"
	backendNFTablesCLI    = "nftables-cli"
	backendNFTablesHybrid = "nftables-hybrid"
)

func isNFTables(backend string) bool { return strings.HasPrefix(backend, backendNFTables) }

func newNFTBackend(backend string) (nftables.Backend, error) {
	switch backend {
	case backendNFTablesCLI:
		return nftables.NewNFT()
	case backendNFTablesHybrid:
		cli, err := nftables.NewNFT()
		if err != nil {
			return nil, err
		}
		return &nftables.Hybrid{Netlink: &nftables.Netlink{}, CLI: cli}, nil
	}
	return nftables.New()
}

var nftCfg = nftables.Config{ClusterCIDR: netip.MustParsePrefix(nettest.PodCIDR), MasqueradeBit: 14}

func newNFTProxier(nft nftables.Backend, period time.Duration) *nftables.Proxier {
	return nftables.NewProxier(nftables.ProxierConfig{Render: nftCfg, Hostname: "bench", SyncPeriod: period}, nft, nil, nil, slog.Default())
}

// nftInputBytes is the size of the full sync's nft input for svcs/eps.
func nftInputBytes(svcs []*corev1.Service, eps []*corev1.Endpoints) int {
	s := proxy.NewState("bench", nil)
	for i := range svcs {
		s.UpdateService(nil, svcs[i])
		s.UpdateEndpoints(nil, eps[i])
	}
	s.Apply()
	rs := nftables.NewRenderer(nftCfg).Render(s.Services(), s.Endpoints(), nil)
	tx := knftables.NewFake(knftables.IPv4Family, nftables.TableName).NewTransaction()
	nftables.Diff(nftables.TxWriter{Tx: tx}, nftCfg, rs, &nftables.Applied{}, true, nil)
	return len(tx.String())
}

// nftSyncBench is syncBench for the nftables mode: one nft transaction
// per sync, in a throwaway namespace.
func nftSyncBench(n, changes int, backend string) (*syncResult, error) {
	res := &syncResult{}
	svcs, eps := serviceObjects(n)
	res.bytes = nftInputBytes(svcs, eps)
	err := inNS(fmt.Sprintf("nft%d", n), func(*nettest.NS) error {
		nft, err := newNFTBackend(backend)
		if err != nil {
			return err
		}
		feed := func(p *nftables.Proxier) {
			for i := range svcs {
				p.State().UpdateService(nil, svcs[i])
				p.State().UpdateEndpoints(nil, eps[i])
			}
		}
		p := newNFTProxier(nft, time.Hour)
		feed(p)
		t0 := time.Now()
		if err := p.Sync(); err != nil {
			return err
		}
		res.full = time.Since(t0)
		lr := p.LastResult()
		res.fullRender = lr.Render
		res.rules, res.chains = lr.Rules, lr.Chains+12 // the fixed chains

		// A restart: a new proxier lists the table and rewrites it.
		q := newNFTProxier(nft, time.Hour)
		feed(q)
		t0 = time.Now()
		if err := q.Sync(); err != nil {
			return err
		}
		res.resync = time.Since(t0)

		// A periodic full resync: everything rewritten, nothing listed.
		z := newNFTProxier(nft, time.Nanosecond)
		feed(z)
		if err := z.Sync(); err != nil {
			return err
		}
		t0 = time.Now()
		if err := z.Sync(); err != nil {
			return err
		}
		res.periodic = time.Since(t0)
		if !z.LastResult().Full {
			return errors.New("the periodic resync was not full")
		}

		for c := 0; c < changes; c++ {
			i := (c * 7919) % n
			prev := eps[i]
			eps[i] = endpointsOf("bench", svcs[i].Metadata.Name, strconv.Itoa(c+2), i, c+1)
			q.State().UpdateEndpoints(prev, eps[i])
			t0 = time.Now()
			if err := q.Sync(); err != nil {
				return err
			}
			res.changes = append(res.changes, time.Since(t0))
			lr := q.LastResult()
			res.changeRender = append(res.changeRender, lr.Render)
			if lr.Full {
				return errors.New("an endpoint change caused a full sync")
			}
			res.written = lr.Stats.String()
		}
		return nil
	})
	return res, err
}
