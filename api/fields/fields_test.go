package fields

import (
	"strings"
	"testing"

	certificatesv1 "minik8s/api/certificates/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func getter(m map[string]string) func(string) (string, bool) {
	return func(p string) (string, bool) { v, ok := m[p]; return v, ok }
}

func TestParseAndMatch(t *testing.T) {
	running := map[string]string{"metadata.name": "web", "spec.nodeName": "n1", "status.phase": "Running"}
	pending := map[string]string{"metadata.name": "db", "status.phase": "Pending"}
	tests := []struct {
		sel, canonical string
		matches        []map[string]string
		misses         []map[string]string
	}{
		{"", "", []map[string]string{running, pending}, nil},
		{"metadata.name=web", "metadata.name=web", []map[string]string{running}, []map[string]string{pending}},
		{"metadata.name==web", "metadata.name=web", []map[string]string{running}, []map[string]string{pending}},
		{"spec.nodeName=", "spec.nodeName=", []map[string]string{pending}, []map[string]string{running}},
		{"spec.nodeName!=", "spec.nodeName!=", []map[string]string{running}, []map[string]string{pending}},
		{"status.phase!=Running , metadata.name = db", "metadata.name=db,status.phase!=Running", []map[string]string{pending}, []map[string]string{running}},
		{`metadata.name=a\,b\=c`, `metadata.name=a\,b\=c`, []map[string]string{{"metadata.name": "a,b=c"}}, []map[string]string{running}},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			s, err := Parse(tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != tt.canonical {
				t.Errorf("String() = %q, want %q", s.String(), tt.canonical)
			}
			if again, err := Parse(s.String()); err != nil || again.String() != s.String() {
				t.Errorf("round trip: %v %v", again, err)
			}
			for _, m := range tt.matches {
				if !s.Matches(getter(m)) {
					t.Errorf("does not match %v", m)
				}
			}
			for _, m := range tt.misses {
				if s.Matches(getter(m)) {
					t.Errorf("matches %v", m)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ sel, want string }{
		{"metadata.name", `term "metadata.name" needs an operator`},
		{"=x", "no field path"},
		{"a=b,", `term "" needs an operator`},
		{`a=b\`, "trailing backslash"},
		{`a=b\x`, `invalid escape`},
		{"a=b=c", `unescaped '=' in value`},
		{"a..b=c", "not a dotted field path"},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			_, err := Parse(tt.sel)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
}

func TestRequiresExactMatchAndAnd(t *testing.T) {
	s := And(MustParse("status.phase!=Failed"), OneTermEqualSelector("spec.nodeName", "n1"))
	if v, ok := s.RequiresExactMatch("spec.nodeName"); !ok || v != "n1" {
		t.Errorf("RequiresExactMatch = %q %v", v, ok)
	}
	if _, ok := s.RequiresExactMatch("status.phase"); ok {
		t.Error("!= term reported as exact match")
	}
	if s.String() != "spec.nodeName=n1,status.phase!=Failed" {
		t.Errorf("String() = %q", s.String())
	}
}

func TestObjectGetter(t *testing.T) {
	pod := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app.kubernetes.io/name": "web"}},
		Spec:     &corev1.PodSpec{NodeName: "n1"},
		Status:   &corev1.PodStatus{Phase: "Running"},
	}
	get := ObjectGetter(pod)
	tests := []struct {
		path, want string
		found      bool
	}{
		{"metadata.name", "web", true},
		{"metadata.namespace", "default", true},
		{"spec.nodeName", "n1", true},
		{"status.phase", "Running", true},
		{"status.podIP", "", true},
		{"metadata.labels.app.kubernetes.io/name", "web", true},
		{"metadata.labels.missing", "", true},
		{"spec.containers", "", false},
		{"spec", "", false},
		{"spec.nope", "", false},
		{"metadata.name.x", "", false},
	}
	for _, tt := range tests {
		v, ok := get(tt.path)
		if v != tt.want || ok != tt.found {
			t.Errorf("get(%q) = %q %v, want %q %v", tt.path, v, ok, tt.want, tt.found)
		}
	}
	if !MustParse("spec.nodeName=n1,status.phase=Running,metadata.name!=db").Matches(get) {
		t.Error("selector does not match the pod")
	}

	// Zero values of unset fields read as their Go zero, as Kubernetes does.
	node := &corev1.Node{}
	if !MustParse("spec.unschedulable=false,metadata.name=").Matches(ObjectGetter(node)) {
		t.Error("unset bool must read false")
	}

	// An event's "source" selects its reporting component.
	ev := &corev1.Event{Source: &corev1.EventSource{Component: "kubelet"}}
	if get := ResourceGetter("events", ev); !MustParse("source=kubelet").Matches(get) || MustParse("source=scheduler").Matches(get) {
		t.Error(`"source" of an event must read source.component`)
	}

	csr := &certificatesv1.CertificateSigningRequest{Spec: &certificatesv1.CertificateSigningRequestSpec{SignerName: "kubernetes.io/kubelet-serving"}}
	sel := MustParse("spec.signerName=kubernetes.io/kubelet-serving")
	if err := Supported("certificatesigningrequests", sel); err != nil || !sel.Matches(ObjectGetter(csr)) {
		t.Errorf("spec.signerName of a csr: %v", err)
	}
}
