package app

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"minik8s/kube-proxy/ipt/ipttest"
)

// TestHealthPaths: before its first sync kube-proxy is live but not
// ready, and /healthz keeps Kubernetes' JSON body; both servers answer
// the component base's paths. No root: the iptables fake, no informers.
func TestHealthPaths(t *testing.T) {
	o := NewOptions()
	o.HostnameOverride, o.Server = "node-a", "127.0.0.1:1"
	o.HealthzBindAddress, o.MetricsBindAddress = "127.0.0.1:0", "127.0.0.1:0"
	s, err := NewProxyServer(*o, Deps{IPTables: ipttest.NewFake()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, addr := range []string{s.HealthzAddr(), s.MetricsAddr()} {
		for _, c := range []struct {
			path string
			code int
		}{{"/livez", 200}, {"/readyz", 500}, {"/healthz", 503}, {"/metrics", 200}} {
			resp, err := http.Get("http://" + addr + c.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Errorf("%s%s = %d %q, want %d", addr, c.path, resp.StatusCode, b, c.code)
			}
			if c.path == "/healthz" {
				var st healthStatus
				if err := json.Unmarshal(b, &st); err != nil || st.Healthy {
					t.Errorf("/healthz body %q: %v", b, err)
				}
			}
		}
	}
}
