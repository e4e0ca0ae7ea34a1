package iptables

import "minik8s/kube-proxy/ipt"

// Jumps are the iptables mode's entry points, as Kubernetes writes them.
var Jumps = []ipt.Jump{
	{Table: ipt.TableFilter, Chain: "INPUT", Rule: []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes externally-visible service portals", "-j", ChainExternalServices}},
	{Table: ipt.TableFilter, Chain: "FORWARD", Rule: []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes service portals", "-j", ChainServices}},
	{Table: ipt.TableFilter, Chain: "FORWARD", Rule: []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes externally-visible service portals", "-j", ChainExternalServices}},
	{Table: ipt.TableFilter, Chain: "FORWARD", Rule: []string{"-m", "comment", "--comment", "kubernetes forwarding rules", "-j", ChainForward}},
	{Table: ipt.TableFilter, Chain: "OUTPUT", Rule: []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes service portals", "-j", ChainServices}},
	{Table: ipt.TableNAT, Chain: "PREROUTING", Rule: []string{"-m", "comment", "--comment", "kubernetes service portals", "-j", ChainServices}},
	{Table: ipt.TableNAT, Chain: "OUTPUT", Rule: []string{"-m", "comment", "--comment", "kubernetes service portals", "-j", ChainServices}},
	{Table: ipt.TableNAT, Chain: "POSTROUTING", Rule: []string{"-m", "comment", "--comment", "kubernetes postrouting rules", "-j", ChainPostrouting}},
}

// Cleanup removes the iptables mode's jumps and chains (see ipt.Cleanup).
func Cleanup(r ipt.Interface) error { return ipt.Cleanup(r, Jumps, Owned) }

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
