package validation

import (
	"strings"
	"testing"
)

func TestStringChecks(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	checks := []struct {
		name    string
		check   func(string) []string
		valid   []string
		invalid []string
	}{
		{"DNS1123Label", IsDNS1123Label,
			[]string{"a", "my-name", "123-abc", long(63)},
			[]string{"", "A", "-a", "a-", "a.b", "a_b", long(64)}},
		{"DNS1123Subdomain", IsDNS1123Subdomain,
			[]string{"a", "example.com", "a-b.c-d", "0.1"},
			[]string{"", "Example.com", ".a", "a.", "a..b", "a_b", long(254)}},
		{"DNS1035Label", IsDNS1035Label,
			[]string{"a", "my-svc", "abc-123"},
			[]string{"", "1abc", "a-", "A"}},
		{"QualifiedName", IsQualifiedName,
			[]string{"app", "MyName", "my.name", "123-abc", "example.com/tier", "k8s.io/a_b"},
			[]string{"", "/a", "a/", "a/b/c", "Example.com/a", "-a", "a-", long(64), "example.com/" + long(64)}},
		{"LabelValue", IsValidLabelValue,
			[]string{"", "a", "My_value-1.2", long(63)},
			[]string{"-a", "a-", "a b", long(64)}},
		{"PortName", IsValidPortName,
			[]string{"http", "web-80", "a"},
			[]string{"", "80", "HTTP", "a--b", "-a", "a-", "abcdefghijklmnop"}},
		{"IP", IsValidIP,
			[]string{"10.1.2.3", "::1", "2001:db8::ffff"},
			[]string{"", "10.1.2", "300.1.1.1", "host"}},
		{"CIDR", IsCIDR,
			[]string{"10.244.0.0/16", "2001:db8::/64"},
			[]string{"", "10.244.0.0", "10.244.0.0/33"}},
		{"EnvVarName", IsEnvVarName,
			[]string{"A", "my.env-name", "MY_ENV.NAME", "_x"},
			[]string{"", "1A", "A=B", "A B"}},
		{"ConfigMapKey", IsConfigMapKey,
			[]string{"a", "key.name", "KEY_NAME", ".hidden", "tls.crt"},
			[]string{"", ".", "..", "..a", "a/b", "a b"}},
		{"Percent", IsValidPercent,
			[]string{"0%", "25%", "100%"},
			[]string{"", "25", "%", "-1%", "1.5%"}},
		{"PathSegmentName", IsValidPathSegmentName,
			[]string{"system:node", "a"},
			[]string{".", "..", "a/b", "a%b"}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, v := range c.valid {
				if msgs := c.check(v); len(msgs) > 0 {
					t.Errorf("%q: want valid, got %v", v, msgs)
				}
			}
			for _, v := range c.invalid {
				if msgs := c.check(v); len(msgs) == 0 {
					t.Errorf("%q: want invalid", v)
				}
			}
		})
	}
}

func TestPortNum(t *testing.T) {
	for _, p := range []int32{1, 80, 65535} {
		if msgs := IsValidPortNum(p); len(msgs) > 0 {
			t.Errorf("%d: %v", p, msgs)
		}
	}
	for _, p := range []int32{0, -1, 65536} {
		if msgs := IsValidPortNum(p); len(msgs) == 0 {
			t.Errorf("%d: want invalid", p)
		}
	}
}

// The messages are Kubernetes' words, which users search for.
func TestMessages(t *testing.T) {
	want := "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
	if got := IsDNS1123Label("Bad"); len(got) != 1 || got[0] != want {
		t.Errorf("IsDNS1123Label message:\n got %q\nwant %q", got, want)
	}
	if got := IsValidPortNum(0); got[0] != "must be between 1 and 65535, inclusive" {
		t.Errorf("IsValidPortNum message: %q", got)
	}
}
