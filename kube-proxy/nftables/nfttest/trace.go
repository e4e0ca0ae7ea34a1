// Package nfttest follows packets through an nftables table held by a
// knftables.Fake - the rules kube-proxy's nftables mode rendered and the
// Fake accepted - to the endpoint they are DNATed to, with the probability
// of each way they can go. It understands the expressions kube-proxy
// writes (address and port matches, concatenated verdict-map lookups,
// fib, ct state, numgen, marks, dnat, masquerade, dynamic sets) and
// fails on anything else, so a rendering it cannot follow is an error,
// not a silent pass.
package nfttest

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/knftables"
)

// Packet is a new connection's first packet.
type Packet struct {
	Protocol string // tcp, udp, sctp
	Src, Dst netip.Addr
	DstPort  int
	// Local says the packet was made on this host (it enters at the
	// output hook) rather than arriving (prerouting).
	Local bool
	// LocalAddrs are the host's own addresses (fib type local).
	LocalAddrs []netip.Addr
	// InSets lists the dynamic sets that already hold the source address
	// (session affinity after an earlier connection).
	InSets map[string]bool
}

// Outcome is one way the packet can go, with its probability.
type Outcome struct {
	Prob float64
	// Verdict is ACCEPT, DROP or REJECT.
	Verdict string
	// DNAT is the rewritten destination "ip:port" ("" if none).
	DNAT string
	// Masquerade: the packet leaves with the host's source address.
	Masquerade bool
	// Updated lists the dynamic sets the source was added to.
	Updated []string
	// Path lists the chains the packet went through.
	Path []string
}

type state struct {
	pkt     Packet
	dst     netip.Addr
	dport   int
	mark    uint32
	prob    float64
	dnat    string
	masq    bool
	updated []string
	path    []string
}

func (s *state) clone() *state {
	c := *s
	c.path = append([]string(nil), s.path...)
	c.updated = append([]string(nil), s.updated...)
	return &c
}

// end is how a chain (or a rule) left a packet.
type end int

const (
	endNone   end = iota // no verdict: next rule / fell off the chain
	endReturn            // return to the calling chain
	endAccept            // accept (a NAT statement accepts too)
	endDrop
	endReject
)

type result struct {
	st  *state
	end end
}

// Trace sends pkt through the table's base chains in hook and priority
// order: prerouting, then input (a local destination after DNAT) or
// forward and postrouting; a locally made packet goes through output,
// postrouting, and input when it is addressed to the host.
func Trace(t *knftables.FakeTable, pkt Packet) ([]Outcome, error) {
	if t == nil {
		return nil, fmt.Errorf("no table")
	}
	tr := &tracer{t: t}
	st := &state{pkt: pkt, dst: pkt.Dst, dport: pkt.DstPort, prob: 1}
	first := []knftables.BaseChainHook{knftables.PreroutingHook}
	if pkt.Local {
		first = []knftables.BaseChainHook{knftables.OutputHook, knftables.PostroutingHook}
	}
	sts, err := tr.hooks(st, first)
	if err != nil {
		return nil, err
	}
	var out []Outcome
	for _, r := range sts {
		if r.end != endAccept {
			out = append(out, r.st.outcome(r.end))
			continue
		}
		var next []knftables.BaseChainHook
		switch {
		case isLocal(pkt.LocalAddrs, r.st.dst):
			next = []knftables.BaseChainHook{knftables.InputHook}
		case !pkt.Local:
			next = []knftables.BaseChainHook{knftables.ForwardHook, knftables.PostroutingHook}
		}
		rs, err := tr.hooks(r.st, next)
		if err != nil {
			return nil, err
		}
		for _, x := range rs {
			out = append(out, x.st.outcome(x.end))
		}
	}
	return out, nil
}

func (s *state) outcome(e end) Outcome {
	v := "ACCEPT"
	switch e {
	case endDrop:
		v = "DROP"
	case endReject:
		v = "REJECT"
	}
	return Outcome{Prob: s.prob, Verdict: v, DNAT: s.dnat, Masquerade: s.masq, Updated: s.updated, Path: s.path}
}

type tracer struct {
	t *knftables.FakeTable
}

// hooks runs st through every base chain of the hooks, in order; the
// results end in accept, drop or reject.
func (tr *tracer) hooks(st *state, hooks []knftables.BaseChainHook) ([]result, error) {
	cur := []result{{st, endAccept}}
	for _, h := range hooks {
		for _, c := range tr.baseChains(h) {
			var next []result
			for _, r := range cur {
				if r.end != endAccept {
					next = append(next, r)
					continue
				}
				rs, err := tr.chain(r.st, c, 0)
				if err != nil {
					return nil, err
				}
				for _, x := range rs {
					if x.end == endNone || x.end == endReturn {
						x.end = endAccept // the base chain's policy
					}
					next = append(next, x)
				}
			}
			cur = next
		}
	}
	return cur, nil
}

func (tr *tracer) baseChains(h knftables.BaseChainHook) []string {
	type bc struct {
		name string
		prio int
	}
	var list []bc
	for name, c := range tr.t.Chains {
		if c.Hook == nil || *c.Hook != h {
			continue
		}
		p, err := knftables.ParsePriority(knftables.IPv4Family, string(*c.Priority))
		if err != nil {
			continue
		}
		list = append(list, bc{name, p})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].prio < list[j].prio })
	names := make([]string, len(list))
	for i, b := range list {
		names[i] = b.name
	}
	return names
}

// chain runs st through chain from rule index from.
func (tr *tracer) chain(st *state, name string, from int) ([]result, error) {
	c := tr.t.Chains[name]
	if c == nil {
		return nil, fmt.Errorf("no chain %s", name)
	}
	if from == 0 {
		st.path = append(st.path, name)
	}
	var out []result
	for i := from; i < len(c.Rules); i++ {
		rs, err := tr.rule(st, c.Rules[i].Rule)
		if err != nil {
			return nil, fmt.Errorf("chain %s rule %q: %w", name, c.Rules[i].Rule, err)
		}
		if len(rs) == 1 && rs[0].r.end == endNone && rs[0].jump == "" && rs[0].st == st {
			continue
		}
		for _, r := range rs {
			switch {
			case r.jump != "":
				subs, err := tr.chain(r.st, r.jump, 0)
				if err != nil {
					return nil, err
				}
				for _, s := range subs {
					if r.isGoto || (s.end != endNone && s.end != endReturn) {
						out = append(out, s)
						continue
					}
					rest, err := tr.chain(s.st, name, i+1)
					if err != nil {
						return nil, err
					}
					out = append(out, rest...)
				}
			case r.r.end == endNone:
				rest, err := tr.chain(r.st, name, i+1)
				if err != nil {
					return nil, err
				}
				out = append(out, rest...)
			default:
				out = append(out, r.r)
			}
		}
		return out, nil
	}
	return append(out, result{st, endNone}), nil
}

// ruleResult is one way a rule leaves a packet: a verdict, or a jump or
// goto to a chain.
type ruleResult struct {
	r      result
	st     *state
	jump   string
	isGoto bool
}

// rule evaluates one rule. A rule that does not match (or matches and has
// no verdict) returns one result with endNone and st itself when nothing
// changed.
func (tr *tracer) rule(st *state, text string) ([]ruleResult, error) {
	toks := tokens(text)
	cur := st
	mutated := false
	for i := 0; i < len(toks); {
		// Statements.
		switch toks[i] {
		case "jump", "goto":
			if i+1 >= len(toks) {
				return nil, fmt.Errorf("%s without a chain", toks[i])
			}
			return []ruleResult{{st: cur, jump: toks[i+1], isGoto: toks[i] == "goto"}}, nil
		case "return":
			return []ruleResult{{r: result{cur, endReturn}, st: cur}}, nil
		case "accept":
			return []ruleResult{{r: result{cur, endAccept}, st: cur}}, nil
		case "drop":
			return []ruleResult{{r: result{cur, endDrop}, st: cur}}, nil
		case "reject":
			return []ruleResult{{r: result{cur, endReject}, st: cur}}, nil
		case "masquerade":
			cur = cur.clone()
			cur.masq = true
			return []ruleResult{{r: result{cur, endAccept}, st: cur}}, nil
		case "dnat":
			if i+2 >= len(toks) || toks[i+1] != "to" {
				return nil, fmt.Errorf("dnat without to")
			}
			if toks[i+2] == "numgen" {
				return tr.dnatMap(cur, toks[i+2:])
			}
			ap, err := netip.ParseAddrPort(toks[i+2])
			if err != nil {
				return nil, fmt.Errorf("dnat to %q: %v", toks[i+2], err)
			}
			cur = cur.clone()
			cur.dst, cur.dport, cur.dnat = ap.Addr(), int(ap.Port()), toks[i+2]
			return []ruleResult{{r: result{cur, endAccept}, st: cur}}, nil
		case "update":
			// update @set { ip saddr }
			if i+5 >= len(toks) || !strings.HasPrefix(toks[i+1], "@") || toks[i+2] != "{" || toks[i+3] != "ip" || toks[i+4] != "saddr" || toks[i+5] != "}" {
				return nil, fmt.Errorf("unsupported update statement")
			}
			cur = cur.clone()
			mutated = true
			cur.updated = append(cur.updated, toks[i+1][1:])
			i += 6
			continue
		}
		// Matches: selectors joined by ".", then an operator.
		var vals []string
		j := i
		for {
			v, n, err := selector(cur, toks[j:])
			if err != nil {
				return nil, err
			}
			vals = append(vals, v...)
			j += n
			if j < len(toks) && toks[j] == "." {
				j++
				continue
			}
			break
		}
		if j >= len(toks) {
			return nil, fmt.Errorf("match without a value")
		}
		switch op := toks[j]; {
		case op == "set":
			// meta mark set meta mark | 0x4000 (or ^)
			if j+4 >= len(toks) || toks[j+1] != "meta" || toks[j+2] != "mark" {
				return nil, fmt.Errorf("unsupported mark statement")
			}
			n, err := strconv.ParseUint(toks[j+4], 0, 32)
			if err != nil {
				return nil, err
			}
			cur = cur.clone()
			mutated = true
			switch toks[j+3] {
			case "|":
				cur.mark |= uint32(n)
			case "^":
				cur.mark ^= uint32(n)
			default:
				return nil, fmt.Errorf("unsupported mark operator %s", toks[j+3])
			}
			i = j + 5
		case op == "vmap" && j+1 < len(toks) && strings.HasPrefix(toks[j+1], "@"):
			m := tr.t.Maps[toks[j+1][1:]]
			if m == nil {
				return nil, fmt.Errorf("no map %s", toks[j+1])
			}
			e := m.FindElement(vals...)
			if e == nil {
				return nomatch(st, cur, mutated), nil
			}
			rest := append(tokens(e.Value[0]), toks[j+2:]...)
			return tr.rule(cur, strings.Join(rest, " "))
		case op == "vmap" && j+1 < len(toks) && toks[j+1] == "{":
			// numgen random mod N vmap { 0 : goto a , 1 : goto b }
			if len(vals) != 1 || !strings.HasPrefix(vals[0], "numgen/") {
				return nil, fmt.Errorf("inline vmap only after numgen")
			}
			mod, _ := strconv.Atoi(strings.TrimPrefix(vals[0], "numgen/"))
			body := toks[j+2:]
			var out []ruleResult
			seen := 0
			for len(body) > 0 && body[0] != "}" {
				// "k" ":" verdict... up to "," or "}"
				k := 0
				for k < len(body) && body[k] != "," && body[k] != "}" {
					k++
				}
				entry := body[:k]
				if len(entry) < 3 || entry[1] != ":" {
					return nil, fmt.Errorf("bad vmap entry %v", entry)
				}
				b := cur.clone()
				b.prob /= float64(mod)
				rs, err := tr.rule(b, strings.Join(entry[2:], " "))
				if err != nil {
					return nil, err
				}
				out = append(out, rs...)
				seen++
				if k < len(body) && body[k] == "," {
					k++
				}
				body = body[k:]
			}
			if seen != mod {
				return nil, fmt.Errorf("numgen mod %d with %d entries", mod, seen)
			}
			return out, nil
		case strings.HasPrefix(op, "@"):
			name := op[1:]
			in := false
			if s := tr.t.Sets[name]; s != nil {
				in = s.FindElement(vals...) != nil || (len(vals) == 1 && cur.pkt.InSets[name])
			} else {
				return nil, fmt.Errorf("no set %s", name)
			}
			if !in {
				return nomatch(st, cur, mutated), nil
			}
			i = j + 1
		case len(vals) == 1 && strings.HasPrefix(vals[0], "numgen/") && op == "==":
			// numgen random mod K == v: true for 1/K of the packets.
			mod, _ := strconv.Atoi(strings.TrimPrefix(vals[0], "numgen/"))
			v, err := strconv.Atoi(toks[j+1])
			if err != nil || v < 0 || v >= mod {
				return nil, fmt.Errorf("numgen mod %d == %q", mod, toks[j+1])
			}
			hit, miss := cur.clone(), cur.clone()
			hit.prob /= float64(mod)
			miss.prob *= float64(mod-1) / float64(mod)
			rs, err := tr.rule(hit, strings.Join(toks[j+2:], " "))
			if err != nil {
				return nil, err
			}
			return append(rs, ruleResult{r: result{miss, endNone}, st: miss}), nil
		case op == "!=" || op == "&" || op == "==":
			ok, n, err := compare(vals, toks[j:])
			if err != nil {
				return nil, err
			}
			if !ok {
				return nomatch(st, cur, mutated), nil
			}
			i = j + n
		default:
			ok, n, err := compare(vals, append([]string{"=="}, toks[j:]...))
			if err != nil {
				return nil, err
			}
			if !ok {
				return nomatch(st, cur, mutated), nil
			}
			i = j + n - 1
		}
	}
	if mutated {
		return []ruleResult{{r: result{cur, endNone}, st: cur}}, nil
	}
	return []ruleResult{{r: result{st, endNone}, st: st}}, nil
}

// dnatMap follows "numgen random mod N [offset K] map @m": each of the N
// keys K..K+N-1, with probability 1/N, DNATs to its element's value
// ("ip . port"). A missing key is an error: the kernel's lookup would
// fail and the packet fall through un-DNATed.
func (tr *tracer) dnatMap(st *state, toks []string) ([]ruleResult, error) {
	bad := fmt.Errorf("unsupported dnat map %q", strings.Join(toks, " "))
	if len(toks) < 6 || toks[1] != "random" || toks[2] != "mod" {
		return nil, bad
	}
	mod, err := strconv.Atoi(toks[3])
	if err != nil || mod <= 0 {
		return nil, bad
	}
	rest, offset := toks[4:], 0
	if rest[0] == "offset" {
		if offset, err = strconv.Atoi(rest[1]); err != nil {
			return nil, bad
		}
		rest = rest[2:]
	}
	if len(rest) != 2 || rest[0] != "map" || !strings.HasPrefix(rest[1], "@") {
		return nil, bad
	}
	m := tr.t.Maps[rest[1][1:]]
	if m == nil {
		return nil, fmt.Errorf("no map %s", rest[1])
	}
	var out []ruleResult
	for k := offset; k < offset+mod; k++ {
		e := m.FindElement(strconv.Itoa(k))
		if e == nil || len(e.Value) != 1 {
			return nil, fmt.Errorf("map %s has no element %d", rest[1], k)
		}
		addr, port, ok := strings.Cut(e.Value[0], " . ")
		ap, err := netip.ParseAddrPort(addr + ":" + port)
		if !ok || err != nil {
			return nil, fmt.Errorf("map %s element %d: bad value %q", rest[1], k, e.Value[0])
		}
		b := st.clone()
		b.prob /= float64(mod)
		b.dst, b.dport, b.dnat = ap.Addr(), int(ap.Port()), ap.String()
		out = append(out, ruleResult{r: result{b, endAccept}, st: b})
	}
	return out, nil
}

// nomatch: the rule stops matching. Statements before the failed match
// (none in what kube-proxy writes) would have run, so keep cur.
func nomatch(st, cur *state, mutated bool) []ruleResult {
	if mutated {
		return []ruleResult{{r: result{cur, endNone}, st: cur}}
	}
	return []ruleResult{{r: result{st, endNone}, st: st}}
}

// compare evaluates "== v", "!= v" or "& mask == v" against vals (one
// value); it returns how many tokens it used.
func compare(vals, toks []string) (bool, int, error) {
	if len(vals) != 1 {
		return false, 0, fmt.Errorf("comparison of a concatenation")
	}
	v := vals[0]
	switch toks[0] {
	case "&":
		if len(toks) < 4 || toks[2] != "==" {
			return false, 0, fmt.Errorf("unsupported mask expression")
		}
		x, err1 := strconv.ParseUint(v, 0, 32)
		mask, err2 := strconv.ParseUint(toks[1], 0, 32)
		want, err3 := strconv.ParseUint(toks[3], 0, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			return false, 0, fmt.Errorf("bad mark expression")
		}
		return x&mask == want, 4, nil
	case "==", "!=":
		if len(toks) < 2 {
			return false, 0, fmt.Errorf("%s without a value", toks[0])
		}
		eq := equal(v, toks[1])
		if toks[0] == "!=" {
			eq = !eq
		}
		return eq, 2, nil
	}
	return false, 0, fmt.Errorf("unsupported operator %s", toks[0])
}

// equal compares a packet value with a rule value; an address matches a
// prefix containing it.
func equal(v, want string) bool {
	if strings.Contains(want, "/") {
		p, err1 := netip.ParsePrefix(want)
		a, err2 := netip.ParseAddr(v)
		return err1 == nil && err2 == nil && p.Contains(a)
	}
	return v == want
}

// selector reads one selector at toks and returns its value for the
// packet and how many tokens it took.
func selector(st *state, toks []string) ([]string, int, error) {
	if len(toks) < 2 {
		return nil, 0, fmt.Errorf("unknown expression %v", toks)
	}
	switch toks[0] + " " + toks[1] {
	case "ip daddr":
		return []string{st.dst.String()}, 2, nil
	case "ip saddr":
		return []string{st.pkt.Src.String()}, 2, nil
	case "meta l4proto":
		return []string{st.pkt.Protocol}, 2, nil
	case "th dport":
		return []string{strconv.Itoa(st.dport)}, 2, nil
	case "tcp dport", "udp dport", "sctp dport":
		if toks[0] != st.pkt.Protocol {
			return []string{"-"}, 2, nil // matches no port
		}
		return []string{strconv.Itoa(st.dport)}, 2, nil
	case "meta mark":
		return []string{fmt.Sprintf("%#x", st.mark)}, 2, nil
	case "ct state":
		return []string{"new"}, 2, nil
	case "ct status":
		// Only the DNAT bit is asked about.
		if st.dnat != "" {
			return []string{"dnat"}, 2, nil
		}
		return []string{"-"}, 2, nil
	case "fib daddr", "fib saddr":
		if len(toks) < 3 || toks[2] != "type" {
			return nil, 0, fmt.Errorf("unsupported fib expression")
		}
		a := st.dst
		if toks[1] == "saddr" {
			a = st.pkt.Src
		}
		if isLocal(st.pkt.LocalAddrs, a) {
			return []string{"local"}, 3, nil
		}
		return []string{"unicast"}, 3, nil
	case "numgen random":
		if len(toks) < 4 || toks[2] != "mod" {
			return nil, 0, fmt.Errorf("unsupported numgen expression")
		}
		return []string{"numgen/" + toks[3]}, 4, nil
	}
	return nil, 0, fmt.Errorf("unsupported expression %q", toks[0]+" "+toks[1])
}

func tokens(s string) []string { return strings.Fields(s) }

func isLocal(addrs []netip.Addr, a netip.Addr) bool {
	for _, l := range addrs {
		if l == a {
			return true
		}
	}
	return false
}

// Summary renders outcomes one per line, sorted, for comparisons.
func Summary(outs []Outcome) string {
	lines := make([]string, 0, len(outs))
	for _, o := range outs {
		s := fmt.Sprintf("%.4f %s", o.Prob, o.Verdict)
		if o.DNAT != "" {
			s += " dnat=" + o.DNAT
		}
		if o.Masquerade {
			s += " masquerade"
		}
		lines = append(lines, s)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
