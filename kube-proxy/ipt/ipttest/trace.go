package ipttest

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Packet is a new connection's first packet.
type Packet struct {
	Protocol string // tcp, udp, sctp
	Src, Dst netip.Addr
	DstPort  int
	// Local says the packet was made on this host (it enters at nat
	// OUTPUT) rather than arriving (nat PREROUTING).
	Local bool
	// LocalAddrs are the host's own addresses (addrtype LOCAL).
	LocalAddrs []netip.Addr
	// Recent lists the "recent" lists that already hold the source, as
	// after an earlier connection (session affinity).
	Recent map[string]bool
}

// Outcome is one way the packet can go, with its probability.
type Outcome struct {
	Prob float64
	// Verdict is ACCEPT, DROP or REJECT.
	Verdict string
	// DNAT is the rewritten destination "ip:port" ("" if none).
	DNAT string
	// Redirect is the local port of a REDIRECT (userspace mode), or 0.
	Redirect int
	// Masquerade: the packet leaves with the host's source address.
	Masquerade bool
	// RecentSet lists the recent lists the packet's source was added to.
	RecentSet []string
	// Path lists the chains the packet went through, by table.
	Path []string
}

type state struct {
	pkt      Packet
	dst      netip.Addr
	dport    int
	src      netip.Addr
	mark     uint32
	prob     float64
	verdict  string // terminal verdict in the current table
	dnat     string
	redirect int
	masq     bool
	recent   []string
	path     []string
}

// Trace sends pkt through the tables the way the kernel's hooks order
// them: nat PREROUTING (or OUTPUT for a local packet), then filter INPUT,
// FORWARD or OUTPUT depending on where the (possibly rewritten)
// destination is, then nat POSTROUTING for packets leaving. Statistic
// matches fork the walk, so the outcomes carry probabilities summing to 1.
// Conntrack state is NEW and nothing is marked on arrival.
func Trace(t Tables, pkt Packet) ([]Outcome, error) {
	for _, n := range []string{"nat", "filter"} {
		if t[n] == nil {
			t[n] = newTable(n)
		}
	}
	st := &state{pkt: pkt, dst: pkt.Dst, dport: pkt.DstPort, src: pkt.Src, prob: 1}
	first := "PREROUTING"
	if pkt.Local {
		first = "OUTPUT"
	}
	natOut, err := run(t["nat"], st, first, 0)
	if err != nil {
		return nil, err
	}
	var out []Outcome
	for _, s := range natOut {
		s.verdict = "" // nat decides addresses, filter decides fate
		filterChain := "FORWARD"
		switch {
		case pkt.Local:
			filterChain = "OUTPUT"
		case s.redirect != 0 || isLocal(pkt.LocalAddrs, s.dst):
			filterChain = "INPUT"
		}
		fs, err := run(t["filter"], s, filterChain, 0)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if f.verdict == "" || f.verdict == "RETURN" {
				f.verdict = "ACCEPT"
			}
			if f.verdict == "ACCEPT" && filterChain != "INPUT" {
				f.verdict = ""
				ps, err := run(t["nat"], f, "POSTROUTING", 0)
				if err != nil {
					return nil, err
				}
				for _, p := range ps {
					if p.verdict == "MASQUERADE" {
						p.masq = true
					}
					p.verdict = "ACCEPT"
					out = append(out, p.outcome())
				}
				continue
			}
			out = append(out, f.outcome())
		}
	}
	return out, nil
}

func (s *state) outcome() Outcome {
	return Outcome{Prob: s.prob, Verdict: s.verdict, DNAT: s.dnat, Redirect: s.redirect, Masquerade: s.masq, RecentSet: s.recent, Path: s.path}
}

func (s *state) clone() *state {
	c := *s
	c.path = append([]string(nil), s.path...)
	c.recent = append([]string(nil), s.recent...)
	return &c
}

func isLocal(addrs []netip.Addr, a netip.Addr) bool {
	for _, l := range addrs {
		if l == a {
			return true
		}
	}
	return false
}

// run walks chain from rule index from; it returns the states leaving
// the chain, each with a terminal verdict or none (fell off or RETURN).
func run(t *TableState, st *state, chain string, from int) ([]*state, error) {
	c, ok := t.Chains[chain]
	if !ok {
		return nil, fmt.Errorf("%s: no chain %s", t.Name, chain)
	}
	if from == 0 {
		st.path = append(st.path, t.Name+"/"+chain)
	}
	var out []*state
	for i := from; i < len(c.Rules); i++ {
		r := c.Rules[i]
		p, target, targs, err := match(st, r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.String(), err)
		}
		if p == 0 {
			continue
		}
		if p < 1 {
			miss := st.clone()
			miss.prob *= 1 - p
			rest, err := run(t, miss, chain, i+1)
			if err != nil {
				return nil, err
			}
			out = append(out, rest...)
			st = st.clone()
			st.prob *= p
		}
		switch target {
		case "":
			continue
		case "RETURN":
			return append(out, st), nil
		case "ACCEPT", "DROP", "REJECT", "MASQUERADE":
			st.verdict = target
			return append(out, st), nil
		case "DNAT":
			to := flag(targs, "--to-destination")
			ap, err := netip.ParseAddrPort(to)
			if err != nil {
				return nil, fmt.Errorf("DNAT to %q: %v", to, err)
			}
			st.dst, st.dport, st.dnat, st.verdict = ap.Addr(), int(ap.Port()), to, "DNAT"
			return append(out, st), nil
		case "REDIRECT":
			port, err := strconv.Atoi(flag(targs, "--to-ports"))
			if err != nil {
				return nil, fmt.Errorf("REDIRECT: %v", err)
			}
			st.redirect, st.dport, st.verdict = port, port, "REDIRECT"
			return append(out, st), nil
		case "MARK":
			if v := flag(targs, "--or-mark"); v != "" {
				n, _ := strconv.ParseUint(v, 0, 32)
				st.mark |= uint32(n)
			} else if v := flag(targs, "--xor-mark"); v != "" {
				n, _ := strconv.ParseUint(v, 0, 32)
				st.mark ^= uint32(n)
			} else if v := flag(targs, "--set-xmark"); v != "" {
				val, mask := splitMark(v)
				st.mark = (st.mark &^ mask) ^ val
			} else {
				return nil, fmt.Errorf("MARK without a supported option")
			}
			continue
		default:
			subs, err := run(t, st, target, 0)
			if err != nil {
				return nil, err
			}
			for _, s := range subs {
				if s.verdict != "" {
					out = append(out, s)
					continue
				}
				rest, err := run(t, s, chain, i+1)
				if err != nil {
					return nil, err
				}
				out = append(out, rest...)
			}
			return out, nil
		}
	}
	return append(out, st), nil
}

func flag(args []string, name string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == name {
			return args[i+1]
		}
	}
	return ""
}

func splitMark(v string) (val, mask uint32) {
	a, b, ok := strings.Cut(v, "/")
	x, _ := strconv.ParseUint(a, 0, 32)
	m := uint64(0xffffffff)
	if ok {
		m, _ = strconv.ParseUint(b, 0, 32)
	}
	return uint32(x), uint32(m)
}

func prefixOf(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// match evaluates the rule's matches against st: the probability the rule
// matches (0, 1, or a statistic's), its target and the target's options.
func match(st *state, r Rule) (float64, string, []string, error) {
	a := r.Args
	p := 1.0
	neg := false
	for i := 0; i < len(a); i++ {
		tok := a[i]
		next := func() (string, error) {
			if i+1 >= len(a) {
				return "", fmt.Errorf("%s needs a value", tok)
			}
			i++
			return a[i], nil
		}
		isNeg := neg
		neg = false
		result := true
		switch tok {
		case "!":
			neg = true
			continue
		case "-j":
			v, err := next()
			if err != nil {
				return 0, "", nil, err
			}
			return p, v, a[i+1:], nil
		case "-m":
			v, err := next()
			if err != nil {
				return 0, "", nil, err
			}
			switch v {
			case "comment", "tcp", "udp", "sctp", "addrtype", "statistic", "recent", "mark", "conntrack":
			default:
				return 0, "", nil, fmt.Errorf("unsupported match module %s", v)
			}
			continue
		case "--comment", "--mode", "--seconds", "--mask":
			if _, err := next(); err != nil {
				return 0, "", nil, err
			}
			continue
		case "--reap", "--rsource":
			continue
		case "-s", "-d":
			v, err := next()
			if err != nil {
				return 0, "", nil, err
			}
			pf, err := prefixOf(v)
			if err != nil {
				return 0, "", nil, err
			}
			addr := st.src
			if tok == "-d" {
				addr = st.dst
			}
			result = pf.Contains(addr)
		case "-p":
			v, err := next()
			if err != nil {
				return 0, "", nil, err
			}
			result = strings.EqualFold(v, st.pkt.Protocol)
		case "--dport":
			v, err := next()
			if err != nil {
				return 0, "", nil, err
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, "", nil, err
			}
			result = n == st.dport
		case "--dst-type", "--src-type":
			v, err := next()
			if err != nil {
				return 0, "", nil, err
			}
			if v != "LOCAL" {
				return 0, "", nil, fmt.Errorf("unsupported addrtype %s", v)
			}
			addr := st.dst
			if tok == "--src-type" {
				addr = st.src
			}
			result = isLocal(st.pkt.LocalAddrs, addr)
		case "--probability":
			v, err := next()
			if err != nil {
				return 0, "", nil, err
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, "", nil, err
			}
			p *= f
			continue
		case "--name":
			v, err := next()
			if err != nil {
				return 0, "", nil, err
			}
			// The action (--rcheck or --set) follows the name.
			if i+1 < len(a) && a[i+1] == "--set" {
				i++
				st.recent = append(st.recent, v)
				continue
			}
			if i+1 < len(a) && a[i+1] == "--rcheck" {
				i++
				result = st.pkt.Recent[v]
				break
			}
			return 0, "", nil, fmt.Errorf("recent --name %s without --set or --rcheck", v)
		case "--mark":
			v, err := next()
			if err != nil {
				return 0, "", nil, err
			}
			val, mask := splitMark(v)
			result = st.mark&mask == val
		case "--ctstate":
			v, err := next()
			if err != nil {
				return 0, "", nil, err
			}
			result = false
			for _, s := range strings.Split(v, ",") {
				if s == "NEW" {
					result = true
				}
			}
		default:
			return 0, "", nil, fmt.Errorf("unsupported argument %s", tok)
		}
		if result == isNeg {
			return 0, "", nil, nil
		}
	}
	return p, "", nil, nil
}

// Summary renders outcomes one per line, sorted, for comparisons.
func Summary(outs []Outcome) string {
	lines := make([]string, 0, len(outs))
	for _, o := range outs {
		s := fmt.Sprintf("%.4f %s", o.Prob, o.Verdict)
		if o.DNAT != "" {
			s += " dnat=" + o.DNAT
		}
		if o.Redirect != 0 {
			s += " redirect=" + strconv.Itoa(o.Redirect)
		}
		if o.Masquerade {
			s += " masquerade"
		}
		lines = append(lines, s)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
