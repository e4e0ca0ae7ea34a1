// Package ipt is the slice of iptables kube-proxy uses: a few single-rule
// operations through github.com/coreos/go-iptables (base chains and the
// jumps into them from the built-in chains) and whole-table updates through
// one iptables-restore --noflush, which the kernel applies atomically.
//
// Every call acts on the network namespace of the calling OS thread (the
// iptables processes inherit it), so a caller working in another namespace
// locks its goroutine to a thread in that namespace first.
package ipt

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/coreos/go-iptables/iptables"
)

// Table is an iptables table.
type Table string

// The tables kube-proxy writes.
const (
	TableNAT    Table = "nat"
	TableFilter Table = "filter"
)

// Interface is what the proxiers need of iptables. The exec-backed
// implementation is New; ipttest.Fake keeps tables in memory.
type Interface interface {
	// EnsureChain creates chain in table unless it exists.
	EnsureChain(table Table, chain string) error
	// EnsureRule inserts rule at the top of chain unless an identical
	// rule is anywhere in the chain.
	EnsureRule(table Table, chain string, rule ...string) error
	// DeleteRule removes rule from chain; a missing rule or chain is not
	// an error.
	DeleteRule(table Table, chain string, rule ...string) error
	// Restore applies data, in iptables-restore format for this one table
	// ("*nat" ... "COMMIT"), without flushing chains data does not name.
	// It succeeds or changes nothing.
	Restore(table Table, data []byte) error
	// Save returns the table in iptables-save format.
	Save(table Table) ([]byte, error)
}

// Runner is the exec-backed Interface.
type Runner struct {
	ipt           *iptables.IPTables
	restore, save string
}

var _ Interface = (*Runner)(nil)

// Backends of iptables 1.8: the nf_tables one ("nft", what plain
// `iptables` is on current distributions) and the old x_tables one.
const (
	BackendNFT    = "nft"
	BackendLegacy = "legacy"
	// BackendDefault runs plain iptables, iptables-restore, iptables-save.
	BackendDefault = ""
)

// New returns a Runner for IPv4 iptables as `iptables` is installed. It
// runs `iptables --version`.
func New() (*Runner, error) { return NewBackend(BackendDefault) }

// NewBackend returns a Runner for a backend: "" (whatever `iptables` is),
// "nft" or "legacy" (iptables-nft / iptables-legacy and their restore and
// save commands). The two keep separate tables in the kernel; all users
// of one network namespace should agree on one.
func NewBackend(backend string) (*Runner, error) {
	suffix := ""
	switch backend {
	case BackendDefault:
	case BackendNFT, BackendLegacy:
		suffix = "-" + backend
	default:
		return nil, fmt.Errorf("iptables backend %q: want nft or legacy", backend)
	}
	ipt, err := iptables.New(iptables.Timeout(5), iptables.Path("iptables"+suffix))
	if err != nil {
		return nil, fmt.Errorf("iptables%s: %w", suffix, err)
	}
	return &Runner{ipt: ipt, restore: "iptables" + suffix + "-restore", save: "iptables" + suffix + "-save"}, nil
}

// IPTables returns the go-iptables handle (for callers needing a rule
// operation Interface does not have, such as the per-rule baseline of
// the benchmark).
func (r *Runner) IPTables() *iptables.IPTables { return r.ipt }

// EnsureChain implements Interface.
func (r *Runner) EnsureChain(table Table, chain string) error {
	ok, err := r.ipt.ChainExists(string(table), chain)
	if err != nil {
		return fmt.Errorf("check chain %s/%s: %w", table, chain, err)
	}
	if ok {
		return nil
	}
	if err := r.ipt.NewChain(string(table), chain); err != nil {
		// Someone may have created it meanwhile.
		if ok, err2 := r.ipt.ChainExists(string(table), chain); err2 == nil && ok {
			return nil
		}
		return fmt.Errorf("create chain %s/%s: %w", table, chain, err)
	}
	return nil
}

// EnsureRule implements Interface.
func (r *Runner) EnsureRule(table Table, chain string, rule ...string) error {
	if err := r.ipt.InsertUnique(string(table), chain, 1, rule...); err != nil {
		return fmt.Errorf("ensure rule in %s/%s %q: %w", table, chain, strings.Join(rule, " "), err)
	}
	return nil
}

// DeleteRule implements Interface.
func (r *Runner) DeleteRule(table Table, chain string, rule ...string) error {
	exists, err := r.ipt.Exists(string(table), chain, rule...)
	if err != nil {
		if ok, err2 := r.ipt.ChainExists(string(table), chain); err2 == nil && !ok {
			return nil
		}
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("check rule in %s/%s: %w", table, chain, err)
	}
	if !exists {
		return nil
	}
	if err := r.ipt.Delete(string(table), chain, rule...); err != nil {
		return fmt.Errorf("delete rule in %s/%s %q: %w", table, chain, strings.Join(rule, " "), err)
	}
	return nil
}

func isNotFound(err error) bool {
	var e *iptables.Error
	return errors.As(err, &e) && e.IsNotExist()
}

// Restore implements Interface with `iptables-restore --noflush`.
func (r *Runner) Restore(table Table, data []byte) error {
	cmd := exec.Command(r.restore, "--noflush", "-w", "5")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s of table %s: %w: %s%s", r.restore, table, err, strings.TrimSpace(stderr.String()), restoreContext(data, stderr.String()))
	}
	return nil
}

// restoreContext quotes the line iptables-restore complained about
// ("Error occurred at line: N"), which the error alone does not show.
func restoreContext(data []byte, stderr string) string {
	_, after, ok := strings.Cut(stderr, "line: ")
	if !ok {
		return ""
	}
	var n int
	if _, err := fmt.Sscanf(after, "%d", &n); err != nil || n < 1 {
		return ""
	}
	lines := bytes.Split(data, []byte("\n"))
	if n > len(lines) {
		return ""
	}
	return fmt.Sprintf(" (line %d: %q)", n, lines[n-1])
}

// Save implements Interface with `iptables-save -t table`.
func (r *Runner) Save(table Table) ([]byte, error) {
	out, err := exec.Command(r.save, "-t", string(table)).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = strings.TrimSpace(string(ee.Stderr))
		}
		return nil, fmt.Errorf("%s -t %s: %w: %s", r.save, table, err, stderr)
	}
	return out, nil
}

// Chains returns the chain names declared in iptables-save output.
func Chains(save []byte) []string {
	var out []string
	for _, line := range bytes.Split(save, []byte("\n")) {
		if len(line) > 1 && line[0] == ':' {
			if sp := bytes.IndexByte(line, ' '); sp > 1 {
				out = append(out, string(line[1:sp]))
			}
		}
	}
	return out
}
