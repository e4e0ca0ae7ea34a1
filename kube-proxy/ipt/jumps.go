package ipt

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Jump is a rule in a built-in chain sending packets into one of ours.
// The built-in chains are shared with everyone else on the machine, so
// these few rules are checked and inserted one by one (go-iptables), never
// by restoring the chain.
type Jump struct {
	Table Table
	Chain string   // the built-in chain
	Rule  []string // ending in "-j <our chain>"
}

// Target is the chain the jump goes to.
func (j Jump) Target() string { return j.Rule[len(j.Rule)-1] }

// Cleanup removes what a proxy mode put in the kernel: its jumps first,
// then every chain owned reports, flushed and deleted in one restore per
// table. Rules and chains of others stay. The iptables and userspace modes
// pass their own jumps and chains; --cleanup passes both.
func Cleanup(r Interface, jumps []Jump, owned func(chain string) bool) error {
	var errs []error
	for _, j := range jumps {
		if err := r.DeleteRule(j.Table, j.Chain, j.Rule...); err != nil {
			errs = append(errs, err)
		}
	}
	for _, table := range []Table{TableNAT, TableFilter} {
		save, err := r.Save(table)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var mine []string
		for _, c := range Chains(save) {
			if owned(c) {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 {
			continue
		}
		sort.Sort(sort.Reverse(sort.StringSlice(mine))) // descending: iptables-nft inserts those fastest (see iptables.Diff)
		var b strings.Builder
		b.WriteString("*" + string(table) + "\n")
		for _, c := range mine {
			b.WriteString(":" + c + " - [0:0]\n")
		}
		for _, c := range mine {
			b.WriteString("-X " + c + "\n")
		}
		b.WriteString("COMMIT\n")
		if err := r.Restore(table, []byte(b.String())); err != nil {
			errs = append(errs, fmt.Errorf("remove kube-proxy chains from %s: %w", table, err))
		}
	}
	return errors.Join(errs...)
}
