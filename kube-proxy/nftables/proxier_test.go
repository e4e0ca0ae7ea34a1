package nftables

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/knftables"

	corev1 "minik8s/api/core/v1"
	"minik8s/kube-proxy/conntrack"
)

func newTestProxier(nft knftables.Interface, ct conntrack.Interface) *Proxier {
	return NewProxier(ProxierConfig{Render: testConfig, Hostname: hostname, SyncPeriod: time.Hour}, &NFT{nft}, ct, nil, nil)
}

func feed(p *Proxier, objs ...any) {
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			p.State().UpdateService(nil, o)
		case *corev1.Endpoints:
			p.State().UpdateEndpoints(nil, o)
		}
	}
}

func mustSync(t *testing.T, p *Proxier) SyncResult {
	t.Helper()
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	return p.LastResult()
}

// withEndpoints returns a copy of e with new addresses and resourceVersion.
func withEndpoints(e *corev1.Endpoints, rv string, ips ...string) *corev1.Endpoints {
	c := proto.Clone(e).(*corev1.Endpoints)
	c.Metadata.ResourceVersion = rv
	c.Subsets[0].Addresses = nil
	for _, ip := range ips {
		c.Subsets[0].Addresses = append(c.Subsets[0].Addresses, &corev1.EndpointAddress{Ip: ip})
	}
	return c
}

func tracePod(t *testing.T, f *knftables.Fake, dst string, port int) map[string]float64 {
	t.Helper()
	return probabilities(trace(t, f, tcp(podA.String(), dst, port)))
}

// failing is a fake whose Run can be made to fail.
type failing struct {
	*knftables.Fake
	err error
}

func (f *failing) Run(ctx context.Context, tx *knftables.Transaction) error {
	if f.err != nil {
		return f.err
	}
	return f.Fake.Run(ctx, tx)
}

// TestProxierSyncs: the first sync is full; an endpoint change rewrites
// only its service's chains; a deleted service's objects go.
func TestProxierSyncs(t *testing.T) {
	f := newFake()
	p := newTestProxier(f, nil)
	objs := scenarios["several-services"]
	feed(p, objs...)
	res := mustSync(t, p)
	// 4 service chains; 4 service-ips, 4 cluster-ips, 8 endpoint and 6
	// hairpin elements.
	if !res.Full || res.Chains != 4 || res.Elements != 22 {
		t.Fatalf("first sync: %+v", res)
	}
	if got := tracePod(t, f, "10.96.0.30", 5432); got["10.244.2.9:5432"] != 1 {
		t.Fatalf("db: %v", got)
	}
	last := f.LastTransaction

	// Nothing changed: no transaction.
	if res = mustSync(t, p); res.Stats.Operations != 0 || f.LastTransaction != last {
		t.Fatalf("an idle sync ran a transaction: %+v", res)
	}

	// One endpoint of web replaced: one element of its endpoint list
	// and one of the hairpin set replaced, no chain touched.
	web := objs[1].(*corev1.Endpoints)
	feed(p, withEndpoints(web, "2", "10.244.1.2", "10.244.2.3", "10.244.9.9"))
	res = mustSync(t, p)
	if res.Full || res.Changed != 1 || res.Stats.ChainsWritten != 0 || res.Stats.ChainsDeleted != 0 ||
		res.Stats.ElementsAdded != 2 || res.Stats.ElementsDeleted != 2 {
		t.Fatalf("endpoint change: %+v", res)
	}
	partial := f.LastTransaction.String()
	golden(t, "partial-endpoint-change", partial)
	if strings.Contains(partial, "default/db") || strings.Contains(partial, " services ") {
		t.Fatalf("an endpoint change touched unrelated objects:\n%s", partial)
	}
	got := tracePod(t, f, "10.96.0.20", 80)
	if got["10.244.9.9:8080"] < 0.3 || got["10.244.3.4:8080"] != 0 {
		t.Fatalf("after endpoint change: %v", got)
	}

	// Endpoints gone: the service rejects, its chain is deleted, its
	// service-ips and cluster-ips elements, its 3 endpoints and the 3
	// hairpin elements only it had go.
	p.State().UpdateEndpoints(withEndpoints(web, "3"), nil)
	res = mustSync(t, p)
	if res.Stats.ChainsDeleted != 1 || res.Stats.ElementsDeleted != 8 || res.Stats.ElementsAdded != 1 {
		t.Fatalf("endpoints removed: %+v", res)
	}
	if got := tracePod(t, f, "10.96.0.20", 80); got["REJECT"] != 1 {
		t.Fatalf("without endpoints: %v", got)
	}

	// Service deleted: its reject goes too.
	p.State().UpdateService(objs[0].(*corev1.Service), nil)
	mustSync(t, p)
	if got := tracePod(t, f, "10.96.0.20", 80); got["ACCEPT"] != 1 {
		t.Fatalf("deleted service: %v", got)
	}
	if strings.Contains(f.Dump(), "default/web/") {
		t.Fatalf("objects of the deleted service are left:\n%s", f.Dump())
	}
}

// TestProxierRestartIsIdempotent: a second proxier (a restart) over the
// same table leaves it exactly as it was.
func TestProxierRestartIsIdempotent(t *testing.T) {
	f := newFake()
	p := newTestProxier(f, nil)
	feed(p, scenarios["nodeport"]...)
	feed(p, scenarios["affinity"]...)
	mustSync(t, p)
	first := f.Dump()
	q := newTestProxier(f, nil)
	feed(q, scenarios["nodeport"]...)
	feed(q, scenarios["affinity"]...)
	mustSync(t, q)
	if again := f.Dump(); canon(again) != canon(first) {
		t.Fatalf("restart changed the table:\n%s", lineDiff(first, again))
	}
}

// TestFullSyncRemovesStaleObjects: chains and sets of services that went
// while kube-proxy was down are removed at start.
func TestFullSyncRemovesStaleObjects(t *testing.T) {
	f := newFake()
	old := newTestProxier(f, nil)
	feed(old, scenarios["affinity"]...)
	feed(old, scenarios["nodeport"]...)
	mustSync(t, old)
	p := newTestProxier(f, nil)
	feed(p, scenarios["nodeport"]...)
	res := mustSync(t, p)
	if res.Stats.ChainsDeleted != 3 || res.Stats.SetsDeleted != 2 {
		t.Fatalf("stale objects: %+v", res.Stats)
	}
	fresh := newFake()
	q := newTestProxier(fresh, nil)
	feed(q, scenarios["nodeport"]...)
	mustSync(t, q)
	if a, b := canon(f.Dump()), canon(fresh.Dump()); a != b {
		t.Fatalf("after the sweep the table differs from a fresh one:\n%s", lineDiff(b, a))
	}
}

// TestFailureForcesFullSync: after a failed transaction the proxier no
// longer trusts what it thinks is applied.
func TestFailureForcesFullSync(t *testing.T) {
	f := &failing{Fake: newFake()}
	p := newTestProxier(f, nil)
	feed(p, scenarios["several-services"]...)
	mustSync(t, p)
	feed(p, withEndpoints(scenarios["several-services"][1].(*corev1.Endpoints), "5", "10.244.7.7"))
	f.err = errors.New("boom")
	if err := p.Sync(); err == nil {
		t.Fatal("sync with a failing transaction succeeded")
	}
	f.err = nil
	res := mustSync(t, p)
	if !res.Full {
		t.Fatalf("sync after a failure was not full: %+v", res)
	}
	if got := tracePod(t, f.Fake, "10.96.0.20", 80); got["10.244.7.7:8080"] != 1 {
		t.Fatalf("the failed change was lost: %v", got)
	}
}

// TestCleanupRemovesTheTable: --cleanup deletes the table, and a second
// cleanup (nothing left) is no error. That nothing outside the table is
// touched is checked in a real kernel by the root test.
func TestCleanupRemovesTheTable(t *testing.T) {
	f := newFake()
	p := newTestProxier(f, nil)
	feed(p, scenarios["nodeport"]...)
	mustSync(t, p)
	if f.Table == nil {
		t.Fatal("sync wrote nothing")
	}
	for i := 0; i < 2; i++ {
		if err := Cleanup(context.Background(), &NFT{f}); err != nil {
			t.Fatalf("cleanup %d: %v", i+1, err)
		}
		if d := f.Dump(); d != "" || f.Table != nil {
			t.Fatalf("after cleanup:\n%s", d)
		}
	}
}

// TestStaleUDPConntrack: removing a UDP endpoint clears its conntrack
// entries; a UDP service getting its first endpoint clears the entries
// made while it had none.
func TestStaleUDPConntrack(t *testing.T) {
	ct := &conntrack.Fake{}
	p := newTestProxier(newFake(), ct)
	dns := svc("kube-system", "dns", "ClusterIP", "10.96.0.10", port("dns", 53, "UDP", 0))
	feed(p, dns)
	mustSync(t, p)
	ep := eps("kube-system", "dns", at("10.244.1.7", "10.244.2.7"), epPort("dns", 53, "UDP"))
	feed(p, ep)
	mustSync(t, p)
	want := []conntrack.Filter{{OrigDst: netip.MustParseAddr("10.96.0.10")}}
	if fmt.Sprint(ct.Cleared) != fmt.Sprint(want) {
		t.Fatalf("first endpoints: cleared %+v, want %+v", ct.Cleared, want)
	}
	ct.Cleared = nil
	feed(p, withEndpoints(ep, "2", "10.244.1.7"))
	mustSync(t, p)
	want = []conntrack.Filter{{OrigDst: netip.MustParseAddr("10.96.0.10"), ReplySrc: netip.MustParseAddr("10.244.2.7")}}
	if fmt.Sprint(ct.Cleared) != fmt.Sprint(want) {
		t.Fatalf("endpoint removed: cleared %+v, want %+v", ct.Cleared, want)
	}
}

// TestIncrementalMatchesFull: after any sequence of changes, applied
// one partial transaction at a time, the table equals one made by a
// single full sync of the final state.
func TestIncrementalMatchesFull(t *testing.T) {
	f := newFake()
	p := newTestProxier(f, nil)
	step := func(name string, objs ...any) {
		t.Helper()
		feed(p, objs...)
		res := mustSync(t, p)
		if res.Full && name != "first" {
			t.Fatalf("%s: a full sync", name)
		}
		fresh := newFake()
		q := newTestProxier(fresh, nil)
		q.state = p.state // same services and endpoints
		q.needFull = true
		if err := q.Sync(); err != nil {
			t.Fatal(err)
		}
		if a, b := canon(f.Dump()), canon(fresh.Dump()); a != b {
			t.Fatalf("%s: incremental differs from full:\n%s", name, lineDiff(b, a))
		}
	}
	step("first", scenarios["several-services"]...)
	step("nodeport", scenarios["nodeport"]...)
	step("nodeport loses its endpoints", withEndpoints(scenarios["nodeport"][1].(*corev1.Endpoints), "7"))
	np := proto.Clone(scenarios["nodeport"][0].(*corev1.Service)).(*corev1.Service)
	np.Metadata.ResourceVersion = "8"
	np.Spec.Type, np.Spec.Ports[0].NodePort, np.Spec.ExternalIPs = "ClusterIP", 0, nil
	step("nodeport becomes ClusterIP", np)
	step("endpoints back", withEndpoints(scenarios["nodeport"][1].(*corev1.Endpoints), "9", "10.244.4.4"))
	step("local policy", scenarios["local-policy"]...)
	step("affinity", scenarios["affinity"]...)
	sticky := proto.Clone(scenarios["affinity"][0].(*corev1.Service)).(*corev1.Service)
	sticky.Metadata.ResourceVersion = "10"
	sticky.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds = new(int32(60))
	step("affinity timeout changed", sticky)
	p.State().UpdateService(scenarios["local-policy"][0].(*corev1.Service), nil)
	step("local service deleted")
	step("no endpoints", scenarios["no-endpoints"]...)
	p.State().UpdateService(scenarios["no-endpoints"][0].(*corev1.Service), nil)
	step("no-endpoints service deleted")
}

var (
	dnatMapRule  = regexp.MustCompile(`^add rule ip kube-proxy (\S+) (.* mod \d+)(?: offset (\d+))? map @(endpoints-\w+-\d+)$`)
	endpointElem = regexp.MustCompile(`^add element ip kube-proxy (endpoints-\w+-\d+) \{ (\d+) : (.*) \}$`)
)

// canon orders a dump's map elements (a map has no order; chains' rules
// keep theirs), and names endpoint lists by the chain choosing from them
// instead of by slot: a renderer keeps a service port's slot while it
// exists and a full sync gives them out anew, so the slots of a table
// built step by step and of one built at once differ (and so may the
// number of endpoint maps, empty ones left behind).
func canon(dump string) string {
	lines := strings.Split(dump, "\n")
	owner := map[string]string{} // "map/first key" -> chain
	for _, l := range lines {
		if m := dnatMapRule.FindStringSubmatch(l); m != nil {
			owner[m[4]+"/"+cmp.Or(m[3], "0")] = m[1]
		}
	}
	var rest, elems []string
	for _, l := range lines {
		switch {
		case dnatMapRule.MatchString(l):
			m := dnatMapRule.FindStringSubmatch(l)
			rest = append(rest, "add rule ip kube-proxy "+m[1]+" "+m[2]+" map of "+m[1])
		case endpointElem.MatchString(l):
			m := endpointElem.FindStringSubmatch(l)
			k, _ := strconv.Atoi(m[2])
			first := k - k%EndpointListSize
			elems = append(elems, fmt.Sprintf("endpoint %d of %s: %s", k-first, owner[m[1]+"/"+strconv.Itoa(first)], m[3]))
		case strings.HasPrefix(l, "add map ip kube-proxy "+PrefixEndpointMap):
		case strings.HasPrefix(l, "add element "):
			elems = append(elems, l)
		default:
			rest = append(rest, l)
		}
	}
	slices.Sort(elems)
	return strings.Join(append(rest, elems...), "\n")
}
