package labels

import (
	"strings"
	"testing"

	metav1 "minik8s/api/meta/v1"
)

func TestParseAndMatch(t *testing.T) {
	web := map[string]string{"app": "web", "tier": "front", "env": "prod"}
	db := map[string]string{"app": "db", "env": "staging", "canary": ""}
	none := map[string]string{}
	tests := []struct {
		sel       string
		canonical string
		matches   []map[string]string
		misses    []map[string]string
	}{
		{"", "", []map[string]string{web, db, none}, nil},
		{"   ", "", []map[string]string{web}, nil},
		{"app=web", "app=web", []map[string]string{web}, []map[string]string{db, none}},
		{"app==web", "app=web", []map[string]string{web}, []map[string]string{db}},
		{"app != web", "app!=web", []map[string]string{db, none}, []map[string]string{web}},
		{"env in (prod, staging)", "env in (prod,staging)", []map[string]string{web, db}, []map[string]string{none}},
		{"env notin (prod)", "env notin (prod)", []map[string]string{db, none}, []map[string]string{web}},
		{"tier", "tier", []map[string]string{web}, []map[string]string{db, none}},
		{"!tier", "!tier", []map[string]string{db, none}, []map[string]string{web}},
		{"canary=", "canary=", []map[string]string{db}, []map[string]string{web, none}},
		{"canary in (,x)", "canary in (,x)", []map[string]string{db}, []map[string]string{web}},
		{"canary in ()", "canary in ()", []map[string]string{db}, []map[string]string{web}},
		{"canary in (,)", "canary in ()", []map[string]string{db}, []map[string]string{web}},
		{"tier,app=web,env in (prod)", "app=web,env in (prod),tier", []map[string]string{web}, []map[string]string{db}},
		{"app=web,app=db", "app=web,app=db", nil, []map[string]string{web, db}},
		{"example.com/role=x", "example.com/role=x", []map[string]string{{"example.com/role": "x"}}, []map[string]string{web}},
		{"in=x", "in=x", []map[string]string{{"in": "x"}}, []map[string]string{web}},
		{"env in (staging,prod,prod)", "env in (prod,staging)", []map[string]string{db}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			s, err := Parse(tt.sel)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := s.String(); got != tt.canonical {
				t.Errorf("String() = %q, want %q", got, tt.canonical)
			}
			again, err := Parse(s.String())
			if err != nil || again.String() != s.String() {
				t.Errorf("round trip of %q: %v, %v", s.String(), again, err)
			}
			for _, m := range tt.matches {
				if !s.Matches(m) {
					t.Errorf("does not match %v", m)
				}
			}
			for _, m := range tt.misses {
				if s.Matches(m) {
					t.Errorf("matches %v", m)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ sel, wantInErr string }{
		{"app=", ""}, // valid: empty value
		{"=web", `position 0 ("="): expected a label key`},
		{"app=web,", "end of selector"},
		{"app=web x", `expected ',' or end of selector`},
		{"app in prod", `expected '(' to open`},
		{"app in (a b)", `expected ',' or ')'`},
		{"app in (a", `end of selector`},
		{"app >= 3", `expected one of '=', '==', '!=', 'in', 'notin' after key "app"`},
		{"!", "expected a label key after '!'"},
		{"app=(x)", `expected a value after "="`},
		{"-bad=x", `invalid label key "-bad"`},
		{"app=bad value!", "expected ',' or end of selector"},
		{"app=" + strings.Repeat("x", 64), "invalid label value"},
		{"Bad_Prefix/x=y", "prefix must be a DNS subdomain"},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			_, err := Parse(tt.sel)
			if tt.wantInErr == "" {
				if err != nil && tt.sel == "app=" {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error containing %q", tt.sel, tt.wantInErr)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantInErr)
			}
		})
	}
}

func TestEverythingNothing(t *testing.T) {
	if !Everything().Matches(nil) || !Everything().Empty() || Everything().String() != "" {
		t.Error("Everything must match all, be empty and print as \"\"")
	}
	if Nothing().Matches(map[string]string{}) || Nothing().Empty() {
		t.Error("Nothing must match nothing and not be empty")
	}
}

func TestFromLabelSelector(t *testing.T) {
	tests := []struct {
		name    string
		in      *metav1.LabelSelector
		want    string
		wantErr string
		match   map[string]string
		miss    map[string]string
	}{
		{name: "nil selects nothing", in: nil, want: "<none>", miss: map[string]string{}},
		{name: "empty selects everything", in: &metav1.LabelSelector{}, want: "", match: map[string]string{"a": "b"}},
		{
			name: "labels and expressions",
			in: &metav1.LabelSelector{
				MatchLabels: map[string]string{"app": "web", "a": "1"},
				MatchExpressions: []*metav1.LabelSelectorRequirement{
					{Key: "env", Operator: "In", Values: []string{"prod", "dev"}},
					{Key: "tier", Operator: "NotIn", Values: []string{"db"}},
					{Key: "team", Operator: "Exists"},
					{Key: "canary", Operator: "DoesNotExist"},
				},
			},
			want:  "a=1,app=web,!canary,env in (dev,prod),team,tier notin (db)",
			match: map[string]string{"app": "web", "a": "1", "env": "dev", "team": "x"},
			miss:  map[string]string{"app": "web", "a": "1", "env": "dev", "team": "x", "canary": "y"},
		},
		{name: "bad operator", in: &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "a", Operator: "Gt"}}},
			wantErr: `matchExpressions[0]: operator "Gt"`},
		{name: "In without values", in: &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "a", Operator: "In"}}},
			wantErr: "non-empty set"},
		{name: "Exists with values", in: &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "a", Operator: "Exists", Values: []string{"x"}}}},
			wantErr: "takes no values"},
		{name: "bad matchLabels key", in: &metav1.LabelSelector{MatchLabels: map[string]string{"a b": "x"}}, wantErr: "matchLabels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := FromLabelSelector(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != tt.want {
				t.Errorf("String() = %q, want %q", s.String(), tt.want)
			}
			if tt.match != nil && !s.Matches(tt.match) {
				t.Errorf("does not match %v", tt.match)
			}
			if tt.miss != nil && s.Matches(tt.miss) {
				t.Errorf("matches %v", tt.miss)
			}
		})
	}
}

func TestSelectorFromSet(t *testing.T) {
	s := SelectorFromSet(Set{"b": "2", "a": "1"})
	if s.String() != "a=1,b=2" || (Set{"b": "2", "a": "1"}).String() != "a=1,b=2" {
		t.Errorf("got %q", s.String())
	}
	if !s.Matches(map[string]string{"a": "1", "b": "2", "c": "3"}) || s.Matches(map[string]string{"a": "1"}) {
		t.Error("set selector semantics wrong")
	}
	if _, err := ValidatedSelectorFromSet(Set{"": "x"}); err == nil {
		t.Error("empty key accepted")
	}
}
