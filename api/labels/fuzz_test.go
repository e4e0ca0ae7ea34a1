package labels

import (
	"reflect"
	"testing"
)

// FuzzParse: no label selector panics the parser, and every one it
// accepts prints canonically as a string that parses to the same
// selector (what clients send in ?labelSelector= round-trips).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "a=b", "a==b,c!=d", "!a", "a", "a in (x,y),b notin (z)", "a in ()", "x>1", "x<-2",
		"example.com/key=v_1-2.3", "a=", "a in (b", ",", "a=b,,c=d", "a b", "!", "a in (x) , b", "A/b=c", "a=\xff",
		"app.kubernetes.io/name in (web, api),tier notin (db),!canary,env",
		"0 in(,)", // printed "0 in ()", which once did not parse
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(sel.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, sel.String(), err)
		}
		if !reflect.DeepEqual(again.Requirements(), sel.Requirements()) {
			t.Fatalf("Parse(%q) = %q, reparsed as %q", s, sel.String(), again.String())
		}
		// Every requirement it built is one NewRequirement accepts.
		for _, r := range sel.Requirements() {
			if _, err := NewRequirement(r.Key, r.Op, r.Values); err != nil {
				t.Fatalf("Parse(%q) built an invalid requirement %v: %v", s, r, err)
			}
		}
		_ = sel.Matches(map[string]string{"a": "b"})
	})
}
