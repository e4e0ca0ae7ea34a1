// Package imports holds the import rules of the module's trees and the
// check that enforces them over `go list` output: a component (apiserver,
// scheduler, controller-manager, kubelet, kube-proxy, minictl, each add-on)
// imports only minik8s/api/... and its own tree, so the components talk
// to each other through the API alone, as DESIGN.md asks. The rules are
// the table docs/architecture.md prints; the test in this package keeps
// the two and the tree in step.
package imports

import (
	"fmt"
	"sort"
	"strings"
)

// Module is the module path every rule is relative to.
const Module = "minik8s"

// A Rule says what the packages of one tree may import from the module.
// Imports outside the module (the standard library, third-party modules)
// are not its concern.
type Rule struct {
	// Tree is the directory the rule covers, relative to the module root
	// ("kubelet", "addons/dns").
	Tree string
	// May lists the trees its packages may import besides their own.
	// "*" allows everything.
	May []string
	// TestMay lists what its tests may import besides May: test doubles
	// and harnesses in test/, manifests and image names in deploy/.
	TestMay []string
	// Why is the reason printed with a violation.
	Why string
}

const componentWhy = "a component imports only minik8s/api/... and its own tree; it talks to the others through the API server"

func component(tree string) Rule {
	return Rule{Tree: tree, May: []string{"api"}, TestMay: []string{"test", "deploy"}, Why: componentWhy}
}

// Rules are the import rules of every tree in the module. A package under
// no rule's tree is itself a violation: a new tree gets a rule here and a
// line in docs/architecture.md.
var Rules = []Rule{
	{Tree: "api", May: nil, TestMay: []string{"test"},
		Why: "api/ is the project's client-go: every component imports it, so it imports none of them"},
	component("apiserver"),
	component("scheduler"),
	component("controller-manager"),
	component("kubelet"),
	component("kube-proxy"),
	component("minictl"),
	component("addons/dns"),
	component("addons/ingress"),
	component("addons/dashboard"),
	component("addons/kubia"),
	component("addons/pause"),
	{Tree: "deploy", May: []string{"api"},
		TestMay: []string{"test", "apiserver", "scheduler", "controller-manager", "kubelet", "kube-proxy", "minictl", "addons"},
		Why:     "deploy/ is what is installed: manifests, units and images; only its tests check them against the components' flags, and nothing of it may import hack/"},
	{Tree: "test", May: []string{"*"}, Why: "test/ drives whole clusters and may import anything"},
	{Tree: "hack", May: []string{"*"}, Why: "hack/ holds the developer's scripts and benchmarks and may import anything"},
	{Tree: "", May: []string{"*"}, Why: "the module root holds only the tools pin"},
}

// Package is one `go list` entry: its import path and the module-internal
// and external imports of its code and of its tests.
type Package struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// Violation is one import a rule forbids.
type Violation struct {
	Importer string // the importing package
	Import   string // the package it imports
	Test     bool   // the import is in a _test.go file
	Rule     Rule   // the importer's rule; Tree "" and no Why when it has none
}

func (v Violation) String() string {
	if v.Rule.Why == "" {
		return fmt.Sprintf("%s: no import rule covers this package; add one to test/imports.Rules and docs/architecture.md", v.Importer)
	}
	where := "imports"
	if v.Test {
		where = "imports in its tests"
	}
	return fmt.Sprintf("%s %s %s: rule for %s/: %s", v.Importer, where, v.Import, v.Rule.Tree, v.Rule.Why)
}

// rel returns path relative to the module root and whether it is inside
// the module at all.
func rel(path string) (string, bool) {
	if path == Module {
		return "", true
	}
	if r, ok := strings.CutPrefix(path, Module+"/"); ok {
		return r, true
	}
	return "", false
}

// under reports whether the relative path p lies in tree.
func under(p, tree string) bool {
	return tree == "" || p == tree || strings.HasPrefix(p, tree+"/")
}

// ruleFor returns the rule of the longest tree holding p.
func ruleFor(p string) (Rule, bool) {
	best, found := Rule{}, false
	for _, r := range Rules {
		if under(p, r.Tree) && (!found || len(r.Tree) > len(best.Tree)) {
			best, found = r, true
		}
	}
	return best, found
}

func allowed(p string, r Rule, trees []string) bool {
	if under(p, r.Tree) {
		return true
	}
	for _, t := range trees {
		if t == "*" || under(p, t) {
			return true
		}
	}
	return false
}

// Check returns every import of pkgs that its rule forbids, sorted by
// importer and import.
func Check(pkgs []Package) []Violation {
	var out []Violation
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		r, ok := ruleFor(from)
		if !ok || (r.Tree == "" && from != "") {
			out = append(out, Violation{Importer: p.ImportPath})
			continue
		}
		seen := map[string]bool{}
		check := func(imps []string, test bool) {
			for _, imp := range imps {
				to, ok := rel(imp)
				if !ok || seen[imp] || imp == p.ImportPath {
					continue
				}
				may := r.May
				if test {
					may = append(append([]string(nil), r.May...), r.TestMay...)
				}
				if !allowed(to, r, may) {
					seen[imp] = true
					out = append(out, Violation{Importer: p.ImportPath, Import: imp, Test: test, Rule: r})
				}
			}
		}
		check(p.Imports, false)
		check(p.TestImports, true)
		check(p.XTestImports, true)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Importer != out[j].Importer {
			return out[i].Importer < out[j].Importer
		}
		return out[i].Import < out[j].Import
	})
	return out
}
