// Package fault injects faults into a running local cluster (`make up`,
// hack/local-up-cluster.sh) while a bounded client load writes through
// the apiservers, then checks that every write the cluster acknowledged
// is in etcd and measures how long the cluster took to recover. `make
// fault` brings a cluster up, runs the cases (fault_test.go) and writes
// their figures into docs/reliability.md (FAULT_REPORT).
//
// This file holds the pure parts - counting a load's attempts, the
// recovery time, the report table - so they are unit-tested without a
// cluster.
package fault

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Attempt is one write of a load: which object it created, when it was
// sent and answered, and how it ended.
type Attempt struct {
	Name       string
	Start, End time.Time
	// Err is nil for an acknowledged write.
	Err error
	// Ambiguous marks a failure after which the write may have landed
	// (the connection broke after the request went out, or a timeout).
	Ambiguous bool
}

// Acked reports whether the cluster acknowledged the write.
func (a Attempt) Acked() bool { return a.Err == nil }

// Tally is what a load's attempts add up to.
type Tally struct {
	Attempts  int
	Acked     int
	Failed    int // Attempts - Acked
	Ambiguous int // failures whose outcome is unknown (part of Failed)
}

// Count sums attempts.
func Count(attempts []Attempt) Tally {
	var t Tally
	for _, a := range attempts {
		t.Attempts++
		switch {
		case a.Acked():
			t.Acked++
		case a.Ambiguous:
			t.Failed++
			t.Ambiguous++
		default:
			t.Failed++
		}
	}
	return t
}

// Lost returns, sorted, the names of the acknowledged writes that stored
// (the names found in etcd afterwards) does not hold.
func Lost(attempts []Attempt, stored map[string]bool) []string {
	var lost []string
	for _, a := range attempts {
		if a.Acked() && !stored[a.Name] {
			lost = append(lost, a.Name)
		}
	}
	sort.Strings(lost)
	return lost
}

// Landed counts the failed writes that are in stored all the same: the
// ambiguous ones that had been applied (and, if any, failures reported
// as definite that were applied anyway - see the second result).
func Landed(attempts []Attempt, stored map[string]bool) (ambiguous, definite int) {
	for _, a := range attempts {
		if a.Acked() || !stored[a.Name] {
			continue
		}
		if a.Ambiguous {
			ambiguous++
		} else {
			definite++
		}
	}
	return ambiguous, definite
}

// Recovery is how long after fault the writes succeeded again: the end of
// the first acknowledged write sent after the fault and after the last
// failed write that was sent after the fault. Zero means no write sent
// after the fault failed or waited (it then still counts the first write's
// latency, so a stall without errors shows). ok is false when no write
// succeeded after the last failure: the load never recovered.
func Recovery(fault time.Time, attempts []Attempt) (d time.Duration, ok bool) {
	pivot := fault
	for _, a := range attempts {
		if !a.Acked() && !a.Start.Before(fault) && a.Start.After(pivot) {
			pivot = a.Start
		}
	}
	var first *Attempt
	for i := range attempts {
		a := &attempts[i]
		if !a.Acked() || a.Start.Before(pivot) {
			continue
		}
		if first == nil || a.End.Before(first.End) {
			first = a
		}
	}
	if first == nil {
		return 0, false
	}
	return first.End.Sub(fault), true
}

// Row is one case's line in the report.
type Row struct {
	Fault string
	Load  string
	// Lost is the acknowledged writes lost, as "0 of 612".
	Lost string
	// Failed is the requests that failed while the fault lasted.
	Failed string
	// Recover is the time to recover, with what was timed.
	Recover string
}

// LostCell formats the lost column: "0 of N" acknowledged.
func LostCell(lost []string, t Tally) string {
	s := fmt.Sprintf("%d of %d", len(lost), t.Acked)
	if len(lost) > 0 {
		shown := lost
		if len(shown) > 3 {
			shown = shown[:3]
		}
		s += " (" + strings.Join(shown, ", ")
		if len(lost) > 3 {
			s += ", ..."
		}
		s += ")"
	}
	return s
}

// FailedCell formats the failed-requests column from the load's tally
// and how many of its ambiguous failures had landed.
func FailedCell(t Tally, ambiguousLanded int) string {
	s := fmt.Sprintf("%d of %d", t.Failed, t.Attempts)
	if t.Ambiguous > 0 {
		s += fmt.Sprintf(" (%d ambiguous, %d of them landed)", t.Ambiguous, ambiguousLanded)
	}
	return s
}

// Seconds formats a duration as seconds with one decimal ("2.3 s").
func Seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// Header is the text above the table in docs/reliability.md.
const Header = `# Reliability: the fault suite's figures

Written by ` + "`make fault`" + ` (test/fault, with FAULT_REPORT=docs/reliability.md):
do not edit by hand. Each case brings a fault upon a local cluster
(` + "`make up`" + `: 3 etcd members, 2 apiservers, 2 schedulers and 2
controller-managers with leader election, 3 nodes) while a client load
runs through it, then checks every acknowledged write against etcd.

- **fault**: what was done, to which process (killed by the PID the
  harness recorded; restarted as the harness starts it).
- **load**: the client load that ran through the fault - ConfigMap
  creates through the apiservers at a steady rate, each in its own request
  (open loop: a slow answer does not slow the next send), each with its
  own deadline.
- **acknowledged writes lost**: creates the apiserver answered with
  success that etcd does not hold afterwards, of all acknowledged ones.
  The goal is 0.
- **failed requests during the fault**: creates that returned an error, of
  all sent; "ambiguous" ones were cut after the request went out (the
  client reports the outcome as unknown) and "landed" counts those found in
  etcd afterwards.
- **time to recover**: from the fault to the first acknowledged write sent
  after the last failed one (so a stall shows even without errors), and
  what else the case timed.

The figures come from one run on a shared 2-core machine with everything
(etcd, apiservers, nodes, the test) on it: they vary from run to run with
the load of the machine, and say what the code does, not what a cluster
of real machines would do.

## When etcd is out of space (the NOSPACE alarm)

etcd refuses every write once its database file reaches
` + "`--quota-backend-bytes`" + ` (2 GiB unless set; ` + "`make fault`" + ` runs the members
with 128 MiB) and raises the NOSPACE alarm, which stays raised until an
operator disarms it. The apiservers then answer every create, update and
patch with one line, a 500 as Kubernetes answers: "etcd is out of space
(NOSPACE alarm: ...): writes are refused until an operator compacts,
defragments and disarms the alarm (hack/etcd-backup.sh reclaim); reads and
deletes still work". Node Leases go stale, and a scheduler or
controller-manager that cannot renew its Lease within its renew deadline
exits. To recover:

1. Find and delete what filled the database (` + "`minictl delete`" + ` works
   during the alarm for objects it removes at once; one with finalizers
   or a grace period needs a write, ` + "`etcdctl del`" + ` always works), or
   give etcd more room: restart each member with a larger
   ` + "`--quota-backend-bytes`" + ` (and disk to match).
2. ` + "`hack/etcd-backup.sh reclaim`" + `: compacts the history up to the
   current revision, defragments every member in turn (each is busy while
   it shrinks its file) and disarms the alarm. Deleting alone frees no
   space: the file keeps its size until it is compacted and
   defragmented, and etcd counts the file.
3. Start the schedulers and controller-managers that exited (their
   supervisor does; in ` + "`make up`" + `, ` + "`hack/local-up-cluster.sh start-component`" + `).

The disk-full row below is that procedure timed under load.
`

// WriteReport writes the report: Header, when and where it ran (meta),
// and the table of rows.
func WriteReport(w io.Writer, meta string, rows []Row) error {
	var b strings.Builder
	b.WriteString(Header)
	if meta != "" {
		b.WriteString("\n" + meta + "\n")
	}
	b.WriteString("\n| fault | load | acknowledged writes lost (goal 0) | failed requests during the fault | time to recover |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(r.Fault), cell(r.Load), cell(r.Lost), cell(r.Failed), cell(r.Recover))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell keeps a value inside its table cell: no pipes, no line breaks.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	if s == "" {
		return "-"
	}
	return s
}
