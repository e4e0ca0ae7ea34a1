package nftables

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"minik8s/kube-proxy/nettest"
	"minik8s/test/require"
)

// TestNetlinkMatchesNFT (root): for every scenario, the full sync applied
// through the netlink backend leaves the same table, as nft lists it, as
// the golden nft input applied with the nft CLI - so the goldens and the
// tracer, which read nft syntax, speak for what the kernel really gets.
// Each side runs in a network namespace made here and deleted after.
func TestNetlinkMatchesNFT(t *testing.T) {
	if reason := nettest.Skip(); reason != "" {
		require.Skip(t, reason)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		require.Skip(t, "nft not installed (apt-get install nftables)")
	}
	env := &nettest.Env{}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Error(err)
		}
	})
	viaNetlink, err := env.NewNS("nft-netlink")
	if err != nil {
		t.Fatal(err)
	}
	viaCLI, err := env.NewNS("nft-cli")
	if err != nil {
		t.Fatal(err)
	}
	list := func(ns *nettest.NS) string {
		t.Helper()
		out, err := ns.Exec("nft", "list", "table", "ip", TableName)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	for name, objs := range scenarios {
		t.Run(name, func(t *testing.T) {
			s := state(objs...)
			text, _ := render(t, s)
			// Twice: the second time nft reads the maps back from the
			// kernel first, as in every sync after the first through the
			// CLI backend.
			for range 2 {
				cmd := exec.Command("ip", "netns", "exec", viaCLI.Name, "nft", "-f", "-")
				cmd.Stdin = strings.NewReader(text)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("nft -f: %v: %s", err, out)
				}
			}
			err := viaNetlink.Do(func() error {
				b := &Netlink{}
				rs := NewRenderer(testConfig).Render(s.Services(), s.Endpoints(), nil)
				tx := b.NewTx(true)
				Diff(tx, testConfig, rs, &Applied{}, true, nil)
				return b.Run(context.Background(), tx)
			})
			if err != nil {
				t.Fatal(err)
			}
			cli, nl := list(viaCLI), endpointMapType(hostOrderKeys(list(viaNetlink)))
			// The netlink side sets no table comment.
			cli = strings.Replace(cli, "\tcomment \"kube-proxy rules\"\n", "", 1)
			if cli != nl {
				t.Errorf("netlink and nft disagree:\n%s", lineDiff(cli, nl))
			}
			for _, ns := range []*nettest.NS{viaCLI, viaNetlink} {
				if _, err := ns.Exec("nft", "delete", "table", "ip", TableName); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// endpointMapType undoes another: nft keeps a map's typeof expression in
// userdata of its own making, which google/nftables does not write, so
// nft shows an endpoint map made over netlink by its kernel types (the
// same key and value, byte for byte).
func endpointMapType(listing string) string {
	return endpointMapDecl.ReplaceAllStringFunc(listing, func(m string) string {
		sub := endpointMapDecl.FindStringSubmatch(m)
		return sub[1] + "typeof " + endpointMapTypeOf(sub[2])
	})
}

var endpointMapDecl = regexp.MustCompile(`(map endpoints-(\w+)-\d+ \{\n\s*)type 0 : ipv4_addr \. inet_service`)

var numgenKey = regexp.MustCompile(`([{,] )(\d+) : `)

// hostOrderKeys undoes a display artifact: google/nftables marks every
// anonymous set's keys big-endian in the userdata nft reads to print
// them, while numgen's keys are host-order integers (which is what the
// kernel compares, and what the netlink backend writes), so nft prints
// 1 as 16777216 on a little-endian machine.
func hostOrderKeys(listing string) string {
	return numgenKey.ReplaceAllStringFunc(listing, func(m string) string {
		sub := numgenKey.FindStringSubmatch(m)
		n, _ := strconv.ParseUint(sub[2], 10, 32)
		if n != 0 && n%(1<<24) == 0 {
			n >>= 24
		}
		return sub[1] + strconv.FormatUint(n, 10) + " : "
	})
}

// TestNetlinkFailureIsAtomic (root): the netlink backend asks the kernel
// to acknowledge only the last message of a batch, so an error in any
// earlier one must still fail Run, naming that message, and leave nothing
// of the transaction behind.
func TestNetlinkFailureIsAtomic(t *testing.T) {
	if reason := nettest.Skip(); reason != "" {
		require.Skip(t, reason)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		require.Skip(t, "nft not installed (apt-get install nftables)")
	}
	env := &nettest.Env{}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Error(err)
		}
	})
	ns, err := env.NewNS("nft-atomic")
	if err != nil {
		t.Fatal(err)
	}
	b := &Netlink{}
	run := func(ops func(Tx)) error {
		return ns.Do(func() error {
			tx := b.NewTx(false)
			ops(tx)
			return b.Run(context.Background(), tx)
		})
	}
	// The jump to a chain that does not exist is the second of four
	// messages; the last one (a good rule) is the one acknowledged.
	err = run(func(tx Tx) {
		tx.AddTable()
		tx.AddChain("a", nil)
		tx.AddRule("a", "goto no-such-chain")
		tx.AddRule("a", "accept")
	})
	if err == nil || !strings.Contains(err.Error(), "message 3 of 6") {
		t.Fatalf("Run of a bad transaction: %v, want the error of message 3 of 6", err)
	}
	if out, err := ns.Exec("nft", "list", "tables"); err != nil || strings.Contains(string(out), TableName) {
		t.Fatalf("after the failed transaction: %q (%v), want no table", out, err)
	}
	if err := run(func(tx Tx) {
		tx.AddTable()
		tx.AddChain("a", nil)
		tx.AddRule("a", "accept")
	}); err != nil {
		t.Fatal(err)
	}
	if out, err := ns.Exec("nft", "list", "chain", "ip", TableName, "a"); err != nil || !strings.Contains(string(out), "accept") {
		t.Fatalf("after the good transaction: %q (%v)", out, err)
	}
}
