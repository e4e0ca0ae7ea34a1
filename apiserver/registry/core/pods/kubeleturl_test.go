package pods

import (
	"testing"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
)

func node(port int32, addrs ...string) *corev1.Node {
	n := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1"}, Status: &corev1.NodeStatus{}}
	if port != 0 {
		n.Status.DaemonEndpoints = &corev1.NodeDaemonEndpoints{KubeletEndpoint: &corev1.DaemonEndpoint{Port: port}}
	}
	for i := 0; i+1 < len(addrs); i += 2 {
		n.Status.Addresses = append(n.Status.Addresses, &corev1.NodeAddress{Type: addrs[i], Address: addrs[i+1]})
	}
	return n
}

func TestKubeletURL(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  KubeletConfig
		node *corev1.Node
		want string // "" is ServiceUnavailable
	}{
		{"internal IP first", KubeletConfig{}, node(10250, "Hostname", "n1", "InternalIP", "10.0.0.1"), "http://10.0.0.1:10250"},
		{"https", KubeletConfig{Scheme: "https"}, node(10250, "InternalIP", "10.0.0.1"), "https://10.0.0.1:10250"},
		{"preferred types", KubeletConfig{PreferredAddressTypes: []string{"Hostname", "InternalIP"}}, node(1, "InternalIP", "10.0.0.1", "Hostname", "n1"), "http://n1:1"},
		{"IPv6", KubeletConfig{}, node(10250, "InternalIP", "fd00::1"), "http://[fd00::1]:10250"},
		{"no port", KubeletConfig{}, node(0, "InternalIP", "10.0.0.1"), ""},
		{"no address", KubeletConfig{}, node(10250), ""},
		{"no address of the types", KubeletConfig{PreferredAddressTypes: []string{"ExternalIP"}}, node(10250, "InternalIP", "10.0.0.1"), ""},
		{"an address that is a URL is skipped", KubeletConfig{}, node(10250, "InternalIP", "evil.example/x?", "Hostname", "n1"), "http://n1:10250"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.KubeletURL(tc.node)
			if tc.want == "" {
				if apierrors.ReasonOf(err) != apierrors.ReasonUnavailable {
					t.Fatalf("got %q, %v; want ServiceUnavailable", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseAddressTypes(t *testing.T) {
	got, err := ParseAddressTypes("InternalIP, Hostname")
	if err != nil || len(got) != 2 || got[0] != "InternalIP" || got[1] != "Hostname" {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "Internal", ","} {
		if _, err := ParseAddressTypes(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
