package informer

import (
	"fmt"
	"sort"
	"testing"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func mkPod(ns, name, rv, node string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv, Labels: labels},
		Spec:     &corev1.PodSpec{NodeName: node},
	}
}

func describe(cs []change[*corev1.Pod]) []string {
	var out []string
	for _, c := range cs {
		switch c.typ {
		case changeAdd:
			out = append(out, "add "+KeyOf(c.obj)+"@"+c.obj.Metadata.ResourceVersion)
		case changeUpdate:
			out = append(out, fmt.Sprintf("update %s@%s->%s", KeyOf(c.obj), c.old.Metadata.ResourceVersion, c.obj.Metadata.ResourceVersion))
		case changeDelete:
			out = append(out, "delete "+KeyOf(c.obj)+"@"+c.obj.Metadata.ResourceVersion)
		}
	}
	sort.Strings(out)
	return out
}

func TestReplaceDiff(t *testing.T) {
	tests := []struct {
		name   string
		before []*corev1.Pod
		after  []*corev1.Pod
		want   []string
	}{
		{"first list adds all", nil,
			[]*corev1.Pod{mkPod("a", "x", "1", "", nil), mkPod("b", "y", "2", "", nil)},
			[]string{"add a/x@1", "add b/y@2"}},
		{"unchanged gives nothing", []*corev1.Pod{mkPod("a", "x", "1", "", nil)},
			[]*corev1.Pod{mkPod("a", "x", "1", "", nil)}, nil},
		{"moved version is an update", []*corev1.Pod{mkPod("a", "x", "1", "", nil)},
			[]*corev1.Pod{mkPod("a", "x", "5", "", nil)}, []string{"update a/x@1->5"}},
		{"gone while disconnected is a delete with last state",
			[]*corev1.Pod{mkPod("a", "x", "1", "", nil), mkPod("a", "gone", "3", "", nil)},
			[]*corev1.Pod{mkPod("a", "x", "1", "", nil), mkPod("a", "new", "9", "", nil)},
			[]string{"add a/new@9", "delete a/gone@3"}},
		{"empty list deletes everything", []*corev1.Pod{mkPod("", "n1", "1", "", nil)}, nil, []string{"delete n1@1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore[*corev1.Pod]()
			s.replace(tt.before)
			got := describe(s.replace(tt.after))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("changes = %v, want %v", got, tt.want)
			}
			if len(s.list()) != len(tt.after) {
				t.Errorf("store holds %d items, want %d", len(s.list()), len(tt.after))
			}
		})
	}
}

func TestApply(t *testing.T) {
	s := newStore[*corev1.Pod]()
	steps := []struct {
		typ  string
		pod  *corev1.Pod
		want []string
	}{
		{"ADDED", mkPod("a", "x", "1", "", nil), []string{"add a/x@1"}},
		{"ADDED", mkPod("a", "x", "2", "", nil), []string{"update a/x@1->2"}},
		{"MODIFIED", mkPod("a", "y", "3", "", nil), []string{"add a/y@3"}},
		{"MODIFIED", mkPod("a", "y", "4", "", nil), []string{"update a/y@3->4"}},
		{"DELETED", mkPod("a", "y", "5", "", nil), []string{"delete a/y@5"}},
		{"DELETED", mkPod("a", "y", "6", "", nil), nil},
	}
	for i, st := range steps {
		c, ok := s.apply(st.typ, st.pod)
		var got []string
		if ok {
			got = describe([]change[*corev1.Pod]{c})
		}
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Errorf("step %d %s: %v, want %v", i, st.typ, got, st.want)
		}
	}
}

func TestIndexes(t *testing.T) {
	s := newStore[*corev1.Pod]()
	s.apply("ADDED", mkPod("a", "x", "1", "n1", nil))
	s.addIndexer("node", func(p *corev1.Pod) []string { return []string{p.Spec.GetNodeName()} })
	s.apply("ADDED", mkPod("b", "y", "2", "n1", nil))
	names := func(idx, v string) string {
		objs, ok := s.byIndex(idx, v)
		if !ok {
			return "no index"
		}
		var out []string
		for _, o := range objs {
			out = append(out, KeyOf(o))
		}
		sort.Strings(out)
		return fmt.Sprint(out)
	}
	if got := names("node", "n1"); got != "[a/x b/y]" {
		t.Errorf("node n1 = %s (index built over existing items?)", got)
	}
	s.apply("MODIFIED", mkPod("a", "x", "3", "n2", nil))
	if got := names("node", "n1"); got != "[b/y]" {
		t.Errorf("after move: n1 = %s", got)
	}
	if got := names("node", "n2"); got != "[a/x]" {
		t.Errorf("after move: n2 = %s", got)
	}
	s.apply("DELETED", mkPod("b", "y", "4", "n1", nil))
	if got := names("node", "n1"); got != "[]" {
		t.Errorf("after delete: n1 = %s", got)
	}
	if got := names(NamespaceIndex, "a"); got != "[a/x]" {
		t.Errorf("namespace a = %s", got)
	}
	if got := names("nope", "x"); got != "no index" {
		t.Errorf("unknown index = %s", got)
	}
}

func TestKeys(t *testing.T) {
	for _, tt := range []struct{ ns, name, key string }{{"default", "web", "default/web"}, {"", "node1", "node1"}} {
		p := mkPod(tt.ns, tt.name, "", "", nil)
		if k := KeyOf(p); k != tt.key {
			t.Errorf("KeyOf = %q, want %q", k, tt.key)
		}
		if ns, n := SplitKey(tt.key); ns != tt.ns || n != tt.name {
			t.Errorf("SplitKey(%q) = %q %q", tt.key, ns, n)
		}
	}
}
