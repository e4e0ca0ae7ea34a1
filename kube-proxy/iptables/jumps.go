package iptables

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"minik8s/kube-proxy/ipt"
)

// Jump is a rule in a built-in chain sending packets into one of ours.
// The built-in chains are shared with everyone else on the machine, so
// these few rules are checked and inserted one by one (go-iptables), never
// by restoring the chain.
type Jump struct {
	Table ipt.Table
	Chain string   // the built-in chain
	Rule  []string // ending in "-j <our chain>"
}

// Target is the chain the jump goes to.
func (j Jump) Target() string { return j.Rule[len(j.Rule)-1] }

// Jumps are the iptables mode's entry points, as Kubernetes writes them.
var Jumps = []Jump{
	{ipt.TableFilter, "INPUT", []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes externally-visible service portals", "-j", ChainExternalServices}},
	{ipt.TableFilter, "FORWARD", []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes service portals", "-j", ChainServices}},
	{ipt.TableFilter, "FORWARD", []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes externally-visible service portals", "-j", ChainExternalServices}},
	{ipt.TableFilter, "FORWARD", []string{"-m", "comment", "--comment", "kubernetes forwarding rules", "-j", ChainForward}},
	{ipt.TableFilter, "OUTPUT", []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes service portals", "-j", ChainServices}},
	{ipt.TableNAT, "PREROUTING", []string{"-m", "comment", "--comment", "kubernetes service portals", "-j", ChainServices}},
	{ipt.TableNAT, "OUTPUT", []string{"-m", "comment", "--comment", "kubernetes service portals", "-j", ChainServices}},
	{ipt.TableNAT, "POSTROUTING", []string{"-m", "comment", "--comment", "kubernetes postrouting rules", "-j", ChainPostrouting}},
}

// EnsureBase creates the fixed chains and the jumps into them. The jumps
// need their target chains to exist before they can be inserted, so the
// chains come first; the chains' rules come with the restore.
func EnsureBase(r ipt.Interface) error {
	for table, chains := range topChains {
		for _, c := range chains {
			if err := r.EnsureChain(table, c); err != nil {
				return err
			}
		}
	}
	for _, j := range Jumps {
		if err := r.EnsureRule(j.Table, j.Chain, j.Rule...); err != nil {
			return err
		}
	}
	return nil
}

// Cleanup removes what the iptables mode (or, with owned, any mode) put
// in the kernel: the jumps first, then every owned chain, flushed and
// deleted in one restore per table. Rules and chains of others stay.
func Cleanup(r ipt.Interface, jumps []Jump, owned func(chain string) bool) error {
	var errs []error
	for _, j := range jumps {
		if err := r.DeleteRule(j.Table, j.Chain, j.Rule...); err != nil {
			errs = append(errs, err)
		}
	}
	for _, table := range []ipt.Table{ipt.TableNAT, ipt.TableFilter} {
		save, err := r.Save(table)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var mine []string
		for _, c := range ipt.Chains(save) {
			if owned(c) {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 {
			continue
		}
		sort.Sort(sort.Reverse(sort.StringSlice(mine))) // see Diff
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
