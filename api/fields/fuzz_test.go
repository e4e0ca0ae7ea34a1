package fields

import (
	"reflect"
	"testing"
)

// FuzzParse: no field selector panics the parser, and every one it
// accepts prints canonically (values escaped) as a string that parses to
// the same terms.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "metadata.name=a", "spec.nodeName==n1,status.phase!=Running", `metadata.name=a\,b`, `a=b\=c\\`,
		"a", "=b", "a=", "a!=", ",", "a=b,", `a=\`, `a=\x`, "a=b=c", "metadata.namespace=default,metadata.name=x y",
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
		_ = sel.Matches(func(string) (string, bool) { return "x", true })
		_ = Supported("pods", sel)
	})
}
