package fault

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden")

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// at is an attempt sent at t0+start seconds and answered at t0+end.
func at(name string, start, end float64, err error, ambiguous bool) Attempt {
	sec := func(f float64) time.Time { return t0.Add(time.Duration(f * float64(time.Second))) }
	return Attempt{Name: name, Start: sec(start), End: sec(end), Err: err, Ambiguous: ambiguous}
}

var errDown = errors.New("unavailable")

func TestCountLostLanded(t *testing.T) {
	as := []Attempt{
		at("a", 0, 0.1, nil, false),
		at("b", 1, 1.1, errDown, false),
		at("c", 2, 12, errDown, true),
		at("d", 3, 3.1, nil, false),
		at("e", 4, 14, errDown, true),
		at("f", 5, 5.1, nil, false),
	}
	stored := map[string]bool{"a": true, "c": true, "d": true, "b": true}
	if got, want := Count(as), (Tally{Attempts: 6, Acked: 3, Failed: 3, Ambiguous: 2}); got != want {
		t.Errorf("Count = %+v, want %+v", got, want)
	}
	if got := Lost(as, stored); len(got) != 1 || got[0] != "f" {
		t.Errorf("Lost = %v, want [f]", got)
	}
	if amb, def := Landed(as, stored); amb != 1 || def != 1 {
		t.Errorf("Landed = %d ambiguous, %d definite; want 1, 1", amb, def)
	}
}

func TestRecovery(t *testing.T) {
	fault := t0.Add(10 * time.Second)
	for _, tc := range []struct {
		name string
		as   []Attempt
		want time.Duration
		ok   bool
	}{
		{"no failure, fast", []Attempt{at("a", 9, 9.1, nil, false), at("b", 10.05, 10.1, nil, false)}, 100 * time.Millisecond, true},
		{"no failure, stalled", []Attempt{at("a", 10.05, 12.5, nil, false), at("b", 10.1, 12.5, nil, false)}, 2500 * time.Millisecond, true},
		{"failures then success", []Attempt{
			at("a", 10.0, 10.5, errDown, false),
			at("b", 11.0, 11.5, errDown, true),
			at("c", 10.5, 11.8, nil, false), // sent before the last failure: does not count
			at("d", 12.0, 12.2, nil, false),
			at("e", 12.5, 12.6, nil, false),
		}, 2200 * time.Millisecond, true},
		{"failures before the fault ignored", []Attempt{at("a", 5, 5.1, errDown, false), at("b", 10.2, 10.3, nil, false)}, 300 * time.Millisecond, true},
		{"never recovered", []Attempt{at("a", 10.1, 20, errDown, true), at("b", 9, 9.1, nil, false)}, 0, false},
		{"no attempt", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Recovery(fault, tc.as)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Recovery = %s, %v; want %s, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCells(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{LostCell(nil, Tally{Acked: 612}), "0 of 612"},
		{LostCell([]string{"cm-1"}, Tally{Acked: 5}), "1 of 5 (cm-1)"},
		{LostCell([]string{"a", "b", "c", "d"}, Tally{Acked: 9}), "4 of 9 (a, b, c, ...)"},
		{FailedCell(Tally{Attempts: 400}, 0), "0 of 400"},
		{FailedCell(Tally{Attempts: 400, Failed: 7, Ambiguous: 3}, 2), "7 of 400 (3 ambiguous, 2 of them landed)"},
		{Seconds(2345 * time.Millisecond), "2.3 s"},
		{cell("a|b\nc"), `a\|b c`},
		{cell(""), "-"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestWriteReport(t *testing.T) {
	var b strings.Builder
	err := WriteReport(&b, "Last run: 2026-12-05 12:00 UTC.", []Row{
		{Fault: "kill -9 the etcd leader (etcd-0)", Load: "ConfigMap creates, 20/s", Lost: "0 of 300", Failed: "0 of 300", Recover: "writes: 1.2 s"},
		{Fault: "kill -9 apiserver-0 | apiserver-1", Lost: "0 of 10", Failed: "2 of 12 (2 ambiguous, 2 of them landed)", Recover: "writes: 0.3 s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("report differs from %s (run with -update to accept):\n%s", golden, b.String())
	}
}
