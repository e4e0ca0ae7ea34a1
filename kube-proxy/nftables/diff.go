package nftables

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/knftables"
)

// Writer receives the operations of one transaction, in order. The
// knftables adapter (TxWriter) turns them into nft input; the netlink
// backend into netlink messages. Rules and map elements are nft syntax
// as rendered here.
type Writer interface {
	AddTable()
	// AddMap declares a map or set holding elements.
	AddMap(m MapDef)
	FlushMap(name string)
	// AddSet declares an affinity set: ipv4_addr, dynamic, timeout.
	AddSet(name string, timeout time.Duration)
	// AddChain declares a chain; base is nil for a regular chain.
	AddChain(name string, base *BaseChain)
	FlushChain(name string)
	AddRule(chain, rule string)
	AddElement(m string, e Element)
	DeleteElement(m string, e Element)
	DeleteChain(name string)
	DeleteSet(name string)
}

// BaseChain is where a base chain hooks in.
type BaseChain struct {
	Type     knftables.BaseChainType
	Hook     knftables.BaseChainHook
	Priority int
}

func (c fixedChain) base() *BaseChain {
	if c.hook == "" {
		return nil
	}
	p, err := knftables.ParsePriority(knftables.IPv4Family, string(c.priority))
	if err != nil {
		panic(err) // the fixed chains' priorities are constants
	}
	return &BaseChain{Type: c.typ, Hook: c.hook, Priority: p}
}

// TxWriter writes the operations into a knftables transaction (nft
// syntax: the golden files, knftables.Fake, and the nft CLI).
type TxWriter struct{ Tx *knftables.Transaction }

var _ Writer = TxWriter{}

func (w TxWriter) AddTable() {
	w.Tx.Add(&knftables.Table{Comment: knftables.PtrTo("kube-proxy rules")})
}
func (w TxWriter) AddMap(m MapDef) {
	if m.Set {
		w.Tx.Add(&knftables.Set{Name: m.Name, Type: m.Type, TypeOf: m.TypeOf})
		return
	}
	w.Tx.Add(&knftables.Map{Name: m.Name, Type: m.Type, TypeOf: m.TypeOf})
}
func (w TxWriter) FlushMap(name string) {
	if isSet(name) {
		w.Tx.Flush(&knftables.Set{Name: name})
		return
	}
	w.Tx.Flush(&knftables.Map{Name: name})
}

func isSet(name string) bool {
	m, _ := LookupMap(name)
	return m.Set
}
func (w TxWriter) AddSet(name string, timeout time.Duration) {
	w.Tx.Add(&knftables.Set{Name: name, Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag},
		Timeout: knftables.PtrTo(timeout)})
}
func (w TxWriter) AddChain(name string, base *BaseChain) {
	ch := &knftables.Chain{Name: name}
	if base != nil {
		ch.Type, ch.Hook = knftables.PtrTo(base.Type), knftables.PtrTo(base.Hook)
		ch.Priority = knftables.PtrTo(knftables.BaseChainPriority(strconv.Itoa(base.Priority)))
	}
	w.Tx.Add(ch)
}
func (w TxWriter) FlushChain(name string)     { w.Tx.Flush(&knftables.Chain{Name: name}) }
func (w TxWriter) AddRule(chain, rule string) { w.Tx.Add(&knftables.Rule{Chain: chain, Rule: rule}) }
func (w TxWriter) AddElement(m string, e Element) {
	if isSet(m) {
		w.Tx.Add(&knftables.Element{Set: m, Key: e.Key})
		return
	}
	w.Tx.Add(&knftables.Element{Map: m, Key: e.Key, Value: []string{e.Value}})
}
func (w TxWriter) DeleteElement(m string, e Element) {
	if isSet(m) {
		w.Tx.Delete(&knftables.Element{Set: m, Key: e.Key})
		return
	}
	w.Tx.Delete(&knftables.Element{Map: m, Key: e.Key})
}
func (w TxWriter) DeleteChain(name string) { w.Tx.Delete(&knftables.Chain{Name: name}) }
func (w TxWriter) DeleteSet(name string)   { w.Tx.Delete(&knftables.Set{Name: name}) }

// fixedChain is one of the table's fixed chains; hook is "" for a
// regular chain.
type fixedChain struct {
	name     string
	typ      knftables.BaseChainType
	hook     knftables.BaseChainHook
	priority knftables.BaseChainPriority
	rules    []string
}

// fixedChains are the chains every rendering has, regular chains first
// (the base chains jump to them), with their rules.
func fixedChains(cfg Config) []fixedChain {
	mark := cfg.mark()
	// Node ports answer on the node's own addresses but not on loopback
	// (that would need route_localnet), as in Kubernetes' nftables mode.
	nodePortDst := "fib daddr type local ip daddr != 127.0.0.0/8"
	newConn := "ct state new jump "
	var services []string
	if cfg.ClusterCIDR.IsValid() {
		// Off-cluster traffic to a cluster IP is masqueraded (one rule
		// for every service: a rule per service chain would be 10,000
		// more rules for the kernel to parse on a full sync).
		services = append(services, "ip saddr != "+cfg.ClusterCIDR.String()+" ip daddr . meta l4proto . th dport @"+SetClusterIPs+" jump "+ChainMarkForMasquerade)
	}
	services = append(services,
		"ip daddr . meta l4proto . th dport vmap @"+MapServiceIPs,
		nodePortDst+" meta l4proto . th dport vmap @"+MapServiceNodePorts)
	return []fixedChain{
		{name: ChainServices, rules: services},
		{name: ChainMarkForMasquerade, rules: []string{"meta mark set meta mark | " + mark}},
		{name: ChainMasquerading, rules: []string{
			"ct status dnat ip saddr . ip daddr @" + SetHairpin + " jump " + ChainMarkForMasquerade,
			"meta mark & " + mark + " == 0 return",
			"meta mark set meta mark ^ " + mark,
			"masquerade fully-random",
		}},
		{name: ChainServiceEndpointsCheck, rules: []string{"ip daddr . meta l4proto . th dport vmap @" + MapNoEndpointServices}},
		{name: ChainNodePortEndpointsCheck, rules: []string{nodePortDst + " meta l4proto . th dport vmap @" + MapNoEndpointNodePorts}},
		{name: ChainReject, rules: []string{"reject"}},

		{ChainNATPrerouting, knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority, []string{"jump " + ChainServices}},
		{ChainNATOutput, knftables.NATType, knftables.OutputHook, knftables.DNATPriority, []string{"jump " + ChainServices}},
		{ChainNATPostrouting, knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority, []string{"jump " + ChainMasquerading}},
		// The filter checks run on packets nothing DNATed: input and
		// forward come after prerouting's DNAT anyway; output's check is
		// placed after output's DNAT (-100) so a service with endpoints
		// is never mistaken for one without.
		{ChainFilterInput, knftables.FilterType, knftables.InputHook, "-110", []string{
			newConn + ChainNodePortEndpointsCheck, newConn + ChainServiceEndpointsCheck}},
		{ChainFilterForward, knftables.FilterType, knftables.ForwardHook, "-110", []string{newConn + ChainServiceEndpointsCheck}},
		{ChainFilterOutput, knftables.FilterType, knftables.OutputHook, "-90", []string{newConn + ChainServiceEndpointsCheck}},
	}
}

// FixedRules counts the rules of the fixed chains.
func FixedRules(cfg Config) int {
	n := 0
	for _, c := range fixedChains(cfg) {
		n += len(c.rules)
	}
	return n
}

// Applied is what kube-proxy's table holds of the per-service objects, as
// the last successful transaction left it.
type Applied struct {
	Chains   map[string][]string
	Elements map[string]map[string]Element
	Sets     map[string]time.Duration
}

// Remember records what a successful transaction of desired left in the
// kernel. Only the touched objects are copied on a partial sync; the
// renderer changes its maps in place, so Applied never shares them.
func (a *Applied) Remember(desired *Ruleset, full bool) {
	t := desired.Touched
	if full || t == nil || a.Chains == nil {
		a.Chains = maps.Clone(desired.Chains)
		a.Sets = maps.Clone(desired.Sets)
		a.Elements = map[string]map[string]Element{}
		for m, els := range desired.Elements {
			a.Elements[m] = maps.Clone(els)
		}
		return
	}
	for c := range t.Chains {
		if r, ok := desired.Chains[c]; ok {
			a.Chains[c] = r
		} else {
			delete(a.Chains, c)
		}
	}
	for s := range t.Sets {
		if v, ok := desired.Sets[s]; ok {
			a.Sets[s] = v
		} else {
			delete(a.Sets, s)
		}
	}
	for m, keys := range t.Elements {
		if a.Elements[m] == nil {
			a.Elements[m] = map[string]Element{}
		}
		for k := range keys {
			if e, ok := desired.Elements[m][k]; ok {
				a.Elements[m][k] = e
			} else {
				delete(a.Elements[m], k)
			}
		}
	}
}

// Existing names the per-service chains and sets the kernel's table has
// (listed at start and after failures, to sweep what a previous run left).
type Existing struct {
	Chains, Sets []string
	// Maps names the endpoint maps (the only maps that come and go).
	Maps []string
}

// Stats counts what one transaction does.
type Stats struct {
	ChainsWritten, ChainsDeleted   int
	ElementsAdded, ElementsDeleted int
	SetsAdded, SetsDeleted         int
	Rules                          int // rules written
	Operations                     int
}

// String is "3 chains written, 1 deleted, 2 elements added, 0 deleted".
func (s Stats) String() string {
	var b strings.Builder
	b.WriteString(itoa(s.ChainsWritten) + " chains written, " + itoa(s.ChainsDeleted) + " deleted; ")
	b.WriteString(itoa(s.ElementsAdded) + " elements added, " + itoa(s.ElementsDeleted) + " deleted")
	if s.SetsAdded+s.SetsDeleted > 0 {
		b.WriteString("; " + itoa(s.SetsAdded) + " sets added, " + itoa(s.SetsDeleted) + " deleted")
	}
	return b.String()
}

// Diff writes to w the operations that turn kube-proxy's table from applied
// (the zero Applied when unknown) into desired.
//
// A full update (re)declares the table and its fixed chains and maps,
// flushes the maps and rewrites every chain and element, and removes every
// per-service chain and set in applied or existing that is not desired.
// It flushes only the chains applied or existing name, when either is
// known (existing non-nil or applied non-zero); otherwise every chain. A
// partial update looks only at what desired.Touched names: it creates new
// sets and chains, flushes and rewrites chains whose rules differ, deletes
// and adds map elements whose verdict changed or that came or went, and
// last removes the chains and sets that went (after the elements and rules
// that referred to them) - all in the one transaction, which the kernel
// applies atomically.
func Diff(w Writer, cfg Config, desired *Ruleset, applied *Applied, full bool, existing *Existing) Stats {
	var st Stats
	t := desired.Touched
	if t == nil {
		full = true
	}
	var newSets, newChains, writeChains, staleChains, staleSets, newMaps []string
	var delElems, addElems []mapElement
	if full {
		newSets = sortedKeys(desired.Sets)
		writeChains = sortedKeys(desired.Chains)
		newMaps = mapNames(desired.Elements)
		for _, m := range newMaps {
			els := desired.Elements[m]
			keys := sortedKeys(els)
			if IsEndpointMap(m) {
				sortNumeric(keys)
			}
			for _, k := range keys {
				addElems = append(addElems, mapElement{m, els[k]})
			}
		}
		staleC, staleS := map[string]bool{}, map[string]bool{}
		for c := range applied.Chains {
			staleC[c] = true
		}
		for s := range applied.Sets {
			staleS[s] = true
		}
		if existing != nil {
			for _, c := range existing.Chains {
				staleC[c] = true
			}
			for _, s := range existing.Sets {
				staleS[s] = true
			}
		}
		for c := range staleC {
			if _, want := desired.Chains[c]; !want && IsServiceObject(c) {
				staleChains = append(staleChains, c)
			}
		}
		for s := range staleS {
			if _, want := desired.Sets[s]; !want && IsServiceObject(s) {
				staleSets = append(staleSets, s)
			}
		}
		slices.Sort(staleChains)
		slices.Sort(staleSets)
	} else {
		for _, s := range sortedKeys(t.Sets) {
			want, ok := desired.Sets[s]
			had, wasThere := applied.Sets[s]
			switch {
			case ok && (!wasThere || had != want):
				newSets = append(newSets, s)
			case !ok && wasThere:
				staleSets = append(staleSets, s)
			}
		}
		for _, c := range sortedKeys(t.Chains) {
			want, ok := desired.Chains[c]
			had, wasThere := applied.Chains[c]
			switch {
			case ok && !wasThere:
				newChains = append(newChains, c)
				writeChains = append(writeChains, c)
			case ok && !slices.Equal(want, had):
				writeChains = append(writeChains, c)
			case !ok && wasThere:
				staleChains = append(staleChains, c)
			}
		}
		for _, m := range mapNames(t.Elements) {
			if applied.Elements[m] == nil && desired.Elements[m] != nil {
				newMaps = append(newMaps, m)
			}
			keys := sortedKeys(t.Elements[m])
			if IsEndpointMap(m) {
				sortNumeric(keys)
			}
			for _, k := range keys {
				want, ok := desired.Elements[m][k]
				had, wasThere := applied.Elements[m][k]
				if wasThere && (!ok || had.Value != want.Value) {
					delElems = append(delElems, mapElement{m, had})
				}
				if ok && (!wasThere || had.Value != want.Value) {
					addElems = append(addElems, mapElement{m, want})
				}
			}
		}
	}

	if full {
		w.AddTable()
		// Endpoint maps the table may hold but this rendering does not
		// use are emptied, not deleted: a later sync may give their
		// slots out again and add elements whose keys must be free.
		for _, name := range staleEndpointMaps(desired, applied, existing) {
			w.FlushMap(name)
		}
	}
	for _, name := range newMaps {
		m, _ := LookupMap(name)
		w.AddMap(m)
		if full {
			w.FlushMap(name)
		}
	}
	for _, s := range newSets {
		w.AddSet(s, desired.Sets[s])
		st.SetsAdded++
	}
	var fixed []fixedChain
	if full {
		fixed = fixedChains(cfg)
		for _, c := range fixed {
			w.AddChain(c.name, c.base())
		}
		// Every desired chain is declared: add is a no-op for one that
		// exists, and a full sync does not trust what it thinks exists.
		newChains = writeChains
	}
	for _, c := range newChains {
		w.AddChain(c, nil)
	}
	if full {
		for _, c := range fixed {
			w.FlushChain(c.name)
			for _, r := range c.rules {
				w.AddRule(c.name, r)
			}
		}
	}
	isNew := map[string]bool{}
	if !full {
		for _, c := range newChains {
			isNew[c] = true
		}
	} else if existing != nil || applied.Chains != nil {
		// What the table holds is known (listed, or left by the last
		// transaction): a chain in neither is new and has no rules to
		// flush - at 10,000 services a third of a first sync's messages.
		for _, c := range writeChains {
			_, had := applied.Chains[c]
			isNew[c] = !had
		}
		if existing != nil {
			for _, c := range existing.Chains {
				if isNew[c] {
					isNew[c] = false
				}
			}
		}
	}
	for _, c := range writeChains {
		if !isNew[c] {
			w.FlushChain(c)
		}
		for _, r := range desired.Chains[c] {
			w.AddRule(c, r)
		}
		st.Rules += len(desired.Chains[c])
	}
	st.ChainsWritten = len(writeChains)
	for _, e := range delElems {
		w.DeleteElement(e.m, e.e)
	}
	for _, e := range addElems {
		w.AddElement(e.m, e.e)
	}
	st.ElementsDeleted, st.ElementsAdded = len(delElems), len(addElems)
	// Stale chains are flushed before any is deleted: they jump to each
	// other (service -> endpoint), and a chain can go only once nothing
	// refers to it.
	for _, c := range staleChains {
		w.FlushChain(c)
	}
	for _, c := range staleChains {
		w.DeleteChain(c)
	}
	for _, s := range staleSets {
		w.DeleteSet(s)
	}
	st.ChainsDeleted, st.SetsDeleted = len(staleChains), len(staleSets)
	st.Operations = st.ChainsWritten + st.ChainsDeleted + st.ElementsAdded + st.ElementsDeleted + st.SetsAdded + st.SetsDeleted
	if full {
		st.Operations++
	}
	return st
}

func itoa(n int) string { return strconv.Itoa(n) }

// staleEndpointMaps lists the endpoint maps in applied or existing that
// desired has not.
func staleEndpointMaps(desired *Ruleset, applied *Applied, existing *Existing) []string {
	stale := map[string]bool{}
	for m := range applied.Elements {
		stale[m] = true
	}
	if existing != nil {
		for _, m := range existing.Maps {
			stale[m] = true
		}
	}
	var out []string
	for m := range stale {
		if _, want := desired.Elements[m]; !want && IsEndpointMap(m) {
			out = append(out, m)
		}
	}
	sortNumeric(out)
	return out
}

// mapNames lists the maps of els: the fixed ones in their order, then the
// endpoint maps by number.
func mapNames[V any](els map[string]V) []string {
	var names, eps []string
	for _, m := range Maps {
		if _, ok := els[m.Name]; ok {
			names = append(names, m.Name)
		}
	}
	for m := range els {
		if IsEndpointMap(m) {
			eps = append(eps, m)
		}
	}
	sortNumeric(eps)
	return append(names, eps...)
}

// sortNumeric sorts strings of one prefix and a decimal number by the
// number.
func sortNumeric(keys []string) {
	slices.SortFunc(keys, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
}
