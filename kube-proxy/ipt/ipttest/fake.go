// Package ipttest holds test doubles for kube-proxy's iptables use:
// Fake, an in-memory ipt.Interface that applies iptables-restore input
// with the kernel's rules (transactions, --noflush, no dangling jumps), and
// Trace, which walks a packet through parsed tables to the endpoint it is
// DNATed to - Kubernetes' proxier tests do the same.
package ipttest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"minik8s/kube-proxy/ipt"
)

// Rule is one rule: its chain and its arguments after "-A CHAIN", with
// quoted arguments unquoted.
type Rule struct {
	Chain string
	Args  []string
}

// String renders the rule as iptables-save prints it.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString("-A " + r.Chain)
	for _, a := range r.Args {
		b.WriteByte(' ')
		if strings.ContainsAny(a, " \t") || a == "" {
			b.WriteString(`"` + a + `"`)
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// Target is the argument of -j, or "".
func (r Rule) Target() string {
	for i := 0; i+1 < len(r.Args); i++ {
		if r.Args[i] == "-j" {
			return r.Args[i+1]
		}
	}
	return ""
}

// Chain is a chain and its rules in order.
type Chain struct {
	Name    string
	Builtin bool
	Rules   []Rule
}

// TableState is one table.
type TableState struct {
	Name   string
	Chains map[string]*Chain
}

// Tables is a set of tables by name.
type Tables map[string]*TableState

var builtins = map[string][]string{
	"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	"filter": {"INPUT", "FORWARD", "OUTPUT"},
}

// terminalTargets are targets that are not chains.
var terminalTargets = map[string]bool{
	"ACCEPT": true, "DROP": true, "REJECT": true, "RETURN": true, "DNAT": true, "SNAT": true,
	"MASQUERADE": true, "MARK": true, "REDIRECT": true, "LOG": true,
}

func newTable(name string) *TableState {
	t := &TableState{Name: name, Chains: map[string]*Chain{}}
	for _, c := range builtins[name] {
		t.Chains[c] = &Chain{Name: c, Builtin: true}
	}
	return t
}

func (t *TableState) clone() *TableState {
	c := &TableState{Name: t.Name, Chains: make(map[string]*Chain, len(t.Chains))}
	for n, ch := range t.Chains {
		c.Chains[n] = &Chain{Name: ch.Name, Builtin: ch.Builtin, Rules: slices.Clone(ch.Rules)}
	}
	return c
}

// Tokenize splits an iptables argument line on blanks, honouring double
// quotes.
func Tokenize(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			inQuote = !inQuote
			have = true
		case (c == ' ' || c == '\t') && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}

// apply applies restore input for one table to t (in place); noflush as
// iptables-restore --noflush.
func (t *TableState) apply(data string, noflush bool) error {
	lines := strings.Split(data, "\n")
	started, committed := false, false
	for n, raw := range lines {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("line %d (%q)", n+1, line)
		switch {
		case strings.HasPrefix(line, "*"):
			if line[1:] != t.Name {
				return fmt.Errorf("%s: input for table %s, want %s", where, line[1:], t.Name)
			}
			started = true
			if !noflush {
				*t = *newTable(t.Name)
			}
		case !started:
			return fmt.Errorf("%s: before the table line", where)
		case line == "COMMIT":
			committed = true
		case strings.HasPrefix(line, ":"):
			f := strings.Fields(line[1:])
			if len(f) == 0 {
				return fmt.Errorf("%s: empty chain declaration", where)
			}
			if c, ok := t.Chains[f[0]]; ok {
				c.Rules = nil // a declaration flushes
			} else {
				t.Chains[f[0]] = &Chain{Name: f[0]}
			}
		case strings.HasPrefix(line, "-A "), strings.HasPrefix(line, "-I "):
			tok, err := Tokenize(line)
			if err != nil {
				return fmt.Errorf("%s: %v", where, err)
			}
			if len(tok) < 2 {
				return fmt.Errorf("%s: no chain", where)
			}
			c, ok := t.Chains[tok[1]]
			if !ok {
				return fmt.Errorf("%s: chain %s does not exist", where, tok[1])
			}
			r := Rule{Chain: tok[1], Args: tok[2:]}
			if tok[0] == "-A" {
				c.Rules = append(c.Rules, r)
			} else {
				c.Rules = append([]Rule{r}, c.Rules...)
			}
		case strings.HasPrefix(line, "-X "):
			name := strings.TrimSpace(line[3:])
			c, ok := t.Chains[name]
			if !ok {
				return fmt.Errorf("%s: chain %s does not exist", where, name)
			}
			if c.Builtin {
				return fmt.Errorf("%s: cannot delete built-in chain %s", where, name)
			}
			if len(c.Rules) > 0 {
				return fmt.Errorf("%s: chain %s is not empty", where, name)
			}
			delete(t.Chains, name)
		default:
			return fmt.Errorf("%s: unsupported", where)
		}
	}
	if !committed {
		return fmt.Errorf("no COMMIT")
	}
	return t.check()
}

// check refuses jumps to chains that do not exist, as the kernel does.
func (t *TableState) check() error {
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			if tg := r.Target(); tg != "" && !terminalTargets[tg] {
				if _, ok := t.Chains[tg]; !ok {
					return fmt.Errorf("rule %q jumps to missing chain %s", r.String(), tg)
				}
			}
		}
	}
	return nil
}

// ChainNames returns the chains, built-ins first, then sorted.
func (t *TableState) ChainNames() []string {
	var b, u []string
	for _, n := range builtins[t.Name] {
		if _, ok := t.Chains[n]; ok {
			b = append(b, n)
		}
	}
	for n, c := range t.Chains {
		if !c.Builtin {
			u = append(u, n)
		}
	}
	sort.Strings(u)
	return append(b, u...)
}

// Save renders t as iptables-save does (without counters and comments).
func (t *TableState) Save() string {
	var b strings.Builder
	b.WriteString("*" + t.Name + "\n")
	names := t.ChainNames()
	for _, n := range names {
		if t.Chains[n].Builtin {
			b.WriteString(":" + n + " ACCEPT [0:0]\n")
		} else {
			b.WriteString(":" + n + " - [0:0]\n")
		}
	}
	for _, n := range names {
		for _, r := range t.Chains[n].Rules {
			b.WriteString(r.String() + "\n")
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// Parse reads iptables-save or iptables-restore text of any tables.
func Parse(text string) (Tables, error) {
	out := Tables{}
	var cur []string
	var name string
	flush := func() error {
		if name == "" {
			return nil
		}
		t := newTable(name)
		if err := t.apply(strings.Join(cur, "\n"), false); err != nil {
			return fmt.Errorf("table %s: %w", name, err)
		}
		out[name] = t
		name, cur = "", nil
		return nil
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "*") {
			if err := flush(); err != nil {
				return nil, err
			}
			name = strings.TrimSpace(line[1:])
		}
		if name != "" {
			cur = append(cur, line)
		}
		if strings.TrimSpace(line) == "COMMIT" {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// Fake is an in-memory ipt.Interface. Safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	tables Tables
	// Restores records every Restore input, in order.
	Restores []string
	// FailRestore, when set, makes Restore fail (and change nothing).
	FailRestore error
}

var _ ipt.Interface = (*Fake)(nil)

// NewFake returns empty nat and filter tables.
func NewFake() *Fake {
	return &Fake{tables: Tables{"nat": newTable("nat"), "filter": newTable("filter")}}
}

func (f *Fake) table(t ipt.Table) *TableState {
	ts, ok := f.tables[string(t)]
	if !ok {
		ts = newTable(string(t))
		f.tables[string(t)] = ts
	}
	return ts
}

// EnsureChain implements ipt.Interface.
func (f *Fake) EnsureChain(table ipt.Table, chain string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.table(table)
	if _, ok := t.Chains[chain]; !ok {
		t.Chains[chain] = &Chain{Name: chain}
	}
	return nil
}

// EnsureRule implements ipt.Interface.
func (f *Fake) EnsureRule(table ipt.Table, chain string, rule ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.table(table).Chains[chain]
	if !ok {
		return fmt.Errorf("chain %s/%s does not exist", table, chain)
	}
	for _, r := range c.Rules {
		if slices.Equal(r.Args, rule) {
			return nil
		}
	}
	if tg := (Rule{Args: rule}).Target(); tg != "" && !terminalTargets[tg] {
		if _, ok := f.table(table).Chains[tg]; !ok {
			return fmt.Errorf("jump to missing chain %s", tg)
		}
	}
	c.Rules = append([]Rule{{Chain: chain, Args: slices.Clone(rule)}}, c.Rules...)
	return nil
}

// DeleteRule implements ipt.Interface.
func (f *Fake) DeleteRule(table ipt.Table, chain string, rule ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.table(table).Chains[chain]
	if !ok {
		return nil
	}
	for i, r := range c.Rules {
		if slices.Equal(r.Args, rule) {
			c.Rules = slices.Delete(c.Rules, i, i+1)
			return nil
		}
	}
	return nil
}

// Restore implements ipt.Interface: the input is applied to a copy that
// replaces the table only if all of it succeeds.
func (f *Fake) Restore(table ipt.Table, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Restores = append(f.Restores, string(data))
	if f.FailRestore != nil {
		return f.FailRestore
	}
	c := f.table(table).clone()
	if err := c.apply(string(data), true); err != nil {
		return fmt.Errorf("fake iptables-restore: %w", err)
	}
	f.tables[string(table)] = c
	return nil
}

// Save implements ipt.Interface.
func (f *Fake) Save(table ipt.Table) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []byte(f.table(table).Save()), nil
}

// Dump is every table, nat then filter, as Save prints them.
func (f *Fake) Dump() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table("nat").Save() + f.table("filter").Save()
}

// Tables returns a deep copy of the tables.
func (f *Fake) Tables() Tables {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := Tables{}
	for n, t := range f.tables {
		out[n] = t.clone()
	}
	return out
}

// AddForeign adds a chain and rules as another program would (for
// cleanup tests: they must survive).
func (f *Fake) AddForeign(table ipt.Table, chain string, rules ...[]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.table(table)
	c, ok := t.Chains[chain]
	if !ok {
		c = &Chain{Name: chain}
		t.Chains[chain] = c
	}
	for _, r := range rules {
		c.Rules = append(c.Rules, Rule{Chain: chain, Args: r})
	}
}
