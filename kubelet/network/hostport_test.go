package network

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func TestRenderHostPorts(t *testing.T) {
	ports := []HostPort{
		{Pod: "kube-system/ingress-abc", Protocol: "tcp", HostPort: 443, PodIP: "10.244.1.7", PodPort: 8443},
		{Pod: "kube-system/ingress-abc", Protocol: "tcp", HostPort: 80, PodIP: "10.244.1.7", PodPort: 8080},
		{Pod: "default/dns", Protocol: "udp", HostIP: "10.250.0.11", HostPort: 5353, PodIP: "10.244.1.9", PodPort: 53},
		{Pod: "default/any", Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 9000, PodIP: "10.244.1.10", PodPort: 9000},
	}
	for _, tc := range []struct {
		name  string
		ports []HostPort
	}{{"hostports-empty", nil}, {"hostports", ports}} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderHostPorts(tc.ports)
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("render:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
	// Order does not matter.
	rev := []HostPort{ports[3], ports[2], ports[1], ports[0]}
	if string(renderHostPorts(rev)) != string(renderHostPorts(ports)) {
		t.Error("the same ports in another order render differently")
	}
}
